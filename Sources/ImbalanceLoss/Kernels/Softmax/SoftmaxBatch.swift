/// A validated softmax batch: `rows * classCount` logits and labels, with the
/// per-row factor `f_i` of the reduction (zero for an ignored row). The
/// logits and weights are `Double`s or, from the Float32 entry points,
/// `Float`s (``StoredScalar``); the row kernels read `Double`s, so a `Float`
/// batch reaches them a block of rows at a time through ``widenedRows(_:into:)``.
@usableFromInline
struct SoftmaxBatch: @unchecked Sendable {
  @usableFromInline var logitStorage: UnsafeRawPointer
  @usableFromInline var labels: UnsafePointer<Int>
  @usableFromInline var weightStorage: UnsafeRawPointer?
  /// Whether the logits and weights are `Float`s (else `Double`s).
  @usableFromInline var isFloat: Bool
  @usableFromInline var rows: Int
  @usableFromInline let classCount: Int
  @usableFromInline var normalizer: WeightNormalizer
  /// Per-class weights (`classCount` elements) that multiply each row's weight.
  @usableFromInline let classWeights: UnsafePointer<Double>?
  /// The power of two that scales the class weights, like `normalizer.scale`.
  @usableFromInline var classScale: Double
  /// Rows with this label are skipped: no loss, zero gradient, no weight.
  @usableFromInline let ignoreIndex: Int?
  /// Whether the rows carry the class weights themselves (label smoothing
  /// with class weights, `SoftmaxRule.rowClassWeights`): `factor` then
  /// leaves them out, while `Σ v` keeps them.
  @usableFromInline let classWeightsInRow: Bool
  /// With `classWeightsInRow`: the power of two `κ` that brings the largest
  /// class weight into [1, 2) (the rows carry `ρ_k = a_k κ <= 2`), and
  /// `classScale / κ`, the part of the class scale that `factor` keeps.
  @usableFromInline var rowWeightScale: Double = 1
  @usableFromInline var rowClassScale: Double = 1

  /// Validates the inputs of a softmax loss with `classCount` classes.
  ///
  /// `classWeights` must already be validated (`classCount` finite values
  /// `>= 0`). The reduction's total is `Σ v_i` over the rows not ignored, with
  /// `v_i = w_i classWeights[c_i]`; when every row is ignored the factors are
  /// all zero (the loss is 0), otherwise a zero total throws.
  @inlinable
  init<S: StoredScalar>(
    logits: UnsafeBufferPointer<S>, labels: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<S>?, gradientCount: Int?,
    classCount: Int, reduction: Reduction = .mean,
    classWeights: UnsafePointer<Double>? = nil, ignoreIndex: Int? = nil,
    classWeightsInRow: Bool = false
  ) throws(LossError) {
    self.classWeightsInRow = classWeightsInRow && classWeights != nil

    rows = try Validation.checkShapes(
      logitCount: logits.count, logitsPerSample: classCount, targetCount: labels.count,
      weightCount: weights?.count, gradientCount: gradientCount)
    try Validation.checkFinite(logits)
    self.classCount = classCount
    self.logitStorage = UnsafeRawPointer(logits.baseAddress!)
    self.labels = labels.baseAddress!
    self.weightStorage = weights.map { UnsafeRawPointer($0.baseAddress!) }
    self.isFloat = S.self == Float.self
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
      let w = weights?[i].widened ?? 1
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
    var scale = PowerOfTwo.scale(bringingToUnit: largestWeight)
    var classScale = PowerOfTwo.scale(bringingToUnit: largestClassWeight)
    func total() -> Double {
      var sum = CompensatedSum()
      for (i, c) in labels.enumerated() where c != ignoreIndex {
        sum.add(((weights?[i].widened ?? 1) * scale) * ((classWeights?[c] ?? 1) * classScale))
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

  /// ``init(logits:labels:weights:gradientCount:classCount:reduction:classWeights:ignoreIndex:classWeightsInRow:)``
  /// of `Double` buffers and an optional gradient buffer.
  @inlinable
  init(
    logits: UnsafeBufferPointer<Double>, labels: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    classCount: Int, reduction: Reduction = .mean,
    classWeights: UnsafePointer<Double>? = nil, ignoreIndex: Int? = nil,
    classWeightsInRow: Bool = false
  ) throws(LossError) {
    try self.init(
      logits: logits, labels: labels, weights: weights, gradientCount: gradient?.count,
      classCount: classCount, reduction: reduction, classWeights: classWeights,
      ignoreIndex: ignoreIndex, classWeightsInRow: classWeightsInRow)
  }

  /// The logits of a `Double` batch.
  @inlinable
  var logits: UnsafePointer<Double> {
    precondition(!isFloat, "a Float batch reaches the row kernels through widenedRows")
    return logitStorage.assumingMemoryBound(to: Double.self)
  }

  /// The sample weights of a `Double` batch.
  @inlinable
  var weights: UnsafePointer<Double>? {
    precondition(!isFloat, "a Float batch reaches the row kernels through widenedRows")
    return weightStorage?.assumingMemoryBound(to: Double.self)
  }

  /// Rows `range` of this batch as a `Double` batch (row 0 is row
  /// `range.lowerBound`), its logits and weights widened into `scratch`
  /// (`range.count * (classCount + 1)` doubles); everything else (the
  /// normaliser, class weights and scales) is this batch's, so each row
  /// gets the bits it gets in a `Double` batch of the same values.
  @inlinable
  func widenedRows(_ range: Range<Int>, into scratch: UnsafeMutablePointer<Double>)
    -> SoftmaxBatch
  {
    var rows = self
    let k = classCount
    let n = range.count * k
    let z = logitStorage.assumingMemoryBound(to: Float.self) + range.lowerBound * k
    var j = 0
    while j + 8 <= n {
      SIMDLoad.store(Float.load(z + j), scratch + j)
      j += 8
    }
    while j < n {
      scratch[j] = z[j].widened
      j += 1
    }
    let w = scratch + n
    if let weights = weightStorage?.assumingMemoryBound(to: Float.self) {
      for r in 0..<range.count { w[r] = weights[range.lowerBound + r].widened }
    }
    rows.logitStorage = UnsafeRawPointer(scratch)
    rows.labels = labels + range.lowerBound
    rows.weightStorage = weightStorage.map { _ in UnsafeRawPointer(w) }
    rows.isFloat = false
    rows.rows = range.count
    return rows
  }

  /// Sets `rowWeightScale` and `rowClassScale` (with `classWeightsInRow`).
  @inlinable
  mutating func scaleRowClassWeights() {
    guard classWeightsInRow, let classWeights else { return }
    var largest = 0.0
    for k in 0..<classCount { largest = Swift.max(largest, classWeights[k]) }
    rowWeightScale = largest > 0 ? PowerOfTwo.scale(bringingToUnit: largest) : 1
    rowClassScale = classScale / rowWeightScale
  }

  /// Whether row `i` is skipped.
  @inlinable @inline(__always)
  func isIgnored(_ i: Int) -> Bool {
    ignoreIndex != nil && labels[i] == ignoreIndex!
  }

  /// Row `i`'s sample weight times the normaliser's scale (1 without weights).
  @inlinable @inline(__always)
  func scaledWeight(_ i: Int) -> Double {
    weights.map { $0[i] * normalizer.scale } ?? 1
  }

  /// The factor `f_i = v_i / Σ v` (or `v_i` for a sum) of a row not ignored;
  /// without the class weight when the row carries it (`w_i / Σ v`).
  @inlinable @inline(__always)
  func factor(_ i: Int) -> Double {
    let v = scaledWeight(i)
    if classWeightsInRow {
      // `classScale / κ` may overflow (a huge class weight far from the used
      // labels' ones): then so does the true factor, but 0 stays 0.
      let f = v * normalizer.reciprocal
      return f == 0 ? f : f * rowClassScale
    }
    guard let cw = classWeights else { return v * normalizer.reciprocal }
    let a = cw[labels[i]] * classScale
    let va = v * a
    // A weight and a class weight each far below their largest make `v a`
    // subnormal (digits lost) where `f_i` is not: the reciprocal first then.
    if va < 0x1p-1000 && v != 0 && a != 0 {
      let vr = v * normalizer.reciprocal
      if vr.isFinite { return vr * a }
    }
    return va * normalizer.reciprocal
  }

  /// The factor of row `i` for a row computed as `f s x` (`s` the logit
  /// scale, `|x| <= 1`, or `γ + 2` for focal loss, or `|x| <=` the class
  /// weights' bound for rows that carry them): `(f_i, 1, 1)`, or, where that
  /// product overflows, `(u, f_i, 1/u)` with `u` a power of two that brings
  /// `s` into [1, 2) (or, without class weights in the row, `(1, w_i, a_c)`,
  /// only possible under `.sum`): the row is then computed with factor `u`
  /// and `postMultiply` applies the rest, keeping a zero entry 0 (`0 × inf`
  /// would be NaN) and overflowing only where the true entry does, as
  /// `BinaryKernels.weightedProduct`.
  @inlinable @inline(__always)
  func splitFactor(_ i: Int, rule: SoftmaxRule) -> (factor: Double, post: SIMD2<Double>) {
    let f = factor(i)
    // Focal's and Poly-1's gradients reach (γ + 2) and (2 + |ε|) times s.
    let scale =
      rule.poly != 0
      ? rule.scale * (2 + Swift.abs(rule.poly))
      : rule.scale * (rule.focusing == 0 ? 1 : rule.focusing + 2)
    if let smoothing = rule.rowClassWeights {
      if (f * scale * smoothing.bound).isFinite { return (f, SIMD2(1, 1)) }
      // f = (w_i / Σ v) rowClassScale overflows where the class weights span
      // more than the double range (rowClassScale = classScale / κ = inf)
      // while f s is finite: the row is computed with u, then multiplied by
      // w_i / Σ v and by rowClassScale / u, one power of two.
      let u = PowerOfTwo.scale(bringingToUnit: rule.scale)
      let e = classScale.exponent - rowWeightScale.exponent - u.exponent
      return (
        u,
        SIMD2(
          scaledWeight(i) * normalizer.reciprocal, Double(sign: .plus, exponent: e, significand: 1)
        )
      )
    }
    // (`.sum` has reciprocal 1; the split does not apply to a mean.)
    if (f * scale).isFinite || normalizer.reciprocal != 1 { return (f, SIMD2(1, 1)) }
    return (1, SIMD2(weights?[i] ?? 1, classWeights.map { $0[labels[i]] } ?? 1))
  }

  /// `x w a` for `post = (w, a)`, and 0 for `x = 0` (see `splitFactor`);
  /// `x` meets the smaller factor first when `|x| >= 1`, the larger one
  /// otherwise, so that the product overflows only where `x w a` does
  /// (`(x w) a` overflowed for `x = 16`, `w = 2^1023`, `a = 1/2`).
  @inlinable @inline(__always)
  func postMultiply(_ x: Double, _ post: SIMD2<Double>) -> Double {
    if x == 0 { return x }
    let (small, large) = post[0] < post[1] ? (post[0], post[1]) : (post[1], post[0])
    return x.magnitude < 1 ? (x * large) * small : (x * small) * large
  }

  /// Applies `postMultiply` to a row's `classCount` outputs.
  @inlinable @inline(__always)
  func postMultiply(_ row: UnsafeMutablePointer<Double>?, _ post: SIMD2<Double>) {
    guard let row else { return }
    for j in 0..<classCount { row[j] = postMultiply(row[j], post) }
  }
}

extension SoftmaxBatch {
  /// The data-parallel sums of a separable loss: the number of rows not
  /// ignored and their total weight `Σ v = Σ w_i a_(c_i)` (unscaled).
  @inlinable
  func keptSums() -> [CompensatedSum] {
    var kept = CompensatedSum()
    var total = CompensatedSum()
    if ignoreIndex == nil && weights == nil && classWeights == nil {
      kept.add(Double(rows))
      return [kept, kept]
    }
    for i in 0..<rows where !isIgnored(i) {
      kept.add(1)
      total.add((weights?[i] ?? 1) * (classWeights?[labels[i]] ?? 1))
    }
    return [kept, total]
  }

  /// Sets the normaliser of the whole data-parallel batch whose rows not
  /// ignored are `kept`, of total weight `total` (before `scaleRowClassWeights`).
  @inlinable
  mutating func normalize(kept: Double, total: Double, reduction: Reduction) throws(LossError) {
    normalizer = try WeightNormalizer(
      kept: kept, total: total, weighted: weights != nil || classWeights != nil,
      reduction: reduction)
    classScale = 1
    // `factor` applies `normalizer.scale` to per-sample weights only: without
    // them, the class weights carry it.
    if weights == nil {
      classScale = normalizer.scale
      normalizer.scale = 1
    }
  }
}
