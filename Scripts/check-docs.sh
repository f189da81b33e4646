#!/usr/bin/env bash
# Documentation checks, run by .ci/run:
# 1. every public symbol of ImbalanceLoss (and of ImbalanceLossDifferentiation,
#    where the toolchain has _Differentiation) has its own doc comment (from
#    the toolchain's symbol graph; see Scripts/doc_coverage.py);
# 2. `docc convert` of the catalog succeeds with warnings treated as errors.
set -euo pipefail
cd "$(dirname "$0")/.."

graphs=.build/symbolgraph-docs
rm -rf "$graphs" && mkdir -p "$graphs"
swift package dump-symbol-graph --minimum-access-level public >/dev/null
# The core module's graphs only: the catalog documents ImbalanceLoss.
cp .build/*/symbolgraph/ImbalanceLoss.symbols.json "$graphs"/
find .build/*/symbolgraph -name 'ImbalanceLoss@*.symbols.json' -exec cp {} "$graphs"/ \;

python3 Scripts/doc_coverage.py "$graphs"/ImbalanceLoss.symbols.json
# The differentiation module (its own graph and its extensions of ImbalanceLoss's
# types); empty where the toolchain cannot import _Differentiation.
for graph in .build/*/symbolgraph/ImbalanceLossDifferentiation*.symbols.json; do
  if [ -e "$graph" ]; then python3 Scripts/doc_coverage.py "$graph"; fi
done

docc=$(dirname "$(readlink -f "$(command -v swift)")")/docc
"$docc" convert Sources/ImbalanceLoss/ImbalanceLoss.docc \
  --additional-symbol-graph-dir "$graphs" \
  --output-path .build/docc \
  --fallback-display-name ImbalanceLoss \
  --fallback-bundle-identifier org.imbalanceloss.ImbalanceLoss \
  --warnings-as-errors
echo "docc convert: no warnings"
