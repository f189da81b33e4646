#!/usr/bin/env python3
"""High-precision references for the accuracy audit (issue 7).

Computes, with mpmath at 60 significant digits (extra working precision where
inputs of very different magnitudes are added), the value and the gradient of
every core loss and of the long-tail family (focal, margin, Tversky / Dice,
softmax smooth accuracy, macro smooth F1, multi-label categorical CE) on
grids covering |z| from 1e-300 to 1e300, soft targets, near-tied softmax
rows, priors down to 1e-12 and extreme weights, and writes them as literal
Swift arrays to Tests/ImbalanceLossTests/Fixtures/AccuracyReference.swift, so
that `swift test` needs no Python.

Each reference number r is written as two doubles (hi, lo): hi = r rounded to
the nearest double, lo = (r - hi) rounded, so the Swift side measures errors
to a fraction of an ulp.

Usage:  python3 Scripts/accuracy_reference.py   (about a minute)
        python3 Scripts/accuracy_reference.py --float32   (about 15 s)
        The family cases draw from their own random stream, after the core
        ones, so adding to them leaves the core cases unchanged. mpmath (and,
        for --float32, numpy) is installed with pip if missing.

--float32 (issue 12) writes Tests/ImbalanceLossTests/Fixtures/
AccuracyReferenceFloat32.swift instead, for the Float32 entry points: the
same reference functions at inputs that are exactly Float values (rounded
with numpy.float32): logits from 1e-38 (subnormal) to
Float.greatestFiniteMagnitude = 3.4028235e38, soft targets down to 1e-30,
weights from the smallest subnormal Float (1.4e-45) to the largest finite one.
References are written as hi only (the double nearest r: 2^-29 Float ulps
from it); the test rounds them to Float. Every audited loss, with fewer
parameter sets and rows than the double fixture (about 300 KB). Seeds fixed.

ADDING A LOSS: write its reference as a function like `bce` below (value and
gradient of a batch, mean reduction) from the documented formula (never from
the Swift code's output), and add it to FAMILY_BINARY_LOSSES or
FAMILY_SOFTMAX_LOSSES (softmax entries are (K, parameters)); `check_gradients`
then verifies its analytic gradient against mpmath.diff. Add one line to
`auditBuilders` (AccuracyAuditTests.swift) and a bound per category to `bounds`. Keep the
fixture under about 1.2 MB: it is compiled into the test target.
"""

import os
import itertools
import random
import struct
import subprocess
import sys


def ensure(module, package):
    """Installs `package` with pip if `module` is missing."""
    try:
        __import__(module)
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", package])


ensure("mpmath", "mpmath")

import mpmath  # noqa: E402
from mpmath import mpf  # noqa: E402

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


def focal_terms(gamma, a_pos, a_neg, z, y):
    """Per-sample focal loss and slope (SPEC 6, BinaryFocalLoss DocC):
    l = a_pos y (1-p)^g (-log p) + a_neg (1-y) p^g (-log(1-p)),
    dl/dz = a_pos y (1-p)^g (g p log p - (1-p)) - a_neg (1-y) p^g (g (1-p) log(1-p) - p)."""
    z, y = M(z), M(y)
    p, q = sigmoid(z), sigmoid(-z)
    log_p, log_q = -softplus(-z), -softplus(z)
    # (1-p)^g and p^g in log space: mpmath has no underflow, and g = 0 gives 1.
    q_g, p_g = mpmath.exp(gamma * log_q), mpmath.exp(gamma * log_p)
    loss = a_pos * y * q_g * -log_p + a_neg * (1 - y) * p_g * -log_q
    slope = (a_pos * y * q_g * (gamma * p * log_p - q)
             - a_neg * (1 - y) * p_g * (gamma * q * log_q - p))
    return loss, slope


def focal_weights(params):
    """[gamma], [gamma, alpha] (a_pos = alpha, a_neg = 1 - alpha) or [gamma, a_pos, a_neg]."""
    if len(params) == 1:
        return M(params[0]), M(1), M(1)
    if len(params) == 2:
        return M(params[0]), M(params[1]), 1 - M(params[1])
    return M(params[0]), M(params[1]), M(params[2])


def binary_focal(params, z, y, w):
    gamma, a_pos, a_neg = focal_weights(params)
    f = normalised(w, len(z))
    terms = [focal_terms(gamma, a_pos, a_neg, zi, yi) for zi, yi in zip(z, y)]
    value = mpmath.fsum(fi * l for fi, (l, _) in zip(f, terms))
    return value, [fi * s for fi, (_, s) in zip(f, terms)]


def confusion(z, y, w):
    """Soft confusion sums TP = sum w y p, FP = sum w (1-y) p, FN = sum w y (1-p)."""
    w = [M(1)] * len(z) if w is None else [M(x) for x in w]
    y = [M(v) for v in y]
    p = [sigmoid(M(zi)) for zi in z]
    q = [sigmoid(-M(zi)) for zi in z]
    tp = mpmath.fsum(wi * yi * pi for wi, yi, pi in zip(w, y, p))
    fp = mpmath.fsum(wi * (1 - yi) * pi for wi, yi, pi in zip(w, y, p))
    fn = mpmath.fsum(wi * yi * qi for wi, yi, qi in zip(w, y, q))
    return w, y, p, q, tp, fp, fn


def tversky(params, z, y, w):
    """TverskyLoss DocC: L = 1 - (TP + e) / (TP + a FP + b FN + e) = (a FP + b FN) / D,
    dL/dz_i = -p_i (1-p_i) (w_i / D) (y_i (1 - (1-b) I) - a (1-y_i) I), I = 1 - L."""
    a, b, eps = M(params[0]), M(params[1]), M(params[2])
    w, y, p, q, tp, fp, fn = confusion(z, y, w)
    d = tp + a * fp + b * fn + eps
    if d == 0:
        return M(1), [M(0)] * len(z)
    loss = (a * fp + b * fn) / d
    index = (tp + eps) / d
    grad = [-pi * qi * (wi / d) * (yi * (1 - (1 - b) * index) - a * (1 - yi) * index)
            for wi, yi, pi, qi in zip(w, y, p, q)]
    return loss, grad


def soft_dice(params, z, y, w):
    """SoftDiceLoss DocC: L = 1 - (2 sum w y p + e) / (sum w (y + p) + e) = (FP + FN) / B,
    dL/dz_i = -(2 w_i / B) (y_i - (1 - L)/2) p_i (1 - p_i), B = sum w (y + p) + e."""
    eps = M(params[0])
    w, y, p, q, tp, fp, fn = confusion(z, y, w)
    b = mpmath.fsum(wi * (yi + pi) for wi, yi, pi in zip(w, y, p)) + eps
    if b == 0:
        return M(1), [M(0)] * len(z)
    loss = (fp + fn) / b
    # 1 - L = (2 TP + e) / B: as 1 - loss it would cancel (B = 1e300, L = 1 - 1e-300).
    index = (2 * tp + eps) / b
    grad = [-(2 * wi / b) * (yi - index / 2) * pi * qi for wi, yi, pi, qi in zip(w, y, p, q)]
    return loss, grad


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


def softmax_row(a, c):
    """Cross-entropy, probabilities, q = 1 - p_c and p_c of one row of exact
    adjusted logits `a` (mpf at EXACT_BITS): CE = (m - a_c) + log1p(sum of the
    non-max terms), q = sum_{k != c} e_k / sum e: neither cancels."""
    k = len(a)
    with mpmath.workprec(EXACT_BITS):
        m = max(a)
        d = [x - m for x in a]
        gap = m - a[c]
    e = [mpmath.exp(x) for x in d]
    s = mpmath.fsum(e)
    top = d.index(max(d))
    rest = mpmath.fsum(e[j] for j in range(k) if j != top)
    others = mpmath.fsum(e[j] for j in range(k) if j != c)
    return gap + mpmath.log1p(rest), [x / s for x in e], others / s, e[c] / s


def softmax_focal(params, k, z, labels, w):
    """SoftmaxFocalLoss DocC, params = [gamma, alpha_0, ..., alpha_{K-1}]:
    l_i = q^g CE with q = 1 - p_c, v_i = w_i alpha_c, L = sum v l / sum v,
    dl/dz_k = (p_k - [k == c]) q^(g-1) (q + g p_c CE)."""
    gamma, alpha = M(params[0]), [M(x) for x in params[1:]]
    v = [M(1) if w is None else M(w[i]) for i in range(len(labels))]
    v = [vi * alpha[c] for vi, c in zip(v, labels)]
    total = mpmath.fsum(v)
    values, grad = [], []
    for i, c in enumerate(labels):
        ce, p, q, pc = softmax_row([M(x) for x in z[i * k:(i + 1) * k]], c)
        f = v[i] / total
        big_g = q + gamma * pc * ce  # G q^(1 - g)
        values.append(f * mpmath.exp(gamma * mpmath.log(q)) * ce)
        for j in range(k):
            if j == c:
                grad.append(-f * mpmath.exp(gamma * mpmath.log(q)) * big_g)
            else:
                grad.append(f * p[j] * mpmath.exp((gamma - 1) * mpmath.log(q)) * big_g)
    return mpmath.fsum(values), grad


def margins_of(params, k):
    """[scale, margin] (additive margin) or [scale, largest, n_0, ..., n_{K-1}]
    (LDAM, m_k = largest (min n / n_k)^(1/4), exact here)."""
    if len(params) == 2:
        return M(params[0]), [M(params[1])] * k
    largest, counts = M(params[1]), [M(x) for x in params[2:]]
    smallest = min(counts)
    return M(params[0]), [largest * mpmath.root(smallest / n, 4) for n in counts]


def margin_softmax(params, k, z, labels, w):
    """MarginSoftmaxCrossEntropy DocC: a_ik = s (z_ik - m_k [k == c_i]),
    l_i = logsumexp(a_i) - a_ic, dL/dz_ik = (w_i / W) s (softmax(a_i)_k - [k == c_i])."""
    s, m = margins_of(params, k)
    f = normalised(w, len(labels))
    values, grad = [], []
    for i, c in enumerate(labels):
        with mpmath.workprec(EXACT_BITS):
            a = [s * (M(z[i * k + j]) - (m[j] if j == c else 0)) for j in range(k)]
        ce, p, q, _ = softmax_row(a, c)
        values.append(f[i] * ce)
        grad += [f[i] * s * (-q if j == c else p[j]) for j in range(k)]
    return mpmath.fsum(values), grad



def softmax_smooth_accuracy(params, k, z, labels, w):
    """SoftmaxSmoothAccuracyLoss DocC, params = class weights: L = sum v (1 - p_c) / sum v,
    v_i = w_i alpha_c, dL/dz_ik = (v_i / sum v) p_c (p_k - [k == c])."""
    alpha = [M(x) for x in params]
    v = [(M(1) if w is None else M(w[i])) * alpha[c] for i, c in enumerate(labels)]
    total = mpmath.fsum(v)
    values, grad = [], []
    for i, c in enumerate(labels):
        _, p, q, pc = softmax_row([M(x) for x in z[i * k:(i + 1) * k]], c)
        f = v[i] / total
        values.append(f * q)
        grad += [f * pc * (-q if j == c else p[j]) for j in range(k)]
    return mpmath.fsum(values), grad


def macro_smooth_f1(params, k, z, labels, w):
    """MacroSmoothF1Loss DocC: T_k = sum w p_k y_k, S_k = sum w (p_k + y_k), F_k = 2 T_k / S_k,
    L = 1 - mean_k F_k, u_ik = -(2 w_i / (K S_k)) (y_ik - F_k / 2),
    dL/dz_ij = p_ij (u_ij - sum_k p_ik u_ik)."""
    n = len(labels)
    w = [M(1)] * n if w is None else [M(x) for x in w]
    rows = [softmax_row([M(x) for x in z[i * k:(i + 1) * k]], c) for i, c in enumerate(labels)]
    probs = [r[1] for r in rows]
    y = [[M(1) if j == c else M(0) for j in range(k)] for c in labels]
    t = [mpmath.fsum(w[i] * probs[i][j] * y[i][j] for i in range(n)) for j in range(k)]
    s = [mpmath.fsum(w[i] * (probs[i][j] + y[i][j]) for i in range(n)) for j in range(k)]
    # S_k - 2 T_k = sum w (y (1 - p) + (1 - y) p), with 1 - p_c = q: no cancellation.
    d = [mpmath.fsum(w[i] * (rows[i][2] if labels[i] == j else probs[i][j]) for i in range(n))
         for j in range(k)]
    value = mpmath.fsum(d[j] / s[j] for j in range(k) if s[j] != 0) / k
    value += mpmath.mpf(sum(1 for j in range(k) if s[j] == 0)) / k
    f1 = [2 * t[j] / s[j] if s[j] != 0 else M(0) for j in range(k)]
    grad = []
    for i in range(n):
        u = [-(2 * w[i] / (k * s[j])) * (y[i][j] - f1[j] / 2) if s[j] != 0 else M(0)
             for j in range(k)]
        # u_j - sum_k p_k u_k = sum_{k != j} p_k (u_j - u_k) (sum p = 1): as
        # written it would cancel where p_j is within 1e-60 of 1.
        grad += [probs[i][j] * mpmath.fsum(probs[i][m] * (u[j] - u[m]) for m in range(k) if m != j)
                 for j in range(k)]
    return value, grad


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

# The long-tail family (issue: audit the family losses). Kept apart from the
# core tables and drawn from their own random stream, so the core cases stay
# bit for bit what they were. Softmax entries are (K, parameters).
FAMILY_BINARY_LOSSES = {
    # [gamma], [gamma, alpha] or [gamma, a_pos, a_neg].
    "BinaryFocalLoss": (binary_focal, [[0.0], [0.0, 0.25], [0.5], [0.5, 0.25], [2.0],
                                       [2.0, 3.0, 0.5]]),
    # [alpha, beta, smoothing]
    "TverskyLoss": (tversky, [[0.3, 0.7, 1.0], [0.3, 0.7, 0.0]]),
    # [smoothing]
    "SoftDiceLoss": (soft_dice, [[1.0]]),
}
FAMILY_SOFTMAX_LOSSES = {
    # (K, [gamma, alpha_0, ..., alpha_{K-1}])
    "SoftmaxFocalLoss": (softmax_focal, [(3, [0.5, 1.0, 1.0, 1.0]), (3, [2.0, 1.0, 1.0, 1.0]),
                                         (4, [2.0, 0.25, 1.0, 2.0, 4.0])]),
    # (K, [scale, largest margin, counts...]) LDAM, (K, [scale, margin]) additive margin.
    "MarginSoftmaxCrossEntropy": (margin_softmax, [(3, [30.0, 0.5, 5000.0, 500.0, 50.0]),
                                                   (3, [32.0, 0.5, 5000.0, 500.0, 50.0]),
                                                   (4, [30.0, 0.35])]),
    # (K, class weights)
    "SoftmaxSmoothAccuracyLoss": (softmax_smooth_accuracy, [(3, [1.0, 0.5, 4.0])]),
    # (K, []): no parameters.
    "MacroSmoothF1Loss": (macro_smooth_f1, [(3, [])]),
}
# Fixed weighted batches added to the random ones: one weight of 1e300 on a
# sample that adds nothing to the sums (p = 0) beside a sample with p = 5e-131.
HUGE_WEIGHT_BATCH = ([-1e-08, -9.297974118922514, -1e+20, 0.9331196665753723, 1e-300, -800.0,
                      -300.0],
                     [0.0, 0.25, 0.0, 0.25, 0.25, 1.0, 0.0],
                     [0.5, 0.043570750385658163, 1e+300, 1.4073560437878476, 3.0, 3.0, 0.5])
EXTRA_BATCHES = {"TverskyLoss": [HUGE_WEIGHT_BATCH], "SoftDiceLoss": [HUGE_WEIGHT_BATCH]}

# Category suffixes: parameters whose errors differ get their own rows.
CATEGORY_SUFFIX = {
    "BinaryFocalLoss": lambda p: f", gamma {p[0]:g}",
    "SoftmaxFocalLoss": lambda p: f", gamma {p[0]:g}",
    "MarginSoftmaxCrossEntropy": lambda p: f", scale {p[0]:g}",
}

MAGNITUDES = [1e-300, 1e-200, 1e-100, 1e-30, 1e-16, 1e-8, 1e-3, 0.1, 0.5, 1.0, 2.0, 5.0,
              10.0, 20.0, 36.0, 37.5, 40.0, 100.0, 300.0, 700.0, 709.5, 740.0, 745.0, 800.0,
              1e3, 1e5, 1e10, 1e20, 1e100, 1e200, 1e300]
GRID = [0.0] + MAGNITUDES + [-x for x in MAGNITUDES]
SOFT_TARGETS = [0.0, 1.0, 0.25, 0.7, 1e-300]


def _double_batch_weights(rng, n, choices=(0.0, 1e-300, 1e300, 0.5, 3.0)):
    return [rng.choice(list(choices) + [rng.uniform(0, 2)]) for _ in range(n)]


DOUBLE = None  # set below, after Domain


def double_domain():
    d = Domain(GRID, SOFT_TARGETS, "soft target 1e-300",
               batch_logit=lambda rng: rng.choice(GRID) if rng.random() < 0.5 else rng.uniform(-12, 12),
               batch_weights=_double_batch_weights,
               row_bases=[0.0, 1.0, 700.0, 1e300, -1e300, 1e-300, 37.0],
               row_deltas=[0.0, 2 ** -40, 1e-5, 0.5], row_ulp=2 ** -52,
               magnitudes=MAGNITUDES, uniform=lambda rng: rng.uniform(-20, 20))
    d.softmax_weights = lambda rng, n: _double_batch_weights(rng, n, (0.0, 1e-300, 1e300, 0.5))
    return d


# ---- Float32 (issue 12): inputs that are exactly Float values ----

def float32_domain():
    """Float32 inputs: every logit, target and weight is a Float (rounded with
    numpy.float32), |z| from 1e-38 (subnormal) to Float.greatestFiniteMagnitude,
    weights from the smallest subnormal Float to the largest finite one."""
    ensure("numpy", "numpy")
    import numpy as np

    def f32(x):
        return float(np.float32(x))

    fmax = float(np.finfo(np.float32).max)  # 3.4028234663852886e38
    mags = [f32(x) for x in [1e-38, 1.1754944e-38, 1e-30, 1e-7, 1e-3, 0.1, 0.5,
                             1.0, 2.0, 5.0, 10.0, 17.0, 36.0, 88.5, 90.0, 100.0, 104.0, 1e3,
                             1e10, 1e20, 1e30, 1e37, 1e38]] + [fmax]
    draw = random.Random(20261206)

    def log_uniform(rng):
        # |z| log-uniform over the whole Float range, either sign.
        return rng.choice([-1.0, 1.0]) * f32(min(10 ** rng.uniform(-38, 38.53), fmax))

    grid = [0.0] + mags + [-x for x in mags] + [log_uniform(draw) for _ in range(4)]
    weights = [0.0, f32(1.4e-45), f32(1e-38), f32(1e30), fmax, 0.5, 3.0]

    def batch_weights(rng, n, choices=weights):
        return [rng.choice(list(choices) + [f32(rng.uniform(0, 2))]) for _ in range(n)]

    def batch_logit(rng):
        u = rng.random()
        if u < 0.4:
            return rng.choice(grid)
        return f32(rng.uniform(-12, 12)) if u < 0.7 else log_uniform(rng)

    d = Domain(grid, [0.0, 1.0, 0.25, f32(0.7), f32(1e-30)], "soft target 1e-30",
               batch_logit=batch_logit, batch_weights=batch_weights,
               row_bases=[f32(x) for x in [0.0, 1.0, 88.0, 1e-38, 1e38, -1e38, fmax]],
               row_deltas=[0.0, 2 ** -20, 0.5], row_ulp=2 ** -23,
               magnitudes=mags[::2] + [fmax], uniform=lambda rng: f32(rng.uniform(-20, 20)),
               batches=6)
    d.round = f32
    # Fewer rows than the double audit (fixture size): one random label per
    # row for K <= 3 (the last class for more), K = 4 for plain softmax.
    d.softmax_ks, d.labellings = [4], ["random"]
    d.softmax_weights = batch_weights
    return d


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

    def swift(self, lows=True, grids=None):
        """The Swift statement of the case. `lows=False` writes no lo parts (a
        Float32 fixture: hi alone is 2^-29 Float ulps from the reference);
        `grids` maps a shared logit list (tuple) to the Swift name of a constant."""
        vh, vl = zip(*[split(v) for v in self.values])
        gh, gl = zip(*[split(g) for g in self.grad])
        w = "nil" if self.w is None else swift_array(self.w)
        z = (grids or {}).get(tuple(self.z)) or swift_array(self.z)
        t = (f"Array(repeating: {literal(self.t[0])}, count: {len(self.t)})"
             if grids is not None and len(set(self.t)) == 1 and len(self.t) > 4
             else swift_array(self.t))
        low = lambda xs: swift_array(xs, 3) if lows else "[]"
        return (f'  cases.append(AccuracyCase(\n'
                f'    loss: "{self.loss}", category: "{self.category}",\n'
                f'    parameters: {swift_array(self.params)}, '
                f'classCount: {self.k}, samplewise: {str(self.samplewise).lower()},\n'
                f'    logits: {z},\n'
                f'    targets: {t},\n'
                f'    weights: {w},\n'
                f'    values: {swift_array(vh)},\n'
                f'    valuesLow: {low(vl)},\n'
                f'    gradient: {swift_array(gh)},\n'
                f'    gradientLow: {low(gl)}))\n')


class Domain:
    """The inputs of one fixture: the logit grid, soft targets, weights and
    random draws. `DOUBLE` is the original audit (its random calls unchanged,
    so its cases stay bit for bit); `float32_domain()` draws Float32 inputs."""

    def __init__(self, grid, soft_targets, tiny_target_category, batch_logit, batch_weights,
                 row_bases, row_deltas, row_ulp, magnitudes, uniform, batches=12,
                 tie_delta=None):
        self.grid, self.soft_targets = grid, soft_targets
        self.tiny_target_category = tiny_target_category
        self.batch_logit, self.batch_weights = batch_logit, batch_weights
        self.row_bases, self.row_deltas, self.row_ulp = row_bases, row_deltas, row_ulp
        self.magnitudes, self.uniform, self.batches = magnitudes, uniform, batches
        self.round = lambda x: x
        self.softmax_ks, self.labellings = [2, 3, 10], ["first", "last", "random"]


DOUBLE = double_domain()


def binary_cases(rng, losses, domain=None):
    domain = domain or DOUBLE
    grid, soft_targets = domain.grid, domain.soft_targets
    cases = []
    for name, (ref, param_sets) in losses.items():
        for params in param_sets:
            suffix = CATEGORY_SUFFIX.get(name, lambda p: "")(params)
            # Every grid logit alone, for every target: the extremes one by one.
            for y in soft_targets:
                values, grad = [], []
                for z in grid:
                    v, g = ref(params, [z], [y], None)
                    values.append(v)
                    grad += g
                category = ("hard targets" if y in (0.0, 1.0) else
                            domain.tiny_target_category if y < 1e-20 else "soft targets") + suffix
                cases.append(Case(name, params, 1, True, grid, [y] * len(grid), None, values, grad,
                                  category))
            # Small weighted batches mixing magnitudes, targets and weights.
            for _ in range(domain.batches):
                n = rng.randint(2, 12)
                z = [domain.batch_logit(rng) for _ in range(n)]
                y = [rng.choice(soft_targets[:4]) if rng.random() < 0.5 else float(rng.random() < 0.3)
                     for _ in range(n)]
                w = None
                if rng.random() < 0.75:
                    w = domain.batch_weights(rng, n)
                    w[rng.randrange(n)] = domain.round(rng.uniform(0.5, 2))
                v, g = ref(params, z, y, w)
                cases.append(Case(name, params, 1, False, z, y, w, [v], g,
                                  "weighted batches" + suffix))
            for z, y, w in (EXTRA_BATCHES.get(name, []) if domain is DOUBLE else []):
                v, g = ref(params, z, y, w)
                cases.append(Case(name, params, 1, False, z, y, w, [v], g,
                                  "weighted batches" + suffix))
    return cases


def softmax_rows(rng, k, domain=None):
    """Rows for K classes: near ties at every magnitude, wide spreads, random."""
    domain = domain or DOUBLE
    r = domain.round
    rows = []
    for x in domain.row_bases:
        for delta in domain.row_deltas:
            rows.append([r(x + delta * j) for j in range(k)])
            rows.append([x] * (k - 1) + [r(x - max(delta, abs(x) * domain.row_ulp))])
    for m in domain.magnitudes[::2]:
        rows.append([0.0] + [-m] * (k - 1))
        rows.append([r(m * (1 - 2 * (j % 2)) / (j + 1)) for j in range(k)])
    big = domain.magnitudes[-1]
    rows.append([big, -big] + [0.0] * (k - 2))
    for _ in range(6):
        rows.append([domain.uniform(rng) for _ in range(k)])
    return rows


def softmax_cases(rng, losses, domain=None):
    domain = domain or DOUBLE
    cases = []
    for name, (ref, param_sets) in losses.items():
        for params in param_sets:
            if isinstance(params, tuple):
                ks, params = [params[0]], params[1]
            else:
                ks = domain.softmax_ks if params is None else [len(params) - 1]
            suffix = "" if params is None else CATEGORY_SUFFIX.get(name, lambda p: "")(params)
            for k in ks:
                p = [float(k)] if params is None else params
                rows = softmax_rows(rng, k, domain)
                # Each row alone, labelled at its first entry, its last and a random class.
                for which, huge in itertools.product(
                        ["last"] if k > 3 else domain.labellings, [False, True]):
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
                                      ("rows max abs(z) > 1e3" if huge else "rows max abs(z) <= 1e3")
                                      + suffix))
                moderate = [row for row in rows if max(map(abs, row)) <= 1e3]
                for _ in range(domain.batches * 2 // 3):
                    n = rng.randint(2, 6)
                    z = sum((rng.choice(moderate) for _ in range(n)), [])
                    labels = [rng.randrange(k) for _ in range(n)]
                    w = None
                    if rng.random() < 0.75:
                        w = domain.softmax_weights(rng, n)
                        w[rng.randrange(n)] = domain.round(rng.uniform(0.5, 2))
                    v, g = ref(p, k, z, labels, w)
                    cases.append(Case(name, p, k, False, z, labels, w, [v], g,
                                      "weighted batches" + suffix))
    return cases


def multi_label_cce(params, k, z, y, w):
    """MultiLabelCategoricalCrossEntropy DocC, L = k labels per sample:
    l_i = log(1 + sum_{y=0} e^s) + log(1 + sum_{y=1} e^-s), L = sum w l / sum w,
    dl/ds_j = e^s_j / (1 + sum_neg e^s) (negative j), -e^-s_j / (1 + sum_pos e^-s) (positive j).
    mpmath's exponents have no range limit, so the sums need no shifting."""
    f = normalised(w, len(z) // k)
    values, grad = [], []
    for i in range(len(z) // k):
        s = [M(x) for x in z[i * k:(i + 1) * k]]
        t = y[i * k:(i + 1) * k]
        neg = [mpmath.exp(s[j]) if t[j] == 0 else M(0) for j in range(k)]
        pos = [mpmath.exp(-s[j]) if t[j] == 1 else M(0) for j in range(k)]
        sum_neg, sum_pos = mpmath.fsum(neg), mpmath.fsum(pos)
        values.append(f[i] * (mpmath.log1p(sum_neg) + mpmath.log1p(sum_pos)))
        grad += [f[i] * (neg[j] / (1 + sum_neg) - pos[j] / (1 + sum_pos)) for j in range(k)]
    return mpmath.fsum(values), grad


def multi_label_cases(rng, domain=None):
    """MultiLabelCategoricalCrossEntropy with L = 4: the softmax rows one by one
    (label patterns drawn at random, at least one of each kind in most rows),
    and weighted batches."""
    domain = domain or DOUBLE
    cases, k, name = [], 4, "MultiLabelCategoricalCrossEntropy"
    rows = softmax_rows(rng, k, domain)
    for huge in [False, True]:
        z, y, values, grad = [], [], [], []
        for row in rows:
            if (max(map(abs, row)) > 1e3) != huge:
                continue
            t = [float(rng.random() < 0.4) for _ in range(k)]
            v, g = multi_label_cce([], k, row, t, None)
            z += row
            y += t
            values.append(v)
            grad += g
        cases.append(Case(name, [], k, True, z, y, None, values, grad,
                          "rows max abs(z) > 1e3" if huge else "rows max abs(z) <= 1e3"))
    moderate = [row for row in rows if max(map(abs, row)) <= 1e3]
    for _ in range(domain.batches * 2 // 3):
        n = rng.randint(2, 6)
        z = sum((rng.choice(moderate) for _ in range(n)), [])
        y = [float(rng.random() < 0.4) for _ in range(n * k)]
        w = domain.softmax_weights(rng, n)
        w[rng.randrange(n)] = domain.round(rng.uniform(0.5, 2))
        v, g = multi_label_cce([], k, z, y, w)
        cases.append(Case(name, [], k, False, z, y, w, [v], g, "weighted batches"))
    return cases


def check_gradients():
    """Verifies every family reference's analytic gradient against mpmath.diff
    (numerical differentiation at 60 digits) on moderate inputs, so that a
    slip in a hand-derived gradient cannot become the reference."""
    def agree(name, params, value_at, z, analytic):
        for j in range(len(z)):
            def f(t, j=j):
                zz = list(z)
                zz[j] = t
                return value_at(zz)
            numeric = mpmath.diff(f, M(z[j]))
            scale = max(abs(x) for x in analytic)
            assert abs(numeric - analytic[j]) <= mpmath.mpf(10) ** -30 * scale, \
                (name, params, j, numeric, analytic[j])
    z = [0.3, -1.7, 2.5, 0.05, 6.0, -9.0]
    y = [1.0, 0.0, 0.25, 0.7, 1.0, 0.0]
    w = [0.5, 2.0, 1.0, 3.0, 1.0, 0.25]
    for name, (ref, param_sets) in FAMILY_BINARY_LOSSES.items():
        for params in param_sets:
            for weights in [None, w]:
                agree(name, params, lambda zz: ref(params, zz, y, weights)[0], z,
                      ref(params, z, y, weights)[1])
    for name, (ref, param_sets) in FAMILY_SOFTMAX_LOSSES.items():
        for k, params in param_sets:
            z = [((7 * j) % 11) / 3 - 1.5 for j in range(3 * k)]
            z[k + 1] += 4  # a confident row (p_c near 1: q^(gamma - 1) large for gamma < 1)
            labels = [0, 1, k - 1]
            for weights in [None, [0.5, 2.0, 1.0]]:
                agree(name, params, lambda zz: ref(params, k, zz, labels, weights)[0], z,
                      ref(params, k, z, labels, weights)[1])
    z = [0.3, -1.7, 2.5, 0.05, 6.0, -9.0, 1.0, 0.0]
    y = [1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0]
    for weights in [None, [0.5, 2.0]]:
        agree("MultiLabelCategoricalCrossEntropy", [],
              lambda zz: multi_label_cce([], 4, zz, y, weights)[0], z,
              multi_label_cce([], 4, z, y, weights)[1])
    print("analytic gradients agree with mpmath.diff")


# The Float32 fixture's losses: every audited loss, with fewer parameter sets
# for the family (the Float32 entry points share the Double kernels).
FLOAT32_BINARY_LOSSES = dict(BINARY_LOSSES)
FLOAT32_SOFTMAX_LOSSES = {
    "SoftmaxCrossEntropy": (softmax_cross_entropy, [None]),
    "LogitAdjustedCrossEntropy": (logit_adjusted, [
        [1.0] + GEOMETRIC_PRIORS, [1.0, 0.5, 0.5 - 1e-12, 1e-12], [2.0, 900.0, 99.0, 1.0]]),
}
FLOAT32_FAMILY_BINARY_LOSSES = {
    "BinaryFocalLoss": (binary_focal, [[0.5], [2.0, 3.0, 0.5]]),
    "TverskyLoss": (tversky, [[0.3, 0.7, 1.0]]),
    "SoftDiceLoss": (soft_dice, [[1.0]]),
}
FLOAT32_FAMILY_SOFTMAX_LOSSES = {
    "SoftmaxFocalLoss": (softmax_focal, [(3, [2.0, 1.0, 1.0, 1.0])]),
    "MarginSoftmaxCrossEntropy": (margin_softmax, [(3, [30.0, 0.5, 5000.0, 500.0, 50.0])]),
    "SoftmaxSmoothAccuracyLoss": (softmax_smooth_accuracy, [(3, [1.0, 0.5, 4.0])]),
    "MacroSmoothF1Loss": (macro_smooth_f1, [(3, [])]),
}


def write_fixture(name, variable, header, cases, lows=True, grids=None):
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "Tests", "ImbalanceLossTests", "Fixtures", name)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write(header)
        for grid_name, grid in (grids or {}).items():
            f.write(f"let {grid_name}: [Double] = {swift_array(grid)}\n\n")
        f.write("// One statement per case keeps type-checking linear (a single array\n"
                "// literal of all cases takes the compiler minutes).\n"
                f"let {variable}: [AccuracyCase] = {{\n"
                "  var cases: [AccuracyCase] = []\n")
        names = None if grids is None else {tuple(g): n for n, g in grids.items()}
        for c in cases:
            f.write(c.swift(lows, names))
        f.write("  return cases\n}()\n")
    print(f"{len(cases)} cases -> {os.path.normpath(out)}")


def main_float32():
    """The Float32 fixture (issue 12): the same references at Float inputs."""
    domain = float32_domain()
    rng = random.Random(20261206)
    cases = binary_cases(rng, FLOAT32_BINARY_LOSSES, domain)
    cases += softmax_cases(rng, FLOAT32_SOFTMAX_LOSSES, domain)
    family = random.Random(20261207)
    cases += binary_cases(family, FLOAT32_FAMILY_BINARY_LOSSES, domain)
    cases += softmax_cases(family, FLOAT32_FAMILY_SOFTMAX_LOSSES, domain)
    cases += multi_label_cases(random.Random(20261208), domain)
    write_fixture(
        "AccuracyReferenceFloat32.swift", "accuracyReferenceFloat32",
        "// GENERATED by Scripts/accuracy_reference.py --float32 (mpmath, 60 digits): do not edit.\n"
        "// Float32 accuracy audit (issue 12): every input (logit, target, weight) is\n"
        "// exactly a Float, written as a double; the references are the 60-digit\n"
        "// values rounded to a double (no lo parts: 2^-29 Float ulps at most).\n\n",
        cases, lows=False, grids={"accuracyFloat32Grid": domain.grid})


def main():
    if "--float32" in sys.argv[1:]:
        check_gradients()
        return main_float32()
    rng = random.Random(20261129)
    cases = binary_cases(rng, BINARY_LOSSES) + softmax_cases(rng, SOFTMAX_LOSSES)
    check_gradients()
    family = random.Random(20261130)
    cases += binary_cases(family, FAMILY_BINARY_LOSSES)
    cases += softmax_cases(family, FAMILY_SOFTMAX_LOSSES)
    cases += multi_label_cases(random.Random(20261131))
    write_fixture(
        "AccuracyReference.swift", "accuracyReference",
        "// GENERATED by Scripts/accuracy_reference.py (mpmath, 60 digits): do not edit.\n"
        "// Values and gradients of every core loss; each reference number r is\n"
        "// split into hi = r rounded to a double and lo = (r - hi) rounded.\n\n",
        cases)


if __name__ == "__main__":
    main()
