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

/// A validated binary batch: `count` logits, targets in [0, 1], optional weights.
@usableFromInline
struct BinaryBatch: @unchecked Sendable {
  @usableFromInline let logits: UnsafePointer<Double>
  @usableFromInline let targets: UnsafePointer<Double>
  @usableFromInline let weights: UnsafePointer<Double>?
  @usableFromInline let count: Int
  @usableFromInline let normalizer: WeightNormalizer
  /// Samples whose target equals this marker are skipped (see IgnoredTargets.swift).
  @usableFromInline let ignoredTarget: Double?

  /// Validates the inputs of a binary loss (shapes, logits, targets, weights).
  @inlinable
  init(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    reduction: Reduction = .mean, ignoredTarget: Double? = nil
  ) throws(LossError) {
    count = try Validation.checkShapes(
      logitCount: logits.count, logitsPerSample: 1, targetCount: targets.count,
      weightCount: weights?.count, gradientCount: gradient?.count)
    try Validation.checkFinite(logits)
    if let ignoredTarget {
      normalizer = try Validation.checkIgnoringTargets(
        targets, equalTo: ignoredTarget, weights: weights, reduction: reduction)
    } else {
      try Validation.checkUnitInterval(targets)
      normalizer = try Validation.normalizer(
        weights: weights, sampleCount: count, reduction: reduction)
    }
    self.ignoredTarget = ignoredTarget
    self.logits = logits.baseAddress!
    self.targets = targets.baseAddress!
    self.weights = weights?.baseAddress
  }
}

/// The two outputs and three sums of a binary element on one vector.
@usableFromInline
typealias BinaryElementResult = (sums: (Vector, Vector, Vector), first: Vector, second: Vector)

/// The per-vector work of a binary kernel: from logits `z`, targets `y` and
/// normalised weights `f = w / W` (zero in padding and ignored lanes), up to
/// three sums to accumulate and the gradient to store.
@usableFromInline
typealias BinaryElement = (_ z: Vector, _ y: Vector, _ f: Vector) -> (
  sums: (Vector, Vector, Vector), gradient: Vector
)

/// A binary kernel with two outputs per element (the gradient and the Hessian
/// diagonal); `index` is the batch index of the vector's first lane.
@usableFromInline
typealias BinaryPairElement = (_ z: Vector, _ y: Vector, _ f: Vector, _ index: Int) ->
  BinaryElementResult

/// The per-vector work of a binary kernel as a type. `apply` gets the
/// vector's logits, targets, normalised weights `f` (zero in padding and
/// ignored lanes), the vector of a stored quantity (an earlier pass's output,
/// such as `exp(-|z|)`; zero when nothing is stored) and the batch index of
/// its first lane; it returns three sums and two outputs. Generic
/// specialisation inlines `apply` into the loop, where a closure stays a call
/// per vector (about 1.7x slower): the hot kernels use this form.
@usableFromInline
protocol BinaryElementFunction {
  /// Whether `apply` returns a second output worth storing (false by
  /// default: the loop then drops the store at compile time).
  static var hasSecondOutput: Bool { get }

  func apply(_ z: Vector, _ y: Vector, _ f: Vector, _ stored: Vector, _ index: Int)
    -> BinaryElementResult
}

extension BinaryElementFunction {
  @inlinable static var hasSecondOutput: Bool { false }
}

/// A closure as a ``BinaryElementFunction`` (called, not inlined): the
/// adapter of the less hot kernels.
@usableFromInline
struct ClosureElement: BinaryElementFunction {
  @usableFromInline let body: BinaryPairElement
  @inlinable static var hasSecondOutput: Bool { true }

  @inlinable
  init(_ body: @escaping BinaryPairElement) {
    self.body = body
  }

  @inlinable @inline(__always)
  func apply(_ z: Vector, _ y: Vector, _ f: Vector, _: Vector, _ index: Int)
    -> BinaryElementResult
  {
    body(z, y, f, index)
  }
}

@usableFromInline
enum BinaryKernels {
  /// Vectors per block: each block's sums are reduced across lanes and added
  /// to a compensated sum, so rounding error grows with the block size (64
  /// elements), not with N.
  @usableFromInline static let vectorsPerBlock = 8

  /// Runs `element` over the batch in fixed chunks and returns the three
  /// accumulated sums (in lanes 0...2). Writes the gradient when `gradient`
  /// is non-nil.
  @inlinable @inline(__always)
  static func run(
    _ batch: BinaryBatch, gradient: UnsafeMutablePointer<Double>?,
    parallelism: Parallelism, _ element: BinaryElement
  ) -> SIMD4<Double> {
    run(batch, first: gradient, second: nil, parallelism: parallelism) { z, y, f, _ in
      let r = element(z, y, f)
      return (r.sums, r.gradient, Vector())
    }
  }

  /// ``run(_:reading:first:second:parallelism:_:)`` with a closure and
  /// nothing stored: two outputs, stored where the pointers are non-nil.
  @inlinable @inline(__always)
  static func run(
    _ batch: BinaryBatch, first: UnsafeMutablePointer<Double>?,
    second: UnsafeMutablePointer<Double>?, parallelism: Parallelism,
    _ element: BinaryPairElement
  ) -> SIMD4<Double> {
    withoutActuallyEscaping(element) { element in
      run(
        batch, reading: nil, first: first, second: second, parallelism: parallelism,
        ClosureElement(element))
    }
  }

  /// The one loop behind every binary kernel: runs `element` over the batch
  /// in fixed chunks, returns the three accumulated sums (in lanes 0...2) and
  /// stores the element's two outputs where `first` and `second` are
  /// non-nil. `element` also gets the vector of `stored` at the same index
  /// (zero in padding lanes); `first` may be written over `stored` in place.
  /// Lanes whose target is the batch's ignore marker get `y = 0` and `f = 0`.
  @inlinable @inline(__always)
  static func run<Element: BinaryElementFunction>(
    _ batch: BinaryBatch, reading stored: UnsafePointer<Double>? = nil,
    first: UnsafeMutablePointer<Double>?, second: UnsafeMutablePointer<Double>? = nil,
    parallelism: Parallelism, _ element: Element
  ) -> SIMD4<Double> {
    let pointers = UncheckedSendable((stored, first, Element.hasSecondOutput ? second : nil))
    return ChunkedReduction.sum(
      itemCount: batch.count, logitsPerItem: 1, parallelism: parallelism
    ) { range in
      runChunk(
        batch, range, pointers.value.0, pointers.value.1, pointers.value.2, element)
    }
  }

  @inlinable @inline(__always)
  static func runChunk<Element: BinaryElementFunction>(
    _ batch: BinaryBatch, _ range: Range<Int>, _ stored: UnsafePointer<Double>?,
    _ first: UnsafeMutablePointer<Double>?, _ second: UnsafeMutablePointer<Double>?,
    _ element: Element
  ) -> SIMD4<Double> {
    let z = batch.logits
    let y = batch.targets
    let weights = batch.weights
    let ignored = batch.ignoredTarget
    let second = Element.hasSecondOutput ? second : nil
    let scale = batch.normalizer.scale
    let reciprocal = batch.normalizer.reciprocal
    var total = CompensatedSum4()
    var i = range.lowerBound
    let end = range.upperBound
    while i < end {
      var s0 = Vector()
      var s1 = Vector()
      var s2 = Vector()
      var v = 0
      while v < vectorsPerBlock && i < end {
        // One call site for `element`, full vectors and the tail alike, so
        // its inlined exp/log1p (about 100 vector operations) appear once.
        let full = i + 8 <= end
        var zv = Vector()
        var yv = Vector()
        var f = Vector()
        var sv = Vector()
        if full {
          zv = SIMDLoad.load(z + i)
          yv = SIMDLoad.load(y + i)
          if let w = weights {
            f = (SIMDLoad.load(w + i) * scale) * reciprocal
          } else {
            f = Vector(repeating: reciprocal)
          }
          if let stored { sv = SIMDLoad.load(stored + i) }
        } else {
          // Tail: padding lanes have f = 0, z = 0, y = 0, so they add nothing.
          for lane in 0..<(end - i) {
            zv[lane] = z[i + lane]
            yv[lane] = y[i + lane]
            f[lane] = (weights.map { ($0[i + lane] * scale) * reciprocal }) ?? reciprocal
            if let stored { sv[lane] = stored[i + lane] }
          }
        }
        if let ignored { batch.mask(&yv, &f, ignored) }
        let r = element.apply(zv, yv, f, sv, i)
        s0 += r.sums.0
        s1 += r.sums.1
        s2 += r.sums.2
        if full {
          if let first { SIMDLoad.store(r.first, first + i) }
          if let second { SIMDLoad.store(r.second, second + i) }
        } else {
          if let first {
            for lane in 0..<(end - i) { first[i + lane] = r.first[lane] }
          }
          if let second {
            for lane in 0..<(end - i) { second[i + lane] = r.second[lane] }
          }
        }
        i = full ? i + 8 : end
        v += 1
      }
      total.add(SIMD4(s0.sum(), s1.sum(), s2.sum(), 0))
    }
    return total.value
  }

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
    gradient: UnsafeMutablePointer<Double>?, parallelism: Parallelism,
    expStored: Bool = false
  ) -> Double {
    let element = CrossEntropyElement(
      positiveWeight: aPos, negativeWeight: aNeg, expStored: expStored && gradient != nil)
    return run(
      batch, reading: element.expStored ? gradient : nil, first: gradient,
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
    _ batch: BinaryBatch, into values: UnsafeMutablePointer<Double>,
    parallelism: Parallelism, _ term: (_ z: Vector, _ y: Vector) -> Vector
  ) {
    assert(batch.weights == nil)
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
    _ batch: BinaryBatch, gradient: UnsafeMutablePointer<Double>?,
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

  /// The soft confusion sums of a batch with normalised weights `f`, from which
  /// smooth F1, soft Dice and Tversky are all formed:
  ///
  ///     TP = Σ f y p        FP = Σ f (1 - y) p        FN = Σ f y (1 - p)
  ///
  /// Each is a sum of non-negative terms, so `S = 2TP + FP + FN` and
  /// `1 - F = (FP + FN) / S` have no cancellation.
  ///
  /// With `storingExpIn`, also writes `exp(-|z_i|)` there, for a second pass
  /// (the gradient) to reuse instead of calling exp again.
  @inlinable
  static func f1Statistics(
    _ batch: BinaryBatch, parallelism: Parallelism,
    storingExpIn scratch: UnsafeMutablePointer<Double>? = nil
  ) -> F1Statistics {
    let r = run(batch, first: scratch, parallelism: parallelism, F1StatisticsElement())
    return F1Statistics(truePositive: r[0], falsePositive: r[1], falseNegative: r[2])
  }

  @usableFromInline
  struct F1StatisticsElement: BinaryElementFunction {
    @inlinable init() {}

    @inlinable @inline(__always)
    func apply(_ z: Vector, _ y: Vector, _ f: Vector, _: Vector, _: Int)
      -> BinaryElementResult
    {
      let s = Logistic(z)
      let fp = f * s.p
      return ((fp * y, (1 - y) * fp, f * (y * s.q)), s.e, Vector())
    }
  }

  /// Writes the smooth-F1 gradient given the batch statistics:
  ///
  ///     dL/dz_i = -(2 f_i / S) (y_i - F/2) p_i (1 - p_i)
  ///
  /// It is the Tversky gradient with `α = β = 1/2` and no smoothing. `gradient`
  /// holds `exp(-|z|)` on entry, as for ``tverskyGradient(_:ratio:gradient:parallelism:)``.
  @inlinable
  static func smoothF1Gradient(
    _ batch: BinaryBatch, statistics: F1Statistics,
    gradient: UnsafeMutablePointer<Double>, parallelism: Parallelism
  ) {
    tverskyGradient(
      batch, ratio: statistics.tversky(alpha: 0.5, beta: 0.5, smoothing: 0),
      gradient: gradient, parallelism: parallelism)
  }

  /// Writes the gradient of the Tversky loss `1 - I` given the batch's ratio:
  ///
  ///     D = TP + α FP + β FN + e        I = (TP + e) / D
  ///     dL/dz_i = -p_i (1 - p_i) (f_i / D) (y_i (1 - (1 - β) I) - α (1 - y_i) I)
  ///
  /// computed as `-(1 - p) ((f y p / D)(1 - (1 - β) I) - (α f (1 - y) p / D) I)`:
  /// `f y p <= TP <= D` and `α f (1 - y) p <= α FP <= D`, so both quotients
  /// lie in [0, 1] and nothing overflows even when D is tiny. For `α = β = 1/2`
  /// (smooth F1, soft Dice) it is `-(y - I/2)(1 - p)(f p / D)` with one
  /// division: `f p <= TP + FP <= 2D`.
  ///
  /// `gradient` holds `exp(-|z|)` on entry (from
  /// ``f1Statistics(_:parallelism:storingExpIn:)``), which this pass reads
  /// back instead of calling exp, and overwrites.
  @inlinable
  static func tverskyGradient(
    _ batch: BinaryBatch, ratio: TverskyRatio,
    gradient: UnsafeMutablePointer<Double>, parallelism: Parallelism
  ) {
    let d = ratio.denominator
    guard d > 0 else {
      // D = 0: every quotient above is 0/0 with a 0 numerator term by term
      // (no kept sample predicts or is positive), so the gradient is 0.
      gradient.initialize(repeating: 0, count: batch.count)
      return
    }
    if ratio.alpha == 0.5 && ratio.beta == 0.5 {
      _ = run(
        batch, reading: gradient, first: gradient, parallelism: parallelism,
        DiceGradientElement(halfIndex: ratio.index / 2, denominator: d))
    } else {
      _ = run(
        batch, reading: gradient, first: gradient, parallelism: parallelism,
        TverskyGradientElement(ratio))
    }
  }

  @usableFromInline
  struct DiceGradientElement: BinaryElementFunction {
    @usableFromInline let halfIndex: Double
    @usableFromInline let denominator: Double

    @inlinable init(halfIndex: Double, denominator: Double) {
      self.halfIndex = halfIndex
      self.denominator = denominator
    }

    @inlinable @inline(__always)
    func apply(_ z: Vector, _ y: Vector, _ f: Vector, _ e: Vector, _: Int)
      -> BinaryElementResult
    {
      let s = Logistic(z, e: e)
      let g = -((y - halfIndex) * s.q) * ((f * s.p) / denominator)
      return ((Vector(), Vector(), Vector()), g, Vector())
    }
  }

  @usableFromInline
  struct TverskyGradientElement: BinaryElementFunction {
    @usableFromInline let alpha: Double
    @usableFromInline let positiveFactor: Double
    @usableFromInline let index: Double
    @usableFromInline let denominator: Double

    @inlinable init(_ ratio: TverskyRatio) {
      alpha = ratio.alpha
      index = ratio.index
      positiveFactor = 1 - (1 - ratio.beta) * index
      denominator = ratio.denominator
    }

    @inlinable @inline(__always)
    func apply(_ z: Vector, _ y: Vector, _ f: Vector, _ e: Vector, _: Int)
      -> BinaryElementResult
    {
      let s = Logistic(z, e: e)
      let fp = f * s.p
      let d = denominator
      let g = -s.q * (((fp * y) / d) * positiveFactor - ((alpha * ((1 - y) * fp)) / d) * index)
      return ((Vector(), Vector(), Vector()), g, Vector())
    }
  }
}

/// The soft confusion sums of a batch, with weights normalised to sum to one.
@usableFromInline
struct F1Statistics: Sendable {
  /// `TP = Σ f y p`.
  @usableFromInline var truePositive: Double
  /// `FP = Σ f (1 - y) p`.
  @usableFromInline var falsePositive: Double
  /// `FN = Σ f y (1 - p)`.
  @usableFromInline var falseNegative: Double

  @inlinable
  init(truePositive: Double, falsePositive: Double, falseNegative: Double) {
    self.truePositive = truePositive
    self.falsePositive = falsePositive
    self.falseNegative = falseNegative
  }

  /// The Tversky ratio `(TP + e) / (TP + α FP + β FN + e)` of these sums.
  @inlinable
  func tversky(alpha: Double, beta: Double, smoothing e: Double) -> TverskyRatio {
    let mismatch = alpha * falsePositive + beta * falseNegative
    return TverskyRatio(
      alpha: alpha, beta: beta, numerator: truePositive + e,
      mismatch: mismatch, denominator: (truePositive + e) + mismatch)
  }

  /// `F = 2TP / (2TP + FP + FN)`, defined as 0 when the denominator is 0 (no
  /// positives, none predicted): F is 0 on every other all-negative batch, so
  /// 0 keeps it continuous.
  @inlinable var f1: Double { tversky(alpha: 0.5, beta: 0.5, smoothing: 0).index }

  /// `1 - F = (FP + FN) / (2TP + FP + FN)`, without the cancellation of `1 - F`;
  /// 1 when the denominator is 0.
  @inlinable var loss: Double { tversky(alpha: 0.5, beta: 0.5, smoothing: 0).loss }
}

/// The Tversky index `I = (TP + e) / D`, `D = TP + α FP + β FN + e`, of a
/// batch; smooth F1 is `α = β = 1/2, e = 0`, soft Dice `α = β = 1/2`.
@usableFromInline
struct TverskyRatio: Sendable {
  @usableFromInline var alpha: Double
  @usableFromInline var beta: Double
  /// `TP + e`.
  @usableFromInline var numerator: Double
  /// `α FP + β FN`.
  @usableFromInline var mismatch: Double
  /// `D = TP + e + α FP + β FN`.
  @usableFromInline var denominator: Double

  @inlinable
  init(alpha: Double, beta: Double, numerator: Double, mismatch: Double, denominator: Double) {
    self.alpha = alpha
    self.beta = beta
    self.numerator = numerator
    self.mismatch = mismatch
    self.denominator = denominator
  }

  /// `I = (TP + e) / D` in [0, 1], and 0 when `D = 0`.
  @inlinable var index: Double {
    denominator > 0 ? Swift.min(1, numerator / denominator) : 0
  }

  /// `1 - I = (α FP + β FN) / D` without cancellation, and 1 when `D = 0`.
  @inlinable var loss: Double {
    denominator > 0 ? Swift.min(1, Swift.max(0, mismatch / denominator)) : 1
  }
}
