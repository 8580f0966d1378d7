#!/usr/bin/env bash
# Packs Vimage.Core (with the generator as an analyzer), Vimage.Net, Vimage.Http and Vimage.AspNetCore, VIMAGE build,
# into artifacts/packages (or $VIMAGE_PACKAGES), and writes the version to artifacts/packages/version.txt, which
# samples/ reads. Usage: scripts/pack.sh [VERSION]   (default: 0.1.0-local.<UTC time>, unique per run, so a consumer
# never restores a stale package of the same version from a NuGet cache).
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

version="${1:-0.1.0-local.$(date -u +%Y%m%d%H%M%S)}"
out="${VIMAGE_PACKAGES:-$PWD/artifacts/packages}"
mkdir -p "$out"
rm -f "$out"/Vimage.*.nupkg "$out"/Vimage.*.snupkg

projects=(src/Vimage.Core src/Vimage.Net)
for p in src/Vimage.Http src/Vimage.AspNetCore; do
    [ -d "$p" ] && projects+=("$p")
done

for p in "${projects[@]}"; do
    dotnet pack "$p" -c Release -p:Vimage=true -p:Version="$version" -o "$out" --nologo -v q
done
echo "$version" >"$out/version.txt"
echo "pack: ${#projects[@]} packages, version $version, in $out"
ls -1 "$out"/*.nupkg "$out"/*.snupkg
