#!/bin/sh
# Instructions per logit (value + gradient, buffer API, one thread) of each
# core loss, counted by callgrind (10 calls at 65536 logits, less a run with
# no call): a figure that does not depend on the machine's load (unlike the timings of run.sh).
#
#   Benchmarks/instructions.sh              # default build (x86-64: SSE2)
#   TARGET_CPU=haswell Benchmarks/instructions.sh
set -eu
cd "$(dirname "$0")"
n=65536
if [ -n "${TARGET_CPU:-}" ]; then
  scratch=".build-$TARGET_CPU"
  swift build -c release --product imbalance-bench --scratch-path "$scratch" \
    -Xswiftc -target-cpu -Xswiftc "$TARGET_CPU" >&2
else
  scratch=.build
  swift build -c release --product imbalance-bench >&2
fi
out=$(mktemp -d)
count() {  # total instructions of one run: count LOSS CALLS
  valgrind --tool=callgrind --callgrind-out-file="$out/cg" \
    "$scratch/release/imbalance-bench" --instructions --only "$1" --sizes "$n" --calls "$2" \
    >/dev/null 2>&1 || return 0
  callgrind_annotate "$out/cg" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}
for loss in smooth-accuracy binary-cross-entropy smooth-f1 f1-weighted-ce \
  logit-adjusted-ce-10 logit-adjusted-ce-100 logit-adjusted-ce-1000; do
  base=$(count "$loss" 0)
  total=$(count "$loss" 10)
  case $loss in
    logit-adjusted-ce-*) k=${loss##*-}; logits=$((n / k * k)) ;;
    *) logits=$n ;;
  esac
  if [ -z "$base" ] || [ -z "$total" ]; then
    # valgrind 3.19 stops at some AVX encodings (e.g. vmovq xmm, xmm).
    echo "$loss n/a (valgrind could not run this build)"
    continue
  fi
  echo "$loss $(awk -v t="$total" -v b="$base" -v l="$logits" \
    'BEGIN { printf "%.1f", (t - b) / (10 * l) }')"
done
rm -rf "$out"
