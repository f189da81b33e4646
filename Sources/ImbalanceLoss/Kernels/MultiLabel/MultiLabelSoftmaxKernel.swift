// The kernel of Su's multi-label categorical cross-entropy: per row of L
// logits s and hard labels y,
//
//     l = log(1 + Σ_{y_j = 0} e^{s_j}) + log(1 + Σ_{y_j = 1} e^{-s_j})
//
// Implementation goals, in order of priority:
// 1. Accuracy: each term is softplus(logsumexp(u)) over its set (u = s for
//    negatives, -s for positives), with m = max u and, as in `SoftmaxKernel`,
//    s' = Σ_{u < m} e^{u - m} + (ties - 1) summed apart from the maximum:
//        m >= 0:  log(1 + e^m (1 + s')) = m + log1p(e^{-m} + s')
//        m <  0:  log(1 + e^m (1 + s')) = log1p(e^m (1 + s'))
//    and each member's slope g = e^{u - m} / (e^{-m} + 1 + s') in (0, 1),
//    with curvature g (1 - g), 1 - g = (e^{-m} + s') / (e^{-m} + 1 + s') for a
//    maximum and (e^{-m} + 1 + (s' - e^{u - m})) / (...) otherwise: no 1 - g
//    is ever formed by cancellation. The exponents u - m keep their rounding
//    error (TwoSum), so e^{u - m} is good to a few ulps (not |u - m|/2).
// 2. Edge cases: finite logits of any size give finite results; an empty set
//    (no positive or no negative label) contributes exactly 0.
// 3. Speed: three vectorised passes over each row (maxima, exponentials and
//    sums, scale), one exp per logit, written once into the gradient buffer.

/// A validated multi-label batch: `rows * labelCount` logits and 0/1 targets.
@usableFromInline
struct MultiLabelBatch: @unchecked Sendable {
  @usableFromInline let logits: UnsafePointer<Double>
  @usableFromInline let targets: UnsafePointer<Double>
  @usableFromInline let weights: UnsafePointer<Double>?
  @usableFromInline let rows: Int
  @usableFromInline let labelCount: Int
  @usableFromInline var normalizer: WeightNormalizer
  /// Entries whose target equals this marker (NaN matches NaN) belong to neither set.
  @usableFromInline let ignoredTarget: Double?

  /// Validates shapes, logits, hard targets (0, 1 or the marker) and row weights.
  @inlinable
  init(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    labelCount: Int, reduction: Reduction, ignoredTarget: Double?
  ) throws(LossError) {
    // 0 and 1 are the labels themselves: such a marker could not be told apart.
    if let ignoredTarget, ignoredTarget == 0 || ignoredTarget == 1 {
      throw .invalidParameter(
        name: "ignoredTarget", value: ignoredTarget, requirement: "not 0 or 1 (those are labels)")
    }
    let rows = try Validation.checkShapes(
      logitCount: logits.count, logitsPerSample: labelCount, targetCount: targets.count,
      targetsPerSample: labelCount, weightCount: weights?.count, gradientCount: gradient?.count)
    try Validation.checkFinite(logits)
    for (j, y) in targets.enumerated() where y != 0 && y != 1 {
      if let ignoredTarget, ignoredTarget.isNaN ? y.isNaN : y == ignoredTarget { continue }
      throw .targetNotBinary(index: j, value: y)
    }
    normalizer = try Validation.normalizer(
      weights: weights, sampleCount: rows, reduction: reduction)
    self.rows = rows
    self.labelCount = labelCount
    self.ignoredTarget = ignoredTarget
    self.logits = logits.baseAddress!
    self.targets = targets.baseAddress!
    self.weights = weights?.baseAddress
  }
}

@usableFromInline
enum MultiLabelSoftmaxKernel {
  /// Returns `Σ_i f_i l_i`, writes `f_i ∂l_i/∂s_ij` when `gradient` is non-nil
  /// and `f_i ∂²l_i/∂s_ij²` when `hessian` is (which needs `gradient`).
  @inlinable
  static func loss(
    _ batch: MultiLabelBatch, gradient: UnsafeMutablePointer<Double>?,
    hessian: UnsafeMutablePointer<Double>? = nil, parallelism: Parallelism
  ) -> Double {
    assert(hessian == nil || gradient != nil)
    let out = UncheckedSendable((gradient, hessian))
    return ChunkedReduction.sum(
      itemCount: batch.rows, logitsPerItem: batch.labelCount, parallelism: parallelism
    ) { range in
      var total = CompensatedSum()
      for i in range { total.add(row(batch, i, out.value.0, out.value.1, unweighted: false)) }
      return SIMD4(total.value, 0, 0, 0)
    }[0]
  }

  /// Writes each row's unweighted loss `l_i` into `values`.
  @inlinable
  static func writeTerms(_ batch: MultiLabelBatch, into values: UnsafeMutablePointer<Double>) {
    for i in 0..<batch.rows { values[i] = row(batch, i, nil, nil, unweighted: true) }
  }

  /// One set's term: `softplus(logsumexp)` of a set with maximum `m` and `s'`,
  /// the scale `1 / (e^{-m} + 1 + s')` of its members' slopes `e^{u - m}`, and
  /// what their curvature needs. An empty set has every field 0.
  @usableFromInline
  struct SetTerm {
    @usableFromInline var value = 0.0
    @usableFromInline var scale = 0.0
    /// `e^{-m}`, 0 when it overflows (then `scale` is 0 and `1 - g` is 1).
    @usableFromInline var base = 0.0
    @usableFromInline var sPrime = 0.0
    @usableFromInline var saturated = false

    @inlinable init() {}

    @inlinable @inline(__always)
    init(_ m: Double, _ sPrime: Double) {
      let base = Elementary.exp(-m)
      scale = 1 / (base + (1 + sPrime))
      value =
        m >= 0
        ? m + Elementary.log1p(base + sPrime)
        : Elementary.log1p(Elementary.exp(m) * (1 + sPrime))
      saturated = !base.isFinite
      self.base = saturated ? 0 : base
      self.sPrime = sPrime
    }

    /// `1 - g` for a member with `e = e^{u - m}` (1 for a maximum).
    @inlinable @inline(__always)
    func oneMinusSlope(_ e: Double) -> Double {
      saturated ? 1 : (base + (e == 1 ? sPrime : 1 + (sPrime - e))) * scale
    }
  }

  /// One row: returns `f_i l_i` (or `l_i` when `unweighted`), writes the
  /// row's gradient and Hessian diagonal if asked.
  @inlinable @inline(__always)
  static func row(
    _ batch: MultiLabelBatch, _ i: Int, _ gradient: UnsafeMutablePointer<Double>?,
    _ hessian: UnsafeMutablePointer<Double>?, unweighted: Bool
  ) -> Double {
    let k = batch.labelCount
    let s = batch.logits + i * k
    let y = batch.targets + i * k
    let f: Double
    if unweighted {
      f = 1
    } else if let w = batch.weights {
      f = (w[i] * batch.normalizer.scale) * batch.normalizer.reciprocal
    } else {
      f = batch.normalizer.reciprocal
    }

    // Pass 1: m_neg = max s over negatives, m_pos = max -s over positives.
    var mNegV = Vector(repeating: -.infinity)
    var mPosV = Vector(repeating: -.infinity)
    var j = 0
    while j + 8 <= k {
      let sv = SIMDLoad.load(s + j)
      let yv = SIMDLoad.load(y + j)
      mNegV = mNegV.replacing(with: sv, where: (yv .== 0) .& (sv .> mNegV))
      mPosV = mPosV.replacing(with: -sv, where: (yv .== 1) .& ((-sv) .> mPosV))
      j += 8
    }
    var mNeg = mNegV.max()
    var mPos = mPosV.max()
    while j < k {
      if y[j] == 0 && s[j] > mNeg { mNeg = s[j] }
      if y[j] == 1 && -s[j] > mPos { mPos = -s[j] }
      j += 1
    }

    // Pass 2: e = exp(u - m) per member (0 for others); sums below the maxima.
    var restNegV = Vector()
    var restPosV = Vector()
    var tiesNegV = Vector()
    var tiesPosV = Vector()
    let mNegSplat = Vector(repeating: mNeg)
    let mPosSplat = Vector(repeating: mPos)
    j = 0
    while j + 8 <= k {
      let sv = SIMDLoad.load(s + j)
      let yv = SIMDLoad.load(y + j)
      let isNeg = yv .== 0
      let isPos = yv .== 1
      let u = sv.replacing(with: -sv, where: isPos)
      let m = mNegSplat.replacing(with: mPosSplat, where: isPos)
      let d = (u - m).replacing(with: -.infinity, where: .!(isNeg .| isPos))
      let e0 = Elementary.exp(d)
      // e = exp(d + lo) with lo the rounding error of u - m (TwoSum): exp of
      // the rounded d would be off by up to |d|/2 ulps. Where e0 = 0 (d <
      // -745, -inf for non-members, or an overflowed difference with a NaN
      // lo) the correction is dropped.
      let bz = d - u
      let lo = (u - (d - bz)) + (-m - bz)
      let e = (e0 + e0 * lo).replacing(with: e0, where: e0 .== 0)
      let atMax = d .== 0
      restNegV += e.replacing(with: 0, where: atMax .| .!isNeg)
      restPosV += e.replacing(with: 0, where: atMax .| .!isPos)
      tiesNegV += Vector().replacing(with: 1, where: atMax .& isNeg)
      tiesPosV += Vector().replacing(with: 1, where: atMax .& isPos)
      if let gradient { SIMDLoad.store(e, gradient + i * k + j) }
      j += 8
    }
    var restNeg = restNegV.sum()
    var restPos = restPosV.sum()
    var tiesNeg = tiesNegV.sum()
    var tiesPos = tiesPosV.sum()
    while j < k {
      var e = 0.0
      if y[j] == 0 || y[j] == 1 {
        let u = y[j] == 0 ? s[j] : -s[j]
        let m = y[j] == 0 ? mNeg : mPos
        let d = u - m
        let e0 = Elementary.exp(d)
        let bz = d - u
        let lo = (u - (d - bz)) + (-m - bz)  // as in the vector loop
        e = e0 == 0 ? 0 : e0 + e0 * lo
        if d == 0 {
          if y[j] == 0 { tiesNeg += 1 } else { tiesPos += 1 }
        } else {
          if y[j] == 0 { restNeg += e } else { restPos += e }
        }
      }
      if let gradient { gradient[i * k + j] = e }
      j += 1
    }
    // An empty set (no member, m = -inf) contributes 0 and scales nothing.
    let neg = tiesNeg > 0 ? SetTerm(mNeg, restNeg + (tiesNeg - 1)) : SetTerm()
    let pos = tiesPos > 0 ? SetTerm(mPos, restPos + (tiesPos - 1)) : SetTerm()

    // Pass 3: slope f e scale_neg for negatives, -f e scale_pos for positives;
    // curvature f g (1 - g) with g = e scale for both (0 for skipped entries).
    if let gradient {
      let g = gradient + i * k
      let negScale = Vector(repeating: f * neg.scale)
      let posScale = Vector(repeating: -(f * pos.scale))
      j = 0
      if let hessian {
        let h = hessian + i * k
        while j < k {
          let e = g[j]
          let isPos = y[j] == 1
          let set = isPos ? pos : neg
          let slope = e * set.scale
          h[j] = f * (slope * set.oneMinusSlope(e))
          g[j] = e * (isPos ? -(f * pos.scale) : f * neg.scale)
          j += 1
        }
      }
      while j + 8 <= k {
        let yv = SIMDLoad.load(y + j)
        let scale = negScale.replacing(with: posScale, where: yv .== 1)
        SIMDLoad.store(SIMDLoad.load(g + j) * scale, g + j)
        j += 8
      }
      while j < k {
        g[j] *= y[j] == 1 ? -(f * pos.scale) : f * neg.scale
        j += 1
      }
    }
    // A row of weight 0 adds 0, also where its two terms sum beyond the
    // largest double (0 × inf would be NaN); otherwise the same bits.
    return f == 0 ? 0 : f * (neg.value + pos.value)
  }
}
