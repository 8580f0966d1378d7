#!/usr/bin/env bash
# Builds the packetdrill ABI driver and the sysctl shim with the system C compiler.
# Usage: tests/packetdrill-driver/build.sh [OUTDIR] (default artifacts/packetdrill); prints OUTDIR.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../artifacts/packetdrill}"
mkdir -p "$out/bin"
cc="${CC:-cc}"
"$cc" -std=gnu11 -O1 -Wall -Wextra -Werror -o "$out/packetdrill-driver" "$here/driver.c" -ldl
"$cc" -std=gnu11 -O1 -Wall -Wextra -Werror -o "$out/bin/sysctl" "$here/sysctl-shim.c"
echo "$out"
