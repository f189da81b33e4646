/// The focal quantities of one row, all without negative powers of `q`.
@usableFromInline
struct FocalRow {
  /// `p = p_c` and `q = 1 - p`, both from s' without cancellation.
  @usableFromInline var p: Double
  @usableFromInline var q: Double
  /// `Q = q^gamma`, computed as `exp(gamma log q)`.
  @usableFromInline var power: Double
  /// `CE = -log p` (+inf only when it exceeds the largest double).
  @usableFromInline var crossEntropy: Double
  /// `CE`, or 0 when `p = 0`: every gradient and Hessian term that holds CE
  /// also has the factor p, and `0 * inf` would be NaN.
  @usableFromInline var gradientCrossEntropy: Double
  /// `Σ_{k != c} exp(a_k - m)`, so that `p_k / q = e_k / others`.
  @usableFromInline var others: Double

  @inlinable
  init(_ r: SoftmaxRowStatistics, gamma: Double) {
    let total = 1 + r.sPrime
    crossEntropy = r.crossEntropy
    if r.labelIsMaximum {
      p = 1 / total
      q = r.sPrime / total
      others = r.sPrime
      // q^γ by multiplication for a small integer γ (see `FocalKernel`);
      // otherwise exp(γ log q) with log q = log s' - log1p(s'), exact for s'
      // of any size.
      if let n = Elementary.smallInteger(gamma) {
        power = Elementary.power(q, n)
      } else {
        power =
          r.sPrime == 0
          ? 0 : Elementary.exp(gamma * (Elementary.log(r.sPrime) - Elementary.log1p(r.sPrime)))
      }
    } else {
      // The maximum is another class, so e_c <= 1 <= others and p <= 1/2.
      let ec0 = Elementary.exp((r.labelLogit - r.maximum) * r.unit)
      let ec = ec0 + ec0 * r.labelLow
      p = ec / total
      q = 1 - p
      others = total - ec
      if let n = Elementary.smallInteger(gamma) {
        power = Elementary.power(q, n)
      } else {
        power = Elementary.exp(gamma * Elementary.log1p(-p))
      }
    }
    gradientCrossEntropy = p == 0 ? 0 : crossEntropy
  }

  /// `G q = Q (q + gamma p CE)`: minus the label's gradient, per unit factor.
  @inlinable func labelGradientMagnitude(gamma: Double) -> Double {
    power * (q + gamma * p * gradientCrossEntropy)
  }
}
