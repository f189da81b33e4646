#!/usr/bin/env python3
"""Reference values for the documented examples (README.md quick start and the
DocC catalog), checked by Tests/ImbalanceLossTests/DocumentationExamplesTests.swift.

Computed with mpmath at 50 digits from the formulas in the doc comments,
independently of the Swift code:

    BinaryCrossEntropy        p = sigmoid(z)
                              l_i = -a_pos y log p - a_neg (1 - y) log(1 - p)
                              L = Σ w l / Σ w,  ∂L/∂z_i = (w_i/W)(a_neg (1-y) p - a_pos y (1-p))
    SmoothAccuracyLoss        ∂L/∂z_i = -(w_i/W)(2y - 1) p (1 - p)
    F1WeightedCrossEntropy    BCE with a_pos = 1 - F/2, a_neg = F/2,
                              F = 2T/S, T = Σ w y p, S = Σ w (y + p)  (held constant)
    ClassPriors(counts:)      π_k = n_k / Σ n
    LogitAdjustedCrossEntropy a_ik = z_ik + tau log π_k
                              L = Σ w (logsumexp(a_i) - a_i,c) / Σ w
                              ∂L/∂z_ik = (w_i/W)(softmax(a_i)_k - [k == c_i])
    predictions(logits:tau:)  argmax_k (z_ik - tau log π_k), first maximum on ties

Run: python3 Scripts/doc_examples_reference.py
It prints each value rounded to 17 significant digits, the literals the tests quote.
"""
from mpmath import mp, mpf, exp, log, nstr

mp.dps = 50


def sig(z):
    return 1 / (1 + exp(-z))


def bce(z, y, apos=1, aneg=1, w=None):
    z = [mpf(v) for v in z]
    w = [mpf(1)] * len(z) if w is None else [mpf(v) for v in w]
    W = sum(w)
    p = [sig(v) for v in z]
    l = [-apos * t * log(q) - aneg * (1 - t) * log(1 - q) for q, t in zip(p, y)]
    value = sum(wi * li for wi, li in zip(w, l)) / W
    grad = [wi / W * (aneg * (1 - t) * q - apos * t * (1 - q)) for wi, q, t in zip(w, p, y)]
    return value, grad


def smooth_accuracy_gradient(z, y):
    W = mpf(len(z))
    p = [sig(mpf(v)) for v in z]
    return [-(1 / W) * (2 * t - 1) * q * (1 - q) for q, t in zip(p, y)]


def smooth_f1(z, y):
    p = [sig(mpf(v)) for v in z]
    T = sum(t * q for t, q in zip(y, p))
    S = sum(t + q for t, q in zip(y, p))
    return 2 * T / S


def priors_from_counts(counts):
    total = sum(mpf(n) for n in counts)
    return [mpf(n) / total for n in counts]


def logit_adjusted_ce(z, labels, priors, tau):
    K = len(priors)
    N = len(labels)
    W = mpf(N)
    value = mpf(0)
    grad = []
    for i, c in enumerate(labels):
        a = [mpf(z[i * K + k]) + tau * log(priors[k]) for k in range(K)]
        lse = log(sum(exp(ak) for ak in a))
        value += (lse - a[c]) / W
        grad += [(exp(a[k] - lse) - (1 if k == c else 0)) / W for k in range(K)]
    return value, grad


def predictions(z, priors, tau):
    K = len(priors)
    result = []
    for i in range(len(z) // K):
        adjusted = [mpf(z[i * K + k]) - tau * log(priors[k]) for k in range(K)]
        best = max(adjusted)
        result.append(adjusted.index(best))
    return result, adjusted


def show(name, x):
    if isinstance(x, list):
        print(f"{name} = [{', '.join(nstr(v, 17, min_fixed=-3, max_fixed=3) for v in x)}]")
    else:
        print(f"{name} = {nstr(x, 17, min_fixed=-3, max_fixed=3)}")


print("// readme-quick-start")
z, y = [2.0, -1.0, 0.5, -3.0], [1, 0, 1, 0]
value, gradient = bce(z, y, apos=3)
show("value", value)
show("gradient", gradient)
F = smooth_f1(z, y)
show("batch smooth F1", F)
f1_loss, _ = bce(z, y, apos=1 - F / 2, aneg=F / 2)
show("f1Loss", f1_loss)
priors = priors_from_counts([900, 90, 10])
softmax_logits = [2.0, 0.5, -1.0, 0.1, 0.2, 0.3]
softmax_value, reusable = logit_adjusted_ce(softmax_logits, [0, 2], priors, 1)
show("softmaxValue", softmax_value)
show("reusable", reusable)
predicted, _ = predictions(softmax_logits, priors, 1)
print(f"predicted = {predicted}")

print("// docc-overview")
value, gradient = bce([1.2, -0.3, -2.0], [1, 0, 0], apos=19)
show("value", value)
show("gradient", gradient)

print("// docc-compare-gradients")
show("accuracyGradient", smooth_accuracy_gradient([-8], [1]))
_, ce_gradient = bce([-8], [1])
show("crossEntropyGradient", ce_gradient)

print("// docc-post-hoc")
priors = priors_from_counts([5000, 500, 50])
for tau in (0, 1):
    predicted, adjusted = predictions([2.0, 1.2, 0.4], priors, tau)
    print(f"tau = {tau}: predictions = {predicted}, adjusted logits =", end=" ")
    print("[" + ", ".join(nstr(v, 6) for v in adjusted) + "]")
