/// Su's multi-label categorical cross-entropy (Su Jianlin 2020, "extending
/// softmax cross-entropy to multi-label classification"): per sample, every
/// positive label's logit should exceed 0 and every negative label's should
/// stay below 0, scored as one softmax-like term per side.
///
///     l_i = log(1 + Σ_{j: y_ij = 0} e^{s_ij}) + log(1 + Σ_{j: y_ij = 1} e^{-s_ij})
///     L   = Σ_i w_i l_i / Σ_i w_i
///     ∂l_i/∂s_ij = e^{s_ij} / (1 + Σ_{neg} e^{s})     for a negative label j
///                = -e^{-s_ij} / (1 + Σ_{pos} e^{-s})  for a positive label j
///
/// Unlike per-label sigmoid losses (``MultiLabelBinaryCrossEntropy``) the
/// labels of a row compete, which copes with many labels of which few are
/// positive without class weights. The threshold is 0: predict label j when
/// `s_ij > 0`.
///
/// Each term is computed as `softplus(logsumexp)` of its set with the
/// maximum shifted out and the sum below the maximum kept apart (as in
/// ``LogitAdjustedCrossEntropy``), so finite logits of any size give finite
/// values and gradients with full relative accuracy. A row with no
/// positive (or no negative) label has a zero term for that side.
///
/// Logits and targets are N×L, row-major (`s[i * L + j]`); targets are hard
/// labels, 0 or 1. Note that a sample's target is its L labels, so
/// `targets` has N·L elements while `weights` and per-sample values have N.
///
/// ```swift
/// let loss = try MultiLabelCategoricalCrossEntropy(labelCount: 3)
/// let (value, gradient) = try loss.valueAndGradient(
///     logits: [2.0, -1.0, 0.5,   0.1, 0.2, -3], targets: [1, 0, 0,   0, 1, 1])
/// ```
public struct MultiLabelCategoricalCrossEntropy: SecondOrderLoss, DataParallelLoss, Hashable {
  public typealias Target = Double

  /// The number of labels `L` per sample.
  public let labelCount: Int
  /// How per-sample terms are combined: weighted mean (default) or sum.
  public var reduction: Reduction = .mean
  /// Entries whose target equals this marker (NaN matches NaN) belong to
  /// neither set, like PyTorch's `ignore_index` (a missing label): not
  /// validated, gradient 0. The sample keeps its weight in `Σ w`; a row with
  /// every entry skipped has `l_i = 0`. `nil` (the default) skips none; 0 and
  /// 1 are labels, so a call with either as the marker throws
  /// ``LossError/invalidParameter(name:value:requirement:)``.
  public var ignoredTarget: Double? = nil
  /// How many threads a call may use; the result is the same bits either way.
  public var parallelism: Parallelism = .automatic

  /// Creates the loss for `labelCount` labels per sample.
  ///
  /// - Throws: ``LossError/noClasses`` when `labelCount <= 0`.
  public init(labelCount: Int) throws(LossError) {
    if labelCount <= 0 { throw .noClasses }
    self.labelCount = labelCount
  }

  /// L: one logit per label and sample.
  public var logitsPerSample: Int { labelCount }

  /// Computes the loss and, when `gradient` is non-nil, writes `∂L/∂s` into it.
  ///
  /// - Parameters:
  ///   - logits: N·L finite logits, row-major.
  ///   - targets: N·L labels, each 0 or 1 (or the ``ignoredTarget``).
  ///   - weights: N per-sample weights `>= 0` with a positive sum, or `nil`.
  ///   - gradient: `nil`, or N·L elements that receive the gradient.
  /// - Throws: ``LossError/logitCountNotMultipleOfClassCount(logitCount:classCount:)``,
  ///   ``LossError/lengthMismatch(argument:expected:actual:)``,
  ///   ``LossError/emptyBatch``, ``LossError/nonFiniteLogit(index:value:)``,
  ///   ``LossError/targetNotBinary(index:value:)`` for a target other than 0
  ///   or 1, ``LossError/invalidWeight(index:value:)``,
  ///   ``LossError/zeroTotalWeight`` and
  ///   ``LossError/invalidParameter(name:value:requirement:)`` for an
  ///   ``ignoredTarget`` of 0 or 1. The gradient buffer is untouched after a throw.
  /// - Complexity: O(N L), three passes over each row held in cache.
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?
  ) throws(LossError) -> Double {
    let batch = try MultiLabelBatch(
      logits: logits, targets: targets, weights: weights, gradient: gradient,
      labelCount: labelCount, reduction: reduction, ignoredTarget: ignoredTarget)
    return MultiLabelSoftmaxKernel.loss(
      batch, gradient: gradient?.baseAddress, parallelism: parallelism)
  }

  /// The loss, its gradient and the diagonal of its Hessian: each label is in
  /// one set, and a set's term `A = log(1 + Σ e^{u})` has `∂²A/∂u_j² = g_j (1 - g_j)`
  /// with `g_j = ∂A/∂u_j`, so
  ///
  ///     ∂²L/∂s_ij² = (w_i / W) g_ij (1 - g_ij),   g_ij = |∂l_i/∂s_ij|
  ///
  /// (`w_i` in place of `w_i / W` for ``Reduction/sum``). `1 - g` is formed
  /// from the sums below each set's maximum, never by cancellation. (The
  /// off-diagonal entries within a row, `-g_ij g_ik` within a set, are not
  /// returned.)
  ///
  /// - Throws: as ``valueAndGradient(logits:targets:weights:gradient:)``, and
  ///   ``LossError/lengthMismatch(argument:expected:actual:)`` for a
  ///   `hessianDiagonal` whose count differs from `logits.count`. Both buffers
  ///   are untouched after a throw.
  /// - Complexity: O(N L); the Hessian pass is scalar.
  public func valueGradientAndHessianDiagonal(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>,
    hessianDiagonal: UnsafeMutableBufferPointer<Double>
  ) throws(LossError) -> Double {
    let batch = try MultiLabelBatch(
      logits: logits, targets: targets, weights: weights, gradient: gradient,
      labelCount: labelCount, reduction: reduction, ignoredTarget: ignoredTarget)
    try Validation.checkHessianCount(hessianDiagonal.count, logitCount: logits.count)
    return MultiLabelSoftmaxKernel.loss(
      batch, gradient: gradient.baseAddress, hessian: hessianDiagonal.baseAddress,
      parallelism: parallelism)
  }

  /// Writes each sample's unweighted term `l_i` into `values` (N elements).
  ///
  /// - Throws: ``LossError`` for invalid input; `values` is untouched then.
  /// - Complexity: O(N L).
  public func perSampleValues(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    into values: UnsafeMutableBufferPointer<Double>
  ) throws(LossError) {
    let batch = try MultiLabelBatch(
      logits: logits, targets: targets, weights: nil, gradient: nil,
      labelCount: labelCount, reduction: .sum, ignoredTarget: ignoredTarget)
    try Validation.checkValuesCount(values.count, sampleCount: batch.rows)
    MultiLabelSoftmaxKernel.writeTerms(batch, into: values.baseAddress!)
  }

  /// This shard's sums for data-parallel training: its rows and their total
  /// weight `Σ w`.
  ///
  /// - Throws: ``LossError`` for invalid input, as the loss itself.
  /// - Complexity: O(N L).
  public func statistics(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?
  ) throws(LossError) -> BatchStatistics {
    let batch = try MultiLabelBatch(
      logits: logits, targets: targets, weights: weights, gradient: nil,
      labelCount: labelCount, reduction: .sum, ignoredTarget: ignoredTarget)
    var rows = CompensatedSum()
    var total = CompensatedSum()
    for i in 0..<batch.rows {
      rows.add(1)
      total.add(weights?[i] ?? 1)
    }
    return try BatchStatistics(of: self, samples: batch.rows, sums: [rows, total], weights: weights)
  }

  /// This shard's share `Σ_shard w_i l_i / Σ_all w` (or `Σ_shard w_i l_i`
  /// for `.sum`) and its rows of the whole batch's gradient.
  ///
  /// - Throws: ``LossError`` for invalid input and for statistics of another loss.
  /// - Complexity: O(N L).
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    statistics: BatchStatistics
  ) throws(LossError) -> Double {
    var batch = try MultiLabelBatch(
      logits: logits, targets: targets, weights: weights, gradient: gradient,
      labelCount: labelCount, reduction: .sum, ignoredTarget: ignoredTarget)
    let totals = try statistics.totals(for: self, sums: 2, samples: batch.rows)
    batch.normalizer = try WeightNormalizer(
      kept: totals[0], total: totals[1], weighted: weights != nil, reduction: reduction)
    return MultiLabelSoftmaxKernel.loss(
      batch, gradient: gradient?.baseAddress, parallelism: parallelism)
  }
}
