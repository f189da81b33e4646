// The exact second derivatives of the separable binary losses (smooth
// accuracy, class-weighted and F1-weighted cross-entropy). A binary loss's
// Hessian with respect to the logits is diagonal, so
// these diagonals are the whole Hessian: what a Newton step or a LightGBM /
// XGBoost custom objective needs per sample. Each is computed in the same
// fused pass as the value and the gradient, which are the same bits as the
// first-order call's.

extension BinaryCrossEntropy: SecondOrderLoss {
  /// The loss, its gradient and its Hessian diagonal:
  ///
  ///     ∂²L/∂z_i² = (w_i / W) (a_pos y_i + a_neg (1 - y_i)) p_i (1 - p_i)
  ///
  /// (with `w_i` in place of `w_i / W` for ``Reduction/sum``). It is never
  /// negative: cross-entropy is convex in the logit.
  ///
  /// - Throws: as ``valueAndGradient(logits:targets:weights:gradient:)``, and
  ///   ``LossError/lengthMismatch(argument:expected:actual:)`` for a
  ///   `hessianDiagonal` whose count differs from `logits.count`. Both buffers
  ///   are untouched after a throw.
  /// - Complexity: O(N), one pass.
  public func valueGradientAndHessianDiagonal(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>,
    hessianDiagonal: UnsafeMutableBufferPointer<Double>
  ) throws(LossError) -> Double {
    try validateParameters()
    let batch = try BinaryBatch(
      logits: logits, targets: targets, weights: weights, gradient: gradient,
      reduction: reduction, ignoredTarget: ignoredTarget)
    try Validation.checkHessianCount(hessianDiagonal.count, logitCount: logits.count)
    return BinaryKernels.weightedCrossEntropy(
      batch, positiveWeight: positiveWeight, negativeWeight: negativeWeight,
      gradient: gradient.baseAddress!, hessian: hessianDiagonal.baseAddress!,
      parallelism: parallelism)
  }
}

extension SmoothAccuracyLoss: SecondOrderLoss {
  /// The loss, its gradient and its Hessian diagonal:
  ///
  ///     ∂²L/∂z_i² = (w_i / W) (1 - 2 y_i) p_i (1 - p_i) (1 - 2 p_i)
  ///
  /// (with `w_i` in place of `w_i / W` for ``Reduction/sum``). Its sign changes
  /// with `p_i - 1/2`: the loss is not convex. `1 - 2p = -tanh(z/2)` is formed
  /// without cancellation (a series for `1 - e^{-|z|}` near 0), so the
  /// Hessian keeps its relative accuracy even where it is tiny near `z = 0`.
  ///
  /// - Throws: as ``valueAndGradient(logits:targets:weights:gradient:)``, and
  ///   ``LossError/lengthMismatch(argument:expected:actual:)`` for a
  ///   `hessianDiagonal` whose count differs from `logits.count`. Both buffers
  ///   are untouched after a throw.
  /// - Complexity: O(N), one pass.
  public func valueGradientAndHessianDiagonal(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>,
    hessianDiagonal: UnsafeMutableBufferPointer<Double>
  ) throws(LossError) -> Double {
    let batch = try BinaryBatch(
      logits: logits, targets: targets, weights: weights, gradient: gradient,
      reduction: reduction, ignoredTarget: ignoredTarget)
    try Validation.checkHessianCount(hessianDiagonal.count, logitCount: logits.count)
    return BinaryKernels.smoothAccuracy(
      batch, gradient: gradient.baseAddress!, hessian: hessianDiagonal.baseAddress!,
      parallelism: parallelism)
  }
}

extension F1WeightedCrossEntropy: SecondOrderLoss {
  /// The loss, its gradient and its Hessian diagonal with F held constant:
  /// the cross-entropy Hessian with `a_pos = 1 - F/2`, `a_neg = F/2`,
  ///
  ///     ∂²L/∂z_i² = (w_i / W) ((1 - F/2) y_i + (F/2)(1 - y_i)) p_i (1 - p_i)
  ///
  /// With `f1: nil` this is the second derivative at the batch's F frozen, not
  /// the derivative of the batch F: the same stop-gradient as the gradient.
  ///
  /// - Throws: as ``valueAndGradient(logits:targets:weights:gradient:)``, and
  ///   ``LossError/lengthMismatch(argument:expected:actual:)`` for a
  ///   `hessianDiagonal` whose count differs from `logits.count`. Both buffers
  ///   are untouched after a throw.
  /// - Complexity: O(N): one pass with a supplied `f1`, two otherwise.
  public func valueGradientAndHessianDiagonal(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>,
    hessianDiagonal: UnsafeMutableBufferPointer<Double>
  ) throws(LossError) -> Double {
    try validateParameters()
    let batch = try BinaryBatch(
      logits: logits, targets: targets, weights: weights, gradient: gradient,
      reduction: reduction, ignoredTarget: ignoredTarget)
    try Validation.checkHessianCount(hessianDiagonal.count, logitCount: logits.count)
    let f = heldF1(
      batch, batchReduction: reduction, logits, targets, weights, storingExpIn: nil
    ).f1
    return BinaryKernels.weightedCrossEntropy(
      batch, positiveWeight: 1 - f / 2, negativeWeight: f / 2,
      gradient: gradient.baseAddress!, hessian: hessianDiagonal.baseAddress!,
      parallelism: parallelism)
  }
}
