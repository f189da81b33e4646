/// A validated binary batch: `count` logits, targets in [0, 1], optional
/// weights, and the label smoothing the kernels apply to each target as they
/// read it (the targets are never copied).
@usableFromInline
struct BinaryBatch: @unchecked Sendable {
  @usableFromInline let logits: UnsafePointer<Double>
  @usableFromInline let targets: UnsafePointer<Double>
  @usableFromInline let weights: UnsafePointer<Double>?
  @usableFromInline let count: Int
  @usableFromInline let normalizer: WeightNormalizer
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
