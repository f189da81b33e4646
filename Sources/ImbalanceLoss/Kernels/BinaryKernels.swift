// Fused one-pass kernels of the binary losses.
//
// Implementation goals, in order of priority:
// 1. Accuracy: every quantity in its cancellation-free form (p and 1 - p from
//    one exp(-|z|), -log p as softplus(-z)); sums compensated across blocks.
// 2. Edge cases: any finite logit (±1e300 included) gives finite results; the
//    caller has validated every input.
// 3. Speed: one pass over z, y, w with SIMD vectors, value and gradient
//    together, no temporaries; large batches on several threads.

/// A validated binary batch: `count` logits, targets in [0, 1], optional weights.
@usableFromInline
struct BinaryBatch: @unchecked Sendable {
  @usableFromInline let logits: UnsafePointer<Double>
  @usableFromInline let targets: UnsafePointer<Double>
  @usableFromInline let weights: UnsafePointer<Double>?
  @usableFromInline let count: Int
  @usableFromInline let normalizer: WeightNormalizer

  /// Validates the inputs of a binary loss (shapes, logits, targets, weights).
  @inlinable
  init(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    reduction: Reduction = .mean
  ) throws(LossError) {
    count = try Validation.checkShapes(
      logitCount: logits.count, logitsPerSample: 1, targetCount: targets.count,
      weightCount: weights?.count, gradientCount: gradient?.count)
    try Validation.checkFinite(logits)
    try Validation.checkUnitInterval(targets)
    normalizer = try Validation.normalizer(
      weights: weights, sampleCount: count, reduction: reduction)
    self.logits = logits.baseAddress!
    self.targets = targets.baseAddress!
    self.weights = weights?.baseAddress
  }
}

/// The per-vector work of a binary kernel: from logits `z`, targets `y` and
/// normalised weights `f = w / W` (zero in padding lanes), up to three sums to
/// accumulate and the gradient to store.
@usableFromInline
typealias BinaryElement = (_ z: Vector, _ y: Vector, _ f: Vector) -> (
  sums: (Vector, Vector, Vector), gradient: Vector
)

/// The per-vector work of a binary kernel as a type, with the vector of a
/// stored quantity (``BinaryKernels/run(_:reading:gradient:parallelism:_:)``;
/// zero when nothing is stored). Generic specialisation inlines `apply` into
/// the loop, where a closure stays a call per vector (about 1.7x slower): the
/// hot kernels use this form.
@usableFromInline
protocol BinaryElementFunction {
  func apply(_ z: Vector, _ y: Vector, _ f: Vector, _ stored: Vector) -> (
    sums: (Vector, Vector, Vector), gradient: Vector
  )
}

/// A closure as a ``BinaryElementFunction`` (called, not inlined).
@usableFromInline
struct ClosureElement: BinaryElementFunction {
  @usableFromInline let body: (Vector, Vector, Vector, Vector) -> (
    sums: (Vector, Vector, Vector), gradient: Vector
  )

  @inlinable
  init(_ body: @escaping (Vector, Vector, Vector, Vector) -> (
    sums: (Vector, Vector, Vector), gradient: Vector
  )) {
    self.body = body
  }

  @inlinable @inline(__always)
  func apply(_ z: Vector, _ y: Vector, _ f: Vector, _ stored: Vector) -> (
    sums: (Vector, Vector, Vector), gradient: Vector
  ) {
    body(z, y, f, stored)
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
    run(batch, reading: nil, gradient: gradient, parallelism: parallelism) { z, y, f, _ in
      element(z, y, f)
    }
  }

  /// ``run(_:gradient:parallelism:_:)`` that also hands `element` the vector
  /// of `stored` at the same index (zero in padding lanes): a quantity an
  /// earlier pass wrote into the gradient buffer, such as `exp(-|z|)`. The
  /// gradient may be written over `stored` in place.
  @inlinable @inline(__always)
  static func run(
    _ batch: BinaryBatch, reading stored: UnsafePointer<Double>?,
    gradient: UnsafeMutablePointer<Double>?, parallelism: Parallelism,
    _ element: (_ z: Vector, _ y: Vector, _ f: Vector, _ stored: Vector) -> (
      sums: (Vector, Vector, Vector), gradient: Vector
    )
  ) -> SIMD4<Double> {
    withoutActuallyEscaping(element) { element in
      run(
        batch, reading: stored, gradient: gradient, parallelism: parallelism,
        ClosureElement(element))
    }
  }

  /// ``run(_:reading:gradient:parallelism:_:)`` with the element as a type,
  /// inlined into the loop.
  @inlinable @inline(__always)
  static func run<Element: BinaryElementFunction>(
    _ batch: BinaryBatch, reading stored: UnsafePointer<Double>?,
    gradient: UnsafeMutablePointer<Double>?, parallelism: Parallelism, _ element: Element
  ) -> SIMD4<Double> {
    let out = UncheckedSendable(gradient)
    let stored = UncheckedSendable(stored)
    return ChunkedReduction.sum(
      itemCount: batch.count, logitsPerItem: 1, parallelism: parallelism
    ) { range in
      runChunk(batch, range, stored.value, out.value, element)
    }
  }

  @inlinable @inline(__always)
  static func runChunk<Element: BinaryElementFunction>(
    _ batch: BinaryBatch, _ range: Range<Int>, _ stored: UnsafePointer<Double>?,
    _ gradient: UnsafeMutablePointer<Double>?, _ element: Element
  ) -> SIMD4<Double> {
    let z = batch.logits
    let y = batch.targets
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
          if let w = batch.weights {
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
            f[lane] = (batch.weights.map { ($0[i + lane] * scale) * reciprocal }) ?? reciprocal
            if let stored { sv[lane] = stored[i + lane] }
          }
        }
        let r = element.apply(zv, yv, f, sv)
        s0 += r.sums.0
        s1 += r.sums.1
        s2 += r.sums.2
        if let gradient {
          if full {
            SIMDLoad.store(r.gradient, gradient + i)
          } else {
            for lane in 0..<(end - i) { gradient[i + lane] = r.gradient[lane] }
          }
        }
        i = full ? i + 8 : end
        v += 1
      }
      total.add(SIMD4(s0.sum(), s1.sum(), s2.sum(), 0))
    }
    return total.value
  }

  /// Class-weighted binary cross-entropy (SPEC §2), the kernel shared by
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
      batch, reading: element.expStored ? gradient : nil, gradient: gradient,
      parallelism: parallelism, element)[0]
  }

  @usableFromInline
  struct CrossEntropyElement: BinaryElementFunction {
    @usableFromInline let positiveWeight: Double
    @usableFromInline let negativeWeight: Double
    @usableFromInline let expStored: Bool

    @inlinable
    init(positiveWeight: Double, negativeWeight: Double, expStored: Bool) {
      self.positiveWeight = positiveWeight
      self.negativeWeight = negativeWeight
      self.expStored = expStored
    }

    @inlinable @inline(__always)
    func apply(_ z: Vector, _ y: Vector, _ f: Vector, _ e: Vector) -> (
      sums: (Vector, Vector, Vector), gradient: Vector
    ) {
      // One exp call site (see runChunk).
      let s = Logistic(z, e: expStored ? e : Logistic.expOfMinusMagnitude(z))
      let t = crossEntropyTerm(s, z, y, positiveWeight, negativeWeight)
      return ((f * t.loss, Vector(), Vector()), f * t.slope)
    }
  }

  /// Per-sample `l` and `∂l/∂z` of class-weighted cross-entropy.
  @inlinable @inline(__always)
  static func crossEntropyTerm(
    _ z: Vector, _ y: Vector, _ aPos: Double, _ aNeg: Double
  ) -> (loss: Vector, slope: Vector) {
    crossEntropyTerm(Logistic(z), z, y, aPos, aNeg)
  }

  /// ``crossEntropyTerm(_:_:_:_:)`` from the logistic quantities `s` of `z`.
  @inlinable @inline(__always)
  static func crossEntropyTerm(
    _ s: Logistic, _ z: Vector, _ y: Vector, _ aPos: Double, _ aNeg: Double
  ) -> (loss: Vector, slope: Vector) {
    let sp = s.softplus(z)
    let yPos = aPos * y
    let yNeg = aNeg * (1 - y)
    return (yPos * sp.negative + yNeg * sp.positive, yNeg * s.p - yPos * s.q)
  }

  /// Writes the unweighted per-sample terms of a separable binary loss.
  @inlinable @inline(__always)
  static func writeTerms(
    _ batch: BinaryBatch, into values: UnsafeMutablePointer<Double>,
    parallelism: Parallelism, _ term: (_ z: Vector, _ y: Vector) -> Vector
  ) {
    _ = run(batch, gradient: values, parallelism: parallelism) { z, y, _ in
      ((Vector(), Vector(), Vector()), term(z, y))
    }
  }

  /// Smooth accuracy loss (SPEC §1), with `1 - ACC` summed as
  /// `y (1 - p) + (1 - y) p` so that a near-perfect batch keeps its digits:
  ///
  ///     dL/dz = -f (2y - 1) p (1 - p)
  @inlinable
  static func smoothAccuracy(
    _ batch: BinaryBatch, gradient: UnsafeMutablePointer<Double>?,
    parallelism: Parallelism
  ) -> Double {
    run(
      batch, reading: nil, gradient: gradient, parallelism: parallelism,
      SmoothAccuracyElement())[0]
  }

  @usableFromInline
  struct SmoothAccuracyElement: BinaryElementFunction {
    @inlinable init() {}

    @inlinable @inline(__always)
    func apply(_ z: Vector, _ y: Vector, _ f: Vector, _: Vector) -> (
      sums: (Vector, Vector, Vector), gradient: Vector
    ) {
      let t = smoothAccuracyTerm(z, y)
      return ((f * t.loss, Vector(), Vector()), f * t.slope)
    }
  }

  /// Per-sample `l = y (1 - p) + (1 - y) p` and `∂l/∂z = -(2y - 1) p (1 - p)`.
  @inlinable @inline(__always)
  static func smoothAccuracyTerm(_ z: Vector, _ y: Vector) -> (loss: Vector, slope: Vector) {
    let s = Logistic(z)
    return (y * s.q + (1 - y) * s.p, (1 - 2 * y) * (s.p * s.q))
  }

  /// The smooth-F1 statistics (SPEC §3) with normalised weights `f`:
  /// `T = Σ f y p`, `S = Σ f (y + p)` and `U = Σ f (y (1 - p) + (1 - y) p)`,
  /// so that `F = 2T / S` and `1 - F = U / S` without cancellation.
  ///
  /// With `storingExpIn`, also writes `exp(-|z_i|)` there, for a second pass
  /// (the gradient) to reuse instead of calling exp again.
  @inlinable
  static func f1Statistics(
    _ batch: BinaryBatch, parallelism: Parallelism,
    storingExpIn scratch: UnsafeMutablePointer<Double>? = nil
  ) -> F1Statistics {
    let r = run(
      batch, reading: nil, gradient: scratch, parallelism: parallelism, F1StatisticsElement())
    return F1Statistics(truePositive: r[0], total: r[1], complement: r[2])
  }

  @usableFromInline
  struct F1StatisticsElement: BinaryElementFunction {
    @inlinable init() {}

    @inlinable @inline(__always)
    func apply(_ z: Vector, _ y: Vector, _ f: Vector, _: Vector) -> (
      sums: (Vector, Vector, Vector), gradient: Vector
    ) {
      let s = Logistic(z)
      let fp = f * s.p
      return ((fp * y, f * y + fp, f * (y * s.q) + (1 - y) * fp), s.e)
    }
  }

  /// Writes the smooth-F1 gradient (SPEC §3) given the batch statistics:
  ///
  ///     dL/dz_i = -(2 f_i / S) (y_i - F/2) p_i (1 - p_i)
  ///
  /// computed as `-2 (y - F/2) (1 - p) (f p / S)`: `f p <= S`, so no
  /// intermediate overflows even when S is tiny. `gradient` holds
  /// `exp(-|z|)` on entry (from ``f1Statistics(_:parallelism:storingExpIn:)``),
  /// which this pass reads back instead of calling exp, and overwrites.
  @inlinable
  static func smoothF1Gradient(
    _ batch: BinaryBatch, statistics: F1Statistics,
    gradient: UnsafeMutablePointer<Double>, parallelism: Parallelism
  ) {
    let total = statistics.total
    let halfF = statistics.f1 / 2
    guard total > 0 else {
      // S = 0: every f p is 0, so every gradient term is exactly 0.
      gradient.initialize(repeating: 0, count: batch.count)
      return
    }
    _ = run(
      batch, reading: gradient, gradient: gradient, parallelism: parallelism,
      SmoothF1GradientElement(halfF1: halfF, total: total))
  }

  @usableFromInline
  struct SmoothF1GradientElement: BinaryElementFunction {
    @usableFromInline let halfF1: Double
    @usableFromInline let total: Double

    @inlinable init(halfF1: Double, total: Double) {
      self.halfF1 = halfF1
      self.total = total
    }

    @inlinable @inline(__always)
    func apply(_ z: Vector, _ y: Vector, _ f: Vector, _ e: Vector) -> (
      sums: (Vector, Vector, Vector), gradient: Vector
    ) {
      let s = Logistic(z, e: e)
      let g = -2 * (y - halfF1) * s.q * ((f * s.p) / total)
      return ((Vector(), Vector(), Vector()), g)
    }
  }
}

/// The sums behind smooth F1, with weights normalised to sum to one.
@usableFromInline
struct F1Statistics: Sendable {
  /// `T = Σ f y p`.
  @usableFromInline var truePositive: Double
  /// `S = Σ f (y + p)`.
  @usableFromInline var total: Double
  /// `U = Σ f (y (1 - p) + (1 - y) p) = S - 2T`.
  @usableFromInline var complement: Double

  @inlinable
  init(truePositive: Double, total: Double, complement: Double) {
    self.truePositive = truePositive
    self.total = total
    self.complement = complement
  }

  /// `F = 2T / S`, defined as 0 when `S = 0` (no positives, none predicted):
  /// F is 0 on every other all-negative batch, so 0 keeps it continuous.
  @inlinable var f1: Double {
    total > 0 ? Swift.min(1, 2 * truePositive / total) : 0
  }

  /// `1 - F = U / S`, without the cancellation of `1 - F`; 1 when `S = 0`.
  @inlinable var loss: Double {
    total > 0 ? Swift.min(1, Swift.max(0, complement / total)) : 1
  }
}
