#!/usr/bin/env bash
# Peak memory of 10^8-logit batches through the buffer API (issue 7): builds
# Scripts/BigBatch/BigBatch.swift with the library's sources (release, one
# module, outside the package's products) and runs it under /usr/bin/time -v.
# Needs about 3 GB of RAM; run by hand, not in CI.
#
#   Scripts/big_batch.sh            # N = 10^8 binary, N*K = 10^8 softmax (K = 10)
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t sources < <(find Sources/ImbalanceLoss -name "*.swift" | sort)
out=.build-bigbatch
mkdir -p "$out"
swiftc -O -parse-as-library -module-name ImbalanceLoss \
  "${sources[@]}" \
  Scripts/BigBatch/BigBatch.swift -o "$out/big-batch"

for run in "binary 100000000" "softmax 10000000 10"; do
  echo "== big-batch $run"
  # shellcheck disable=SC2086
  /usr/bin/time -v "$out/big-batch" $run 2> "$out/time.txt"
  grep -E "Maximum resident set size|Elapsed \(wall" "$out/time.txt"
done
