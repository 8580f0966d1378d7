#!/usr/bin/env bash
# Per-command cost of the fast C client (vimage-client) against `dotnet vimage.dll`, both sending the same
# command (sysctl -n net.inet.ip.ttl) to the same host in the same run. Prints ms per command and the ratio.
#   bench/client/bench.sh [N]      (default N=50; builds the client and needs a Release build of Vimage.Cli)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
n="${1:-50}"
client="$("$root/scripts/build-client.sh")"
dll="$(ls "$root"/artifacts/bin/*/Vimage.Cli/Release/net10.0/vimage.dll | head -1)"
dir="$(mktemp -d)"
chmod 700 "$dir"
export VIMAGE_SOCKET="$dir/run/host.sock" VIMAGE_NO_AUTOSTART=1
dotnet "$dll" host --foreground --socket "$VIMAGE_SOCKET" >"$dir/log" 2>&1 &
host=$!
trap 'kill $host 2>/dev/null; wait $host 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [ -S "$VIMAGE_SOCKET" ] && break; sleep 0.1; done
"$client" sysctl -n net.inet.ip.ttl >/dev/null   # warm the host (JIT) for both sides

per() { # per COMMAND...: ms per run of the command, N runs
    local start end
    start=$(date +%s%N)
    for _ in $(seq "$n"); do "$@" sysctl -n net.inet.ip.ttl >/dev/null; done
    end=$(date +%s%N)
    echo $(( (end - start) / n / 1000 ))
}
c=$(per "$client")
d=$(per dotnet "$dll")
awk -v c="$c" -v d="$d" -v n="$n" 'BEGIN {
    printf "vimage-client:     %8.2f ms per command (%d runs)\n", c / 1000, n
    printf "dotnet vimage.dll: %8.2f ms per command (%d runs)\n", d / 1000, n
    printf "ratio dotnet/client: %.1fx\n", d / c }'
