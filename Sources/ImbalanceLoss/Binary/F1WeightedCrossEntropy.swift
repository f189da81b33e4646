/// Binary cross-entropy re-weighted by the smooth F1 of the batch.
///
/// The gradient of `-F` weights each sample by `y - F/2`; applying
/// "p -> log p" to it gives class-weighted cross-entropy with
///
///     a_pos = 1 - F/2          a_neg = F/2
///     L = E[-(1 - F/2) y log p - (F/2)(1 - y) log(1 - p)]
///     ∂L/∂z_i = (w_i / W) ((F/2)(1 - y_i) p_i - (1 - F/2) y_i (1 - p_i))
///
/// With ``labelSmoothing`` `ε`, `y_i` stands for `y_i (1 - ε) + ε / 2`
/// everywhere, the batch F included: the smoothed targets are simply the
/// targets, one rule for every term.
///
/// F is held constant: no gradient flows through it. With `f1: nil` it is the
/// smooth F1 of the current batch (``SmoothF1Loss/f1(logits:targets:weights:)``);
/// a small batch with few positives gives a noisy F, so a caller may supply
/// one instead, such as a running average over recent batches. The batch F is
/// always formed with the normalised weights `w_i / W`, also under
/// ``Reduction/sum`` (where all-zero weights give F = 0), so weights near the
/// overflow threshold give the right F.
///
/// Why it works: the minimiser q of this loss for a true posterior η has
/// `q > 1/2` exactly when `η > F/2`, so thresholding the trained model at 0.5
/// thresholds the posterior at F/2, the F1-optimal rule.
///
/// On a batch with no positives the batch F is 0, so `a_neg = 0` and the loss
/// and gradient are 0: supply `f1` to keep learning from such batches.
///
/// Split across workers (``DataParallelLoss``), the batch F is the F of the
/// whole batch, formed from the merged sums `TP`, `FP`, `FN` of every shard,
/// not the F of a shard.
///
/// The Hessian (``SecondOrderLoss``) is diagonal, with F held constant as in
/// the gradient (a stop-gradient, not the derivative of the batch F):
///
///     ∂²L/∂z_i² = (w_i / W) ((1 - F/2) y_i + (F/2)(1 - y_i)) p_i (1 - p_i)
public struct F1WeightedCrossEntropy: SecondOrderBinaryLoss, Hashable {
  /// A binary target: a label or soft label in [0, 1].
  public typealias Target = Double

  /// The F held constant, or `nil` for the smooth F1 of each batch.
  public let f1: Double?
  /// How per-sample terms are combined: weighted mean (default) or sum.
  public var reduction: Reduction = .mean
  /// Samples whose target equals this marker (NaN matches NaN) are skipped, like
  /// PyTorch's `ignore_index`: their target is not validated, their weight
  /// leaves `Σ w`, and their gradient entries are 0. `nil` (the default) skips
  /// none. A batch with every sample skipped has value 0 and gradient 0.
  public var ignoredTarget: Double? = nil
  /// Label smoothing `ε` in [0, 1]: every kept target `y` becomes
  /// `y (1 - ε) + ε / 2` (Keras' `label_smoothing`; optax's `smooth_labels`
  /// with two classes) wherever `y` appears: in the cross-entropy and in the
  /// soft confusion sums of the batch F (with `f1: nil`), so the loss is the
  /// unsmoothed loss of the smoothed targets. ``ignoredTarget``
  /// is matched against the target before smoothing. 0 (the default) leaves
  /// the targets, and every bit of the results, as they are. A value outside
  /// [0, 1] or NaN is reported by every call as
  /// ``LossError/invalidParameter(name:value:requirement:)``.
  public var labelSmoothing: Double = 0
  /// How many threads a call may use; the result is the same bits either way.
  public var parallelism: Parallelism = .automatic

  /// Creates the loss with a fixed F in [0, 1], or `nil` for each batch's own.
  ///
  /// An `f1` outside [0, 1] is reported by every call as
  /// ``LossError/invalidParameter(name:value:requirement:)``.
  public init(f1: Double? = nil) {
    self.f1 = f1
  }

  func run(_ batch: BinaryBatch, gradient: KernelOutput?) -> Double {
    // The F pass leaves exp(-|z|) in the gradient buffer (when there is one)
    // for the loss pass to reuse.
    let (f, expStored) = heldF1(
      batch, isMean: reduction == .mean, storingExpIn: gradient?.doubles)
    return BinaryKernels.weightedCrossEntropy(
      batch, positiveWeight: 1 - f / 2, negativeWeight: f / 2,
      gradient: gradient, parallelism: parallelism, expStored: expStored)
  }

  func runSecondOrder(
    _ batch: BinaryBatch, gradient: KernelOutput,
    hessian: KernelOutput
  ) -> Double {
    let f = heldF1(batch, isMean: reduction == .mean, storingExpIn: nil).f1
    return BinaryKernels.weightedCrossEntropy(
      batch, positiveWeight: 1 - f / 2, negativeWeight: f / 2,
      gradient: gradient, hessian: hessian, parallelism: parallelism)
  }

  /// The terms at the held F; with `f1: nil`, F is the smooth F1 of this
  /// batch without weights (`batch` has none).
  func writeTerms(_ batch: BinaryBatch, into values: KernelOutput) {
    let f = heldF1(batch, isMean: true, storingExpIn: nil).f1
    BinaryKernels.writeTerms(batch, into: values, parallelism: parallelism) {
      BinaryKernels.crossEntropyTerm($0, $1, 1 - f / 2, f / 2).loss
    }
  }

  /// The supplied F, or the smooth F1 of `batch` (rebuilt for the mean unless
  /// `isMean`), and whether its pass stored exp(-|z|) in `storingExpIn`.
  /// Every entry point takes F from the weights of the mean, `w / Σ w`,
  /// whatever the reduction: F = 2TP / (2TP + FP + FN) does not depend on the
  /// scale of the weights, but sums of raw weights near the overflow threshold
  /// would overflow. All-zero weights (only possible under `.sum`) give F = 0.
  func heldF1(
    _ batch: BinaryBatch, isMean: Bool, storingExpIn exps: UnsafeMutablePointer<Double>?
  ) -> (f1: Double, expStored: Bool) {
    if let f1 { return (f1, false) }
    let meanBatch =
      isMean
      ? batch
      : try? batch.revalidated(reduction: .mean, labelSmoothing: labelSmoothing)
    guard let meanBatch else { return (0, false) }
    let f = BinaryKernels.f1Statistics(meanBatch, parallelism: parallelism, storingExpIn: exps).f1
    return (f, exps != nil)
  }

  func validateParameters() throws(LossError) {
    if let f1 { try Validation.check(f1, name: "f1", in: 0...1) }
  }

  /// This shard's sums for data-parallel training: the samples not ignored
  /// and `Σ w`, and with `f1: nil` also `TP = Σ w y p`, `FP`, `FN` (targets
  /// smoothed), from which every shard forms the F of the whole batch.
  ///
  /// - Throws: ``LossError`` for invalid input, as the loss itself (a shard
  ///   whose weights are all zero or whose samples are all ignored is valid).
  /// - Complexity: O(N).
  public func statistics(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?
  ) throws(LossError) -> BatchStatistics {
    if f1 != nil { return try separableStatistics(logits, targets, weights) }
    return try confusionStatistics(logits, targets, weights, overlap: .product)
  }

  /// This shard's share `Σ_shard w_i l_i / Σ_all w` (`Σ_shard w_i l_i` for
  /// `.sum`) and its rows of the whole batch's gradient, with F held at the
  /// supplied `f1` or at the smooth F1 of the whole batch.
  ///
  /// - Throws: ``LossError`` for invalid input, for statistics of another
  ///   loss, and ``LossError/zeroTotalWeight`` for a mean whose whole batch
  ///   has kept weights all zero.
  /// - Complexity: O(N).
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    statistics: BatchStatistics
  ) throws(LossError) -> Double {
    if f1 != nil {
      return try separableValueAndGradient(logits, targets, weights, gradient, statistics)
    }
    let (batch, sums) = try confusionBatch(
      logits, targets, weights, gradient, statistics, reduction: reduction)
    let f = sums.f1
    return BinaryKernels.weightedCrossEntropy(
      batch, positiveWeight: 1 - f / 2, negativeWeight: f / 2,
      gradient: .init(gradient?.baseAddress), parallelism: parallelism)
  }
}
