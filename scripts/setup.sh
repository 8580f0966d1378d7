#!/usr/bin/env bash
# Installs what building and testing Vimage needs on a fresh Debian/Ubuntu machine: the .NET 10 SDK if it is
# missing, and the system tools later tests use (iproute2 for network namespaces, ping, tcpdump, and gcc for the fast client).
set -euo pipefail

need_apt=()
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
command -v ping >/dev/null 2>&1 || need_apt+=(iputils-ping)
command -v tcpdump >/dev/null 2>&1 || need_apt+=(tcpdump)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)            # TCP interop: Linux curl fetches from a jail
command -v nc >/dev/null 2>&1 || need_apt+=(netcat-openbsd)    # TCP interop: Linux nc streams through a jail
command -v cc >/dev/null 2>&1 || need_apt+=(gcc libc6-dev)   # builds vimage-client, the shims of vimage run

if ((${#need_apt[@]} > 0)) && command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >/dev/null || echo "setup: apt-get update failed; trying to install anyway" >&2
    $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null \
        || echo "setup: could not install ${need_apt[*]}; tests that need them will say so" >&2
fi

if ! command -v dotnet >/dev/null 2>&1 || ! dotnet --list-sdks | grep -q '^10\.'; then
    echo "setup: installing the .NET 10 SDK into ~/.dotnet" >&2
    curl -fsSL https://dot.net/v1/dotnet-install.sh -o /tmp/dotnet-install.sh
    bash /tmp/dotnet-install.sh --channel 10.0 --install-dir "$HOME/.dotnet" >/dev/null
    export PATH="$HOME/.dotnet:$PATH"
fi
