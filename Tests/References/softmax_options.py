from mpmath import mp, mpf, exp, log
mp.dps = 40
Z = [[1.5, -0.3, 0.2], [-1.0, 2.0, 0.5], [0.1, 0.1, -2.5], [3.0, -1.0, 0.0]]
C = [0, 2, -100, 1]
W = [0.5, 2.0, 7.0, 1.0]
CW = [1.0, 3.0, 0.25]
eps = mpf('0.1')
pri = [mpf('0.6'), mpf('0.3'), mpf('0.1')]
K = 3
def run(offsets):
    num = mpf(0); den = mpf(0); grads = []
    for z, c, w in zip(Z, C, W):
        if c == -100:
            grads.append([0]*K); continue
        a = [mpf(z[k]) + offsets[k] for k in range(K)]
        lse = log(sum(exp(x) for x in a))
        # PyTorch's cross_entropy(weight=CW, label_smoothing=eps): the
        # smoothing term of class k is weighted by CW[k]; the mean divides by
        # the sum of w_i CW[c_i].
        t = [(1-eps)*(CW[c] if k == c else 0) + eps*mpf(CW[k])/K for k in range(K)]
        A = sum(t)
        l = A*lse - sum(t[k]*a[k] for k in range(K))
        num += mpf(w)*l; den += mpf(w)*mpf(CW[c])
        grads.append([(mpf(w), A*exp(a[k]-lse) - t[k]) for k in range(K)])
    mean = num/den
    gm = [[0 if g == 0 else g[0]/den*g[1] for g in row] for row in grads]
    gs = [[0 if g == 0 else g[0]*g[1] for g in row] for row in grads]
    return mean, num, gm, gs
for name, off in [("plain", [0,0,0]), ("adjusted", [log(p) for p in pri])]:
    mean, total, gm, gs = run(off)
    print(name, "mean", mp.nstr(mean, 20), "sum", mp.nstr(total, 20))
    print("  grad mean", [mp.nstr(g, 20) for r in gm for g in r])
    print("  grad sum ", [mp.nstr(g, 20) for r in gs for g in r])
