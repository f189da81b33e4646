/// Central finite differences of `f` at `x`, one coordinate at a time.
///
/// Step `h_j = cbrt(ε) · max(1, |x_j|)` (≈ 6e-6): the truncation error of the
/// central difference is O(h² f''') and the rounding error O(ε |f| / h); the
/// cube root of ε balances them, so the derivative is good to about
/// ε^(2/3) ≈ 4e-11 relative to the scale of f. Tests allow 1e-7 relative to
/// the largest gradient entry, comfortably above that and far below any real
/// error in a formula.
func centralDifferences(
  at x: [Double], _ f: ([Double]) throws -> Double
) rethrows -> [Double] {
  let cbrtEpsilon = 6.055454452393343e-06  // cbrt(2^-52)
  var probe = x
  return try x.indices.map { j in
    let h = cbrtEpsilon * max(1, abs(x[j]))
    probe[j] = x[j] + h
    let up = try f(probe)
    probe[j] = x[j] - h
    let down = try f(probe)
    probe[j] = x[j]
    // (x + h) - (x - h) is the step the computer really took.
    return (up - down) / ((x[j] + h) - (x[j] - h))
  }
}
