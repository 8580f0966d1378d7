#!/usr/bin/env bash
# Builds libvimage_packetdrill.so: Vimage's stack behind packetdrill's --so_filename interface (NativeAOT shared
# library). Usage: scripts/build-packetdrill-lib.sh [OUTDIR] (default artifacts/packetdrill); VIMAGE=false builds the
# non-VIMAGE kernel. Prints the library's path.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/artifacts/packetdrill}"
mode="${VIMAGE:-true}"
mkdir -p "$out"
dotnet publish "$root/src/Vimage.Packetdrill/Vimage.Packetdrill.csproj" -c Release -r linux-x64 \
    -p:Vimage="$mode" -o "$out/publish-$mode" -nologo -v:q >&2
cp "$out/publish-$mode/libvimage_packetdrill.so" "$out/libvimage_packetdrill.so"
echo "$out/libvimage_packetdrill.so"
