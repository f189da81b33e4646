#!/bin/sh
# Builds imbalance-bench in release twice, with the default flags (x86-64:
# SSE2, no FMA) and with `-Xswiftc -target-cpu -Xswiftc haswell` (AVX2 + FMA,
# the x86-64-v3 feature set; Swift 6.3's -target-cpu does not accept the name
# "x86-64-v3"), runs both and Benchmarks/peers.py on the same inputs, and
# prints one table. Extra arguments go to every run (e.g. --quick). Also
# builds and times c/fused.c, the fused C reference kernel (gcc -O3
# -march=native -ffast-math, so glibc's libmvec vectorises exp and log1p).
#
#   Benchmarks/run.sh [--quick] [--max-logits N]
set -eu
cd "$(dirname "$0")"
CPU="${TARGET_CPU:-haswell}"
swift build -c release --product imbalance-bench
swift build -c release --product imbalance-bench --scratch-path ".build-$CPU" \
  -Xswiftc -target-cpu -Xswiftc "$CPU"
gcc -O3 -march=native -ffast-math -o .build/fused-c c/fused.c -lm
mkdir -p results
echo "load before: $(uptime)" >&2
.build/release/imbalance-bench --json "$@" > results/swift-default.json
".build-$CPU/release/imbalance-bench" --json "$@" > results/swift-$CPU.json
python3 peers.py --json "$@" > results/peers.json
.build/fused-c --json "$@" > results/fused-c.json
echo "load after: $(uptime)" >&2
python3 report.py results/swift-default.json "results/swift-$CPU.json" results/peers.json \
  results/fused-c.json
