#!/bin/sh
# Builds imbalance-bench in release twice, with the default flags (x86-64:
# SSE2, no FMA) and with `-Xswiftc -target-cpu -Xswiftc haswell` (AVX2 + FMA,
# the x86-64-v3 feature set; Swift 6.3's -target-cpu does not accept the name
# "x86-64-v3"; TARGET_CPU=native for every feature of this machine, the
# default on other architectures), runs both and Benchmarks/peers.py (numpy,
# and PyTorch and JAX when importable) on the same inputs, and prints one
# table. Extra arguments go to every run (e.g. --quick).
#
# Also builds c/fused.c, the fused C reference kernel, twice with gcc -O3
# -ffast-math (so glibc's libmvec vectorises exp and log1p): for the baseline
# target, the like-for-like peer of the default Swift build (x86-64:
# -march=x86-64, SSE2, libmvec's _ZGVbN2v_exp; elsewhere gcc's default
# target), and for this machine (-march=native; arm64: -mcpu=native), the
# peer of the tuned build.
#
# Python: Benchmarks/.venv/bin/python when that venv exists, else python3
# (PYTHON overrides). PEERS_INSTALL=1 (or --install-peers) first creates the
# venv and pip-installs numpy, torch, jax and jaxlib into it (torch from
# PyPI, or from TORCH_INDEX_URL when set, e.g. PyTorch's CPU-only index);
# nothing is installed otherwise.
#
#   Benchmarks/run.sh [--install-peers] [--quick] [--max-logits N]
set -eu
cd "$(dirname "$0")"

install=${PEERS_INSTALL:-0}
for a in "$@"; do
  if [ "$a" = --install-peers ]; then install=1; fi
done
# --install-peers is ours; the other arguments go to every benchmark.
for a in "$@"; do
  shift
  if [ "$a" != --install-peers ]; then set -- "$@" "$a"; fi
done

if [ "$install" = 1 ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet numpy jax jaxlib
  if [ -n "${TORCH_INDEX_URL:-}" ]; then
    .venv/bin/python -m pip install --quiet torch --index-url "$TORCH_INDEX_URL"
  else
    .venv/bin/python -m pip install --quiet torch
  fi
fi
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi

case "$(uname -m)" in
  x86_64 | amd64)
    CPU="${TARGET_CPU:-haswell}"
    C_BASELINE="-march=x86-64" C_NATIVE="-march=native" ;;
  aarch64 | arm64)
    CPU="${TARGET_CPU:-native}"
    C_BASELINE="" C_NATIVE="-mcpu=native" ;;
  *)
    CPU="${TARGET_CPU:-native}"
    C_BASELINE="" C_NATIVE="-march=native" ;;
esac
CC="${CC:-gcc}"

swift build -c release --product imbalance-bench
swift build -c release --product imbalance-bench --scratch-path ".build-$CPU" \
  -Xswiftc -target-cpu -Xswiftc "$CPU"
# $C_BASELINE is empty on arm64 (the compiler's default target): unquoted.
# shellcheck disable=SC2086
"$CC" -O3 $C_BASELINE -ffast-math -o .build/fused-c-baseline c/fused.c -lm
"$CC" -O3 "$C_NATIVE" -ffast-math -o .build/fused-c-native c/fused.c -lm
echo "C baseline: $CC -O3 ${C_BASELINE:+$C_BASELINE }-ffast-math; C native: $CC -O3 $C_NATIVE -ffast-math" >&2
echo "peers: $PYTHON" >&2
mkdir -p results
echo "load before: $(uptime)" >&2
.build/release/imbalance-bench --json "$@" > results/swift-default.json
".build-$CPU/release/imbalance-bench" --json "$@" > "results/swift-$CPU.json"
"$PYTHON" peers.py --json "$@" > results/peers.json
.build/fused-c-baseline --json --peer "C baseline" "$@" > results/c-baseline.json
.build/fused-c-native --json --peer "C native" "$@" > results/c-native.json
echo "load after: $(uptime)" >&2
python3 report.py results/swift-default.json "results/swift-$CPU.json" results/peers.json \
  results/c-baseline.json results/c-native.json
