#!/usr/bin/env python3
"""High-precision references for the accuracy audit (issue 7).

Computes, with mpmath at 60 significant digits (extra working precision where
inputs of very different magnitudes are added), the value and the gradient of
every core loss on grids covering |z| from 1e-300 to 1e300, soft targets,
near-tied softmax rows, priors down to 1e-12 and extreme weights, and writes
them as literal Swift arrays to Tests/ImbalanceLossTests/Fixtures/AccuracyReference.swift,
so that `swift test` needs no Python.

Each reference number r is written as two doubles (hi, lo): hi = r rounded to
the nearest double, lo = (r - hi) rounded, so the Swift side measures errors
to a fraction of an ulp.

Usage:  python3 Scripts/accuracy_reference.py   (needs mpmath; about a minute)

ADDING A LOSS: write its reference as a function like `bce` below (value and
gradient of a batch, mean reduction) and add it to BINARY_LOSSES or
SOFTMAX_LOSSES; then add one line to `AccuracyAuditTests.builders`.
"""

import os
import itertools
import random
import struct

import mpmath
from mpmath import mpf

mpmath.mp.dps = 60
# Bits to add doubles of any two magnitudes (1e-308 .. 1e308) exactly.
EXACT_BITS = 2400


def M(x):
    return mpf(x)  # exact: every double is an mpf


def sigmoid(z):
    return 1 / (1 + mpmath.exp(-z))


def softplus(z):
    """log(1 + e^z), accurate for any z."""
    if z > 0:
        return z + mpmath.log1p(mpmath.exp(-z))
    return mpmath.log1p(mpmath.exp(z))


def normalised(weights, n):
    w = [M(1)] * n if weights is None else [M(x) for x in weights]
    total = mpmath.fsum(w)
    return [x / total for x in w]


# ---- binary losses: f(params, z, y, w) -> (value, gradient), mean reduction ----

def bce_terms(a_pos, a_neg, z, y):
    """Per-sample loss and slope of class-weighted cross-entropy (SPEC 2)."""
    z, y = M(z), M(y)
    p, q = sigmoid(z), sigmoid(-z)
    loss = a_pos * y * softplus(-z) + a_neg * (1 - y) * softplus(z)
    return loss, a_neg * (1 - y) * p - a_pos * y * q


def weighted_ce(a_pos, a_neg, z, y, w):
    f = normalised(w, len(z))
    terms = [bce_terms(a_pos, a_neg, zi, yi) for zi, yi in zip(z, y)]
    return mpmath.fsum(fi * l for fi, (l, _) in zip(f, terms)), [fi * s for fi, (_, s) in zip(f, terms)]


def bce(params, z, y, w):
    return weighted_ce(M(params[0]), M(params[1]), z, y, w)


def smooth_accuracy(params, z, y, w):
    f = normalised(w, len(z))
    value, grad = [], []
    for fi, zi, yi in zip(f, z, y):
        zi, yi = M(zi), M(yi)
        p, q = sigmoid(zi), sigmoid(-zi)
        value.append(fi * (yi * q + (1 - yi) * p))
        grad.append(-fi * (2 * yi - 1) * p * q)
    return mpmath.fsum(value), grad


def smooth_f1_stats(z, y, w):
    w = [M(1)] * len(z) if w is None else [M(x) for x in w]
    p = [sigmoid(M(zi)) for zi in z]
    t = mpmath.fsum(wi * M(yi) * pi for wi, yi, pi in zip(w, y, p))
    s = mpmath.fsum(wi * (M(yi) + pi) for wi, yi, pi in zip(w, y, p))
    return w, p, t, s


def smooth_f1(params, z, y, w):
    w, p, t, s = smooth_f1_stats(z, y, w)
    f1 = 2 * t / s
    # 1 - F = U / S with U = sum w (y q + (1 - y) p): no cancellation.
    u = mpmath.fsum(wi * (M(yi) * sigmoid(-M(zi)) + (1 - M(yi)) * pi)
                    for wi, yi, zi, pi in zip(w, y, z, p))
    grad = [-(2 * wi / s) * (M(yi) - f1 / 2) * pi * sigmoid(-M(zi))
            for wi, yi, zi, pi in zip(w, y, z, p)]
    return u / s, grad


def f1_weighted_ce(params, z, y, w):
    if params:
        f1 = M(params[0])
    else:
        _, _, t, s = smooth_f1_stats(z, y, w)
        f1 = 2 * t / s
    return weighted_ce(1 - f1 / 2, f1 / 2, z, y, w)


# ---- softmax losses: f(params, K, z, labels, w) -> (value, gradient) ----

def logit_adjusted(params, k, z, labels, w):
    """params = [tau, prior_0, ..., prior_{K-1}] (priors unnormalised)."""
    tau, priors = M(params[0]), [M(x) for x in params[1:]]
    total = mpmath.fsum(priors)
    offsets = [tau * mpmath.log(x / total) for x in priors] if tau != 0 else [M(0)] * k
    return softmax_ce(offsets, k, z, labels, w)


def softmax_cross_entropy(params, k, z, labels, w):
    return softmax_ce([M(0)] * k, k, z, labels, w)


def softmax_ce(offsets, k, z, labels, w):
    f = normalised(w, len(labels))
    values, grad = [], []
    for i, c in enumerate(labels):
        with mpmath.workprec(EXACT_BITS):
            a = [M(z[i * k + j]) + offsets[j] for j in range(k)]
            m = max(a)
            d = [x - m for x in a]  # exact at this precision
            gap = m - a[c]
        e = [mpmath.exp(x) for x in d]
        s = mpmath.fsum(e)
        # log(s) = log1p(s - 1), with s - 1 summed without the leading 1 (a
        # 60-digit s would round 1 + 1e-87 to 1).
        top = d.index(max(d))
        rest = mpmath.fsum(e[j] for j in range(k) if j != top)
        values.append(f[i] * (gap + mpmath.log1p(rest)))
        others = mpmath.fsum(e[j] for j in range(k) if j != c)
        for j in range(k):
            grad.append(f[i] * (-others / s if j == c else e[j] / s))
    return mpmath.fsum(values), grad


# name -> (reference, list of parameter vectors). The names are the keys of
# AccuracyAuditTests.builders; the parameters are passed through as [Double].
BINARY_LOSSES = {
    "BinaryCrossEntropy": (bce, [[1.0, 1.0], [3.0, 0.5], [1e-3, 50.0]]),
    "SmoothAccuracyLoss": (smooth_accuracy, [[]]),
    "SmoothF1Loss": (smooth_f1, [[]]),
    "F1WeightedCrossEntropy": (f1_weighted_ce, [[], [0.3], [1.0]]),
}

GEOMETRIC_PRIORS = [10.0 ** (-12 * j / 9) for j in range(10)]
SOFTMAX_LOSSES = {
    "SoftmaxCrossEntropy": (softmax_cross_entropy, [None]),
    "LogitAdjustedCrossEntropy": (logit_adjusted, [
        [1.0] + GEOMETRIC_PRIORS,
        [0.5] + GEOMETRIC_PRIORS,
        [1.0, 0.5, 0.5 - 1e-12, 1e-12],
        [2.0, 900.0, 99.0, 1.0],
        [1.0, 1.0, 1.0],
    ]),
}

MAGNITUDES = [1e-300, 1e-200, 1e-100, 1e-30, 1e-16, 1e-8, 1e-3, 0.1, 0.5, 1.0, 2.0, 5.0,
              10.0, 20.0, 36.0, 37.5, 40.0, 100.0, 300.0, 700.0, 709.5, 740.0, 745.0, 800.0,
              1e3, 1e5, 1e10, 1e20, 1e100, 1e200, 1e300]
GRID = [0.0] + MAGNITUDES + [-x for x in MAGNITUDES]
SOFT_TARGETS = [0.0, 1.0, 0.25, 0.7, 1e-300]


def split(r):
    """(hi, lo): r rounded to a double, and the rounded remainder."""
    hi = float(mpmath.nstr(r, 40, min_fixed=1, max_fixed=0))
    lo = float(mpmath.nstr(r - M(hi), 20, min_fixed=1, max_fixed=0)) if hi != 0 or r != 0 else 0.0
    if hi == 0 or abs(lo) < 2.2250738585072014e-308:
        lo = 0.0  # a subnormal correction is below 1 ulp of hi: drop it (no literal underflow)
    return hi, lo


def swift_array(xs, digits=None):
    if digits:  # the low parts only need a few digits: they refine hi by < 1 ulp
        return "[" + ", ".join(("%.*e" % (digits, x)).replace("e+", "e").replace("e-0", "e-")
                               if x else "0" for x in xs) + "]"
    return "[" + ", ".join(literal(x) for x in xs) + "]"


def literal(x):
    """A Swift literal of the double x; subnormals by bit pattern (Swift warns on their literals)."""
    x = float(x)
    if x != 0 and abs(x) < 2.2250738585072014e-308:
        bits = struct.unpack("<q", struct.pack("<d", abs(x)))[0]
        return ("-" if x < 0 else "") + f"Double(bitPattern: {bits:#x})"
    return repr(x)


class Case:
    def __init__(self, loss, params, k, samplewise, z, t, w, values, grad, category):
        self.loss, self.params, self.k, self.samplewise = loss, params, k, samplewise
        self.category = category
        self.z, self.t, self.w, self.values, self.grad = z, t, w, values, grad

    def swift(self):
        vh, vl = zip(*[split(v) for v in self.values])
        gh, gl = zip(*[split(g) for g in self.grad])
        w = "nil" if self.w is None else swift_array(self.w)
        return (f'  cases.append(AccuracyCase(\n'
                f'    loss: "{self.loss}", category: "{self.category}",\n'
                f'    parameters: {swift_array(self.params)}, '
                f'classCount: {self.k}, samplewise: {str(self.samplewise).lower()},\n'
                f'    logits: {swift_array(self.z)},\n'
                f'    targets: {swift_array(self.t)},\n'
                f'    weights: {w},\n'
                f'    values: {swift_array(vh)},\n'
                f'    valuesLow: {swift_array(vl, 3)},\n'
                f'    gradient: {swift_array(gh)},\n'
                f'    gradientLow: {swift_array(gl, 3)}))\n')


def binary_cases(rng):
    cases = []
    for name, (ref, param_sets) in BINARY_LOSSES.items():
        for params in param_sets:
            # Every grid logit alone, for every target: the extremes one by one.
            for y in SOFT_TARGETS:
                values, grad = [], []
                for z in GRID:
                    v, g = ref(params, [z], [y], None)
                    values.append(v)
                    grad += g
                category = ("hard targets" if y in (0.0, 1.0) else
                            "soft target 1e-300" if y < 1e-100 else "soft targets")
                cases.append(Case(name, params, 1, True, GRID, [y] * len(GRID), None, values, grad,
                                  category))
            # Small weighted batches mixing magnitudes, targets and weights.
            for _ in range(12):
                n = rng.randint(2, 12)
                z = [rng.choice(GRID) if rng.random() < 0.5 else rng.uniform(-12, 12)
                     for _ in range(n)]
                y = [rng.choice(SOFT_TARGETS[:4]) if rng.random() < 0.5 else float(rng.random() < 0.3)
                     for _ in range(n)]
                w = None
                if rng.random() < 0.75:
                    w = [rng.choice([0.0, 1e-300, 1e300, 0.5, 3.0, rng.uniform(0, 2)]) for _ in range(n)]
                    w[rng.randrange(n)] = rng.uniform(0.5, 2)
                v, g = ref(params, z, y, w)
                cases.append(Case(name, params, 1, False, z, y, w, [v], g, "weighted batches"))
    return cases


def softmax_rows(rng, k):
    """Rows for K classes: near ties at every magnitude, wide spreads, random."""
    rows = []
    for x in [0.0, 1.0, 700.0, 1e300, -1e300, 1e-300, 37.0]:
        for delta in [0.0, 2 ** -40, 1e-5, 0.5]:
            rows.append([x + delta * j for j in range(k)])
            rows.append([x] * (k - 1) + [x - max(delta, abs(x) * 2 ** -52)])
    for m in MAGNITUDES[::2]:
        rows.append([0.0] + [-m] * (k - 1))
        rows.append([m * (1 - 2 * (j % 2)) / (j + 1) for j in range(k)])
    rows.append([1e300, -1e300] + [0.0] * (k - 2))
    for _ in range(6):
        rows.append([rng.uniform(-20, 20) for _ in range(k)])
    return rows


def softmax_cases(rng):
    cases = []
    for name, (ref, param_sets) in SOFTMAX_LOSSES.items():
        for params in param_sets:
            ks = [2, 3, 10] if params is None else [len(params) - 1]
            for k in ks:
                p = [float(k)] if params is None else params
                rows = softmax_rows(rng, k)
                # Each row alone, labelled at its first entry, its last and a random class.
                for which, huge in itertools.product(
                        ["last"] if k > 3 else ["first", "last", "random"], [False, True]):
                    z, labels, values, grad = [], [], [], []
                    for row in rows:
                        if (max(map(abs, row)) > 1e3) != huge:
                            continue
                        c = {"first": 0, "last": k - 1, "random": rng.randrange(k)}[which]
                        v, g = ref(p, k, row, [c], None)
                        z += row
                        labels.append(c)
                        values.append(v)
                        grad += g
                    cases.append(Case(name, p, k, True, z, labels, None, values, grad,
                                      "rows max abs(z) > 1e3" if huge else "rows max abs(z) <= 1e3"))
                moderate = [row for row in rows if max(map(abs, row)) <= 1e3]
                for _ in range(8):
                    n = rng.randint(2, 6)
                    z = sum((rng.choice(moderate) for _ in range(n)), [])
                    labels = [rng.randrange(k) for _ in range(n)]
                    w = None
                    if rng.random() < 0.75:
                        w = [rng.choice([0.0, 1e-300, 1e300, 0.5, rng.uniform(0, 2)]) for _ in range(n)]
                        w[rng.randrange(n)] = rng.uniform(0.5, 2)
                    v, g = ref(p, k, z, labels, w)
                    cases.append(Case(name, p, k, False, z, labels, w, [v], g, "weighted batches"))
    return cases


def main():
    rng = random.Random(20261129)
    cases = binary_cases(rng) + softmax_cases(rng)
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "Tests", "ImbalanceLossTests", "Fixtures", "AccuracyReference.swift")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write("// GENERATED by Scripts/accuracy_reference.py (mpmath, 60 digits): do not edit.\n"
                "// Values and gradients of every core loss; each reference number r is\n"
                "// split into hi = r rounded to a double and lo = (r - hi) rounded.\n\n"
                "// One statement per case keeps type-checking linear (a single array\n"
                "// literal of all cases takes the compiler minutes).\n"
                "let accuracyReference: [AccuracyCase] = {\n"
                "  var cases: [AccuracyCase] = []\n")
        for c in cases:
            f.write(c.swift())
        f.write("  return cases\n}()\n")
    print(f"{len(cases)} cases -> {os.path.normpath(out)}")


if __name__ == "__main__":
    main()
