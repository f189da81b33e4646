#!/usr/bin/env python3
"""Reference values for the core-loss unit tests, computed with mpmath at 50
digits straight from SPEC.md's formulas (independently of the Swift code).
Run: python3 Scripts/core_values.py   (prints the literals the tests quote)."""
from mpmath import mp, mpf, exp, log, e

mp.dps = 50

def sig(z): return 1 / (1 + exp(-z))

def mean(ws, xs): return sum(w * x for w, x in zip(ws, xs)) / sum(ws)

def bce(z, y, w, apos=1, aneg=1):
    p = [sig(v) for v in z]
    l = [-apos * t * log(q) - aneg * (1 - t) * log(1 - q) for q, t in zip(p, y)]
    W = sum(w)
    g = [wi / W * (-apos * t * (1 - q) + aneg * (1 - t) * q) for wi, q, t in zip(w, p, y)]
    return mean(w, l), g

def smooth_acc(z, y, w):
    p = [sig(v) for v in z]
    W = sum(w)
    val = 1 - mean(w, [t * q + (1 - t) * (1 - q) for q, t in zip(p, y)])
    g = [-(wi / W) * (2 * t - 1) * q * (1 - q) for wi, q, t in zip(w, p, y)]
    return val, g

def smooth_f1(z, y, w):
    p = [sig(v) for v in z]
    T = sum(wi * t * q for wi, t, q in zip(w, y, p))
    S = sum(wi * (t + q) for wi, t, q in zip(w, y, p))
    F = 2 * T / S
    g = [-(2 * wi / S) * (t - F / 2) * q * (1 - q) for wi, t, q in zip(w, y, p)]
    return 1 - F, g, F

def la_ce(z, c, K, priors, tau, w):
    rows = [z[i * K:(i + 1) * K] for i in range(len(c))]
    W = sum(w)
    vals, grad = [], []
    for r, ci, wi in zip(rows, c, w):
        a = [zk + tau * log(pk) for zk, pk in zip(r, priors)]
        lse = log(sum(exp(x) for x in a))
        vals.append(lse - a[ci])
        sm = [exp(x - lse) for x in a]
        grad += [wi / W * (s - (1 if k == ci else 0)) for k, s in enumerate(sm)]
    return mean(w, vals), grad

def show(name, v, g=None):
    print(name, mp.nstr(v, 17))
    if g is not None:
        print("  grad", [mp.nstr(x, 17) for x in g])

z = [mpf(2), mpf(-1), mpf('0.5'), mpf(-3)]
y = [1, 0, 1, 0]
ys = [mpf('0.3'), mpf('0.9'), mpf(1), mpf('0.25')]
w = [mpf(1), mpf(2), mpf('0.5'), mpf(3)]
one = [1, 1, 1, 1]
show("bce", *bce(z, y, one))
show("bce weighted a_pos=3 a_neg=0.5", *bce(z, y, w, 3, mpf('0.5')))
show("bce soft", *bce(z, ys, w))
show("bce z=40 y=1", *bce([mpf(40)], [1], [1]))
show("bce z=-40 y=0", *bce([mpf(-40)], [0], [1]))
show("smooth acc", *smooth_acc(z, y, one))
show("smooth acc weighted soft", *smooth_acc(z, ys, w))
v, g, F = smooth_f1(z, y, one); show("smooth f1", v, g); show("  F", F)
v, g, F = smooth_f1(z, ys, w); show("smooth f1 weighted soft", v, g); show("  F", F)
v, g, F = smooth_f1(z, y, one)
show("f1-weighted ce (batch F)", *bce(z, y, one, 1 - F / 2, F / 2))
v, g, F2 = smooth_f1(z, ys, w)
show("f1-weighted ce weighted soft (batch F)", *bce(z, ys, w, 1 - F2 / 2, F2 / 2))
show("f1-weighted ce f1=0.4", *bce(z, y, one, mpf('0.8'), mpf('0.2')))
zs = [mpf(x) for x in ['2', '0.5', '-1', '0.1', '0.2', '0.3']]
pri = [mpf('0.7'), mpf('0.2'), mpf('0.1')]
show("la-ce tau=1", *la_ce(zs, [0, 2], 3, pri, 1, [1, 1]))
show("la-ce tau=0.5 weighted", *la_ce(zs, [1, 2], 3, pri, mpf('0.5'), [mpf(2), mpf('0.5')]))
show("ce tau=0", *la_ce(zs, [0, 2], 3, pri, 0, [1, 1]))
show("ce confident [50,0,0] c=0", *la_ce([mpf(50), mpf(0), mpf(0)], [0], 3, pri, 0, [1]))
