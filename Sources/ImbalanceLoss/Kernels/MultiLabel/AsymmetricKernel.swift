// The asymmetric loss term (Ridnik et al. 2021), per entry of a multi-label
// batch: the focal positive term of FocalKernel.swift with its own γ+, and a
// negative term focused by γ- on the shifted probability p_m = max(p - m, 0).
//
// Implementation goals, in order of priority:
// 1. Accuracy: p, q = 1 - p and the softplus terms from the one exp(-|z|) of
//    `Logistic`; r = 1 - p_m is formed as q + m (no cancellation when p -> 1),
//    and -log r as -log1p(-p_m) while p_m <= 1/3 (r >= 2/3, where log r
//    would lose the digits of p_m), as log(q + m) beyond. p_m = p - m itself
//    carries the absolute rounding of p (about 1e-17 near p = m = 0.05):
//    that is the conditioning of the formula at its kink, not of the kernel.
// 2. Edge cases: every factor in the slope and curvature is bounded (q / r
//    <= 1, -log(r) / p_m <= -3 log(m) ... see below), so ±1e300 logits,
//    γ in (0, 1) and p just above m give finite results; below the margin
//    the negative term, its slope and curvature are exactly 0.
// 3. Speed: one pass; exp(-|z|), one log1p, one log (m > 0) and one exp per
//    focusing factor that is not a small integer.

extension BinaryKernels {
  /// Per-entry value, slope and curvature of the asymmetric loss,
  ///
  ///     l = y (1-p)^γ+ (-log p) + (1 - y) h(u),   h(u) = u^γ- (-log(1 - u))
  ///     u = p_m = max(p - m, 0), r = 1 - u = q + m, A = -log(r) / u
  ///     ∂h/∂z  = p u^γ (γ q A + q / r)                       (u > 0; else 0)
  ///     ∂²h/∂z² = (p q / r)² u^γ + p (p u^γ / u) q (γ(γ-1) q A + 2γ q / r)
  ///               + (q - p) ∂h/∂z
  ///             = p u^γ (q / r) (q - p m / r) + p (p u^γ / u) q (γ(γ-1) q A + 2γ q / r)
  ///               + (q - p) p u^γ γ q A        (as computed: no cancellation as q -> 0)
  ///
  /// (`h'(u) = u^γ (γ A + 1 / r)`, `h''(u) = u^(γ-1) (γ(γ-1) A + 2γ / r) + u^γ / r²`,
  /// `du/dz = p q`, `d(pq)/dz = p q (q - p)`), weighted by `f` as ``focalTerm(_:_:_:_:_:weight:)``.
  /// Each factor is bounded: `q / r <= 1`, `p / u <= 2^53` (u is p minus m
  /// rounded), `A <= max(1.22, -3 log m)` (it is `-log1p(-u) / u` in [1, 1.22]
  /// for `u <= 1/3`) and `q A <= 1/e / u`; with `m = 0`, `r = q` and
  /// `-log r = softplus(z)`, and the term is the focal negative term.
  @inlinable @inline(__always)
  static func asymmetricTerm(
    _ z: Vector, _ y: Vector, positiveGamma gammaPos: Double, negativeGamma gamma: Double,
    margin m: Double, weight f: Vector = Vector(repeating: 1)
  ) -> (loss: Vector, slope: Vector, curvature: Vector) {
    let s = Logistic(z)
    let sp = s.softplus(z)  // (-log q, -log p)
    let positive = focalPositiveTerm(s, sp, gammaPos)

    // Lanes at or below the margin compute with u = 1/2 (any finite value)
    // and are zeroed at the end.
    let inactive = s.p .<= m
    let u = (s.p - m).replacing(with: 0.5, where: inactive)
    let r = s.q + m
    let small = u .<= 1.0 / 3
    let minusLogR: Vector
    let qOverR: Vector
    if m == 0 {
      // r = q, u = p: the focal negative term's quantities (q = 0 at z >= 745).
      minusLogR = sp.positive
      qOverR = Vector(repeating: 1)
    } else {
      minusLogR = (-Elementary.log(r)).replacing(
        with: -Elementary.log1pNearZero(-u), where: small)
      qOverR = s.q / r
    }
    // u^γ as the focal factors: by multiplication for a small integer γ
    // (4, the default), else exp(γ log u) with log u = -softplus(-z) for m = 0.
    let uGamma = focusingPower(
      u, minusLog: m == 0 ? sp.negative : -Elementary.log(u), gamma)
    let qA = s.q * (minusLogR / u)
    let lossNeg = (uGamma * minusLogR).replacing(with: 0, where: inactive)
    let slopeNeg = (s.p * (uGamma * (gamma * qA + qOverR))).replacing(with: 0, where: inactive)
    // (p q / r)² u^γ + (q - p) p u^γ q / r = p u^γ (q / r) (q - p m / r):
    // summed separately they cancel as q -> 0 with m = 0 (both near ±p^(γ+2)).
    let mOverR = m == 0 ? Vector() : m / r
    let pOverU = s.p / u
    let pUGamma = s.p * uGamma
    let curvatureNeg = (
      (pUGamma * qOverR) * (s.q - s.p * mOverR)
        + (s.p * (pOverU * uGamma)) * (s.q * ((gamma * (gamma - 1)) * qA + (2 * gamma) * qOverR))
        + oneMinusTwoP(z, s) * (pUGamma * (gamma * qA))
    ).replacing(with: 0, where: inactive)
    let yNeg = 1 - y
    return (
      weightedProduct(f, y, positive.loss) + weightedProduct(f, yNeg, lossNeg),
      weightedSum(f, y, positive.slope, yNeg, slopeNeg),
      weightedSum(f, y, positive.curvature, yNeg, curvatureNeg)
    )
  }

  /// The asymmetric loss over a batch of entries: returns `Σ f l`, writes
  /// `f ∂l/∂z` when `gradient` is non-nil and `f ∂²l/∂z²` when `hessian` is.
  @inlinable
  static func asymmetric(
    _ batch: BinaryBatch, positiveGamma: Double, negativeGamma: Double, margin: Double,
    gradient: KernelOutput?, hessian: KernelOutput?,
    parallelism: Parallelism
  ) -> Double {
    run(
      batch, first: gradient, second: hessian, parallelism: parallelism,
      AsymmetricElement(
        positiveGamma: positiveGamma, negativeGamma: negativeGamma, margin: margin,
        wantsCurvature: hessian != nil))[0]
  }

  @usableFromInline
  struct AsymmetricElement: BinaryElementFunction {
    @usableFromInline let positiveGamma: Double
    @usableFromInline let negativeGamma: Double
    @usableFromInline let margin: Double
    @usableFromInline let wantsCurvature: Bool
    @inlinable static var hasSecondOutput: Bool { true }

    @inlinable
    init(positiveGamma: Double, negativeGamma: Double, margin: Double, wantsCurvature: Bool) {
      self.positiveGamma = positiveGamma
      self.negativeGamma = negativeGamma
      self.margin = margin
      self.wantsCurvature = wantsCurvature
    }

    @inlinable @inline(__always)
    func apply(_ z: Vector, _ y: Vector, _ f: Vector, _: Vector, _: Int)
      -> BinaryElementResult
    {
      let t = asymmetricTerm(
        z, y, positiveGamma: positiveGamma, negativeGamma: negativeGamma, margin: margin,
        weight: f)
      return ((t.loss, Vector(), Vector()), t.slope, wantsCurvature ? t.curvature : Vector())
    }
  }
}
