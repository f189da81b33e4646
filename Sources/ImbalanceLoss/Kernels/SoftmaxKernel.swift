// The fused kernel of the softmax losses: per row, the max-shifted
// log-sum-exp of the adjusted logits `a_k = z_k + o_k`, the row loss and the
// gradient `f (softmax(a)_k - [k == c])`.
//
// Implementation goals, in order of priority:
// 1. Accuracy: with m = max_k a_k, every a_k == m contributes exactly 1 to
//    Σ exp(a_k - m). Summing the others apart, s' = Σ_{a_k < m} exp(a_k - m)
//    + (ties - 1), gives logsumexp(a) - a_c = (m - a_c) + log1p(s') and, when
//    the label is a maximum, softmax_c - 1 = -s' / (1 + s'): a confident,
//    correct row keeps all its digits instead of rounding to 0.
// 2. Edge cases: finite logits of any size give finite results (a_k - m <= 0).
// 3. Speed: three passes over the row (max, exp and sum, scale), vectorised,
//    exp written once into the gradient buffer and reused.

/// A validated softmax batch: `rows * classCount` logits and labels.
@usableFromInline
struct SoftmaxBatch: @unchecked Sendable {
  @usableFromInline let logits: UnsafePointer<Double>
  @usableFromInline let labels: UnsafePointer<Int>
  @usableFromInline let weights: UnsafePointer<Double>?
  @usableFromInline let rows: Int
  @usableFromInline let classCount: Int
  @usableFromInline let normalizer: WeightNormalizer

  /// Validates the inputs of a softmax loss with `classCount` classes.
  @inlinable
  init(
    logits: UnsafeBufferPointer<Double>, labels: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    classCount: Int, reduction: Reduction = .mean
  ) throws(LossError) {
    rows = try Validation.checkShapes(
      logitCount: logits.count, logitsPerSample: classCount, targetCount: labels.count,
      weightCount: weights?.count, gradientCount: gradient?.count)
    try Validation.checkFinite(logits)
    try Validation.checkLabels(labels, classCount: classCount)
    normalizer = try Validation.normalizer(
      weights: weights, sampleCount: rows, reduction: reduction)
    self.classCount = classCount
    self.logits = logits.baseAddress!
    self.labels = labels.baseAddress!
    self.weights = weights?.baseAddress
  }
}

@usableFromInline
enum SoftmaxKernel {
  /// Softmax cross-entropy of `a = z + offsets` (SPEC §5): returns
  /// `Σ_i f_i (logsumexp(a_i) - a_i,c_i)` and writes
  /// `f_i (softmax(a_i)_k - [k == c_i])` when `gradient` is non-nil.
  ///
  /// `offsets` has `classCount` finite elements (`tau log pi_k`).
  @inlinable
  static func crossEntropy(
    _ batch: SoftmaxBatch, offsets: UnsafePointer<Double>,
    gradient: UnsafeMutablePointer<Double>?, parallelism: Parallelism
  ) -> Double {
    let out = UncheckedSendable(gradient)
    let offsets = UncheckedSendable(offsets)
    return ChunkedReduction.sum(
      itemCount: batch.rows, logitsPerItem: batch.classCount, parallelism: parallelism
    ) { range in
      var total = CompensatedSum()
      for i in range {
        total.add(row(batch, i, offsets.value, out.value))
      }
      return SIMD4(total.value, 0, 0, 0)
    }[0]
  }

  /// Writes each row's unweighted loss `logsumexp(a_i) - a_i,c_i` into `values`.
  @inlinable
  static func writeTerms(
    _ batch: SoftmaxBatch, offsets: UnsafePointer<Double>, into values: UnsafeMutablePointer<Double>
  ) {
    // The batch was validated without weights and with `.sum`, so f_i = 1.
    assert(batch.weights == nil && batch.normalizer.reciprocal == 1)
    for i in 0..<batch.rows { values[i] = row(batch, i, offsets, nil) }
  }

  /// One row: returns `f_i l_i`, writes the row's gradient if asked.
  @inlinable @inline(__always)
  static func row(
    _ batch: SoftmaxBatch, _ i: Int, _ o: UnsafePointer<Double>,
    _ gradient: UnsafeMutablePointer<Double>?
  ) -> Double {
    let k = batch.classCount
    let z = batch.logits + i * k
    let c = batch.labels[i]
    let f: Double
    if let w = batch.weights {
      f = (w[i] * batch.normalizer.scale) * batch.normalizer.reciprocal
    } else {
      f = batch.normalizer.reciprocal
    }

    // Pass 1: m = max_k a_k.
    var j = 0
    var mv = Vector(repeating: -.infinity)
    while j + 8 <= k {
      let a = SIMDLoad.load(z + j) + SIMDLoad.load(o + j)
      mv = mv.replacing(with: a, where: a .> mv)
      j += 8
    }
    var m = mv.max()
    while j < k {
      let a = z[j] + o[j]
      if a > m { m = a }
      j += 1
    }

    // Pass 2: e_k = exp(a_k - m); s' sums those below m, ties counted apart.
    var sv = Vector()
    var tiesv = Vector()
    j = 0
    while j + 8 <= k {
      let d = (SIMDLoad.load(z + j) + SIMDLoad.load(o + j)) - m
      let e = Elementary.exp(d)
      let atMax = d .== 0
      sv += e.replacing(with: 0, where: atMax)
      tiesv += Vector(repeating: 0).replacing(with: 1, where: atMax)
      if let gradient { SIMDLoad.store(e, gradient + i * k + j) }
      j += 8
    }
    var rest = sv.sum()
    var ties = tiesv.sum()
    while j < k {
      let d = (z[j] + o[j]) - m
      if d == 0 {
        ties += 1
        if let gradient { gradient[i * k + j] = 1 }
      } else {
        let e = Elementary.exp(d)
        rest += e
        if let gradient { gradient[i * k + j] = e }
      }
      j += 1
    }
    let sPrime = rest + (ties - 1)
    let ac = z[c] + o[c]
    let loss = (m - ac) + Elementary.log1p(sPrime)

    // Pass 3: g_k = f e_k / (1 + s'), then the label's entry.
    if let gradient {
      let g = gradient + i * k
      let scale = f / (1 + sPrime)
      let sv = Vector(repeating: scale)
      j = 0
      while j + 8 <= k {
        SIMDLoad.store(SIMDLoad.load(g + j) * sv, g + j)
        j += 8
      }
      while j < k {
        g[j] *= scale
        j += 1
      }
      // softmax_c - 1: exact form -s'/(1 + s') when c is a maximum; otherwise
      // softmax_c <= 1/2 and the subtraction is harmless.
      g[c] = ac == m ? -f * (sPrime / (1 + sPrime)) : g[c] - f
    }
    // A zero weight contributes 0 even when a row spanning more than the double
    // range makes m - a_c overflow (0 * inf = NaN).
    return f == 0 ? 0 : f * loss
  }
}
