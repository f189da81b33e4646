from mpmath import mp, mpf, exp, log, diff
mp.dps = 50
Z = [1.2, -0.4, 0.3, 2.0, 30, 0, -5, 1, -3, 4, 0.5, 0]
C = [0, 0, 2]
W = [1, 0.5, 2]
A = [0.25, 1, 2, 0.5]
K = 4
def loss(z, gamma, rows=C, w=W, alpha=A):
    num = 0; den = 0
    for i, c in enumerate(rows):
        a = z[i*K:(i+1)*K]
        m = max(a)
        lse = m + log(sum(exp(x - m) for x in a))
        ce = lse - a[c]
        p = exp(-ce)
        l = (1 - p)**gamma * ce if gamma != 0 else ce
        v = mpf(w[i]) * alpha[c]
        num += v * l; den += v
    return num / den
for gamma in ['0.25', '0.5', '1', '2', '5']:
    g = mpf(gamma)
    z = [mpf(x) for x in Z]
    val = loss(z, g)
    grads = []
    for j in range(len(z)):
        f = lambda t, j=j: loss(z[:j] + [t] + z[j+1:], g)
        grads.append(diff(f, z[j]))
    print("gamma", gamma, "value", mp.nstr(val, 20))
    print("  ", ", ".join(mp.nstr(x, 20) for x in grads))
# One confident row [50, 0, 0], label 0, no weights.
for gamma in ['0.25', '0.5', '1', '2', '5']:
    g = mpf(gamma)
    z = [mpf(50), mpf(0), mpf(0)]
    def l1(zz):
        m = max(zz); lse = m + log(sum(exp(x - m) for x in zz)); ce = lse - zz[0]
        return (-mp.expm1(-ce))**g * ce
    val = l1(z)
    grads = [diff(lambda t, j=j: l1(z[:j] + [t] + z[j+1:]), z[j]) for j in range(3)]
    print("confident gamma", gamma, mp.nstr(val, 20), ", ".join(mp.nstr(x, 20) for x in grads))
# gamma = 0 (cross-entropy) on the confident row [50, 0, 0]: closed forms
# log1p(2 e^-50), -2e^-50 / (1 + 2e^-50), e^-50 / (1 + 2e^-50).
s = 2 * exp(-50)
print("confident gamma 0", mp.nstr(mp.log1p(s), 20), mp.nstr(-s / (1 + s), 20), mp.nstr(exp(-50) / (1 + s), 20))
