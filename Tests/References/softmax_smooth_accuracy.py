# Softmax smooth accuracy references (mpmath, 40 digits): L = Σ v (1 - p_c) / Σ v,
# v = w classWeights[c]; gradient by mpmath.diff of L.
from mpmath import mp, mpf, exp, log, diff
mp.dps = 40
Z = [1.2, -0.4, 0.3, 2.0, 30, 0, -5, 1, -3, 4, 0.5, 0]
C = [0, 0, 2]; W = [1, 0.5, 2]; A = [0.25, 1, 2, 0.5]; K = 4
def L(z):
    num = 0; den = 0
    for i, c in enumerate(C):
        a = z[i*K:(i+1)*K]
        p = exp(a[c]) / sum(exp(x) for x in a)
        v = mpf(W[i]) * A[c]; num += v * (1 - p); den += v
    return num / den
z = [mpf(x) for x in Z]
print("value", mp.nstr(L(z), 20))
print(", ".join(mp.nstr(diff(lambda t, j=j: L(z[:j] + [t] + z[j+1:]), z[j]), 20) for j in range(len(z))))
# confident row [40, 0, 0], label 0: 1 - p = 2e^-40 / (1 + 2e^-40)
print("confident", mp.nstr(2*exp(-40)/(1+2*exp(-40)), 20))
