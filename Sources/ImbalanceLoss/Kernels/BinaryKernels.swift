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
    let out = UncheckedSendable(gradient)
    return ChunkedReduction.sum(
      itemCount: batch.count, logitsPerItem: 1, parallelism: parallelism
    ) { range in
      runChunk(batch, range, out.value, element)
    }
  }

  @inlinable @inline(__always)
  static func runChunk(
    _ batch: BinaryBatch, _ range: Range<Int>, _ gradient: UnsafeMutablePointer<Double>?,
    _ element: BinaryElement
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
      while v < vectorsPerBlock && i + 8 <= end {
        let f: Vector
        if let w = batch.weights {
          f = (SIMDLoad.load(w + i) * scale) * reciprocal
        } else {
          f = Vector(repeating: reciprocal)
        }
        let r = element(SIMDLoad.load(z + i), SIMDLoad.load(y + i), f)
        s0 += r.sums.0
        s1 += r.sums.1
        s2 += r.sums.2
        if let gradient { SIMDLoad.store(r.gradient, gradient + i) }
        i += 8
        v += 1
      }
      if v < vectorsPerBlock && i < end {
        // Tail: padding lanes have f = 0, z = 0, y = 0, so they add nothing.
        var zv = Vector()
        var yv = Vector()
        var f = Vector()
        for lane in 0..<(end - i) {
          zv[lane] = z[i + lane]
          yv[lane] = y[i + lane]
          f[lane] = (batch.weights.map { ($0[i + lane] * scale) * reciprocal }) ?? reciprocal
        }
        let r = element(zv, yv, f)
        s0 += r.sums.0
        s1 += r.sums.1
        s2 += r.sums.2
        if let gradient {
          for lane in 0..<(end - i) { gradient[i + lane] = r.gradient[lane] }
        }
        i = end
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
  @inlinable
  static func weightedCrossEntropy(
    _ batch: BinaryBatch, positiveWeight aPos: Double, negativeWeight aNeg: Double,
    gradient: UnsafeMutablePointer<Double>?, parallelism: Parallelism
  ) -> Double {
    run(batch, gradient: gradient, parallelism: parallelism) { z, y, f in
      let t = crossEntropyTerm(z, y, aPos, aNeg)
      // A zero weight contributes 0 even when a_pos softplus(-z) overflows (0 * inf = NaN).
      let weighted = (f * t.loss).replacing(with: 0, where: f .== 0)
      return ((weighted, Vector(), Vector()), f * t.slope)
    }[0]
  }

  /// Per-sample `l` and `∂l/∂z` of class-weighted cross-entropy.
  @inlinable @inline(__always)
  static func crossEntropyTerm(
    _ z: Vector, _ y: Vector, _ aPos: Double, _ aNeg: Double
  ) -> (loss: Vector, slope: Vector) {
    let s = Logistic(z)
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
    run(batch, gradient: gradient, parallelism: parallelism) { z, y, f in
      let t = smoothAccuracyTerm(z, y)
      return ((f * t.loss, Vector(), Vector()), f * t.slope)
    }[0]
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
  @inlinable
  static func f1Statistics(
    _ batch: BinaryBatch, parallelism: Parallelism
  ) -> F1Statistics {
    let r = run(batch, gradient: nil, parallelism: parallelism) { z, y, f in
      let s = Logistic(z)
      let fp = f * s.p
      return ((fp * y, f * y + fp, f * (y * s.q) + (1 - y) * fp), Vector())
    }
    return F1Statistics(truePositive: r[0], total: r[1], complement: r[2])
  }

  /// Writes the smooth-F1 gradient (SPEC §3) given the batch statistics:
  ///
  ///     dL/dz_i = -(2 f_i / S) (y_i - F/2) p_i (1 - p_i)
  ///
  /// computed as `-2 (y - F/2) (1 - p) (f p / S)`: `f p <= S`, so no
  /// intermediate overflows even when S is tiny.
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
    _ = run(batch, gradient: gradient, parallelism: parallelism) { z, y, f in
      let s = Logistic(z)
      let g = -2 * (y - halfF) * s.q * ((f * s.p) / total)
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
