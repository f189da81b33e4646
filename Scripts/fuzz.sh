#!/usr/bin/env bash
# Builds the libFuzzer target Scripts/Fuzz/LossFuzzer.swift together with the library's
# sources (one module, outside the package's products: no unsafeFlags anywhere)
# and runs it. Arguments go to libFuzzer; default: a fixed 200k executions.
#
#   Scripts/fuzz.sh                    # 200k executions, as .ci/run does
#   Scripts/fuzz.sh -runs=20000000     # longer
#   Scripts/fuzz.sh -max_total_time=600
#
# Crashes are written to Scripts/Fuzz/crashes/ (replay: .build-fuzz/loss-fuzzer FILE).
# The seed corpus Scripts/Fuzz/corpus/ is read only; new inputs go to .build-fuzz/corpus.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t sources < <(find Sources/ImbalanceLoss -name "*.swift" | sort)
out=.build-fuzz
mkdir -p "$out/corpus" Scripts/Fuzz/crashes
swiftc -O -g -parse-as-library -sanitize=fuzzer,address -module-name ImbalanceLoss \
  "${sources[@]}" Scripts/Fuzz/LossFuzzer.swift \
  -o "$out/loss-fuzzer" 2> >(grep -v "Cannot export local symbol" >&2)

args=("$@")
if [ ${#args[@]} -eq 0 ]; then args=(-runs=200000); fi
SWIFT_BACKTRACE=enable=no "$out/loss-fuzzer" -seed=1 -max_len=512 -artifact_prefix=Scripts/Fuzz/crashes/ -print_final_stats=1 \
  "${args[@]}" "$out/corpus" Scripts/Fuzz/corpus
