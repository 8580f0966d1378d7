#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser that takes outside bytes (fuzz/Vimage.Fuzz): builds the harness,
# instruments a copy of the Vimage assemblies with SharpFuzz, and runs each target, seeds first.
#
#   scripts/fuzz.sh --ci                       every target for 6 s (FUZZ_SECONDS) from the checked-in seeds:
#                                              the CI step (test.sh); fails on a crash, hang or leak
#   scripts/fuzz.sh [--seconds N] [TARGET...]  a longer run (default 300 s per target), resuming from what
#                                              earlier runs found in artifacts/fuzz/work/TARGET/corpus
#   scripts/fuzz.sh --repro TARGET FILE...     run saved inputs once (crashes are saved as
#                                              artifacts/fuzz/work/TARGET/crashes/crash-*)
#   scripts/fuzz.sh --afl [--seconds N] TARGET  the same target under AFL++ (apt afl++, installed if missing),
#                                              findings in artifacts/fuzz/afl/TARGET
#
# Needs only the .NET SDK (scripts/setup.sh installs it) and NuGet: the SharpFuzz command-line tool goes into
# artifacts/fuzz/tools. Exit status: 0 no crash, 1 a crash/hang/leak was found, 2 a setup step failed.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

seconds=300
afl=false
repro=()
targets=()
while (($#)); do
    case "$1" in
        --ci) seconds=${FUZZ_SECONDS:-6} ;;
        --seconds) seconds=$2; shift ;;
        --repro) shift; repro=("$@"); break ;;
        --afl) afl=true ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1") ;;
    esac
    shift
done

out=artifacts/fuzz
tools=$out/tools
bin=$out/bin
command -v dotnet >/dev/null 2>&1 || source scripts/setup.sh

# The instrumenting tool, pinned, in a local tool path (never a global install).
if [ ! -x "$tools/sharpfuzz" ]; then
    dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$tools" >/dev/null \
        || { echo "fuzz.sh: could not install the SharpFuzz.CommandLine tool" >&2; exit 2; }
fi

mkdir -p "$out"
dotnet build fuzz/Vimage.Fuzz -c Release --nologo -v q >"$out/build.log" 2>&1 \
    || { cat "$out/build.log"; echo "fuzz.sh: the harness does not build" >&2; exit 2; }

# Instrument a fresh copy each time (SharpFuzz refuses an assembly twice, and the build output stays clean).
rm -rf "$bin"
cp -r artifacts/bin/vimage/Vimage.Fuzz/Release/net10.0 "$bin"
for assembly in Vimage.Core Vimage.Net vimage; do
    "$tools/sharpfuzz" "$bin/$assembly.dll" || { echo "fuzz.sh: could not instrument $assembly.dll" >&2; exit 2; }
done

harness=(dotnet "$bin/Vimage.Fuzz.dll")
if ((${#repro[@]})); then
    exec "${harness[@]}" repro "${repro[@]}"
fi

((${#targets[@]})) || mapfile -t targets < <("${harness[@]}" list)

if $afl; then
    ((${#targets[@]} == 1)) || { echo "fuzz.sh: --afl takes one target" >&2; exit 2; }
    if ! command -v afl-fuzz >/dev/null 2>&1; then
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends afl++ >/dev/null \
            || { echo "fuzz.sh: could not install afl++" >&2; exit 2; }
    fi
    findings=$out/afl/${targets[0]}
    mkdir -p "$out/afl"
    # afl-fuzz runs dotnet, not an AFL-compiled binary: the harness's SharpFuzz fork server speaks its protocol.
    AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 AFL_AUTORESUME=1 \
        afl-fuzz -i "fuzz/corpus/${targets[0]}" -o "$findings" -t 10000 -m none -V "$seconds" \
        -- "${harness[@]}" afl "${targets[0]}"
    crashes=$(find "$findings" -path '*/crashes/id*' -o -path '*/hangs/id*' | wc -l)
    ((crashes == 0)) || { echo "fuzz: ${targets[0]}: $crashes crashes/hangs under $findings (replay with --repro)"; exit 1; }
    exit 0
fi

failed=()
for target in "${targets[@]}"; do
    work=$out/work/$target
    mkdir -p "$work"
    status=0
    "${harness[@]}" run "$target" --seconds "$seconds" --corpus "fuzz/corpus/$target" --work "$work" \
        --require-instrumentation || status=$?
    if [ "$status" -ne 0 ]; then
        if [ "$status" -gt 3 ]; then
            # The process itself died (a stack overflow, say): keep the input it was running.
            echo "fuzz: $target: the harness died with status $status; its last input:" \
                "$("${harness[@]}" salvage "$work" || echo unknown)"
        fi
        failed+=("$target")
    fi
done

if ((${#failed[@]})); then
    echo "fuzz: FAILED: ${failed[*]} (inputs under $out/work/TARGET/crashes; replay with scripts/fuzz.sh --repro TARGET FILE)"
    exit 1
fi
echo "fuzz: ${#targets[@]} targets, no crash ($seconds s each)"
