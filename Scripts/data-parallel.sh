#!/usr/bin/env bash
# Issue 13's distributed example (Examples/DataParallel): data-parallel
# training with Open MPI, each rank computing its slice of every batch's
# gradient with the two-phase `DataParallelLoss` step, checked epoch by epoch
# against the same training in one process (rank 0). Run by .ci/run.
#
# 0. checks that the DocC article's MPI block is the example's ArticleStep.swift;
# 1. installs Open MPI (libopenmpi-dev openmpi-bin pkg-config) with apt-get
#    when `mpirun` or `pkg-config ompi-c` is missing;
# 2. builds the example (release, in .build/data-parallel);
# 3. runs it with 1 rank and with 4 ranks (uneven slices): both must PASS;
# 4. runs the naive step (each shard on its own statistics) with 4 ranks,
#    which must FAIL: the check can tell a wrong gradient from rounding.
#
#   Scripts/data-parallel.sh
#   MPIRUN_FLAGS="--mca btl self,tcp" Scripts/data-parallel.sh   # other transports
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

if ! command -v mpirun >/dev/null || ! pkg-config --exists ompi-c 2>/dev/null; then
  echo "== installing Open MPI (apt-get)"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends libopenmpi-dev openmpi-bin pkg-config
fi

# The article's MPI block must be the code the example compiles and runs
# (ArticleStep.swift); the library's tests run it against a one-rank stand-in.
python3 - <<'PY'
import sys
article = open("Sources/ImbalanceLoss/ImbalanceLoss.docc/TrainingOnSeveralWorkers.md").read()
block = article.split("<!-- snippet: docc-data-parallel-mpi -->\n```swift\n")[1].split("```")[0]
block = "".join(l for l in block.splitlines(True) if not l.startswith("import ")).lstrip("\n")
source = open("Examples/DataParallel/Sources/data-parallel/ArticleStep.swift").read()
region = source.split("// snippet: docc-data-parallel-mpi\n")[1].split("// end-snippet")[0]
if block != region:
    sys.exit("error: the article's MPI block differs from Examples/DataParallel/"
             "Sources/data-parallel/ArticleStep.swift")
PY

echo "== building Examples/DataParallel (release)"
# Built in the library's own .build (git-ignored, and left out of the copies
# Scripts/mutants.py makes of the repository).
build=(swift build -c release --package-path Examples/DataParallel --scratch-path .build/data-parallel)
"${build[@]}"
binary="$("${build[@]}" --show-bin-path)/data-parallel"

# Open MPI refuses to run as root without these (containers often are root).
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# Every rank on this machine: shared memory (vader) and self only, so that
# Open MPI does not probe the network interfaces of a container.
read -r -a flags <<< "${MPIRUN_FLAGS:---mca btl self,vader}"

for ranks in 1 4; do
  echo "== mpirun -np $ranks"
  mpirun --oversubscribe "${flags[@]}" -np "$ranks" "$binary"
done

echo "== mpirun -np 4, each shard on its own statistics (must FAIL)"
negative=$(mktemp)
trap 'rm -f "$negative"' EXIT
if mpirun --oversubscribe "${flags[@]}" -np 4 "$binary" --local-statistics >"$negative" 2>&1; then
  cat "$negative"
  echo "error: the naive per-shard step passed the check; the check cannot tell" >&2
  exit 1
fi
grep -E "^(Binary|Multi-class|epoch|1 |6 )|FAIL \(" "$negative" || true
echo "data-parallel: PASS with 1 and 4 ranks, naive step detected ($((SECONDS - start)) s)"
