/// A validated binary batch: `count` logits, targets in [0, 1], optional weights.
@usableFromInline
struct BinaryBatch: @unchecked Sendable {
  @usableFromInline let logits: UnsafePointer<Double>
  @usableFromInline let targets: UnsafePointer<Double>
  @usableFromInline let weights: UnsafePointer<Double>?
  @usableFromInline let count: Int
  @usableFromInline let normalizer: WeightNormalizer
  /// Samples whose target equals this marker are skipped (see IgnoredTargets.swift).
  @usableFromInline let ignoredTarget: Double?

  /// Validates the inputs of a binary loss (shapes, logits, targets, weights).
  @inlinable
  init(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    reduction: Reduction = .mean, ignoredTarget: Double? = nil
  ) throws(LossError) {
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
    self.logits = logits.baseAddress!
    self.targets = targets.baseAddress!
    self.weights = weights?.baseAddress
  }
}
