/// A validated binary batch: `count` logits, targets in [0, 1], optional
/// weights, and the label smoothing the kernels apply to each target as they
/// read it (the targets are never copied).
@usableFromInline
struct BinaryBatch: @unchecked Sendable {
  @usableFromInline let logits: UnsafePointer<Double>
  @usableFromInline let targets: UnsafePointer<Double>
  @usableFromInline let weights: UnsafePointer<Double>?
  @usableFromInline let count: Int
  @usableFromInline var normalizer: WeightNormalizer
  /// Samples whose target equals this marker are skipped (see IgnoredTargets.swift).
  @usableFromInline let ignoredTarget: Double?
  /// Label smoothing `y -> y (1 - eps) + eps / 2` as `(1 - eps, eps / 2)`, or
  /// `nil` for `eps = 0`: the loop then runs the code it ran before smoothing
  /// existed (see `BinaryKernels.runChunk`).
  @usableFromInline let smoothing: (keep: Double, shift: Double)?

  /// Validates the inputs of a binary loss (shapes, logits, targets, weights).
  @inlinable
  init(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    reduction: Reduction = .mean, ignoredTarget: Double? = nil, labelSmoothing: Double = 0
  ) throws(LossError) {
    try Validation.checkLabelSmoothing(labelSmoothing)
    count = try Validation.checkShapes(
      logitCount: logits.count, logitsPerSample: 1, targetCount: targets.count,
      weightCount: weights?.count, gradientCount: gradient?.count)
    try Validation.checkFinite(logits)
    if let ignoredTarget {
      normalizer = try Validation.checkIgnoringTargets(
        targets, equalTo: ignoredTarget, weights: weights, reduction: reduction)
    } else {
      try Validation.checkUnitInterval(targets)
      normalizer = try Validation.normalizer(
        weights: weights, sampleCount: count, reduction: reduction)
    }
    self.ignoredTarget = ignoredTarget
    self.smoothing = labelSmoothing == 0 ? nil : (1 - labelSmoothing, labelSmoothing / 2)
    self.logits = logits.baseAddress!
    self.targets = targets.baseAddress!
    self.weights = weights?.baseAddress
  }
}

extension BinaryBatch {
  /// The data-parallel sums of a separable loss: the number of samples not
  /// ignored and their total weight `Σ w` (unscaled).
  @inlinable
  func keptSums() -> [CompensatedSum] {
    var kept = CompensatedSum()
    var total = CompensatedSum()
    for i in 0..<count {
      if let marker = ignoredTarget, marker.isNaN ? targets[i].isNaN : targets[i] == marker {
        continue
      }
      kept.add(1)
      total.add(weights?[i] ?? 1)
    }
    return [kept, total]
  }

  /// This batch with the normaliser of the whole data-parallel batch that
  /// `statistics` (made by `keptSums`) describe.
  @inlinable
  func withNormalizer<L: Loss>(
    of statistics: BatchStatistics, for loss: L, reduction: Reduction
  ) throws(LossError) -> BinaryBatch {
    let totals = try statistics.totals(for: loss, sums: 2, samples: count)
    var batch = self
    batch.normalizer = try WeightNormalizer(
      kept: totals[0], total: totals[1], weighted: weights != nil, reduction: reduction)
    return batch
  }
}
