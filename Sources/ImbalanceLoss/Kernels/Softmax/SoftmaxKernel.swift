// The fused kernel of the softmax losses: per row, the max-shifted
// log-sum-exp of the adjusted logits
//
//     a_k = s z_k + o_k - s m_c [k == c]
//
// (scale s, offsets o, per-class margin m on the label's logit), the row loss
// and its gradient. A `SoftmaxRule` says which loss: cross-entropy against the
// smoothed target `t = (1 - eps) onehot(c) + eps/K`, or focal loss.
//
// Implementation goals, in order of priority:
// 1. Accuracy: with m = max_k a_k, every a_k == m contributes exactly 1 to
//    Σ exp(a_k - m). Summing the others apart, s' = Σ_{a_k < m} exp(a_k - m)
//    + (ties - 1), gives logsumexp(a) - a_c = (m - a_c) + log1p(s') and, when
//    the label is a maximum, softmax_c - 1 = -s' / (1 + s'): a confident,
//    correct row keeps all its digits instead of rounding to 0. Focal loss
//    takes 1 - p_c and log(1 - p_c) from the same s'. The exponents a_k - m
//    are formed from differences of the inputs, in two words (TwoSum), so
//    exp of them is good to a few ulps, and so is m - a_c.
// 2. Edge cases: never NaN; the weighted row loss `f l` is finite whenever
//    its true value is. The rare row whose adjusted logits overflow (a_k =
//    -inf, or m - a_c or the smoothing mean beyond the largest double) is
//    recomputed on `a_k / 4` (`rescaledStatistics`), and its loss formed as
//    `(f gap) 4 + f log1p(s')`: weighting before scaling back up.
// 3. Speed: three passes over the row (max, exp and sum, scale), vectorised,
//    exp written once into the gradient buffer and reused. For K >= 8 a
//    last partial vector of 4 to 7 logits is handled as an overlapping,
//    masked full vector instead of going through the scalar libm exp, and
//    for cross-entropy the log1p(s') of 8 rows is one vector call.

/// A validated softmax batch: `rows * classCount` logits and labels, with the
/// per-row factor `f_i` of the reduction (zero for an ignored row).
@usableFromInline
struct SoftmaxBatch: @unchecked Sendable {
  @usableFromInline let logits: UnsafePointer<Double>
  @usableFromInline let labels: UnsafePointer<Int>
  @usableFromInline let weights: UnsafePointer<Double>?
  @usableFromInline let rows: Int
  @usableFromInline let classCount: Int
  @usableFromInline let normalizer: WeightNormalizer
  /// Per-class weights (`classCount` elements) that multiply each row's weight.
  @usableFromInline let classWeights: UnsafePointer<Double>?
  /// The power of two that scales the class weights, like `normalizer.scale`.
  @usableFromInline let classScale: Double
  /// Rows with this label are skipped: no loss, zero gradient, no weight.
  @usableFromInline let ignoreIndex: Int?

  /// Validates the inputs of a softmax loss with `classCount` classes.
  ///
  /// `classWeights` must already be validated (`classCount` finite values
  /// `>= 0`). The reduction's total is `Σ v_i` over the rows not ignored, with
  /// `v_i = w_i classWeights[c_i]`; when every row is ignored the factors are
  /// all zero (the loss is 0), otherwise a zero total throws.
  @inlinable
  init(
    logits: UnsafeBufferPointer<Double>, labels: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    classCount: Int, reduction: Reduction = .mean,
    classWeights: UnsafePointer<Double>? = nil, ignoreIndex: Int? = nil
  ) throws(LossError) {
    rows = try Validation.checkShapes(
      logitCount: logits.count, logitsPerSample: classCount, targetCount: labels.count,
      weightCount: weights?.count, gradientCount: gradient?.count)
    try Validation.checkFinite(logits)
    self.classCount = classCount
    self.logits = logits.baseAddress!
    self.labels = labels.baseAddress!
    self.weights = weights?.baseAddress
    self.classWeights = classWeights
    self.ignoreIndex = ignoreIndex
    if classWeights == nil && ignoreIndex == nil {
      try Validation.checkLabels(labels, classCount: classCount)
      normalizer = try Validation.normalizer(
        weights: weights, sampleCount: rows, reduction: reduction)
      classScale = 1
      return
    }
    for (i, c) in labels.enumerated() where c != ignoreIndex && (c < 0 || c >= classCount) {
      throw .labelOutOfRange(index: i, label: c, classCount: classCount)
    }
    // Validates the weights; the sum it returns is not the one we need.
    _ = try Validation.normalizer(weights: weights, sampleCount: rows, reduction: .sum)
    if reduction == .sum {
      normalizer = WeightNormalizer(scale: 1, reciprocal: 1)
      classScale = 1
      return
    }
    // Powers of two that bring the largest used weight and class weight into
    // [1, 2): each scaled product lies in [0, 4), so Σ v cannot overflow.
    var largestWeight = 0.0
    var largestClassWeight = 0.0
    var used = 0
    for (i, c) in labels.enumerated() where c != ignoreIndex {
      used += 1
      let w = weights?[i] ?? 1
      let v = classWeights?[c] ?? 1
      largestWeight = largestWeight < w ? w : largestWeight
      largestClassWeight = largestClassWeight < v ? v : largestClassWeight
    }
    if used == 0 {
      normalizer = WeightNormalizer(scale: 1, reciprocal: 0)
      classScale = 1
      return
    }
    if largestWeight == 0 || largestClassWeight == 0 { throw .zeroTotalWeight }
    func powerOfTwo(_ x: Double) -> Double {
      Double(sign: .plus, exponent: Swift.min(-x.exponent, 1000), significand: 1)
    }
    var scale = powerOfTwo(largestWeight)
    var classScale = powerOfTwo(largestClassWeight)
    func total() -> Double {
      var sum = CompensatedSum()
      for (i, c) in labels.enumerated() where c != ignoreIndex {
        sum.add(((weights?[i] ?? 1) * scale) * ((classWeights?[c] ?? 1) * classScale))
      }
      return sum.value
    }
    var sum = total()
    if sum == 0 { throw .zeroTotalWeight }
    // The largest weight and the largest class weight can sit on different
    // rows, so that every v_i and Σ v are tiny (1 / Σ v overflows for a
    // subnormal Σ v). Then both scales grow by powers of two, half each so
    // that no scaled factor overflows, and Σ v is summed again.
    if sum < 0x1p-900 {
      func raised(_ x: Double, by e: Int) -> Double {
        Double(sign: .plus, exponent: Swift.min(x.exponent + e, 1023), significand: 1)
      }
      let e = -sum.exponent
      scale = raised(scale, by: e / 2)
      classScale = raised(classScale, by: e - e / 2)
      sum = total()
    }
    normalizer = WeightNormalizer(scale: scale, reciprocal: 1 / sum)
    self.classScale = classScale
  }

  /// Whether row `i` is skipped.
  @inlinable @inline(__always)
  func isIgnored(_ i: Int) -> Bool {
    ignoreIndex != nil && labels[i] == ignoreIndex!
  }

  /// The factor `f_i = v_i / Σ v` (or `v_i` for a sum) of a row not ignored.
  @inlinable @inline(__always)
  func factor(_ i: Int) -> Double {
    var v = 1.0
    if let w = weights { v = w[i] * normalizer.scale }
    if let cw = classWeights { v = v * (cw[labels[i]] * classScale) }
    return v * normalizer.reciprocal
  }

  /// The factor of row `i` for a row computed as `f s x` (`s` the logit
  /// scale, `|x| <= 1`, or `γ + 2` for focal loss): `(f_i, 1, 1)`, or, where
  /// `f_i s` (times `γ + 2`) overflows (only possible under `.sum`, where
  /// `f_i = w_i a_c`), `(1, w_i, a_c)`: the row is then computed
  /// with factor 1 and `postMultiply` applies the weights, keeping a zero
  /// entry 0 (`0 × inf` would be NaN) and overflowing only where the true
  /// entry does, as `BinaryKernels.weightedProduct`.
  @inlinable @inline(__always)
  func splitFactor(_ i: Int, rule: SoftmaxRule) -> (factor: Double, post: SIMD2<Double>) {
    let f = factor(i)
    let scale = rule.scale * (rule.focusing == 0 ? 1 : rule.focusing + 2)
    // (`.sum` has reciprocal 1; the split does not apply to a mean.)
    if (f * scale).isFinite || normalizer.reciprocal != 1 { return (f, SIMD2(1, 1)) }
    return (1, SIMD2(weights?[i] ?? 1, classWeights.map { $0[labels[i]] } ?? 1))
  }

  /// `x w a` for `post = (w, a)`, and 0 for `x = 0` (see `splitFactor`).
  @inlinable @inline(__always)
  func postMultiply(_ x: Double, _ post: SIMD2<Double>) -> Double {
    x == 0 ? x : (x * post[0]) * post[1]
  }

  /// Applies `postMultiply` to a row's `classCount` outputs.
  @inlinable @inline(__always)
  func postMultiply(_ row: UnsafeMutablePointer<Double>?, _ post: SIMD2<Double>) {
    guard let row else { return }
    for j in 0..<classCount { row[j] = postMultiply(row[j], post) }
  }
}

/// Which softmax loss a row computes, and the constants of its adjusted logits
/// `a_k = s z_k + o_k - s m_c [k == c]`.
@usableFromInline
struct SoftmaxRule: @unchecked Sendable {
  /// `o_k` (`classCount` finite values), e.g. `tau log π_k`.
  @usableFromInline let offsets: UnsafePointer<Double>
  /// The logit scale `s > 0`.
  @usableFromInline let scale: Double
  /// `m_k` (`classCount` values), subtracted (times s) from the label's logit.
  @usableFromInline let margins: UnsafePointer<Double>?
  /// Label smoothing `eps` in [0, 1] (cross-entropy only).
  @usableFromInline let smoothing: Double
  /// Focal loss's `gamma > 0`, or 0 for cross-entropy.
  @usableFromInline let focusing: Double
  /// Whether the row loss is `1 - p_c` (smooth accuracy) instead.
  @usableFromInline let smoothAccuracy: Bool
  /// Whether `a_k = z_k` (every offset 0, `s = 1`, no margins): the kernel
  /// then skips the offset and scale terms of its exponents.
  @usableFromInline let isPlain: Bool
  /// Whether `s (z_k - z_M)` can round (s is not a power of two), so that the
  /// kernel keeps its rounding error (`productError`); `s = scaleHigh + scaleLow`
  /// split in two halves of 26 bits.
  @usableFromInline let splitsScale: Bool
  @usableFromInline let scaleHigh: Double
  @usableFromInline let scaleLow: Double

  @inlinable
  init(
    offsets: UnsafePointer<Double>, scale: Double = 1, margins: UnsafePointer<Double>? = nil,
    smoothing: Double = 0, focusing: Double = 0, smoothAccuracy: Bool = false,
    offsetsAreZero: Bool = false
  ) {
    self.isPlain = offsetsAreZero && scale == 1 && margins == nil
    self.offsets = offsets
    self.scale = scale
    // Beyond 2^995 the split below would overflow; such scales keep the
    // rounded product (and only reach |a| < 2^1022 with |z| < 2^27).
    splitsScale = scale.isFinite && scale.significand != 1 && scale < 0x1p995
    let c = splitsScale ? scale * 134_217_729 : 0
    scaleHigh = splitsScale ? c - (c - scale) : scale
    scaleLow = scale - scaleHigh
    self.margins = margins
    self.smoothing = smoothing
    self.focusing = focusing
    self.smoothAccuracy = smoothAccuracy
  }
}

/// The shared statistics of one row's adjusted logits.
///
/// `maximum` and `labelLogit` are only used through their difference
/// `m - a_c`: the fast pass stores `m` as 0 and `a_c - m` as the two-word
/// `labelLogit + labelLow`; `rescaledStatistics` stores `m` and `a_c` (in
/// quarters) with `labelLow` 0.
@usableFromInline
struct SoftmaxRowStatistics {
  /// `m = max_k a_k`, or 0 (see above).
  @usableFromInline var maximum: Double
  /// `s' = Σ_k exp(a_k - m) - 1 >= 0`.
  @usableFromInline var sPrime: Double
  /// `a_c`, the label's adjusted logit, or its leading word of `a_c - m`.
  @usableFromInline var labelLogit: Double
  /// The low word of `a_c - m` (0 in `rescaledStatistics`).
  @usableFromInline var labelLow: Double
  /// `Σ_k (a_k - m) / K <= 0` (a mean, so it cannot overflow), summed only
  /// when label smoothing needs it.
  @usableFromInline var shiftedMean: Double
  /// `s m_c`, the margin taken off the label's logit.
  @usableFromInline var labelMargin: Double
  /// What `maximum`, `labelLogit` and `shiftedMean` are in units of: 1, or 4
  /// for a row whose adjusted logits overflow (see `rescaledStatistics`).
  @usableFromInline var unit: Double

  @inlinable init(
    maximum: Double, sPrime: Double, labelLogit: Double, labelLow: Double = 0,
    shiftedMean: Double, labelMargin: Double, unit: Double = 1
  ) {
    self.maximum = maximum
    self.sPrime = sPrime
    self.labelLogit = labelLogit
    self.labelLow = labelLow
    self.shiftedMean = shiftedMean
    self.labelMargin = labelMargin
    self.unit = unit
  }

  /// `logsumexp(a) - a_c = -log p_c >= 0`; +inf only when it exceeds the
  /// largest double.
  @inlinable var crossEntropy: Double {
    gap * unit + Elementary.log1p(sPrime)
  }

  /// `m - a_c >= 0` (in units of `unit`), with its low word.
  @inlinable var gap: Double { (maximum - labelLogit) - labelLow }

  /// Whether the label's logit is a maximum (then `p_c = 1 / (1 + s')`).
  @inlinable var labelIsMaximum: Bool { labelLogit == maximum }
}

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
        power = r.sPrime == 0
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

@usableFromInline
enum SoftmaxKernel {
  /// The loss of `rule` over the batch, `Σ_i f_i l_i`, and its gradient when
  /// `gradient` is non-nil (zero rows for ignored samples).
  @inlinable
  static func run(
    _ batch: SoftmaxBatch, rule: SoftmaxRule,
    gradient: UnsafeMutablePointer<Double>?, parallelism: Parallelism
  ) -> Double {
    let out = UncheckedSendable(gradient)
    return ChunkedReduction.sum(
      itemCount: batch.rows, logitsPerItem: batch.classCount, parallelism: parallelism
    ) { range in
      var total = CompensatedSum()
      guard !rule.smoothAccuracy && rule.focusing == 0 else {
        for i in range { total.add(row(batch, i, rule, out.value)) }
        return SIMD4(total.value, 0, 0, 0)
      }
      // Cross-entropy rows in groups of 8, so that their log1p(s') is one
      // vector call instead of 8 scalar libm calls (it matters for small K);
      // the row losses are still added one by one, in row order.
      var i = range.lowerBound
      while i < range.upperBound {
        let n = Swift.min(8, range.upperBound - i)
        var linear = Vector()
        var sPrime = Vector()
        var f = Vector()
        for r in 0..<n {
          let t = crossEntropyRow(batch, i + r, rule, out.value)
          linear[r] = t.linear
          sPrime[r] = t.sPrime
          f[r] = t.factor
        }
        let loss = linear + f * Elementary.log1p(sPrime)
        for r in 0..<n { total.add(loss[r]) }
        i += n
      }
      return SIMD4(total.value, 0, 0, 0)
    }[0]
  }

  /// One cross-entropy row: its weighted loss `f_i l_i = linear + f_i log1p(s')`
  /// in two parts and its factor `f_i` (all zero for an ignored row); writes
  /// the row's gradient if asked.
  @inlinable @inline(__always)
  static func crossEntropyRow(
    _ batch: SoftmaxBatch, _ i: Int, _ rule: SoftmaxRule,
    _ gradient: UnsafeMutablePointer<Double>?
  ) -> (linear: Double, sPrime: Double, factor: Double) {
    let k = batch.classCount
    if batch.isIgnored(i) {
      if let gradient { (gradient + i * k).update(repeating: 0, count: k) }
      return (0, 0, 0)
    }
    let (f, post) = batch.splitFactor(i, rule: rule)
    let g = gradient.map { $0 + i * k }
    let r = statistics(batch, i, rule, g)
    let linear = finish(batch, i, rule, r, factor: f, g, addsLog1p: false)
    if post != SIMD2(1, 1) {
      // The whole row loss, then the weights (see `splitFactor`).
      batch.postMultiply(g, post)
      let loss = linear + f * Elementary.log1p(Vector(repeating: r.sPrime))[0]
      return (batch.postMultiply(loss, post), 0, 0)
    }
    return (linear, r.sPrime, f)
  }

  /// Writes each row's unweighted loss `l_i` into `values` (0 for ignored rows;
  /// +inf where `l_i` exceeds the largest double).
  @inlinable
  static func writeTerms(
    _ batch: SoftmaxBatch, rule: SoftmaxRule, into values: UnsafeMutablePointer<Double>
  ) {
    for i in 0..<batch.rows {
      values[i] = batch.isIgnored(i) ? 0 : rowLoss(batch, i, rule, factor: 1, nil)
    }
  }

  /// Pass 1 and 2 of a row: the statistics of `a`, and `e_k = exp(a_k - m)`
  /// written into `exps` when it is non-nil. `forcedTop` replaces pass 1's
  /// choice of the maximum (see the end of pass 2).
  @inlinable @inline(__always)
  static func statistics(
    _ batch: SoftmaxBatch, _ i: Int, _ rule: SoftmaxRule, _ exps: UnsafeMutablePointer<Double>?,
    forcedTop: Int? = nil
  ) -> SoftmaxRowStatistics {
    let k = batch.classCount
    let z = batch.logits + i * k
    let o = rule.offsets
    let c = batch.labels[i]
    let s = rule.scale
    let delta = rule.margins.map { s * $0[c] } ?? 0
    let sv = Vector(repeating: s)
    // The vector block that holds the label, which loses the margin.
    let cBlock = delta == 0 ? -1 : c - c % 8

    // Pass 1: m = max_k a_k, and M, the index of its first occurrence (each
    // lane of `iv` keeps the index of its first maximum, as a double). A
    // plain row needs only z_M = m.
    let plain = rule.isPlain
    var j = 0
    var mv = Vector(repeating: -.infinity)
    var iv = Vector()
    var jv = Vector(0, 1, 2, 3, 4, 5, 6, 7)
    while j + 8 <= k {
      var a = SIMDLoad.load(z + j) * sv + SIMDLoad.load(o + j)
      if j == cBlock { a[c - j] -= delta }
      let up = a .> mv
      mv = mv.replacing(with: a, where: up)
      if !plain {
        iv = iv.replacing(with: jv, where: up)
        jv += 8
      }
      j += 8
    }
    // Tail of 4 to 7 logits (K >= 8): the last 8 logits as one vector,
    // overlapping lanes already seen (`dup`; the max needs no masking, and an
    // overlapping lane holds the same index as the lane that saw it first).
    // Shorter tails stay scalar: without AVX, a vector exp costs about as
    // much per lane as the scalar libm exp, so 8 lanes for 1-3 logits lose
    // (K = 10, fastest of 3 runs: a vector tail was 10-20% slower in the
    // default build and 4-7% slower with -target-cpu haswell).
    let tailBase = k - 8
    let dup = Vector(0, 1, 2, 3, 4, 5, 6, 7) .< Double(8 - (k - j))
    let vectorTail = k - j >= 4 && k >= 8
    // The label's lane in the tail vector, if it is there.
    let cTail = delta != 0 && c >= tailBase ? c - tailBase : -1
    if vectorTail {
      var a = SIMDLoad.load(z + tailBase) * sv + SIMDLoad.load(o + tailBase)
      if cTail >= 0 { a[cTail] -= delta }
      let up = a .> mv
      mv = mv.replacing(with: a, where: up)
      if !plain {
        iv = iv.replacing(with: Vector(0, 1, 2, 3, 4, 5, 6, 7) + Double(tailBase), where: up)
      }
    }
    // max over the lanes, by halves (`mv.max()` is an outlined generic call),
    // then the smallest index among the lanes that hold it.
    let m4 = mv.lowHalf.replacing(with: mv.highHalf, where: mv.highHalf .> mv.lowHalf)
    let m2 = m4.lowHalf.replacing(with: m4.highHalf, where: m4.highHalf .> m4.lowHalf)
    var m = Swift.max(m2[0], m2[1])
    var top = 0
    if !plain {
      let im = iv.replacing(with: .infinity, where: mv .!= m)
      let i4 = im.lowHalf.replacing(with: im.highHalf, where: im.highHalf .< im.lowHalf)
      let i2 = i4.lowHalf.replacing(with: i4.highHalf, where: i4.highHalf .< i4.lowHalf)
      top = Int(Swift.min(i2[0], i2[1]))
    }
    while j < k && !vectorTail {
      var a = z[j] * s + o[j]
      if j == c { a -= delta }
      if a > m {
        m = a
        top = j
      }
      j += 1
    }
    if let forcedTop { top = forcedTop }

    // The exponents d_k = a_k - a_M, in two words hi + lo: rounding d once
    // costs exp(d) up to |d|/2 ulps (|d| reaches 745), and forming a_k first
    // loses the offsets where ulp(z) exceeds them. Instead
    //
    //     d_k = s (z_k - z_M) + ((o_k - o_M) - delta [k == c] + delta [M == c])
    //
    // with the error of z_k - z_M, of the product by s (Dekker's product,
    // when s is not a power of two) and of the final sum kept (branch-free
    // TwoSum, exact in any rounding); the rest rounds in terms of size |o|
    // or |delta|. Then
    // e_k = exp(hi) (1 + lo). d_M is exactly 0. A row where a difference
    // overflows gets a NaN lo (inf - inf), hence a NaN s': it goes to
    // `rescaledStatistics`. Cost (callgrind, default build, value and
    // gradient): +10% (K = 10) and +7% (K = 1000) instructions for a plain
    // row, which needs no M; +30% with offsets.
    let splitsScale = !plain && rule.splitsScale
    let zTop = plain ? m : z[top]
    let oTop = plain ? 0 : o[top]
    let deltaTop = top == c ? delta : 0
    @inline(__always) func exponent(_ j: Int) -> (hi: Double, lo: Double) {
      var hi = z[j] - zTop
      let bz = hi - z[j]
      var lo = (z[j] - (hi - bz)) + (-zTop - bz)
      if !plain {
        let t = hi * s
        let tLow = splitsScale ? productError(hi, t, rule) : 0
        var b = o[j] - oTop
        if j == c { b -= delta }
        b += deltaTop
        hi = t + b
        let bt = hi - t
        lo = ((t - (hi - bt)) + (b - bt)) + (lo * s + tLow)
        // hi + lo once more (TwoSum): where t + b cancels, lo (the error of
        // z_k - z_M) can exceed hi, even with hi = 0, which is no tie then.
        let sum = hi + lo
        let bs = sum - hi
        lo = (hi - (sum - bs)) + (lo - bs)
        hi = sum
      }
      return (hi, lo)
    }
    let zTopv = Vector(repeating: zTop)
    let minusZTopv = Vector(repeating: -zTop)
    let oTopv = Vector(repeating: oTop)
    let deltaTopv = Vector(repeating: deltaTop)

    // Pass 2: e_k = exp(d_k); s' sums those below the maximum, ties (hi = 0,
    // which adds lo) counted apart.
    let wantsShiftedSum = rule.smoothing != 0
    let inverseCount = 1 / Double(k)
    let inverseCountv = Vector(repeating: inverseCount)
    var restv = Vector()
    var tiesv = Vector()
    var shiftedv = Vector()
    var hiMaxv = Vector()
    // One exp call site for full vectors and the vector tail.
    j = 0
    while j + 8 <= k || (vectorTail && j < k) {
      let full = j + 8 <= k
      let base = full ? j : tailBase
      let zk = SIMDLoad.load(z + base)
      var hi = zk - zTopv
      let bz = hi - zk
      var lo = (zk - (hi - bz)) + (minusZTopv - bz)
      if !plain {
        let t = hi * sv
        let tLow = splitsScale ? productError(hi, t, rule) : Vector()
        var b = SIMDLoad.load(o + base) - oTopv
        if full ? j == cBlock : cTail >= 0 { b[c - base] -= delta }
        b += deltaTopv
        hi = t + b
        let bt = hi - t
        lo = ((t - (hi - bt)) + (b - bt)) + (lo * sv + tLow)
        // Renormalised as in `exponent`.
        let sum = hi + lo
        let bs = sum - hi
        lo = (hi - (sum - bs)) + (lo - bs)
        hi = sum
      }
      if wantsShiftedSum {
        let t = hi * inverseCountv
        shiftedv += full ? t : t.replacing(with: 0, where: dup)
      }
      // Overlapping tail lanes get d = -inf, so e = 0 there and they add
      // nothing; `exps` keeps the values stored for them before.
      if !full {
        hi = hi.replacing(with: -.infinity, where: dup)
        lo = lo.replacing(with: 0, where: dup)
      }
      if !plain { hiMaxv = hiMaxv.replacing(with: hi, where: hi .> hiMaxv) }
      let e0 = Elementary.exp(hi)
      let e = e0 + e0 * lo
      let atMax = hi .== 0
      restv += e.replacing(with: lo, where: atMax)
      tiesv += Vector(repeating: 0).replacing(with: 1, where: atMax)
      if let exps {
        SIMDLoad.store(full ? e : e.replacing(with: SIMDLoad.load(exps + base), where: dup),
          exps + base)
      }
      j = full ? j + 8 : k
    }
    var rest = restv.sum()
    var ties = tiesv.sum()
    var shifted = shiftedv.sum()
    // By halves, as pass 1's max (0 for a plain row: hiMaxv stays 0).
    let h4 = hiMaxv.lowHalf.replacing(
      with: hiMaxv.highHalf, where: hiMaxv.highHalf .> hiMaxv.lowHalf)
    var hiMax = Swift.max(h4[0], h4[1], h4[2], h4[3])
    while j < k {
      let (hi, lo) = exponent(j)
      hiMax = Swift.max(hiMax, hi)
      shifted += hi * inverseCount
      if hi == 0 {
        ties += 1
        rest += lo
        if let exps { exps[j] = 1 + lo }
      } else {
        let e0 = Elementary.exp(hi)
        let e = e0 + e0 * lo
        rest += e
        if let exps { exps[j] = e }
      }
      j += 1
    }
    // Pass 1 compared rounded a_k: where the offsets (or margin) are below
    // the rounding of s z_k it can pick a class that is not the maximum, and
    // some e_k exceeds 1 (up to overflow). Rare: once more from the true one.
    if hiMax > 0 && forcedTop == nil {
      var best = top
      var bestHi = 0.0
      for j in 0..<k {
        let hi = exponent(j).hi
        if hi > bestHi { (best, bestHi) = (j, hi) }
      }
      return statistics(batch, i, rule, exps, forcedTop: best)
    }
    let label = exponent(c)
    // A difference or the mean overflowed (NaN or inf s'): rare.
    if !(rest.isFinite && shifted.isFinite) {
      return rescaledStatistics(batch, i, rule, exps)
    }
    return SoftmaxRowStatistics(
      maximum: 0, sPrime: rest + (ties - 1), labelLogit: label.hi, labelLow: label.lo,
      shiftedMean: shifted, labelMargin: delta)
  }

  /// The rounding error `x s - t` of `t = fl(x s)`, exact (Dekker's product
  /// with `s` pre-split in `rule`; no FMA in the default build). Where
  /// `|x| > 2^995` the split would overflow: there it returns 0 (the rounded
  /// product; `|s x|` is then beyond exp's range unless s is tiny).
  @inlinable @inline(__always)
  static func productError(_ x: Double, _ t: Double, _ rule: SoftmaxRule) -> Double {
    guard x.magnitude <= 0x1p995 else { return 0 }
    let c = x * 134_217_729
    let xh = c - (c - x)
    let xl = x - xh
    let (sh, sl) = (rule.scaleHigh, rule.scaleLow)
    return ((xh * sh - t) + xh * sl + xl * sh) + xl * sl
  }

  /// `productError` lane by lane.
  @inlinable @inline(__always)
  static func productError(_ x: Vector, _ t: Vector, _ rule: SoftmaxRule) -> Vector {
    let huge = x.magnitude .> 0x1p995
    let xs = x.replacing(with: 0, where: huge)
    let ts = t.replacing(with: 0, where: huge)
    let c = xs * 134_217_729
    let xh = c - (c - xs)
    let xl = xs - xh
    let sh = Vector(repeating: rule.scaleHigh)
    let sl = Vector(repeating: rule.scaleLow)
    return ((xh * sh - ts) + xh * sl + xl * sh) + xl * sl
  }

  /// `statistics` for a row whose adjusted logits overflow: computed on
  /// `u_k = a_k / 4 = (s/4) z_k + o_k/4 - (s/4) m_c [k == c]`, finite with
  /// finite differences (`|z|, |o| <= max`; halves are not enough: with
  /// `o = -max` a difference of halves reaches 1.5 max), returned with `unit = 4`.
  /// The `e_k = exp(4 (u_k - u_max))` and s' are the true values (0 where
  /// they underflow). Scalar: such rows are rare.
  @usableFromInline @inline(never)
  static func rescaledStatistics(
    _ batch: SoftmaxBatch, _ i: Int, _ rule: SoftmaxRule, _ exps: UnsafeMutablePointer<Double>?
  ) -> SoftmaxRowStatistics {
    let k = batch.classCount
    let z = batch.logits + i * k
    let o = rule.offsets
    let c = batch.labels[i]
    let s = rule.scale * 0.25
    let delta = rule.margins.map { s * $0[c] } ?? 0
    func quarter(_ j: Int) -> Double {
      let u = z[j] * s + o[j] * 0.25
      return j == c ? u - delta : u
    }
    var m = -Double.infinity
    for j in 0..<k { m = Swift.max(m, quarter(j)) }
    let inverseCount = 1 / Double(k)
    var rest = 0.0
    var ties = 0.0
    var shifted = 0.0
    for j in 0..<k {
      let d = quarter(j) - m
      shifted += d * inverseCount
      let e = d == 0 ? 1 : Elementary.exp(4 * d)
      if d == 0 { ties += 1 } else { rest += e }
      if let exps { exps[j] = e }
    }
    return SoftmaxRowStatistics(
      maximum: m, sPrime: rest + (ties - 1), labelLogit: quarter(c), shiftedMean: shifted,
      labelMargin: 4 * delta, unit: 4)
  }

  /// One row: returns `f_i l_i`, writes the row's gradient if asked.
  @inlinable @inline(__always)
  static func row(
    _ batch: SoftmaxBatch, _ i: Int, _ rule: SoftmaxRule,
    _ gradient: UnsafeMutablePointer<Double>?
  ) -> Double {
    let k = batch.classCount
    if batch.isIgnored(i) {
      if let gradient { (gradient + i * k).update(repeating: 0, count: k) }
      return 0
    }
    let (f, post) = batch.splitFactor(i, rule: rule)
    let g = gradient.map { $0 + i * k }
    let loss = rowLoss(batch, i, rule, factor: f, g)
    if post == SIMD2(1, 1) { return loss }
    batch.postMultiply(g, post)
    return batch.postMultiply(loss, post)
  }

  /// One row's weighted loss `f l_i`; writes `f ∂l_i/∂z_i` into `g` if non-nil.
  @inlinable @inline(__always)
  static func rowLoss(
    _ batch: SoftmaxBatch, _ i: Int, _ rule: SoftmaxRule, factor f: Double,
    _ g: UnsafeMutablePointer<Double>?
  ) -> Double {
    finish(batch, i, rule, statistics(batch, i, rule, g), factor: f, g)
  }

  /// Pass 3 of a row: from its statistics, the weighted loss `f l_i`; turns
  /// the `e_k = exp(a_k - m)` in `g` (if non-nil) into `f ∂l_i/∂z_i`. Without
  /// `addsLog1p`, a cross-entropy loss leaves out its `f log1p(s')` term.
  @inlinable @inline(__always)
  static func finish(
    _ batch: SoftmaxBatch, _ i: Int, _ rule: SoftmaxRule, _ r: SoftmaxRowStatistics,
    factor f: Double, _ g: UnsafeMutablePointer<Double>?, addsLog1p: Bool = true
  ) -> Double {
    let k = batch.classCount
    let c = batch.labels[i]
    let fs = f * rule.scale
    let loss: Double
    let otherScale: Double
    let shift: Double
    let labelGradient: Double
    if rule.smoothAccuracy {
      // l = 1 - p_c = q; ∂l/∂a_k = p_c (p_k - [k == c]).
      let row = FocalRow(r, gamma: 0)
      loss = f * row.q
      otherScale = fs * row.p / (1 + r.sPrime)
      shift = 0
      labelGradient = -fs * row.p * row.q
    } else if rule.focusing == 0 {
      // Cross-entropy against t = (1 - eps) onehot + eps/K:
      // l = (1 - eps)(m - a_c) + eps mean_k(m - a_k) + log1p(s'), all terms >= 0.
      let eps = rule.smoothing
      let uniform = eps / Double(k)
      let gap = eps == 0 ? r.gap : (1 - eps) * r.gap + eps * -r.shiftedMean
      // Weighted before scaling back up, so a rescaled row (unit 4) whose
      // unweighted loss overflows still gives a finite f l.
      let linear = r.unit == 1 ? f * gap : (f * gap) * r.unit
      // The vector log1p (one lane of it), as `run` batches it: the same bits
      // through the first- and second-order entry points (libm's may differ by an ulp).
      loss = addsLog1p ? linear + f * Elementary.log1p(Vector(repeating: r.sPrime))[0] : linear
      otherScale = fs / (1 + r.sPrime)
      shift = fs * uniform
      // softmax_c - t_c: the exact form -s'/(1 + s') + eps (K-1)/K when c is a
      // maximum; otherwise softmax_c <= 1/2 and the subtraction is harmless.
      if r.labelIsMaximum {
        labelGradient = -fs * (r.sPrime / (1 + r.sPrime)) + fs * (eps - uniform)
      } else {
        // g[c] still holds e_c here (only read when there is a gradient).
        labelGradient = g.map { ($0[c] * otherScale - shift) - fs * (1 - eps) } ?? 0
      }
    } else {
      // Focal: l = q^gamma CE; ∂l/∂a_k = (p_k - [k == c]) G with
      // G = q^(gamma-1) (q + gamma p CE), written with p_k / q = e_k / others.
      let gamma = rule.focusing
      let focal = FocalRow(r, gamma: gamma)
      loss = r.unit == 1
        ? f * (focal.power * focal.crossEntropy)
        : (f * (focal.power * r.gap)) * r.unit
          + f * (focal.power * Elementary.log1p(r.sPrime))
      let magnitude = focal.labelGradientMagnitude(gamma: gamma)
      // magnitude / others <= 1 + gamma first: (fs magnitude) alone may
      // overflow where every g_k = fs p_k G is finite (and e_k = 0 gives NaN).
      otherScale = focal.others == 0 ? 0 : fs * (magnitude / focal.others)
      shift = 0
      labelGradient = -fs * magnitude
    }

    // Pass 3: g_k = e_k * otherScale - shift, then the label's entry.
    if let g {
      let sv = Vector(repeating: otherScale)
      let shiftv = Vector(repeating: shift)
      var j = 0
      while j + 8 <= k {
        SIMDLoad.store(SIMDLoad.load(g + j) * sv - shiftv, g + j)
        j += 8
      }
      while j < k {
        g[j] = g[j] * otherScale - shift
        j += 1
      }
      g[c] = labelGradient
    }
    return loss
  }
}
