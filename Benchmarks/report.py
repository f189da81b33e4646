#!/usr/bin/env python3
"""Merges the JSON of imbalance-bench (default build, tuned build), peers.py
and, when given, the fused C kernel (c/fused.c) into one markdown table of
ns per logit (value + gradient), with the ratios of issue 3.

    python3 Benchmarks/report.py DEFAULT.json TUNED.json PEERS.json [FUSED_C.json] [--summary]

--summary keeps the rows of the root README: N = 10^6 binary samples and
N*K = 10^6 logits for each K.
"""
import json
import sys


def main():
    files = [a for a in sys.argv[1:] if not a.startswith("--")]
    default, tuned, peers = (json.load(open(p)) for p in files[:3])
    if len(files) > 3:
        peers = peers + json.load(open(files[3]))
    tuned_name = files[1].rsplit("swift-", 1)[-1].removesuffix(".json")

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
    peer_names = sorted({r["peer"] for r in peers}, key=lambda p: (p == "fused C", p))
    for name in peer_names:
        columns.append((name, {key(r): r["ns_per_logit"] for r in peers if r["peer"] == name}))
    named = dict(columns)
    ratios = [("numpy / Swift 1 thr", "numpy", "Swift 1 thr")]
    if "fused C" in named:
        ratios += [("Swift / C", "Swift 1 thr", "fused C"),
                   (f"{tuned_name} / C", f"Swift {tuned_name} 1 thr", "fused C")]
    ratios += [("2 thr speed-up", "Swift 1 thr", "Swift 2 thr"),
               (f"{tuned_name} 2 thr speed-up", f"Swift {tuned_name} 1 thr",
                f"Swift {tuned_name} 2 thr")]
    keys = sorted(columns[0][1], key=lambda k: (k[2] > 1, k[0] if k[2] == 1 else "", k[2], k[1]))
    if "--summary" in sys.argv:
        keys = [k for k in keys if k[1] * k[2] == 1_000_000]
    header = ["loss", "N", "K"] + [c[0] for c in columns] + [r[0] for r in ratios]
    print("| " + " | ".join(header) + " |")
    print("|---|---:|---:|" + "---:|" * (len(columns) + len(ratios)))
    for k in keys:
        cells = [k[0], f"{k[1]:.0e}".replace("e+0", "e"), str(k[2])]
        for _, values in columns:
            v = values.get(k)
            cells.append(f"{v:.2f}" if v is not None else "")
        for _, top, bottom in ratios:
            a, b = named.get(top, {}).get(k), named.get(bottom, {}).get(k)
            cells.append(f"{a / b:.2f}x" if a and b else "")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
