"""Reference values for the binary overflow regressions (mpmath, 50 digits).

1. Class-weighted BCE / focal with a huge softplus and a tiny weight: the
   weighted sum is finite although a_pos * softplus(-z) alone overflows.
2. F1-weighted CE under reduction .sum with weights near the overflow
   threshold: F comes from the normalised weights.
"""
from mpmath import mp, mpf, exp, log, log1p

mp.dps = 50


def sigmoid(z):
    return 1 / (1 + exp(-z))


def softplus(z):  # log(1 + e^z), stable for huge |z|
    return z + log1p(exp(-z)) if z > 0 else log1p(exp(z))


def bce(z, y, a_pos, a_neg):
    p = sigmoid(z)
    value = a_pos * y * softplus(-z) + a_neg * (1 - y) * softplus(z)
    slope = a_neg * (1 - y) * p - a_pos * y * (1 - p)
    return value, slope


def focal(z, y, gamma, a_pos, a_neg):
    p = sigmoid(z)
    q = 1 - p
    lp = -softplus(-z)  # log p
    lq = -softplus(z)   # log q
    value = a_pos * y * q**gamma * -lp + a_neg * (1 - y) * p**gamma * -lq
    slope = (a_pos * y * q**gamma * (gamma * p * lp - q)
             - a_neg * (1 - y) * p**gamma * (gamma * q * lq - p))
    return value, slope


def weighted_mean(terms, w):
    W = sum(w)
    return (sum(wi * t[0] for wi, t in zip(w, terms)) / W,
            [wi * t[1] / W for wi, t in zip(w, terms)])


z = [mpf(0), mpf('-1e308')]
y = [mpf(1), mpf(1)]
w = [mpf(1), mpf('1e-300')]
v, g = weighted_mean([bce(zi, yi, 10, 1) for zi, yi in zip(z, y)], w)
print("BCE(positiveWeight: 10) mean:", mp.nstr(v, 20), [mp.nstr(x, 20) for x in g])
v, g = weighted_mean([focal(zi, yi, 2, 10, 1) for zi, yi in zip(z, y)], w)
print("focal(gamma 2, a_pos 10) mean:", mp.nstr(v, 20), [mp.nstr(x, 20) for x in g])

# 2. F1-weighted CE, reduction .sum
z = [mpf(1), mpf(1)]
y = [mpf(1), mpf(0)]
w = [mpf('1e308'), mpf('1e308')]
f = [wi / sum(w) for wi in w]
p = [sigmoid(zi) for zi in z]
tp = sum(fi * yi * pi for fi, yi, pi in zip(f, y, p))
fp = sum(fi * (1 - yi) * pi for fi, yi, pi in zip(f, y, p))
fn = sum(fi * yi * (1 - pi) for fi, yi, pi in zip(f, y, p))
F = 2 * tp / (2 * tp + fp + fn)
terms = [bce(zi, yi, 1 - F / 2, F / 2) for zi, yi in zip(z, y)]
value = sum(wi * t[0] for wi, t in zip(w, terms))
grad = [wi * t[1] for wi, t in zip(w, terms)]
print("F1-weighted CE .sum: F =", mp.nstr(F, 20), "value", mp.nstr(value, 20),
      [mp.nstr(x, 20) for x in grad])

# 3. The same with three samples: raw TP + FP/2 + FN/2 = 2.1e308 overflows.
z = [mpf(1)] * 3
y = [mpf(1), mpf(1), mpf(0)]
w = [mpf('1e308')] * 3
f = [wi / sum(w) for wi in w]
p = [sigmoid(zi) for zi in z]
tp = sum(fi * yi * pi for fi, yi, pi in zip(f, y, p))
fp = sum(fi * (1 - yi) * pi for fi, yi, pi in zip(f, y, p))
fn = sum(fi * yi * (1 - pi) for fi, yi, pi in zip(f, y, p))
F = 2 * tp / (2 * tp + fp + fn)
terms = [bce(zi, yi, 1 - F / 2, F / 2) for zi, yi in zip(z, y)]
value = sum(wi * t[0] for wi, t in zip(w, terms))
grad = [wi * t[1] for wi, t in zip(w, terms)]
print("F1-weighted CE .sum, 3 samples: F =", mp.nstr(F, 20), "value", mp.nstr(value, 20),
      [mp.nstr(x, 20) for x in grad])
