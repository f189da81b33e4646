/// One minus smooth accuracy: accuracy made differentiable by replacing the
/// 0/1 prediction with `p = sigmoid(z)`.
///
///     ACC_s = E[y p + (1 - y)(1 - p)]
///     L     = 1 - ACC_s = E[y (1 - p) + (1 - y) p]
///     ∂L/∂z_i = -(w_i / W) (2 y_i - 1) p_i (1 - p_i)
///
/// The factor `p (1 - p)` vanishes for a confidently wrong sample, which gets
/// almost no gradient: training on this loss is slow where it is most wrong.
/// ``BinaryCrossEntropy`` removes that factor.
///
/// The value is summed as `y (1 - p) + (1 - y) p` rather than `1 - ACC_s`,
/// so a near-perfect batch keeps its significant digits.
public struct SmoothAccuracyLoss: SeparableLoss {
  /// A binary target: a label or soft label in [0, 1].
  public typealias Target = Double

  /// How per-sample terms are combined: weighted mean (default) or sum.
  public var reduction: Reduction = .mean
  /// Samples whose target equals this marker (NaN matches NaN) are skipped, like
  /// PyTorch's `ignore_index`: their target is not validated, their weight
  /// leaves `Σ w`, and their gradient entries are 0. `nil` (the default) skips
  /// none. A batch with every sample skipped has value 0 and gradient 0.
  public var ignoredTarget: Double? = nil
  /// How many threads a call may use; the result is the same bits either way.
  public var parallelism: Parallelism = .automatic

  /// Creates the loss.
  public init() {}

  /// 1: one logit per sample.
  public var logitsPerSample: Int { 1 }

  /// Computes the loss and, when `gradient` is non-nil, writes `∂L/∂z` into it.
  ///
  /// - Throws: ``LossError`` for an empty batch, mismatched lengths, a
  ///   non-finite logit, a target outside [0, 1] or an invalid weight. The
  ///   gradient buffer is untouched after a throw.
  /// - Complexity: O(N), one pass.
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?
  ) throws(LossError) -> Double {
    let batch = try BinaryBatch(
      logits: logits, targets: targets, weights: weights, gradient: gradient,
      reduction: reduction, ignoredTarget: ignoredTarget)
    return BinaryKernels.smoothAccuracy(
      batch, gradient: gradient?.baseAddress, parallelism: parallelism)
  }

  /// Writes each sample's term `l_i = y_i (1 - p_i) + (1 - y_i) p_i` into `values`.
  ///
  /// - Throws: ``LossError`` for invalid input; `values` is untouched then.
  /// - Complexity: O(N).
  public func perSampleValues(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    into values: UnsafeMutableBufferPointer<Double>
  ) throws(LossError) {
    let batch = try BinaryBatch(
      logits: logits, targets: targets, weights: nil, gradient: nil,
      ignoredTarget: ignoredTarget)
    try Validation.checkValuesCount(values.count, sampleCount: batch.count)
    BinaryKernels.writeTerms(batch, into: values.baseAddress!, parallelism: parallelism) {
      BinaryKernels.smoothAccuracyTerm($0, $1).loss
    }
  }
}
