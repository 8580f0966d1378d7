#!/usr/bin/env bash
# The main job: the Vimage demo on its embedded defaults.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh >&2
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet run -c Release --project src/Vimage.Cli -- demo "$@"
