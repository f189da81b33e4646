# Class-weight references: Cui et al. 2019 effective-number weights and
# scikit-learn's "balanced" weights, with mpmath (50 digits) and numpy.
import numpy as np
from mpmath import mp, mpf
mp.dps = 50
def effective(counts, beta):
    beta = mpf(float(beta))  # the double the Swift test passes, exactly
    w = [(1 - beta) / (1 - beta ** n) for n in counts]
    s = sum(w)
    return [x * len(counts) / s for x in w]
for counts, beta in [([5000, 500, 50, 5], '0.999'), ([5000, 500, 50, 5], '0.9999'),
                     ([1, 2, 3], '0'), ([1, 10, 100], '0.5'),
                     ([1000000, 1], '0.9999999999999998')]:
    print("effective", counts, beta, [mp.nstr(x, 20) for x in effective(counts, beta)])
    b = float(beta); n = np.array(counts, dtype=float)
    w = (1 - b) / (1 - np.power(b, n)); w = w * len(n) / w.sum()
    print("  numpy  ", list(w))
for counts in [[5000, 500, 50, 5], [3, 1, 2]]:
    N = sum(counts); K = len(counts)
    print("balanced", counts, [mp.nstr(mpf(N) / (K * n), 20) for n in counts])
    y = np.concatenate([np.full(n, k) for k, n in enumerate(counts)])
    try:
        from sklearn.utils.class_weight import compute_class_weight
        print("  sklearn", list(compute_class_weight("balanced", classes=np.arange(K), y=y)))
    except ImportError:
        print("  numpy (sklearn's formula n_samples / (n_classes * np.bincount(y)))",
              list(len(y) / (K * np.bincount(y))))
