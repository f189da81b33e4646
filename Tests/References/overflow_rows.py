# Softmax rows whose adjusted logits overflow in double precision, ClassPriors
# with tiny priors: mpmath at 50 digits on the exact doubles the tests pass
# (mpf(float) is exact), straight from SPEC §4-6 (weighted mean, logsumexp,
# focal loss, label smoothing).
from mpmath import mp, mpf, exp, log, log1p
mp.dps = 50
D = lambda x: mpf(float(x))

def softmax(a):
    m = max(a); e = [exp(x - m) for x in a]; s = sum(e)
    return [x / s for x in e], m + log(s)

def row(a, c, gamma=0, eps=0):
    p, _ = softmax(a); K = len(a)
    # -log p_k = log Σ_j exp(a_j - a_k): no 1e308-sized intermediate that
    # would swamp the 50 digits.
    nlp = [log(sum(exp(x - y) for x in a)) for y in a]
    ce = nlp[c]
    if gamma:
        q = 1 - p[c]; G = q ** (gamma - 1) * (q + gamma * p[c] * ce)
        return q ** gamma * ce, [(p[k] - (k == c)) * G for k in range(K)]
    t = [(1 - eps) * (k == c) + eps / K for k in range(K)]
    loss = sum(t[k] * nlp[k] for k in range(K))
    return loss, [p[k] - t[k] for k in range(K)]

def batch(rows, targets, weights, **kw):
    W = sum(weights); L = 0; G = []
    for a, c, w in zip(rows, targets, weights):
        l, g = row(a, c, **kw); L += w * l / W; G += [w * x / W for x in g]
    return L, G

def show(name, r):
    print(name, mp.nstr(r[0], 25), [mp.nstr(x, 20) for x in r[1]])

big = D(1.7e308)
show("ce weighted", batch([[0, 0], [big, -big]], [0, 1], [1, D(1e-300)]))
o = D(1e308) * D(log(mpf(0.5)))  # tau log(0.5) as the double the loss uses
o = D(float(o))
a = D(-1.75e308)
show("la both -inf", batch([[a + o, a + o]], [0], [1]))
show("la gap", batch([[0 + o, a + o]], [1], [1]))
show("focal weighted", batch([[0, 0], [D(1e308), -D(1e308)]], [0, 1], [1, D(1e-300)], gamma=2))
show("smoothing", batch([[big, -big]], [0], [1], eps=D(0.2)))
show("smoothing weighted", batch([[0, 0], [big, -big]], [0, 1], [1, D(1e-300)], eps=D(0.2)))
for xs in ([1e-300, 1e30], [1e-312, 1e10]):
    t = sum(D(x) for x in xs)
    print("log prior", xs, mp.nstr(log(D(xs[0]) / t), 25))
# LogitAdjustedCrossEntropy(priors: [1e-300, 1e30]), logits [0, 0], target 0.
t = D(1e-300) + D(1e30)
lp = [log(D(1e-300) / t), log(D(1e30) / t)]
show("la tiny prior", batch([lp], [0], [1]))
# Focal (gamma = 2) Hessian diagonal of the weighted batch above: d g_k / d z_k
# of row 0 by mpmath's numerical derivative of the exact gradient; row 1's
# entries carry p_c = exp(-2e308) and are 0 in double.
W = 1 + D(1e-300)
for k in range(2):
    def g(x, k=k):
        a = [mpf(0), mpf(0)]; a[k] = x
        return row(a, 0, gamma=2)[1][k] / W
    print("focal hessian", k, mp.nstr(mp.diff(g, 0), 20))
# Macro-F1-weighted cross-entropy with F held at [0.5, 0.5] (A = 0.75, B = 0.25):
# l = A_c (-log p_c) + Σ_{k != c} B_k (-log(1 - p_k)), gradient by mp.diff.
def f1row(a, c, F):
    K = len(a); nlp = [log(sum(exp(x - y) for x in a)) for y in a]
    # -log(1 - p_k) = log Σ_j e^{a_j} - log Σ_{j != k} e^{a_j}
    def nl1m(k):
        rest = [x for j, x in enumerate(a) if j != k]; m = max(rest)
        return log(sum(exp(x - m) for x in a)) - log(sum(exp(x - m) for x in rest))
    return (1 - F[c] / 2) * nlp[c] + sum(F[k] / 2 * nl1m(k) for k in range(K) if k != c)
F = [mpf(0.5), mpf(0.5)]
rows = [[mpf(0), mpf(0)], [D(1e308), -D(1e308)]]; w = [1, D(1e-300)]; W = sum(w)
L = sum(wi * f1row(a, c, F) for a, c, wi in zip(rows, [0, 1], w)) / W
grad = []
for a, c, wi in zip(rows, [0, 1], w):
    for k in range(2):
        def h(x, a=a, c=c, k=k):
            b = list(a); b[k] = a[k] + x
            return f1row(b, c, F)
        # Row 1: l is linear in z there; 400 digits so that 1e308 + 1 is exact.
        with mp.workdps(400):
            grad.append(wi / W * (mp.diff(h, 0) if c == 0 else (h(1) - h(-1)) / 2))
print("f1 weighted", mp.nstr(L, 25), [mp.nstr(x, 20) for x in grad])
# Offsets near -max (a difference of halves would overflow too):
# LogitAdjustedCrossEntropy(priors: [1, 1e-300], tau: 2.4e305), reduction .sum,
# logits [1.7e308, -1.7e308], target 1, weight 1e-300. log π = [0, log(1e-300)]
# in double (the sum 1 + 1e-300 rounds to 1), offsets = tau * log π in double.
import math
o1 = 2.4e305 * math.log(1e-300)
a = [D(1.7e308), D(-1.7e308) + D(o1)]
l, g = row(a, 1)
print("la offsets near -max", o1, mp.nstr(D(1e-300) * l, 25), [mp.nstr(D(1e-300) * x, 20) for x in g])
