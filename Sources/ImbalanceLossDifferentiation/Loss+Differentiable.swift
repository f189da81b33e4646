#if canImport(_Differentiation)
import ImbalanceLoss

extension Loss {
  /// This loss with `targets` and `weights` fixed, as a differentiable
  /// function of the logits whose derivative is the exact gradient.
  ///
  /// The factory checks everything but the logits once, by evaluating the
  /// loss at zero logits: the targets (range, length), the weights (finite,
  /// `>= 0`, a positive sum for the mean) and the hyper-parameters a call
  /// checks. The number of logits follows from the targets: one target per
  /// sample (`targets.count * logitsPerSample` logits: binary and softmax
  /// losses), or, when the loss rejects that, one target per logit
  /// (``MultiLabelCategoricalCrossEntropy``).
  ///
  /// ```swift
  /// let f = try SoftmaxCrossEntropy(classCount: 3).differentiable(targets: [0, 2])
  /// let (value, 𝛁z) = valueWithGradient(at: [2.0, 0.5, -1.0, 0.1, 0.2, 0.3], of: f.callAsFunction)
  /// ```
  ///
  /// Every loss that conforms to ``Loss`` is covered, ``CombinedLoss``
  /// included; the stateful ``SeesawLoss`` and ``EqualizationLossV2`` have
  /// their own factories. The loss value is copied: later changes to this
  /// loss do not reach the function.
  ///
  /// - Parameters:
  ///   - targets: the batch's targets, as the loss takes them.
  ///   - weights: `N` per-sample weights, or `nil` for all ones.
  /// - Returns: A ``DifferentiableLoss`` of ``DifferentiableLoss/logitCount`` logits.
  /// - Throws: The `LossError` the loss throws for these targets and weights
  ///   (an empty batch, a bad target, a bad weight, mismatched lengths, an
  ///   invalid hyper-parameter).
  /// - Complexity: O(`logitCount`): one or two evaluations of the loss.
  public func differentiable(
    targets: [Target], weights: [Double]? = nil
  ) throws(LossError) -> DifferentiableLoss {
    let loss = self
    let logitCount = try probedLogitCount(
      logitsPerSample: logitsPerSample, targetCount: targets.count
    ) { (zeros) throws(LossError) in
      _ = try loss.value(logits: zeros, targets: targets, weights: weights)
    }
    return DifferentiableLoss(logitCount: logitCount) {
      (logits, withGradient) throws(LossError) in
      withGradient
        ? try loss.valueAndGradient(logits: logits, targets: targets, weights: weights)
        : (try loss.value(logits: logits, targets: targets, weights: weights), [])
    }
  }
}

extension Loss where Target: LossTarget {
  /// ``differentiable(targets:weights:)`` with `Float` targets and weights
  /// (the targets of a softmax loss stay `Int`), for a model that computes
  /// in `Float`: the function it returns takes `[Float]` logits too.
  ///
  /// ```swift
  /// let f = try BinaryCrossEntropy().differentiable(targets: [1, 0] as [Float])
  /// let 𝛁z = gradient(at: [0.5, -1] as [Float], of: f.callAsFunction)
  /// ```
  ///
  /// - Parameters:
  ///   - targets: the batch's targets, as the loss's Float32 entry points take them.
  ///   - weights: `N` per-sample weights, or `nil` for all ones.
  /// - Returns: A ``DifferentiableLoss``.
  /// - Throws: As ``differentiable(targets:weights:)``.
  /// - Complexity: O(`logitCount`).
  @_disfavoredOverload
  public func differentiable(
    targets: [Target.Float32Target], weights: [Float]? = nil
  ) throws(LossError) -> DifferentiableLoss {
    try differentiable(
      targets: targets.map { Target(float32: $0) }, weights: weights.map { $0.map { Double($0) } })
  }
}

/// The logit count a batch of `targetCount` targets needs, found by
/// `probe` (an evaluation at zero logits that throws what the loss
/// rejects): `targetCount * logitsPerSample` if the loss accepts it, else
/// `targetCount` (one target per logit).
///
/// When neither shape fits, the error of the first (one target per sample)
/// is thrown; when the second shape fits but something else is wrong, the
/// second's error.
func probedLogitCount(
  logitsPerSample: Int, targetCount: Int, probe: ([Double]) throws(LossError) -> Void
) throws(LossError) -> Int {
  let perSample = targetCount * logitsPerSample
  do {
    try probe([Double](repeating: 0, count: perSample))
    return perSample
  } catch let first {
    guard logitsPerSample > 1, isShapeError(first) else { throw first }
    do {
      try probe([Double](repeating: 0, count: targetCount))
      return targetCount
    } catch let second {
      throw isShapeError(second) ? first : second
    }
  }
}

/// Whether `error` says the targets do not fit the logit count.
func isShapeError(_ error: LossError) -> Bool {
  switch error {
  case .lengthMismatch(argument: "targets", _, _), .logitCountNotMultipleOfClassCount:
    return true
  default:
    return false
  }
}
#endif
