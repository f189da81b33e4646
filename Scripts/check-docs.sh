#!/usr/bin/env bash
# Documentation checks, run by .ci/run:
# 1. every public symbol of ImbalanceLoss has its own doc comment (from the
#    toolchain's symbol graph; see Scripts/doc_coverage.py);
# 2. `docc convert` of the catalog succeeds with warnings treated as errors.
set -euo pipefail
cd "$(dirname "$0")/.."

graphs=.build/symbolgraph-docs
rm -rf "$graphs" && mkdir -p "$graphs"
swift package dump-symbol-graph --minimum-access-level public >/dev/null
cp .build/*/symbolgraph/ImbalanceLoss*.symbols.json "$graphs"/
rm -f "$graphs"/ImbalanceLossPackage*.json

python3 Scripts/doc_coverage.py "$graphs"/ImbalanceLoss.symbols.json

docc=$(dirname "$(readlink -f "$(command -v swift)")")/docc
"$docc" convert Sources/ImbalanceLoss/ImbalanceLoss.docc \
  --additional-symbol-graph-dir "$graphs" \
  --output-path .build/docc \
  --fallback-display-name ImbalanceLoss \
  --fallback-bundle-identifier org.imbalanceloss.ImbalanceLoss \
  --warnings-as-errors
echo "docc convert: no warnings"
