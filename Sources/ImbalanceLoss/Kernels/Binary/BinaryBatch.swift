/// A validated binary batch: `count` logits, targets in [0, 1], optional
/// weights, and the label smoothing the kernels apply to each target as they
/// read it (the targets are never copied). The buffers hold `Double`s or, for
/// the Float32 entry points, `Float`s (``StoredScalar``): the kernels load
/// either as `Double` vectors.
@usableFromInline
struct BinaryBatch: @unchecked Sendable {
  @usableFromInline let logitStorage: UnsafeRawPointer
  @usableFromInline let targetStorage: UnsafeRawPointer
  @usableFromInline let weightStorage: UnsafeRawPointer?
  /// Whether the three buffers hold `Float`s (else `Double`s).
  @usableFromInline let isFloat: Bool
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
  init<S: StoredScalar>(
    logits: UnsafeBufferPointer<S>, targets: UnsafeBufferPointer<S>,
    weights: UnsafeBufferPointer<S>?, gradientCount: Int?,
    reduction: Reduction = .mean, ignoredTarget: Double? = nil, labelSmoothing: Double = 0
  ) throws(LossError) {
    try Validation.checkLabelSmoothing(labelSmoothing)
    count = try Validation.checkShapes(
      logitCount: logits.count, logitsPerSample: 1, targetCount: targets.count,
      weightCount: weights?.count, gradientCount: gradientCount)
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
    self.logitStorage = UnsafeRawPointer(logits.baseAddress!)
    self.targetStorage = UnsafeRawPointer(targets.baseAddress!)
    self.weightStorage = weights.map { UnsafeRawPointer($0.baseAddress!) }
    self.isFloat = S.self == Float.self
  }

  /// The logits, targets and weights as `S`s; `S` must be their element type.
  @inlinable @inline(__always)
  func buffers<S: StoredScalar>(_: S.Type) -> (
    logits: UnsafePointer<S>, targets: UnsafePointer<S>, weights: UnsafePointer<S>?
  ) {
    precondition(isFloat == (S.self == Float.self), "a batch of another element type")
    return (
      logitStorage.assumingMemoryBound(to: S.self), targetStorage.assumingMemoryBound(to: S.self),
      weightStorage?.assumingMemoryBound(to: S.self)
    )
  }

  /// Target `i`, widened.
  @inlinable
  func target(_ i: Int) -> Double {
    isFloat ? buffers(Float.self).targets[i].widened : buffers(Double.self).targets[i]
  }

  /// Weight `i`, widened (1 without weights).
  @inlinable
  func weight(_ i: Int) -> Double {
    guard weightStorage != nil else { return 1 }
    return isFloat ? buffers(Float.self).weights![i].widened : buffers(Double.self).weights![i]
  }

  /// The same buffers validated again for `reduction` (its normaliser is
  /// the only thing that changes; `labelSmoothing` is the batch's own).
  @inlinable
  func revalidated(reduction: Reduction, labelSmoothing eps: Double) throws(LossError)
    -> BinaryBatch
  {
    func make<S: StoredScalar>(_: S.Type) throws(LossError) -> BinaryBatch {
      let b = buffers(S.self)
      return try BinaryBatch(
        logits: UnsafeBufferPointer(start: b.logits, count: count),
        targets: UnsafeBufferPointer(start: b.targets, count: count),
        weights: b.weights.map { UnsafeBufferPointer(start: $0, count: count) },
        gradientCount: nil, reduction: reduction, ignoredTarget: ignoredTarget,
        labelSmoothing: eps)
    }
    return isFloat ? try make(Float.self) : try make(Double.self)
  }
}

extension BinaryBatch {
  /// The data-parallel sums of a separable loss: the number of samples not
  /// ignored and their total weight `Σ w` (unscaled).
  @inlinable
  func keptSums() -> [CompensatedSum] {
    var kept = CompensatedSum()
    var total = CompensatedSum()
    if ignoredTarget == nil && weightStorage == nil {
      kept.add(Double(count))
      return [kept, kept]
    }
    for i in 0..<count {
      let y = target(i)
      if let marker = ignoredTarget, marker.isNaN ? y.isNaN : y == marker {
        continue
      }
      kept.add(1)
      total.add(weight(i))
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
      kept: totals[0], total: totals[1], weighted: weightStorage != nil, reduction: reduction)
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
    if weightStorage != nil && total.isFinite && total > 0 && !(total >= 0x1p-900 && total <= 0x1p900) {
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
    let weighted = weightStorage != nil
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
