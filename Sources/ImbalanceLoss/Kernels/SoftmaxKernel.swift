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
//    exp written once into the gradient buffer and reused. For K >= 8 a
//    last partial vector of 4 to 7 logits is handled as an overlapping,
//    masked full vector instead of going through the scalar libm exp, and
//    the log1p(s') of 8 rows is one vector call.

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
      // Rows in groups of 8, so that their log1p(s') is one vector call
      // instead of 8 scalar libm calls (it matters for small K); the row
      // losses are still added one by one, in row order.
      var total = CompensatedSum()
      var i = range.lowerBound
      while i < range.upperBound {
        let n = Swift.min(8, range.upperBound - i)
        var margin = Vector()
        var sPrime = Vector()
        var f = Vector()
        for r in 0..<n {
          let t = row(batch, i + r, offsets.value, out.value)
          margin[r] = t.margin
          sPrime[r] = t.sPrime
          f[r] = t.weight
        }
        let loss = f * (margin + Elementary.log1p(sPrime))
        for r in 0..<n { total.add(loss[r]) }
        i += n
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
    for i in 0..<batch.rows {
      let t = row(batch, i, offsets, nil)
      values[i] = t.margin + Elementary.log1p(t.sPrime)
    }
  }

  /// One row: returns the row's loss `l_i = margin + log1p(s')` in two parts
  /// (`margin = m - a_c`) and its weight `f_i`, and writes the row's gradient
  /// if asked.
  @inlinable @inline(__always)
  static func row(
    _ batch: SoftmaxBatch, _ i: Int, _ o: UnsafePointer<Double>,
    _ gradient: UnsafeMutablePointer<Double>?
  ) -> (margin: Double, sPrime: Double, weight: Double) {
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
    // Tail of 4 to 7 logits (K >= 8): the last 8 logits as one vector,
    // overlapping lanes already seen (`dup`; the max needs no masking).
    // Shorter tails stay scalar: without AVX, a vector exp costs about as
    // much per lane as the scalar libm exp, so 8 lanes for 1-3 logits lose
    // (K = 10, fastest of 3 runs: a vector tail was 10-20% slower in the
    // default build and 4-7% slower with -target-cpu haswell).
    let tailBase = k - 8
    let dup = Vector(0, 1, 2, 3, 4, 5, 6, 7) .< Double(8 - (k - j))
    let vectorTail = k - j >= 4 && k >= 8
    if vectorTail {
      let a = SIMDLoad.load(z + tailBase) + SIMDLoad.load(o + tailBase)
      mv = mv.replacing(with: a, where: a .> mv)
    }
    // max over the lanes, by halves (`mv.max()` is an outlined generic call).
    let m4 = mv.lowHalf.replacing(with: mv.highHalf, where: mv.highHalf .> mv.lowHalf)
    let m2 = m4.lowHalf.replacing(with: m4.highHalf, where: m4.highHalf .> m4.lowHalf)
    var m = Swift.max(m2[0], m2[1])
    while j < k && !vectorTail {
      let a = z[j] + o[j]
      if a > m { m = a }
      j += 1
    }

    // Pass 2: e_k = exp(a_k - m); s' sums those below m, ties counted apart.
    var sv = Vector()
    var tiesv = Vector()
    // One exp call site for full vectors and the vector tail.
    j = 0
    while j + 8 <= k || (vectorTail && j < k) {
      let full = j + 8 <= k
      let base = full ? j : tailBase
      var d = (SIMDLoad.load(z + base) + SIMDLoad.load(o + base)) - m
      // Overlapping tail lanes get d = -inf, so e = 0 there and they add
      // nothing; the gradient keeps the values stored for them before.
      if !full { d = d.replacing(with: -.infinity, where: dup) }
      let e = Elementary.exp(d)
      let atMax = d .== 0
      sv += e.replacing(with: 0, where: atMax)
      tiesv += Vector(repeating: 0).replacing(with: 1, where: atMax)
      if let gradient {
        let g = gradient + i * k + base
        SIMDLoad.store(full ? e : e.replacing(with: SIMDLoad.load(g), where: dup), g)
      }
      j = full ? j + 8 : k
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
    return (m - ac, sPrime, f)
  }
}
