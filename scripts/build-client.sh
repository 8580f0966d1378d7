#!/usr/bin/env bash
# Builds the fast C client of the host protocol (src/Vimage.Client) with the system's cc:
#   scripts/build-client.sh [OUTPUT]      (default: artifacts/bin/vimage-client)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/artifacts/bin/vimage-client}"
mkdir -p "$(dirname "$out")"
cc="${CC:-cc}"
"$cc" -O2 -Wall -Wextra -Werror -Wno-format-truncation -Wno-format-nonliteral -std=c11 -o "$out.tmp$$" "$root/src/Vimage.Client/vimage-client.c"
mv -f "$out.tmp$$" "$out"
echo "$out"
