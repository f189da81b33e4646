#!/usr/bin/env python3
"""Derives the polynomial coefficients of the vectorised exp and log1p in
Sources/ImbalanceLoss/Kernels/Numerics/Elementary.swift, and prints their
approximation errors.

    python3 Scripts/elementary_coefficients.py

Method: a Chebyshev fit (mpmath.chebyfit, 60 digits), which is within a small
factor of the minimax polynomial of the same degree, then each coefficient
rounded to the nearest double. The printed error is measured on a dense grid
with the rounded coefficients, in exact (mpmath) arithmetic, so it is the
approximation error alone; rounding in the Swift evaluation comes on top.

exp:   exp(r) = 1 + r + r^2 q(r),  |r| <= ln2/2,  q of degree 10 (exp degree 12);
       the Swift code adds q(0) - 1/2 (exact) and 1/2 r^2 apart.
log1p: log1p(f) = f - (f^2/2 - s (f^2/2 + s^2 P(s^2))),  s = f / (2 + f),
       f in [-1/4, 1/2] so s in [-1/7, 1/5];  P of degree 7 in z = s^2.
       (log1p(f) = 2 atanh(s) = 2s + s R, R = 2 s^2/3 + 2 s^4/5 + ...;
       2s = f - f^2/2 + s f^2/2, hence the form above with R = z P(z).)
"""
import mpmath as mp

mp.mp.dps = 60


def to_double(c):
    return float(c)


def fit(f, a, b, degree):
    coeffs, _ = mp.chebyfit(f, [a, b], degree + 1, error=True)
    # chebyfit returns highest degree first.
    return [to_double(c) for c in reversed(coeffs)]


def horner(cs, x):
    acc = mp.mpf(0)
    for c in reversed(cs):
        acc = acc * x + mp.mpf(c)
    return acc


def exp_coefficients():
    half = mp.log(2) / 2
    def q(r):
        if abs(r) < mp.mpf("1e-20"):
            return mp.mpf(1) / 2 + r / 6
        return (mp.exp(r) - 1 - r) / r**2
    cs = fit(q, -half, half, 10)
    worst = mp.mpf(0)
    for i in range(-4000, 4001):
        r = half * i / 4000
        approx = 1 + r + r * r * horner(cs, r)
        worst = max(worst, abs(approx / mp.exp(r) - 1))
    return cs, worst


def log1p_coefficients():
    def p(z):
        # P(z) = (2 atanh(s) - 2 s) / s^3, z = s^2.
        if z < mp.mpf("1e-30"):
            return mp.mpf(2) / 3 + 2 * z / 5
        s = mp.sqrt(z)
        return (2 * mp.atanh(s) - 2 * s) / s**3
    zmax = mp.mpf(1) / 25
    cs = fit(p, 0, zmax, 7)
    worst = mp.mpf(0)
    for i in range(-4000, 4001):
        # f in [-1/4, 1/2]
        f = mp.mpf(-0.25) + mp.mpf(0.75) * (i + 4000) / 8000
        if f == 0:
            continue
        s = f / (2 + f)
        z = s * s
        hfsq = f * f / 2
        approx = f - (hfsq - s * (hfsq + z * horner(cs, z)))
        worst = max(worst, abs(approx / mp.log1p(f) - 1))
    return cs, worst


if __name__ == "__main__":
    cs, err = exp_coefficients()
    print("exp q coefficients (degree 0 first):")
    for c in cs:
        print(f"  {c!r},")
    print(f"  q(0) - 1/2 = {cs[0] - 0.5!r} = {float.hex(cs[0] - 0.5)}")
    print(f"max relative approximation error: {mp.nstr(err, 5)} "
          f"= 2^{mp.nstr(mp.log(err, 2), 5)}")
    cs, err = log1p_coefficients()
    print("log1p P coefficients (degree 0 first):")
    for c in cs:
        print(f"  {c!r},")
    print(f"max relative approximation error: {mp.nstr(err, 5)} "
          f"= 2^{mp.nstr(mp.log(err, 2), 5)}")
    ln2 = mp.log(2)
    print("ln2 split: hi = 0x1.62e42fee00000p-1 (trailing zeros), lo = ln2 - hi =",
          repr(float(ln2 - mp.mpf(float.fromhex('0x1.62e42fee00000p-1')))))
