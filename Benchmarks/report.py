#!/usr/bin/env python3
"""Merges the JSON of imbalance-bench (default build, tuned build) and
peers.py into one markdown table of ns per logit (value + gradient).

    python3 Benchmarks/report.py DEFAULT.json TUNED.json PEERS.json [--summary]

--summary keeps the rows of the root README: N = 10^6 binary samples and
N*K = 10^6 logits for each K.
"""
import json
import sys


def main():
    default, tuned, peers = (json.load(open(p)) for p in sys.argv[1:4])
    tuned_name = sys.argv[2].rsplit("swift-", 1)[-1].removesuffix(".json")

    def key(r):
        return (r["loss"], r["samples"], r["classes"])

    def swift(rows, api, threads):
        return {key(r): r["ns_per_logit"] for r in rows
                if r["api"] == api and r["threads"] == threads}

    columns = [
        ("Swift 1 thr", swift(default, "buffer", "1")),
        ("Swift 2 thr", swift(default, "buffer", "all")),
        (f"Swift {tuned_name} 1 thr", swift(tuned, "buffer", "1")),
        (f"Swift {tuned_name} 2 thr", swift(tuned, "buffer", "all")),
        ("Swift [Double] API 1 thr", swift(default, "array", "1")),
    ]
    peer_names = sorted({r["peer"] for r in peers})
    for name in peer_names:
        columns.append((name, {key(r): r["ns_per_logit"] for r in peers if r["peer"] == name}))
    keys = sorted(columns[0][1], key=lambda k: (k[2] > 1, k[0] if k[2] == 1 else "", k[2], k[1]))
    if "--summary" in sys.argv:
        keys = [k for k in keys if k[1] * k[2] == 1_000_000]
    header = ["loss", "N", "K"] + [c[0] for c in columns] + ["numpy / Swift 1 thr"]
    print("| " + " | ".join(header) + " |")
    print("|---|---:|---:|" + "---:|" * (len(columns) + 1))
    for k in keys:
        cells = [k[0], f"{k[1]:.0e}".replace("e+0", "e"), str(k[2])]
        for _, values in columns:
            v = values.get(k)
            cells.append(f"{v:.2f}" if v is not None else "")
        np_value = columns[5][1].get(k) if len(columns) > 5 else None
        ratio = np_value / columns[0][1][k] if np_value else None
        cells.append(f"{ratio:.1f}x" if ratio else "")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
