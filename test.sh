#!/usr/bin/env bash
# The whole test suite, in both build modes: VIMAGE on (virtualized globals) and off (plain globals, vnet0 only).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

for mode in true false; do
    echo "=== tests with -p:Vimage=$mode ==="
    dotnet test Vimage.sln -c Release -p:Vimage=$mode --nologo -v q --logger "console;verbosity=minimal"
done

# The NuGet packages, and the sample that consumes them from the local folder only (samples/nuget.config). The
# version is new on every run and the sample restores into its own packages folder (cleared of Vimage.* here), so
# no stale package of an earlier build can be picked up.
echo "=== packages (scripts/pack.sh) and the sample that consumes them ==="
scripts/pack.sh
rm -rf artifacts/samples/packages/vimage.*
dotnet test samples/ShopNetwork.slnx -c Release --nologo -v q --logger "console;verbosity=minimal"

# A short coverage-guided fuzz run of every parser that takes outside bytes (once: it uses the VIMAGE build).
echo "=== fuzz (scripts/fuzz.sh --ci) ==="
scripts/fuzz.sh --ci
