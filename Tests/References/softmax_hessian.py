# Hessian diagonals of softmax cross-entropy and focal loss (mpmath, 60 digits):
# second derivatives of the row loss by mpmath.diff(f, x, 2), independent of the
# closed forms in the code.
from mpmath import mp, mpf, exp, log, diff
mp.dps = 60
def lse(a):
    m = max(a); return m + log(sum(exp(x - m) for x in a))
def focal(a, c, g):
    ce = lse(a) - a[c]
    q = -mp.expm1(-ce)
    return q**g * ce if g != 0 else ce
def hdiag(a, c, g):
    a = [mpf(x) for x in a]
    return [diff(lambda t, j=j: focal(a[:j] + [t] + a[j+1:], c, g), a[j], 2) for j in range(len(a))]
for a, c in [([1.2, -0.4, 0.3, 2.0], 0), ([12.0, 0.0, -3.0], 0)]:
    for g in ['0', '0.5', '2']:
        print(a, c, g, ", ".join(mp.nstr(x, 20) for x in hdiag(a, c, mpf(g))))
# Sign change of the label's entry for gamma = 2, K = 2, p_t = 0.05 and 0.06:
for pt in ['0.05', '0.06']:
    pt = mpf(pt); a = [mpf(0), log((1 - pt) / pt)]
    print("p_t", pt, mp.nstr(hdiag(a, 0, mpf(2))[0], 20))
