#!/usr/bin/env bash
# Runs packetdrill scripts against Vimage's TCP in process: packetdrill loads libvimage_packetdrill.so
# (--so_filename), which runs one vnet on a virtual clock; backtick `sysctl` commands reach that vnet through the shim.
#
# usage: scripts/packetdrill.sh [-p PACKETDRILL] [SCRIPT.pkt ...]      (default: tests/packetdrill/*.pkt)
#   -p   the packetdrill binary (default: $PACKETDRILL, else packetdrill on PATH). Build one from
#        https://github.com/google/packetdrill: cd gtests/net/packetdrill && ./configure && make (needs bison, flex).
# Environment: VIMAGE=false tests the non-VIMAGE build; PD_ARGS adds packetdrill options; PD_VERBOSE=1 shows -v output.
# Prints one PASS/FAIL line per script and a summary; exits non-zero if any script failed.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
pd="${PACKETDRILL:-$(command -v packetdrill || true)}"
while getopts "p:" opt; do
    case $opt in
        p) pd="$OPTARG" ;;
        *) sed -n '2,9p' "$0" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
if [ -z "$pd" ] || [ ! -x "$pd" ]; then
    echo "packetdrill.sh: no packetdrill binary (-p PATH or PACKETDRILL=PATH)" >&2
    exit 2
fi

out="$root/artifacts/packetdrill"
lib="$out/libvimage_packetdrill.so"
if [ ! -f "$lib" ] || [ -n "$(find "$root/src" -name '*.cs' -newer "$lib" -print -quit)" ]; then
    "$root/scripts/build-packetdrill-lib.sh" "$out" >/dev/null || exit 1
fi
[ -x "$out/bin/sysctl" ] || "$root/tests/packetdrill-driver/build.sh" "$out" >/dev/null || exit 1
export PATH="$out/bin:$PATH"

if [ $# -eq 0 ]; then
    set -- "$root"/tests/packetdrill/*.pkt
fi

pass=0 fail=0 failed=()
for script in "$@"; do
    args=(--so_filename="$lib" --so_flags="local_ip=192.168.0.1" --local_ip=192.168.0.1 --remote_ip=192.0.2.1 --tolerance_usecs=2000 --tolerance_percent=1)
    [ "${PD_VERBOSE:-0}" = 1 ] && args+=(-v)
    # shellcheck disable=SC2086
    if log=$(cd "$(dirname "$script")" && timeout 120 "$pd" "${args[@]}" ${PD_ARGS:-} "$(basename "$script")" 2>&1); then
        pass=$((pass + 1)); echo "PASS $script"
    else
        fail=$((fail + 1)); failed+=("$script"); echo "FAIL $script"; echo "$log" | tail -8 | sed 's/^/    /'
    fi
    [ "${PD_VERBOSE:-0}" = 1 ] && echo "$log"
done
echo "packetdrill: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
