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
    if ignoredTarget == nil && weights == nil {
      kept.add(Double(count))
      return [kept, kept]
    }
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

extension BinaryBatch {
  /// The data-parallel sums of a loss of the soft confusion sums: the
  /// samples kept and `Σ w` (as `keptSums`), then `TP`, `FP`, `FN` of
  /// `overlap` in raw weight units (`Σ w y p`, ...), compensated.
  ///
  /// When `Σ w` lies outside [2^-900, 2^900] the kernel runs on the weights
  /// times a power of two (each product keeps its digits) and the sums are
  /// scaled back exactly.
  @inlinable
  func confusionSums(overlap: OverlapForm, parallelism: Parallelism) -> [CompensatedSum] {
    var sums = keptSums()
    let total = sums[1].value
    var scale = 1.0
    if weights != nil && total.isFinite && total > 0 && !(total >= 0x1p-900 && total <= 0x1p900) {
      scale = PowerOfTwo.scale(bringingToUnit: total)
    }
    var batch = self
    batch.normalizer = WeightNormalizer(scale: scale, reciprocal: 1)
    let r = BinaryKernels.f1Sums(batch, overlap: overlap, parallelism: parallelism)
    let back = 1 / scale
    for k in 0..<3 {
      var sum = CompensatedSum()
      sum.sum = r.sum[k] * back
      sum.compensation = r.compensation[k] * back
      sums.append(sum)
    }
    return sums
  }

  /// The whole batch's normaliser of `reduction` and its `TP`, `FP`, `FN` in
  /// the units of the mean's weights `w / W`, from the merged `statistics`
  /// of `confusionSums`; the sums are 0 when no sample is kept or `Σ w = 0`
  /// (possible under ``Reduction/sum`` only).
  @inlinable
  func confusion<L: Loss>(
    of statistics: BatchStatistics, for loss: L, reduction: Reduction
  ) throws(LossError) -> (normalizer: WeightNormalizer, sums: F1Statistics) {
    let t = try statistics.totals(for: loss, sums: 5, samples: count)
    let weighted = weights != nil
    let normalizer = try WeightNormalizer(
      kept: t[0], total: t[1], weighted: weighted, reduction: reduction)
    var sums = F1Statistics(truePositive: 0, falsePositive: 0, falseNegative: 0)
    if t[0] > 0 && t[1] > 0 {
      let mean =
        reduction == .mean
        ? normalizer
        : try WeightNormalizer(kept: t[0], total: t[1], weighted: weighted, reduction: .mean)
      sums = F1Statistics(
        truePositive: mean.normalized(t[2]), falsePositive: mean.normalized(t[3]),
        falseNegative: mean.normalized(t[4]))
    }
    return (normalizer, sums)
  }
}
