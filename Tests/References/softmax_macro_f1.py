# Macro smooth F1 and the macro-F1-weighted cross-entropy on softmax
# probabilities (mpmath, 40 digits); gradients by mpmath.diff of the value.
from mpmath import mp, mpf, exp, log, diff
mp.dps = 40
K = 3
Z = [2.0, -1.0, 0.5, 0.3, 0.2, -0.4, -2.0, 3.0, 1.0, 0.0, 0.0, 0.0, 1.5, 0.5, 4.0]
C = [0, 1, 1, -1, 2]          # row 3 is ignored (ignoreIndex = -1)
W = [1.0, 2.0, 0.5, 9.0, 1.5]
def probs(z, i):
    a = z[i*K:(i+1)*K]; s = sum(exp(x) for x in a)
    return [exp(x) / s for x in a]
def f1_scores(z):
    T = [0]*K; S = [0]*K
    for i, c in enumerate(C):
        if c == -1: continue
        p = probs(z, i)
        for k in range(K):
            S[k] += W[i] * (p[k] + (1 if c == k else 0))
            if c == k: T[k] += W[i] * p[k]
    return [2*t/s for t, s in zip(T, S)]
def macro(z):
    return 1 - sum(f1_scores(z)) / K
z = [mpf(x) for x in Z]
print("F_k", [mp.nstr(f, 20) for f in f1_scores(z)])
print("macro loss", mp.nstr(macro(z), 20))
print("grad", ", ".join(mp.nstr(diff(lambda t, j=j: macro(z[:j] + [t] + z[j+1:]), z[j]), 20) for j in range(len(z))))
CW = [1.0, 0.5, 2.0]
def weighted(z, F, mean=True):
    num = 0; den = 0
    for i, c in enumerate(C):
        if c == -1: continue
        p = probs(z, i)
        l = (1 - F[c]/2) * -log(p[c]) + sum(F[k]/2 * -log(1 - p[k]) for k in range(K) if k != c)
        v = W[i] * CW[c]; num += v * l; den += v
    return num / den if mean else num
F = [mpf('0.3'), mpf('0.8'), mpf('0.5')]
print("weighted CE (F supplied, class weights, mean)", mp.nstr(weighted(z, F), 20))
print("grad", ", ".join(mp.nstr(diff(lambda t, j=j: weighted(z[:j] + [t] + z[j+1:], F), z[j]), 20) for j in range(len(z))))
Fb = f1_scores(z)
print("weighted CE (batch F, class weights, sum)", mp.nstr(weighted(z, Fb, False), 20))
# Extreme row [1e300, -1e300, 0], label 1, F = [0.3, 0.8, 0.5]:
# l = (1 - 0.4) * 2e300 + 0.15 * (-log(1 - p_0)), -log(1 - p_0) = 1e300 - log(1 + e^-1e300...) = 1e300
print("extreme value", mp.nstr((1 - F[1]/2) * 2*mpf(10)**300 + F[0]/2 * mpf(10)**300, 20))
# A wrong row whose complement underflows in double: [800, 0, 1], label 1,
# F = [0.3, 0.8, 0.5], one row (mean = the row's loss).
zz = [mpf(800), mpf(0), mpf(1)]
def row_loss(a, c=1):
    # -log p_c = lse(a) - a_c and -log(1 - p_k) = lse(a) - lse(a without k), exactly.
    lse = lambda xs: log(sum(exp(x) for x in xs))
    return (1 - F[c]/2) * (lse(a) - a[c]) + sum(
        F[k]/2 * (lse(a) - lse(a[:k] + a[k+1:])) for k in range(3) if k != c)
print("underflow row value", mp.nstr(row_loss(zz), 20))
print("grad", ", ".join(mp.nstr(diff(lambda t, j=j: row_loss(zz[:j] + [t] + zz[j+1:]), zz[j]), 20) for j in range(3)))
