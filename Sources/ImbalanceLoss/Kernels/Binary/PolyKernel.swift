// The binary Poly-1 term (Leng et al. 2022): class-weighted cross-entropy plus
// ε (1 - p_t), p_t = y p + (1 - y)(1 - p).
//
// Implementation goals, in order of priority:
// 1. Accuracy: p, q and the softplus terms from the one exp(-|z|) of
//    `Logistic`. For ε < 0 each half is regrouped so that no term is
//    subtracted from a similar one: a (-log p) + ε q = a D(q) + (a + ε) q with
//    D(q) = -log(1 - q) - q >= 0 (`Elementary.logRemainder`), and likewise
//    the slope's `a + ε p = (a + ε) - ε q` and the curvature's factors.
// 2. Edge cases: any finite logit gives finite terms; a weight multiplies the
//    class weights before the softplus terms (`weightedProduct`).
// 3. Speed: one pass, one exp and one log1p per element.

extension BinaryKernels {
  /// Per-sample `f l`, `f ∂l/∂z` and `f ∂²l/∂z²` of
  ///
  ///     l = a_pos y (-log p) + a_neg (1 - y)(-log(1 - p)) + ε (y (1 - p) + (1 - y) p)
  ///     ∂l/∂z = (1 - y) p (a_neg + ε (1 - p)) - y (1 - p) (a_pos + ε p)
  ///     ∂²l/∂z² = p (1 - p) (y (a_pos - ε (1 - 2p)) + (1 - y)(a_neg + ε (1 - 2p)))
  @inlinable @inline(__always)
  static func polyTerm(
    _ z: Vector, _ y: Vector, epsilon: Double, _ aPos: Double, _ aNeg: Double,
    weight f: Vector = Vector(repeating: 1)
  ) -> (loss: Vector, slope: Vector, curvature: Vector) {
    let s = Logistic(z)
    let sp = s.softplus(z)  // (-log q, -log p)
    let eps = Vector(repeating: epsilon)
    let yPos = aPos * y
    let yNeg = aNeg * (1 - y)
    let oneMinusY = 1 - y
    let loss: Vector
    let slopePos: Vector  // a_pos + ε p
    let slopeNeg: Vector  // a_neg + ε q
    let curvaturePos: Vector  // a_pos - ε (1 - 2p)
    let curvatureNeg: Vector  // a_neg + ε (1 - 2p)
    if epsilon >= 0 {
      loss =
        weightedProduct(f, yPos, sp.negative) + weightedProduct(f, yNeg, sp.positive)
        + f * (eps * (y * s.q + oneMinusY * s.p))
      slopePos = aPos + eps * s.p
      slopeNeg = aNeg + eps * s.q
      let t = oneMinusTwoP(z, s)
      curvaturePos = aPos - eps * t
      curvatureNeg = aNeg + eps * t
    } else {
      // a (-log p) + ε q = a D(q) + (a + ε) q, both terms >= 0 for a + ε >= 0.
      let dq = Elementary.logRemainder(s.q, minusLog: sp.negative)
      let dp = Elementary.logRemainder(s.p, minusLog: sp.positive)
      let aPosEps = Vector(repeating: aPos + epsilon)
      let aNegEps = Vector(repeating: aNeg + epsilon)
      loss =
        weightedProduct(f, yPos, dq) + weightedProduct(f, yNeg, dp)
        + f * (y * (aPosEps * s.q) + oneMinusY * (aNegEps * s.p))
      slopePos = aPosEps - eps * s.q
      slopeNeg = aNegEps - eps * s.p
      curvaturePos = aPosEps - (2 * eps) * s.q
      curvatureNeg = aNegEps - (2 * eps) * s.p
    }
    let pq = s.p * s.q
    return (
      loss,
      weightedSum(f, oneMinusY, s.p * slopeNeg, y, -(s.q * slopePos)),
      weightedSum(f, y, pq * curvaturePos, oneMinusY, pq * curvatureNeg)
    )
  }

  /// The Poly-1 loss over a batch: returns `Σ f l`, writes `f ∂l/∂z` when
  /// `gradient` is non-nil and `f max(∂²l/∂z², floor)` (or the exact
  /// curvature with `floor == nil`) when `hessian` is non-nil.
  @inlinable
  static func poly(
    _ batch: BinaryBatch, epsilon: Double, positiveWeight aPos: Double,
    negativeWeight aNeg: Double, hessianFloor: Double?,
    gradient: KernelOutput?, hessian: KernelOutput?,
    parallelism: Parallelism
  ) -> Double {
    run(
      batch, first: gradient, second: hessian, parallelism: parallelism,
      PolyElement(
        epsilon: epsilon, positiveWeight: aPos, negativeWeight: aNeg,
        hessianFloor: hessianFloor, wantsCurvature: hessian != nil))[0]
  }

  @usableFromInline
  struct PolyElement: BinaryElementFunction {
    @usableFromInline let epsilon: Double
    @usableFromInline let positiveWeight: Double
    @usableFromInline let negativeWeight: Double
    @usableFromInline let hessianFloor: Double?
    @usableFromInline let wantsCurvature: Bool
    @inlinable static var hasSecondOutput: Bool { true }

    @inlinable
    init(
      epsilon: Double, positiveWeight: Double, negativeWeight: Double, hessianFloor: Double?,
      wantsCurvature: Bool
    ) {
      self.epsilon = epsilon
      self.positiveWeight = positiveWeight
      self.negativeWeight = negativeWeight
      self.hessianFloor = hessianFloor
      self.wantsCurvature = wantsCurvature
    }

    @inlinable @inline(__always)
    func apply(_ z: Vector, _ y: Vector, _ f: Vector, _: Vector, _: Int)
      -> BinaryElementResult
    {
      let t = polyTerm(z, y, epsilon: epsilon, positiveWeight, negativeWeight, weight: f)
      guard wantsCurvature else { return ((t.loss, Vector(), Vector()), t.slope, Vector()) }
      var c = t.curvature
      if let hessianFloor {
        // The floor applies to the per-sample curvature, before weighting.
        let floor = f * hessianFloor
        c = c.replacing(with: floor, where: c .< floor)
      }
      return ((t.loss, Vector(), Vector()), t.slope, c)
    }
  }
}
