#!/usr/bin/env python3
"""Merges the JSON of imbalance-bench (default build, tuned build), peers.py
and the fused C kernel (c/fused.c: any number of files, e.g. the baseline
and the native build) into one markdown table of ns per logit (value +
gradient), with the ratios of issue 11, then counts per goal the cases that
meet it.

    python3 Benchmarks/report.py DEFAULT.json TUNED.json PEERS.json [C.json ...] [--summary]

Ratios (issue 11):
- "Swift / C baseline": default build, 1 thread, over the C kernel built for
  the baseline target (x86-64: -march=x86-64, SSE2); goal at most 1.3x.
- "TUNED / C native": tuned build (haswell, or TARGET_CPU), 1 thread, over
  the C kernel built with -march=native (arm64: -mcpu=native); goal at most
  1.3x.
- "best peer / TUNED": the fastest of the peer frameworks (numpy, torch,
  jax; one thread) over the tuned build, 1 thread; goal above 1 (Swift
  faster in every case). The cell names the fastest peer.
- "2 thr speed-up" and "TUNED 2 thr speed-up": 1-thread time over 2-thread
  time; goal at least 1.7x where N*K >= 1e5.
The goal counts take the cases with N*K >= 1e4 (the 2-thread goal: N*K >=
1e5), over every case in the files (also with --summary), on the ratios as
printed (rounded to 0.01, so a reader's count of the table agrees).

--summary keeps the rows of the root README: N = 10^6 binary samples and
N*K = 10^6 logits for each K.

A C file whose rows say "fused C" (run.sh before issue 11, built with
-march=native) counts as "C native".
"""
import json
import sys

FRAMEWORKS = ("numpy", "torch", "jax")  # the peer frameworks, in column order
C_BASELINE, C_NATIVE = "C baseline", "C native"


def main():
    files = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(files) < 3:
        sys.exit(__doc__)
    default, tuned, peers = (json.load(open(p)) for p in files[:3])
    for path in files[3:]:
        peers = peers + json.load(open(path))
    for r in peers:
        if r["peer"] == "fused C":
            r["peer"] = C_NATIVE
    tuned_name = files[1].rsplit("swift-", 1)[-1].removesuffix(".json")
    tuned_1, tuned_2 = f"Swift {tuned_name} 1 thr", f"Swift {tuned_name} 2 thr"

    def key(r):
        return (r["loss"], r["samples"], r["classes"])

    def swift(rows, api, threads):
        return {key(r): r["ns_per_logit"] for r in rows
                if r["api"] == api and r["threads"] == threads}

    columns = [
        ("Swift 1 thr", swift(default, "buffer", "1")),
        ("Swift 2 thr", swift(default, "buffer", "all")),
        (tuned_1, swift(tuned, "buffer", "1")),
        (tuned_2, swift(tuned, "buffer", "all")),
        ("Swift [Double] API 1 thr", swift(default, "array", "1")),
    ]
    present = {r["peer"] for r in peers}
    order = {name: i for i, name in enumerate(FRAMEWORKS + (C_BASELINE, C_NATIVE))}
    peer_names = sorted(present, key=lambda p: (order.get(p, len(FRAMEWORKS)), p))
    for name in peer_names:
        columns.append((name, {key(r): r["ns_per_logit"] for r in peers if r["peer"] == name}))
    named = dict(columns)
    frameworks = [p for p in FRAMEWORKS if p in named]

    def ratio(top, bottom):
        def f(k):
            a, b = named.get(top, {}).get(k), named.get(bottom, {}).get(k)
            return (a / b, "") if a and b else None
        return f

    def best_peer(k):
        times = [(named[p][k], p) for p in frameworks if named[p].get(k)]
        t = named[tuned_1].get(k)
        if not times or not t:
            return None
        best, name = min(times)
        return best / t, name

    # (header, function of the key, goal test, smallest N*K the goal covers, goal text)
    ratios = [
        ("Swift / C baseline", ratio("Swift 1 thr", C_BASELINE), lambda r: r <= 1.3, 10**4,
         "Swift default / C baseline <= 1.3x"),
        (f"{tuned_name} / C native", ratio(tuned_1, C_NATIVE), lambda r: r <= 1.3, 10**4,
         f"Swift {tuned_name} / C native <= 1.3x"),
        (f"best peer / {tuned_name}", best_peer, lambda r: r > 1, 10**4,
         f"Swift {tuned_name} faster than every peer framework ({', '.join(frameworks)})"),
        ("2 thr speed-up", ratio("Swift 1 thr", "Swift 2 thr"), lambda r: r >= 1.7, 10**5,
         "2 thr speed-up >= 1.7x (default build), N*K >= 1e5"),
        (f"{tuned_name} 2 thr speed-up", ratio(tuned_1, tuned_2), lambda r: r >= 1.7, 10**5,
         f"2 thr speed-up >= 1.7x ({tuned_name} build), N*K >= 1e5"),
    ]
    keys = sorted(columns[0][1], key=lambda k: (k[2] > 1, k[0] if k[2] == 1 else "", k[2], k[1]))
    shown = [k for k in keys if k[1] * k[2] == 1_000_000] if "--summary" in sys.argv else keys
    header = ["loss", "N", "K"] + [c[0] for c in columns] + [r[0] for r in ratios]
    print("| " + " | ".join(header) + " |")
    print("|---|---:|---:|" + "---:|" * (len(columns) + len(ratios)))
    for k in shown:
        cells = [k[0], f"{k[1]:.0e}".replace("e+0", "e"), str(k[2])]
        for _, values in columns:
            v = values.get(k)
            cells.append(f"{v:.2f}" if v is not None else "")
        for _, f, *_ in ratios:
            r = f(k)
            cells.append(f"{r[0]:.2f}x" + (f" ({r[1]})" if r[1] else "") if r else "")
        print("| " + " | ".join(cells) + " |")

    print()
    print("Goals (issue 11), cases meeting each (N*K >= 1e4; the 2-thread goals N*K >= 1e5):")
    print()
    for _, f, meets, smallest, text in ratios:
        values = [round(r[0], 2) for r in (f(k) for k in keys if k[1] * k[2] >= smallest) if r]
        if not values:
            print(f"- {text}: n/a (no data)")
            continue
        met = sum(meets(v) for v in values)
        print(f"- {text}: {met} of {len(values)} "
              f"(range {min(values):.2f}x to {max(values):.2f}x)")


if __name__ == "__main__":
    main()
