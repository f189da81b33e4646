#!/usr/bin/env python3
"""Fail when a public symbol of ImbalanceLoss lacks its own doc comment.

Reads the symbol graph that `swift package dump-symbol-graph` writes. A symbol
passes when it has a doc comment written in this module: its own, or the one
it inherits from a protocol requirement of this module (as DocC shows it).
Symbols synthesised by the compiler from the standard library (`!=`) have no
source location here and are skipped. Usage: doc_coverage.py GRAPH.json
"""
import json
import sys

graph = json.load(open(sys.argv[1]))
module = graph["module"]["name"]
missing, checked = [], 0
for symbol in graph["symbols"]:
    if symbol["accessLevel"] not in ("public", "open"):
        continue
    if "location" not in symbol:
        continue  # synthesised, e.g. Equatable's != from the standard library
    checked += 1
    doc = symbol.get("docComment")
    lines = [l["text"] for l in doc["lines"]] if doc else []
    own = doc is not None and doc.get("module", module) == module
    if not own or not any(l.strip() for l in lines):
        where = symbol["location"]["uri"].split("/Sources/")[-1]
        line = symbol["location"]["position"]["line"] + 1
        missing.append(f"{where}:{line}: {'.'.join(symbol['pathComponents'])}")

if missing:
    print(f"{len(missing)} of {checked} public symbols lack a doc comment:")
    print("\n".join(sorted(missing)))
    sys.exit(1)
print(f"doc coverage: all {checked} public symbols documented")
