#!/bin/sh
# Instructions per logit (value + gradient, buffer API, one thread) of each
# core loss, counted by callgrind (10 calls at 65536 logits, less a run with
# no call): a figure that does not depend on the machine's load (unlike the timings of run.sh).
# Also counts c/fused.c the same way (c/count.c drives it), built for the
# baseline target (default build) or -march=native (TARGET_CPU set): the
# like-for-like peers of run.sh. Prints "loss swift c swift-float" (the last
# column: the Float32 buffer entry point on the same inputs rounded to Float).
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
if [ -n "${TARGET_CPU:-}" ]; then
  case $(uname -m) in x86_64 | amd64) march=-march=native ;; *) march=-mcpu=native ;; esac
else
  case $(uname -m) in x86_64 | amd64) march=-march=x86-64 ;; *) march= ;; esac
fi
gcc -O3 $march -ffast-math -Dmain=fused_main -c c/fused.c -o "$out/fused.o"
gcc -O3 $march -o "$out/count-c" c/count.c "$out/fused.o" -lm
count() {  # total instructions of one run: count LOSS CALLS [PROGRAM | --float]
  if [ "${3:-}" = --float ]; then
    set -- "$1" "$2" "$scratch/release/imbalance-bench" --instructions --float --only "$1" \
      --sizes "$n" --calls "$2"
  elif [ -n "${3:-}" ]; then
    set -- "$1" "$2" "$3" "$1" "$2"
  else
    set -- "$1" "$2" "$scratch/release/imbalance-bench" --instructions --only "$1" --sizes "$n" --calls "$2"
  fi
  shift 2
  valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$@" >/dev/null 2>&1 || return 0
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
  cbase=$(count "$loss" 0 "$out/count-c")
  ctotal=$(count "$loss" 10 "$out/count-c")
  fbase=$(count "$loss" 0 --float)
  ftotal=$(count "$loss" 10 --float)
  per() {  # per-logit difference of two totals: per TOTAL BASE
    awk -v t="$1" -v b="$2" -v l="$logits" \
      'BEGIN { if (t == "" || b == "") print "n/a"; else printf "%.1f", (t - b) / (10 * l) }'
  }
  echo "$loss $(per "$total" "$base") $(per "$ctotal" "$cbase") $(per "$ftotal" "$fbase")"
done
rm -rf "$out"
