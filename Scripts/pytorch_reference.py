#!/usr/bin/env python3
"""Writes Tests/ImbalanceLossTests/Fixtures/PyTorchReference.swift: values,
gradients, Hessian diagonals, Hessian-vector products and per-row values of
the softmax cross-entropy losses and multi-label BCE, computed by PyTorch
itself, and scikit-learn's balanced class weights.

    python3 Scripts/pytorch_reference.py

Installs torch (and scikit-learn) with pip if they are missing. Every number comes from
`torch.nn.functional.cross_entropy` in float64 with autograd (gradients),
`torch.func.hessian` (Hessian diagonals) and `torch.func.jvp` over the
gradient (Hessian-vector products): never from the library.

What is compared (PyTorch has no per-sample weights, so none are used here):
- SoftmaxCrossEntropy: cross_entropy(z, y, weight=, label_smoothing=,
  ignore_index=, reduction=);
- LogitAdjustedCrossEntropy: the same on z + tau log(priors);
- MarginSoftmaxCrossEntropy: the same on s (z - m_y onehot(y)) + tau log(priors);
- LogitAdjustedCrossEntropy.balancedSoftmax(classCounts:): the same on z + log(counts).
It also writes LDAM-DRW's per-epoch class weights (numpy, the authors' formula).
Per-row values (`reduction="none"`) are compared where the library's
per-sample value means the same thing: without class weights, or with class
weights and label smoothing together (then the row carries the class weights,
as PyTorch's "none" does).
"""

import random
import subprocess
import sys
from pathlib import Path


def ensure(module, package):
    try:
        __import__(module)
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", package])


ensure("torch", "torch")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_default_dtype(torch.float64)
OUT = Path(__file__).resolve().parent.parent / "Tests/ImbalanceLossTests/Fixtures/PyTorchReference.swift"


def adjusted(z, y, case):
    """The logits PyTorch sees: s (z - m_y onehot(y)) + tau log(priors)."""
    n, k = case["rows"], case["classCount"]
    a = z.reshape(n, k)
    if case["margins"] is not None:
        m = torch.tensor(case["margins"])
        safe = torch.tensor([c if 0 <= c < k else 0 for c in y])
        onehot = F.one_hot(safe, k).to(a.dtype)
        onehot[torch.tensor([not (0 <= c < k) for c in y])] = 0
        a = case["scale"] * (a - onehot * m[safe].unsqueeze(1))
    if case["priors"] is not None:
        a = a + case["tau"] * torch.log(torch.tensor(case["priors"]))
    return a


def loss_fn(case, reduction=None):
    y = torch.tensor(case["labels"])
    weight = None if case["classWeights"] is None else torch.tensor(case["classWeights"])
    ignore = -100 if case["ignoreIndex"] is None else case["ignoreIndex"]

    def f(z):
        return F.cross_entropy(
            adjusted(z, case["labels"], case), y, weight=weight, ignore_index=ignore,
            label_smoothing=case["smoothing"], reduction=reduction or case["reduction"])
    return f


def evaluate(case, rng):
    n, k = case["rows"], case["classCount"]
    z = torch.tensor(case["logits"], requires_grad=True)
    f = loss_fn(case)
    value = f(z)
    (gradient,) = torch.autograd.grad(value, z)
    hessian = torch.func.hessian(f)(z.detach())
    vector = torch.tensor([rng.uniform(-1, 1) for _ in range(n * k)])
    _, hvp = torch.func.jvp(torch.func.grad(f), (z.detach(),), (vector,))
    case["value"] = value.item()
    case["gradient"] = gradient.tolist()
    case["hessianDiagonal"] = torch.diagonal(hessian).tolist()
    case["vector"] = vector.tolist()
    case["hessianVectorProduct"] = hvp.tolist()
    smoothed_weights = case["classWeights"] is not None and case["smoothing"] > 0
    if case["classWeights"] is None or smoothed_weights:
        case["perSample"] = loss_fn(case, "none")(z.detach()).tolist()
    else:
        case["perSample"] = None
    return case


def make_case(rng, name, loss, k, n, smoothing, class_weights, ignore, reduction, logits=None,
              labels=None, priors=None, tau=0.0, margins=None, scale=1.0):
    if labels is None:
        labels = [rng.randrange(k) for _ in range(n)]
        if ignore is not None and n > 2:
            labels[1] = ignore
    if logits is None:
        logits = [rng.uniform(-4, 4) for _ in range(n * k)]
    return {
        "name": name, "loss": loss, "classCount": k, "rows": n, "logits": logits,
        "labels": labels, "classWeights": class_weights, "smoothing": smoothing,
        "ignoreIndex": ignore, "reduction": reduction, "priors": priors, "tau": tau,
        "margins": margins, "scale": scale,
    }


def cases():
    rng = random.Random(14)
    out = [
        # The reproducer of the issue: K = 3, zero logits, label 0.
        make_case(rng, "issueReproducer", "ce", 3, 1, 0.3, [1.0, 2.0, 3.0], None, "mean",
                  logits=[0.0, 0.0, 0.0], labels=[0]),
    ]
    for k in (3, 11):
        for eps in (0.0, 0.3, 1.0):
            for weighted in (False, True):
                for reduction in ("mean", "sum"):
                    for ignore in (None, -100 if k == 3 else 2):
                        cw = [rng.uniform(0.1, 3) for _ in range(k)] if weighted else None
                        if cw is not None and k > 3:
                            cw[4] = 0.0  # a class with weight 0 still has smoothing terms
                        name = f"ce K{k} eps{eps} {'cw' if weighted else 'nocw'} {reduction} ignore{ignore}"
                        out.append(make_case(rng, name, "ce", k, 5, eps, cw, ignore, reduction))
    # Logit-adjusted and margin losses with every option.
    for k in (3, 10):
        for eps in (0.0, 0.2):
            priors = [rng.uniform(0.05, 1) for _ in range(k)]
            total = sum(priors)
            priors = [p / total for p in priors]
            cw = [rng.uniform(0.1, 3) for _ in range(k)]
            for reduction in ("mean", "sum"):
                out.append(make_case(
                    rng, f"la K{k} eps{eps} {reduction}", "la", k, 6, eps, cw, None, reduction,
                    priors=priors, tau=0.75))
                margins = [rng.uniform(0, 0.5) for _ in range(k)]
                out.append(make_case(
                    rng, f"margin K{k} eps{eps} {reduction}", "margin", k, 6, eps, cw, 1, reduction,
                    priors=priors, tau=0.5, margins=margins, scale=8.0))
    # Balanced softmax (Ren et al. 2020): cross_entropy(z + log n_k); "priors"
    # holds the raw class counts n_k here.
    for k in (3, 10):
        counts = [float(rng.choice([3, 40, 500, 6000])) for _ in range(k)]
        for reduction in ("mean", "sum"):
            out.append(make_case(
                rng, f"balanced K{k} {reduction}", "balanced", k, 6, 0.0, None, None, reduction,
                priors=counts, tau=1.0))
    return [evaluate(c, rng) for c in out]


def multi_label_cases():
    """MultiLabelBinaryCrossEntropy(positiveWeights:) against
    BCEWithLogitsLoss(pos_weight=, weight=): "mean" without sample weights
    (PyTorch's mean over N·L entries), "sum" with them."""
    rng = random.Random(141)
    out = []
    for labels in (1, 3, 8, 9):
        for reduction, weighted in (("mean", False), ("sum", False), ("sum", True)):
            n = 4
            z = [rng.choice([rng.uniform(-6, 6), rng.uniform(-40, 40)]) for _ in range(n * labels)]
            y = [rng.choice([0.0, 1.0, rng.random()]) for _ in range(n * labels)]
            pw = [rng.uniform(0.2, 9) for _ in range(labels)]
            w = [rng.uniform(0, 3) for _ in range(n * labels)] if weighted else None
            zt = torch.tensor(z, requires_grad=True)
            fn = torch.nn.BCEWithLogitsLoss(
                pos_weight=torch.tensor(pw), reduction=reduction,
                weight=None if w is None else torch.tensor(w).reshape(n, labels))
            value = fn(zt.reshape(n, labels), torch.tensor(y).reshape(n, labels))
            (g,) = torch.autograd.grad(value, zt)
            out.append({
                "name": f"multi-label L{labels} {reduction} {'w' if weighted else 'nil'}",
                "labelCount": labels, "logits": z, "targets": y, "positiveWeights": pw,
                "weights": w, "reduction": reduction, "value": value.item(),
                "gradient": g.tolist()})
    return out


def focal_tversky_cases():
    """TverskyLoss(exponent:) against the focal Tversky loss written in torch
    (Abraham & Khan 2019; segmentation_models_pytorch's TverskyLoss(gamma=)):
    (1 - (TP + e) / (TP + a FP + b FN + e))^gamma, gradient by autograd."""
    rng = random.Random(143)
    out = []
    for gamma in (0.75, 1.0, 4.0 / 3.0, 2.0):
        for alpha, beta, e in ((0.3, 0.7, 1.0), (0.5, 0.5, 0.0), (0.7, 0.3, 0.25)):
            n = 9
            z = [rng.uniform(-5, 5) for _ in range(n)]
            y = [rng.choice([0.0, 1.0, rng.random()]) for _ in range(n)]
            w = [rng.uniform(0.1, 2) for _ in range(n)]
            zt = torch.tensor(z, requires_grad=True)
            p = torch.sigmoid(zt)
            yt, wt = torch.tensor(y), torch.tensor(w)
            tp = (wt * yt * p).sum()
            fp = (wt * (1 - yt) * p).sum()
            fn = (wt * yt * (1 - p)).sum()
            loss = (1 - (tp + e) / (tp + alpha * fp + beta * fn + e)) ** gamma
            (g,) = torch.autograd.grad(loss, zt)
            out.append({"gamma": gamma, "alpha": alpha, "beta": beta, "smoothing": e,
                        "logits": z, "targets": y, "weights": w, "value": loss.item(),
                        "gradient": g.tolist()})
    return out


def deferred_reweighting_cases():
    """The per-class weights of LDAM-DRW's train.py (Cao et al. 2019):
    idx = epoch // E; betas = [0, beta]; effective_num = 1 - beta^n;
    w = (1 - beta) / effective_num; w = w / sum(w) * K."""
    import numpy as np
    out = []
    for counts, deferral, beta in (([5000, 500, 50], 160, 0.9999), ([1200, 300, 75, 20, 5], 3, 0.999),
                                   ([10, 10], 0, 0.99)):
        for epoch in (0, deferral - 1, deferral, deferral + 7):
            if epoch < 0:
                continue
            idx = epoch // deferral if deferral > 0 else 1
            b = [0, beta][min(idx, 1)]
            effective_num = 1.0 - np.power(b, counts)
            w = (1.0 - b) / np.array(effective_num)
            w = w / np.sum(w) * len(counts)
            out.append({"counts": counts, "deferral": deferral, "beta": beta, "epoch": epoch,
                        "weights": [float(x) for x in w]})
    return out


def balanced_cases():
    """ClassWeights.balanced(classCounts:) against scikit-learn's
    compute_class_weight("balanced")."""
    ensure("sklearn", "scikit-learn")
    import numpy as np
    from sklearn.utils.class_weight import compute_class_weight
    rng = random.Random(142)
    out = []
    for k in (2, 3, 7, 10):
        counts = [rng.choice([1, 2, 5, 17, 100, 1000, 12345]) for _ in range(k)]
        y = np.concatenate([np.full(n, c) for c, n in enumerate(counts)])
        weights = compute_class_weight("balanced", classes=np.arange(k), y=y)
        out.append({"counts": counts, "weights": [float(x) for x in weights]})
    return out


def swift(x):
    if x is None:
        return "nil"
    if isinstance(x, str):
        return '"' + x + '"'
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, float):
        return repr(x) if x == x else ".nan"
    if isinstance(x, int):
        return str(x)
    return "[" + ", ".join(swift(v) for v in x) + "]"


def main():
    lines = [
        "// GENERATED by Scripts/pytorch_reference.py from PyTorch "
        + torch.__version__ + " (float64). Do not edit.",
        "",
        "/// One call of a softmax cross-entropy loss and what PyTorch computes for it.",
        "struct PyTorchCase {",
        "  let name: String",
        '  /// "ce" (SoftmaxCrossEntropy), "la" (LogitAdjustedCrossEntropy), "margin".',
        "  let loss: String",
        "  let classCount: Int",
        "  let logits: [Double]",
        "  let labels: [Int]",
        "  let classWeights: [Double]?",
        "  let smoothing: Double",
        "  let ignoreIndex: Int?",
        '  /// "mean" or "sum".',
        "  let reduction: String",
        "  let priors: [Double]?",
        "  let tau: Double",
        "  let margins: [Double]?",
        "  let scale: Double",
        "  let value: Double",
        "  let gradient: [Double]",
        "  let hessianDiagonal: [Double]",
        "  let vector: [Double]",
        "  let hessianVectorProduct: [Double]",
        '  /// reduction="none", where it means the library\'s per-sample value.',
        "  let perSample: [Double]?",
        "}",
        "",
        "let pyTorchCases: [PyTorchCase] = [",
    ]
    fields = ["name", "loss", "classCount", "logits", "labels", "classWeights", "smoothing",
              "ignoreIndex", "reduction", "priors", "tau", "margins", "scale", "value",
              "gradient", "hessianDiagonal", "vector", "hessianVectorProduct", "perSample"]
    for c in cases():
        args = ",\n    ".join(f"{f}: {swift(c[f])}" for f in fields)
        lines.append(f"  PyTorchCase(\n    {args}),")
    lines.append("]")
    lines += [
        "",
        "/// MultiLabelBinaryCrossEntropy against torch.nn.BCEWithLogitsLoss(pos_weight=, weight=).",
        "struct PyTorchMultiLabelCase {",
        "  let name: String",
        "  let labelCount: Int",
        "  let logits: [Double]",
        "  let targets: [Double]",
        "  let positiveWeights: [Double]",
        "  let weights: [Double]?",
        "  let reduction: String",
        "  let value: Double",
        "  let gradient: [Double]",
        "}",
        "",
        "let pyTorchMultiLabelCases: [PyTorchMultiLabelCase] = [",
    ]
    ml_fields = ["name", "labelCount", "logits", "targets", "positiveWeights", "weights",
                 "reduction", "value", "gradient"]
    for c in multi_label_cases():
        args = ",\n    ".join(f"{f}: {swift(c[f])}" for f in ml_fields)
        lines.append(f"  PyTorchMultiLabelCase(\n    {args}),")
    lines.append("]")
    lines += [
        "",
        "/// scikit-learn's compute_class_weight(\"balanced\", classes=range(K), y) for class counts.",
        "let scikitLearnBalancedWeights: [(counts: [Int], weights: [Double])] = [",
    ]
    for c in balanced_cases():
        lines.append(f"  ({swift(c['counts'])}, {swift(c['weights'])}),")
    lines.append("]")
    lines += [
        "",
        "/// TverskyLoss(exponent:) against the focal Tversky loss in torch (float64, autograd).",
        "let pyTorchFocalTverskyCases: [(exponent: Double, alpha: Double, beta: Double, smoothing: Double,",
        "  logits: [Double], targets: [Double], weights: [Double], value: Double, gradient: [Double])] = [",
    ]
    for c in focal_tversky_cases():
        fields = [c[k] for k in ("gamma", "alpha", "beta", "smoothing", "logits", "targets", "weights",
                                 "value", "gradient")]
        lines.append("  (" + ", ".join(swift(f) for f in fields) + "),")
    lines.append("]")
    lines += [
        "",
        "/// LDAM-DRW's class weights per epoch (numpy, the authors' formula).",
        "let deferredReweightingCases: [(counts: [Int], deferralEpoch: Int, beta: Double, epoch: Int, weights: [Double])] = [",
    ]
    for c in deferred_reweighting_cases():
        lines.append(f"  ({swift(c['counts'])}, {c['deferral']}, {swift(c['beta'])}, {c['epoch']}, {swift(c['weights'])}),")
    lines.append("]")
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
