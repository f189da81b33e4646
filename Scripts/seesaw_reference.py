#!/usr/bin/env python3
"""Writes Tests/ImbalanceLossTests/Fixtures/SeesawReference.swift: values,
gradients and accumulated class counts of the seesaw loss over several
training steps, computed with PyTorch autograd (float64).

    python3 Scripts/seesaw_reference.py

The formula is the classification part of mmdetection's `seesaw_ce_loss`
(mmdet/models/losses/seesaw_loss.py), re-implemented here from its
definition, step by step as `SeesawLoss.forward` runs it:

1. the batch's labels are added to the cumulative counts (BEFORE the loss);
2. mitigation  M_ij = (N_j / N_i)^p where N_j < N_i, else 1, with every
   count clamped to >= 1;
3. compensation C_ij = (s_j / max(s_i, eps))^q where that ratio is > 1,
   else 1, with s = softmax of the *detached* logits;
4. z~_ij = z_ij + log(M_ij C_ij) for j != i (label), z~_ii = z_ii;
5. l_i = cross_entropy(z~_i, i); the gradient flows through z only (the
   factors are constants: M from counts, C from detached scores).

Reduction is the library's: `.mean` is sum_i w_i l_i / sum_i w_i over the
rows not ignored (mmdet's "mean" divides by N, or by avg_factor; the two
agree without weights), `.sum` is sum_i w_i l_i. Ignored rows add nothing
and are not counted. mmdet's objectness branch is not part of this loss.
"""

import random
from pathlib import Path

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
OUT = Path(__file__).resolve().parent.parent / "Tests/ImbalanceLossTests/Fixtures/SeesawReference.swift"


def seesaw_step(z, labels, weights, counts, p, q, eps, reduction, ignore_index):
    """One step: returns value, gradient, new counts."""
    counts = counts.clone()
    keep = [i for i, c in enumerate(labels) if c != ignore_index]
    for i in keep:
        counts[labels[i]] += 1
    z = z.clone().requires_grad_(True)
    if not keep:
        return 0.0, [0.0] * z.numel(), counts
    idx = torch.tensor(keep)
    zk = z[idx]
    y = torch.tensor([labels[i] for i in keep])
    w = torch.tensor([weights[i] for i in keep]) if weights is not None else torch.ones(len(keep))
    k = z.shape[1]
    onehot = F.one_hot(y, k).to(z.dtype)
    factors = torch.ones_like(zk)
    if p > 0:
        n = counts.clamp(min=1)
        ratio = n[None, :] / n[:, None]  # [i, j] = N_j / N_i
        below = (ratio < 1).to(z.dtype)
        factors = factors * (ratio.pow(p) * below + (1 - below))[y]
    if q > 0:
        s = F.softmax(zk.detach(), dim=1)
        own = s[torch.arange(len(keep)), y]
        ratio = s / own[:, None].clamp(min=eps)
        above = (ratio > 1).to(z.dtype)
        factors = factors * (ratio.pow(q) * above + (1 - above))
    adjusted = zk + factors.log() * (1 - onehot)
    rows = F.cross_entropy(adjusted, y, reduction="none")
    total = (rows * w).sum()
    if reduction == "mean":
        total = total / w.sum()
    total.backward()
    return total.item(), z.grad.flatten().tolist(), counts


def swift(x):
    return "[" + ", ".join(repr(float(v)) for v in x) + "]"


def case(name, k, n, steps, p, q, eps, reduction, ignore_index, weighted, initial, scale, rng):
    counts = torch.tensor(initial, dtype=torch.float64)
    out = []
    for _ in range(steps):
        # Long-tailed labels: class j drawn with probability ~ 2^-j.
        labels = [min(int(rng.expovariate(0.7)), k - 1) for _ in range(n)]
        if ignore_index is not None:
            labels[rng.randrange(n)] = ignore_index
        weights = [rng.choice([0.0, 0.5, 1.0, 2.5]) for _ in range(n)] if weighted else None
        if weighted:
            weights[0] = 1.5
        z = torch.tensor([[rng.gauss(0, scale) for _ in range(k)] for _ in range(n)])
        value, grad, counts = seesaw_step(z, labels, weights, counts, p, q, eps, reduction, ignore_index)
        out.append((z.flatten().tolist(), labels, weights, value, grad, counts.tolist()))
    lines = [
        "  SeesawCase(",
        f'    name: "{name}", classCount: {k}, p: {p!r}, q: {q!r}, epsilon: {eps!r},',
        f'    reduction: "{reduction}", ignoreIndex: {"nil" if ignore_index is None else ignore_index},',
        f"    initialCounts: {swift(initial)},",
        "    steps: [",
    ]
    for z, labels, weights, value, grad, counts in out:
        lines += [
            "      SeesawStep(",
            f"        logits: {swift(z)},",
            f"        labels: [{', '.join(str(c) for c in labels)}],",
            f"        weights: {'nil' if weights is None else swift(weights)},",
            f"        value: {value!r},",
            f"        gradient: {swift(grad)},",
            f"        counts: {swift(counts)}),",
        ]
    lines += ["    ]),"]
    return "\n".join(lines)


def main():
    rng = random.Random(15)
    cases = [
        case("defaults", 5, 6, 4, 0.8, 2.0, 1e-2, "mean", None, False, [0.0] * 5, 2.0, rng),
        case("weighted-sum-ignore", 4, 7, 3, 0.5, 1.5, 5e-2, "sum", -1, True, [3.0, 0.0, 1.0, 40.0], 3.0, rng),
        case("weighted-mean-confident", 6, 5, 3, 1.2, 3.0, 1e-3, "mean", None, True, [100.0, 50.0, 7.0, 2.0, 0.0, 1.0], 12.0, rng),
        case("mitigation-only", 3, 4, 3, 0.8, 0.0, 1e-2, "mean", None, False, [10.0, 0.0, 0.0], 2.0, rng),
        case("compensation-only", 3, 4, 3, 0.0, 2.0, 1e-2, "mean", None, False, [10.0, 0.0, 0.0], 2.0, rng),
    ]
    header = f"""// GENERATED by Scripts/seesaw_reference.py from PyTorch {torch.__version__} (float64). Do not edit.

/// One training step of the seesaw loss: the batch, and what PyTorch autograd
/// computes for mmdetection's `seesaw_ce_loss` formula (counts updated first).
struct SeesawStep {{
  let logits: [Double]
  let labels: [Int]
  let weights: [Double]?
  let value: Double
  let gradient: [Double]
  /// The accumulated class counts after the step.
  let counts: [Double]
}}

/// A run of steps from `initialCounts`, with the loss's hyper-parameters.
struct SeesawCase {{
  let name: String
  let classCount: Int
  let p: Double
  let q: Double
  let epsilon: Double
  /// "mean" or "sum".
  let reduction: String
  let ignoreIndex: Int?
  let initialCounts: [Double]
  let steps: [SeesawStep]
}}

let seesawCases: [SeesawCase] = [
"""
    OUT.write_text(header + "\n".join(cases) + "\n]\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
