from mpmath import mp, mpf, exp, log, root
mp.dps = 40
Z = [[0.8, 0.1, -0.3], [0.2, 0.7, 0.6], [-0.5, 0.3, 0.35], [0.9, -0.9, 0.1]]
C = [0, 2, 2, 1]
counts = [100, 10, 1]
M = [mpf('0.5') * root(mpf(min(counts)) / n, 4) for n in counts]
print("margins", [mp.nstr(m, 20) for m in M])
def run(s, offsets, cw, eps, mean):
    K = 3; num = 0; den = 0; rows = []
    for z, c in zip(Z, C):
        a = [s * (mpf(z[k]) - (M[c] if k == c else 0)) + offsets[k] for k in range(K)]
        lse = log(sum(exp(x) for x in a))
        # PyTorch's cross_entropy(weight=cw, label_smoothing=eps): t_k weighs
        # class k's smoothing term by cw[k]; the mean divides by sum cw[c_i].
        t = [(1 - eps) * (cw[c] if k == c else 0) + eps * cw[k] / K for k in range(K)]
        A = sum(t)
        l = A * lse - sum(t[k] * a[k] for k in range(K))
        num += l; den += cw[c]
        rows.append((1, [s * (A * exp(a[k] - lse) - t[k]) for k in range(K)]))
    d = den if mean else 1
    return num / d, [v / d * g for v, gs in rows for g in gs]
val, g = run(30, [0, 0, 0], [1, 1, 1], 0, True)
print("ldam mean", mp.nstr(val, 20)); print([mp.nstr(x, 20) for x in g])
pri = [mpf('0.6'), mpf('0.3'), mpf('0.1')]
val, g = run(30, [log(p) for p in pri], [1, 2, 4], mpf('0.05'), False)
print("ldam+LA+cw+eps sum", mp.nstr(val, 20)); print([mp.nstr(x, 20) for x in g])
