// The binary focal loss term (Lin et al. 2017), for soft targets, in log space.
//
// Implementation goals, in order of priority:
// 1. Accuracy: (1 - p_t)^gamma = exp(-gamma softplus(±z)) (by multiplication
//    of p or 1 - p for an integer gamma <= 8) and log p_t = -softplus(∓z),
//    all from the one exp(-|z|) of `Logistic`; p log p is formed as a
//    product of p and its softplus, bounded by 1/e.
// 2. Edge cases: no power of 0 with a negative exponent anywhere (the closed
//    form below has none), so gamma in (0, 1) and p_t -> 0 or 1 stay finite;
//    any finite logit gives finite terms.
// 3. Speed: one pass, three exponentials per element (one shared by p, q and
//    the softplus terms, one per focusing factor; one for an integer gamma).

extension BinaryKernels {
  /// Per-sample value, slope and curvature of the soft-target focal loss
  /// `y a_pos l(p) + (1 - y) a_neg l(1 - p)` with `l(t) = -(1 - t)^γ log t`:
  ///
  ///     ∂/∂z  [(1-p)^γ (-log p)] = (1-p)^γ (γ p log p - (1 - p))
  ///     ∂²/∂z²[(1-p)^γ (-log p)] = (1-p)^γ ((2γ + 1) p (1-p) + γ p log p ((1-p) - γ p))
  ///
  /// and the negative part is the same with z -> -z (p and 1 - p swapped, the
  /// slope negated).
  @inlinable @inline(__always)
  static func focalTerm(
    _ z: Vector, _ y: Vector, _ gamma: Double, _ aPos: Double, _ aNeg: Double,
    weight f: Vector = Vector(repeating: 1)
  ) -> (loss: Vector, slope: Vector, curvature: Vector) {
    let s = Logistic(z)
    let sp = s.softplus(z)  // (-log q, -log p)
    let (lossPos, slopePos, curvaturePos) = focalPositiveTerm(s, sp, gamma)
    let pGamma = focusingPower(s.p, minusLog: sp.negative, gamma)
    let qLogQ = -(s.q * sp.positive)
    let pq = s.p * s.q
    let twoGammaPlusOne = 2 * gamma + 1
    let lossNeg = pGamma * sp.positive
    let slopeNeg = pGamma * (s.p - gamma * qLogQ)
    let curvatureNeg = pGamma * (twoGammaPlusOne * pq + (gamma * qLogQ) * (s.p - gamma * s.q))
    let yPos = aPos * y
    let yNeg = aNeg * (1 - y)
    // The weight multiplies the class weights before the (possibly huge)
    // softplus terms, as in `crossEntropyTerm`. The slopes and curvatures
    // reach about γ + 1 and 4 (γ + 2)², so `a` times them can overflow:
    // `weightedSum` keeps a weight of 0 from making that NaN.
    return (
      BinaryKernels.weightedProduct(f, yPos, lossPos)
        + BinaryKernels.weightedProduct(f, yNeg, lossNeg),
      BinaryKernels.weightedSum(f, yPos, slopePos, yNeg, slopeNeg),
      BinaryKernels.weightedSum(f, yPos, curvaturePos, yNeg, curvatureNeg)
    )
  }

  /// Per-sample value, slope and curvature of the blended-probability
  /// (torchvision, optax, Keras) focal loss `a_t ce (1 - p_t)^γ`, where
  ///
  ///     m   = 1 - p_t = y (1 - p) + (1 - y) p        a_t = a_pos y + a_neg (1 - y)
  ///     ce  = y softplus(-z) + (1 - y) softplus(z)   ce' = (1 - y) p - y (1 - p)
  ///     r   = p (1 - p) / m                          (in [0, 2]: m >= max(y, 1 - y) min-term)
  ///     M   = m^γ,  m' = (1 - 2y) p (1 - p),  M' = γ M (1 - 2y) r
  ///     ∂l/∂z   = a_t M (ce' + γ ce (1 - 2y) r)
  ///     ∂²l/∂z² = a_t M (p (1 - p) + 2γ ce' (1 - 2y) r
  ///                      + γ ce ((γ - 1) (1 - 2y)² r² + (1 - 2y)(1 - 2p) r))
  ///
  /// Every factor is cancellation-free (`m` and `ce` are sums of non-negative
  /// terms, `1 - 2p` comes from ``oneMinusTwoP(_:_:)``), and no power of `m`
  /// has a negative exponent: `M` times the bounded `r` replaces `m^(γ-1)`.
  /// `ce r <= 3/e` whatever `z`, so nothing overflows that the loss does not.
  /// For a non-integer `γ`, `M = exp(γ log m)`; a soft target has `m > 0`.
  ///
  /// On a hard target (`y` 0 or 1) the two forms agree, and this returns the
  /// terms of the linear form bit for bit: `focalTerm`, or with
  /// `crossEntropyOnHardTargets` (`γ = 0` entry points that run
  /// cross-entropy) `crossEntropyTerm`. A vector of hard targets only skips
  /// the blended computation.
  @inlinable @inline(__always)
  static func blendedFocalTerm(
    _ z: Vector, _ y: Vector, _ gamma: Double, _ aPos: Double, _ aNeg: Double,
    weight f: Vector, crossEntropyOnHardTargets: Bool
  ) -> (loss: Vector, slope: Vector, curvature: Vector) {
    let hard = (y .== 0) .| (y .== 1)
    @inline(__always) func linear() -> (loss: Vector, slope: Vector, curvature: Vector) {
      crossEntropyOnHardTargets
        ? crossEntropyTerm(z, y, aPos, aNeg, weight: f)
        : focalTerm(z, y, gamma, aPos, aNeg, weight: f)
    }
    if all(hard) { return linear() }
    let s = Logistic(z)
    let sp = s.softplus(z)  // (-log q, -log p)
    let yc = 1 - y
    let m = y * s.q + yc * s.p
    let mGamma: Vector
    if let n = Elementary.smallInteger(gamma) {
      mGamma = Elementary.power(m, n)
    } else {
      mGamma = Elementary.exp(gamma * Elementary.log(m))
    }
    let a = aPos * y + aNeg * yc
    let ce = y * sp.negative + yc * sp.positive
    let ceSlope = yc * s.p - y * s.q
    let pq = s.p * s.q
    let oneMinusTwoY = 1 - 2 * y
    let r = pq / m
    // ce r <= 3/e, but ce alone reaches |z|: (ce r) first, 0 where r is 0.
    let ceR = ce * r
    let slope = ceSlope + gamma * (ceR * oneMinusTwoY)
    let curvature =
      pq + (2 * gamma) * (ceSlope * (oneMinusTwoY * r))
      + gamma * (ceR * oneMinusTwoY)
      * ((gamma - 1) * (oneMinusTwoY * r) + oneMinusTwoP(z, s))
    var t = (
      loss: weightedProduct(f, a, mGamma * ce),
      slope: weightedProduct(f, a, mGamma * slope),
      curvature: weightedProduct(f, a, mGamma * curvature)
    )
    if any(hard) {
      let h = linear()
      t.loss = t.loss.replacing(with: h.loss, where: hard)
      t.slope = t.slope.replacing(with: h.slope, where: hard)
      t.curvature = t.curvature.replacing(with: h.curvature, where: hard)
    }
    return t
  }

  /// `x^γ` for `x` in [0, 1] given `-log x`: by multiplication for a small
  /// integer γ (2, the default, is one product of accurate factors);
  /// otherwise as `exp(-γ (-log x))`, which magnifies the rounding of
  /// `-log x` by γ times its size (13 ulps at γ = 2, z = -10); `-log x` is
  /// only evaluated then. The focusing
  /// factors of ``focalTerm(_:_:_:_:_:weight:)`` and of the asymmetric loss.
  @inlinable @inline(__always)
  static func focusingPower(
    _ x: Vector, minusLog: @autoclosure () -> Vector, _ gamma: Double
  ) -> Vector {
    if let n = Elementary.smallInteger(gamma) { return Elementary.power(x, n) }
    return Elementary.exp(-gamma * minusLog())
  }

  /// The focal term of a positive, `(1-p)^γ (-log p)`, and its first two
  /// derivatives in z (formulas in ``focalTerm(_:_:_:_:_:weight:)``), from the
  /// logistic quantities and `sp = (-log q, -log p)`; shared with the
  /// positive term of the asymmetric loss.
  @inlinable @inline(__always)
  static func focalPositiveTerm(
    _ s: Logistic, _ sp: (positive: Vector, negative: Vector), _ gamma: Double
  ) -> (loss: Vector, slope: Vector, curvature: Vector) {
    let qGamma = focusingPower(s.q, minusLog: sp.positive, gamma)
    let pLogP = -(s.p * sp.negative)
    let pq = s.p * s.q
    let twoGammaPlusOne = 2 * gamma + 1
    return (
      qGamma * sp.negative, qGamma * (gamma * pLogP - s.q),
      qGamma * (twoGammaPlusOne * pq + (gamma * pLogP) * (s.q - gamma * s.p))
    )
  }

  /// The focal loss over a batch: returns `Σ f l`, writes `f ∂l/∂z` when
  /// `gradient` is non-nil and `f max(∂²l/∂z², floor)` (or the exact
  /// curvature with `floor == nil`) when `hessian` is non-nil. `blended`
  /// selects ``blendedFocalTerm(_:_:_:_:_:weight:crossEntropyOnHardTargets:)``
  /// over ``focalTerm(_:_:_:_:_:weight:)``.
  @inlinable
  static func focal(
    _ batch: BinaryBatch, gamma: Double, positiveWeight aPos: Double,
    negativeWeight aNeg: Double, blended: Bool = false,
    crossEntropyOnHardTargets: Bool = false, hessianFloor: Double?,
    gradient: KernelOutput?, hessian: KernelOutput?,
    parallelism: Parallelism
  ) -> Double {
    if blended {
      return run(
        batch, first: gradient, second: hessian, parallelism: parallelism,
        BlendedFocalElement(
          gamma: gamma, positiveWeight: aPos, negativeWeight: aNeg, hessianFloor: hessianFloor,
          wantsCurvature: hessian != nil,
          crossEntropyOnHardTargets: crossEntropyOnHardTargets))[0]
    }
    return run(
      batch, first: gradient, second: hessian, parallelism: parallelism,
      FocalElement(
        gamma: gamma, positiveWeight: aPos, negativeWeight: aNeg, hessianFloor: hessianFloor,
        wantsCurvature: hessian != nil))[0]
  }

  /// The element of the blended-probability focal loss (see
  /// ``blendedFocalTerm(_:_:_:_:_:weight:crossEntropyOnHardTargets:)``),
  /// with the Hessian floor as in ``FocalElement``.
  @usableFromInline
  struct BlendedFocalElement: BinaryElementFunction {
    @usableFromInline let gamma: Double
    @usableFromInline let positiveWeight: Double
    @usableFromInline let negativeWeight: Double
    @usableFromInline let hessianFloor: Double?
    @usableFromInline let wantsCurvature: Bool
    @usableFromInline let crossEntropyOnHardTargets: Bool
    @inlinable static var hasSecondOutput: Bool { true }

    @inlinable
    init(
      gamma: Double, positiveWeight: Double, negativeWeight: Double, hessianFloor: Double?,
      wantsCurvature: Bool, crossEntropyOnHardTargets: Bool
    ) {
      self.gamma = gamma
      self.positiveWeight = positiveWeight
      self.negativeWeight = negativeWeight
      self.hessianFloor = hessianFloor
      self.wantsCurvature = wantsCurvature
      self.crossEntropyOnHardTargets = crossEntropyOnHardTargets
    }

    @inlinable @inline(__always)
    func apply(_ z: Vector, _ y: Vector, _ f: Vector, _: Vector, _: Int)
      -> BinaryElementResult
    {
      let t = blendedFocalTerm(
        z, y, gamma, positiveWeight, negativeWeight, weight: f,
        crossEntropyOnHardTargets: crossEntropyOnHardTargets)
      guard wantsCurvature else { return ((t.loss, Vector(), Vector()), t.slope, Vector()) }
      var c = t.curvature
      if let hessianFloor {
        let floor = f * hessianFloor
        c = c.replacing(with: floor, where: c .< floor)
      }
      return ((t.loss, Vector(), Vector()), t.slope, c)
    }
  }

  @usableFromInline
  struct FocalElement: BinaryElementFunction {
    @usableFromInline let gamma: Double
    @usableFromInline let positiveWeight: Double
    @usableFromInline let negativeWeight: Double
    @usableFromInline let hessianFloor: Double?
    @usableFromInline let wantsCurvature: Bool
    @inlinable static var hasSecondOutput: Bool { true }

    @inlinable
    init(
      gamma: Double, positiveWeight: Double, negativeWeight: Double, hessianFloor: Double?,
      wantsCurvature: Bool
    ) {
      self.gamma = gamma
      self.positiveWeight = positiveWeight
      self.negativeWeight = negativeWeight
      self.hessianFloor = hessianFloor
      self.wantsCurvature = wantsCurvature
    }

    @inlinable @inline(__always)
    func apply(_ z: Vector, _ y: Vector, _ f: Vector, _: Vector, _: Int)
      -> BinaryElementResult
    {
      let t = focalTerm(z, y, gamma, positiveWeight, negativeWeight, weight: f)
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
