// Fused one-pass kernels of the binary losses.
//
// Implementation goals, in order of priority:
// 1. Accuracy: every quantity in its cancellation-free form (p and 1 - p from
//    one exp(-|z|), -log p as softplus(-z)); sums compensated across blocks;
//    a weight multiplies the class weight before a softplus, so a tiny weight
//    keeps a huge softplus finite in the sums.
// 2. Edge cases: any finite logit (±1e300 included) gives finite results; the
//    caller has validated every input.
// 3. Speed: one pass over z, y, w with SIMD vectors, value and gradient
//    together, no temporaries; large batches on several threads. One generic
//    loop: the hot elements are types that specialisation inlines into it.

extension BinaryKernels {
  /// Class-weighted binary cross-entropy, the kernel shared by
  /// ``BinaryCrossEntropy`` and ``F1WeightedCrossEntropy``:
  ///
  ///     l = -a_pos y log p - a_neg (1 - y) log(1 - p)
  ///     dL/dz = f (a_neg (1 - y) p - a_pos y (1 - p))
  ///
  /// With `expStored`, the gradient buffer already holds `exp(-|z|)` (written
  /// by ``f1Statistics(_:parallelism:storingExpIn:)``) and the pass reuses it
  /// instead of calling exp again.
  @inlinable
  static func weightedCrossEntropy(
    _ batch: BinaryBatch, positiveWeight aPos: Double, negativeWeight aNeg: Double,
    gradient: KernelOutput?, parallelism: Parallelism,
    expStored: Bool = false
  ) -> Double {
    let element = CrossEntropyElement(
      positiveWeight: aPos, negativeWeight: aNeg, expStored: expStored && gradient?.doubles != nil)
    return run(
      batch, reading: element.expStored ? gradient?.doubles : nil, first: gradient,
      parallelism: parallelism, element)[0]
  }

  @usableFromInline
  struct CrossEntropyElement: BinaryElementFunction {
    @usableFromInline let positiveWeight: Vector
    @usableFromInline let negativeWeight: Vector
    @usableFromInline let expStored: Bool

    @inlinable
    init(positiveWeight: Double, negativeWeight: Double, expStored: Bool) {
      self.positiveWeight = Vector(repeating: positiveWeight)
      self.negativeWeight = Vector(repeating: negativeWeight)
      self.expStored = expStored
    }

    @inlinable @inline(__always)
    func apply(_ z: Vector, _ y: Vector, _ f: Vector, _ e: Vector, _: Int)
      -> BinaryElementResult
    {
      // One exp call site (see runChunk).
      let s = Logistic(z, e: expStored ? e : Logistic.expOfMinusMagnitude(z))
      let t = crossEntropyTerm(s, z, y, positiveWeight, negativeWeight, weight: f)
      return ((t.loss, Vector(), Vector()), t.slope, Vector())
    }
  }

  /// Per-sample `f l`, `f ∂l/∂z` and `f ∂²l/∂z² = f (a_pos y + a_neg (1 - y)) p (1 - p)`
  /// of class-weighted cross-entropy (callers that drop the curvature don't
  /// pay for it); `f = 1` gives the unweighted terms.
  @inlinable @inline(__always)
  static func crossEntropyTerm(
    _ z: Vector, _ y: Vector, _ aPos: Double, _ aNeg: Double,
    weight f: Vector = Vector(repeating: 1)
  ) -> (loss: Vector, slope: Vector, curvature: Vector) {
    crossEntropyTerm(
      Logistic(z), z, y, Vector(repeating: aPos), Vector(repeating: aNeg), weight: f)
  }

  /// The same with lane-wise class weights (per-label weights of a multi-label batch).
  @inlinable @inline(__always)
  static func crossEntropyTerm(
    _ z: Vector, _ y: Vector, _ aPos: Vector, _ aNeg: Vector,
    weight f: Vector = Vector(repeating: 1)
  ) -> (loss: Vector, slope: Vector, curvature: Vector) {
    crossEntropyTerm(Logistic(z), z, y, aPos, aNeg, weight: f)
  }

  /// The same from the logistic quantities `s` of `z`. The weight multiplies
  /// the class weights before the softplus terms: `f a_pos y` is tiny exactly
  /// where a tiny weight meets a huge softplus (`1e-300 * 10 * 1e308`), whose
  /// product is finite although `a_pos y softplus(-z)` alone overflows.
  @inlinable @inline(__always)
  static func crossEntropyTerm(
    _ s: Logistic, _ z: Vector, _ y: Vector, _ aPos: Vector, _ aNeg: Vector,
    weight f: Vector
  ) -> (loss: Vector, slope: Vector, curvature: Vector) {
    let sp = s.softplus(z)
    let yPos = aPos * y
    let yNeg = aNeg * (1 - y)
    let pq = s.p * s.q  // each curvature term <= a / 4: the sum cannot overflow
    return (
      weightedProduct(f, yPos, sp.negative) + weightedProduct(f, yNeg, sp.positive),
      f * (yNeg * s.p - yPos * s.q), f * (yPos * pq + yNeg * pq)
    )
  }

  /// `f a b` for `f, a >= 0`, finite wherever the true product is: `(f a) b`
  /// first (a tiny weight `f` keeps a huge softplus `b` finite); where that
  /// is not finite, `f (a b)` instead, so that `b = 0` (the softplus of a
  /// very negative logit) gives 0 rather than `inf * 0 = NaN`.
  @inlinable @inline(__always)
  static func weightedProduct(_ f: Vector, _ a: Vector, _ b: Vector) -> Vector {
    let product = (f * a) * b
    return product.replacing(
      with: f * (a * b), where: .!(product.magnitude .< Vector(repeating: .infinity)))
  }

  /// `f (a1 b1 + a2 b2)` for `f, a1, a2 >= 0`, as written where that is
  /// finite; elsewhere (`0 * inf`, or a tiny `f` times a sum that overflows)
  /// the sum of the two ``weightedProduct(_:_:_:)``, unless that is NaN (both
  /// terms overflow with opposite signs: the true result overflows too).
  @inlinable @inline(__always)
  static func weightedSum(
    _ f: Vector, _ a1: Vector, _ b1: Vector, _ a2: Vector, _ b2: Vector
  ) -> Vector {
    let direct = f * (a1 * b1 + a2 * b2)
    let split = weightedProduct(f, a1, b1) + weightedProduct(f, a2, b2)
    let infinity = Vector(repeating: .infinity)
    return direct.replacing(
      with: split, where: .!(direct.magnitude .< infinity) .& (split .== split))
  }

  /// Writes the unweighted per-sample terms of a separable binary loss; an
  /// ignored sample's term is 0 (the batch has no weights, so f = 0 marks it).
  @inlinable @inline(__always)
  static func writeTerms(
    _ batch: BinaryBatch, into values: KernelOutput,
    parallelism: Parallelism, _ term: (_ z: Vector, _ y: Vector) -> Vector
  ) {
    assert(batch.weightStorage == nil)
    _ = run(batch, gradient: values, parallelism: parallelism) { z, y, f in
      let t = term(z, y)
      return ((Vector(), Vector(), Vector()), t.replacing(with: 0, where: f .== 0))
    }
  }

  /// Smooth accuracy loss, with `1 - ACC` summed as
  /// `y (1 - p) + (1 - y) p` so that a near-perfect batch keeps its digits:
  ///
  ///     dL/dz = -f (2y - 1) p (1 - p)
  @inlinable
  static func smoothAccuracy(
    _ batch: BinaryBatch, gradient: KernelOutput?,
    parallelism: Parallelism
  ) -> Double {
    run(batch, first: gradient, parallelism: parallelism, SmoothAccuracyElement())[0]
  }

  @usableFromInline
  struct SmoothAccuracyElement: BinaryElementFunction {
    @inlinable init() {}

    @inlinable @inline(__always)
    func apply(_ z: Vector, _ y: Vector, _ f: Vector, _: Vector, _: Int)
      -> BinaryElementResult
    {
      let t = smoothAccuracyTerm(z, y)
      return ((f * t.loss, Vector(), Vector()), f * t.slope, Vector())
    }
  }

  /// Per-sample `l = y (1 - p) + (1 - y) p` and `∂l/∂z = -(2y - 1) p (1 - p)`.
  @inlinable @inline(__always)
  static func smoothAccuracyTerm(_ z: Vector, _ y: Vector) -> (loss: Vector, slope: Vector) {
    smoothAccuracyTerm(y, Logistic(z))
  }

  /// The same from the logistic quantities of z (shared with the Hessian kernel).
  @inlinable @inline(__always)
  static func smoothAccuracyTerm(_ y: Vector, _ s: Logistic) -> (loss: Vector, slope: Vector) {
    (y * s.q + (1 - y) * s.p, (1 - 2 * y) * (s.p * s.q))
  }

  /// `1 - 2p = q - p = -tanh(z/2)` without the cancellation of `q - p` near
  /// `z = 0`: with `a = |z|`, `e = exp(-a)`, it is `∓(1 - e) max(p, q)`, and
  /// `1 - e` comes from its Taylor series `a (1 - a/2 (1 - a/3 (1 - ...)))`
  /// below `a = 1/8` (11 terms: truncation below 2.3e-17 relative) and from
  /// the subtraction above, where it loses at most 3 bits.
  @inlinable @inline(__always)
  static func oneMinusTwoP(_ z: Vector, _ s: Logistic) -> Vector {
    let a = z.magnitude
    // Written out (not a loop) so that callers that drop the curvature shed it.
    var series = 1 - a * (1 / 11.0)
    series = 1 - (a * (1 / 10.0)) * series
    series = 1 - (a * (1 / 9.0)) * series
    series = 1 - (a * (1 / 8.0)) * series
    series = 1 - (a * (1 / 7.0)) * series
    series = 1 - (a * (1 / 6.0)) * series
    series = 1 - (a * (1 / 5.0)) * series
    series = 1 - (a * (1 / 4.0)) * series
    series = 1 - (a * (1 / 3.0)) * series
    series = 1 - (a * 0.5) * series
    let small = a .< 0.125
    let oneMinusE = (1 - s.e).replacing(with: a * series, where: small)
    let magnitude = oneMinusE * s.p.replacing(with: s.q, where: s.p .< s.q)
    return magnitude.replacing(with: -magnitude, where: s.isNonNegative)
  }
}
