// The front end of the binary losses: their public entry points, written once.
//
// A binary loss type holds its hyper-parameters and says what is its own: how
// its parameters are validated and which kernel runs on a validated batch.
// Everything else (shape, logit, target and weight validation in that order,
// the ignored-target mask, the reduction's normaliser, the buffer plumbing of
// per-sample values and Hessian diagonals) lives here.

/// A loss with one logit per sample and a target in [0, 1].
protocol BinaryLossFamily: Loss where Target == Double {
  /// The target value that marks a sample to skip, or `nil`.
  var ignoredTarget: Double? { get }
  /// The label smoothing `eps` applied to every kept target, `y -> y (1 - eps) + eps / 2`
  /// (0, none, for a loss without the option).
  var labelSmoothing: Double { get }

  /// Throws for an invalid hyper-parameter; checked before the data.
  func validateParameters() throws(LossError)
}

extension BinaryLossFamily {
  /// 1: one logit per sample.
  public var logitsPerSample: Int { 1 }

  func validateParameters() throws(LossError) {}

  var labelSmoothing: Double { 0 }

  /// Validates the parameters (the label smoothing last), then the batch
  /// (of `Double` or `Float` buffers).
  func batch<S: StoredScalar>(
    _ logits: UnsafeBufferPointer<S>, _ targets: UnsafeBufferPointer<S>,
    _ weights: UnsafeBufferPointer<S>?, gradient: UnsafeMutableBufferPointer<S>?,
    reduction: Reduction = .mean
  ) throws(LossError) -> BinaryBatch {
    try validateParameters()
    return try BinaryBatch(
      logits: logits, targets: targets, weights: weights, gradientCount: gradient?.count,
      reduction: reduction, ignoredTarget: ignoredTarget, labelSmoothing: labelSmoothing)
  }

  /// This shard's sums of a loss of batch sums (smooth F1, Dice, Tversky,
  /// F1-weighted CE with the batch F): the samples not ignored, `Σ w`, and
  /// `TP`, `FP`, `FN` in `overlap`'s form, in raw weight units.
  func confusionStatistics(
    _ logits: UnsafeBufferPointer<Double>, _ targets: UnsafeBufferPointer<Double>,
    _ weights: UnsafeBufferPointer<Double>?, overlap: OverlapForm
  ) throws(LossError) -> BatchStatistics {
    let batch = try batch(logits, targets, weights, gradient: nil, reduction: .sum)
    return try BatchStatistics(
      of: self, samples: batch.count,
      sums: batch.confusionSums(overlap: overlap, parallelism: parallelism), weights: weights)
  }

  /// This shard's batch with the whole batch's normaliser of `reduction`,
  /// and the whole batch's `TP`, `FP`, `FN` (units of `w / W`) from the
  /// merged sums of ``confusionStatistics(_:_:_:overlap:)``.
  func confusionBatch(
    _ logits: UnsafeBufferPointer<Double>, _ targets: UnsafeBufferPointer<Double>,
    _ weights: UnsafeBufferPointer<Double>?, _ gradient: UnsafeMutableBufferPointer<Double>?,
    _ statistics: BatchStatistics, reduction: Reduction
  ) throws(LossError) -> (batch: BinaryBatch, sums: F1Statistics) {
    var batch = try batch(logits, targets, weights, gradient: gradient, reduction: .sum)
    let global = try batch.confusion(of: statistics, for: self, reduction: reduction)
    batch.normalizer = global.normalizer
    return (batch, global.sums)
  }
}

/// A binary loss that is a reduction of per-sample terms: it supplies the
/// kernel of its value and gradient and the writer of its terms.
protocol SeparableBinaryLoss: BinaryLossFamily, SeparableLoss, DataParallelLoss, Float32Kernels {
  /// The loss of a validated batch; writes the gradient when given a pointer.
  func run(_ batch: BinaryBatch, gradient: KernelOutput?) -> Double

  /// Writes each sample's unweighted term of a validated batch.
  func writeTerms(_ batch: BinaryBatch, into values: KernelOutput)
}

extension SeparableBinaryLoss {
  /// Computes the loss and, when `gradient` is non-nil, writes `∂L/∂z` into it.
  ///
  /// - Throws: ``LossError`` for an invalid hyper-parameter, an empty batch,
  ///   mismatched lengths, a non-finite logit, a target outside [0, 1] (other
  ///   than `ignoredTarget`) or an invalid weight. The gradient buffer is
  ///   untouched after a throw.
  /// - Complexity: O(N).
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?
  ) throws(LossError) -> Double {
    try kernelValueAndGradient(logits, targets, weights, gradient)
  }

  func float32ValueAndGradient(
    logits: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Float>,
    weights: UnsafeBufferPointer<Float>?, gradient: UnsafeMutableBufferPointer<Float>?
  ) throws(LossError) -> Double? {
    return try kernelValueAndGradient(logits, targets, weights, gradient)
  }

  /// Both of the above, on `Double` or `Float` buffers.
  func kernelValueAndGradient<S: StoredScalar>(
    _ logits: UnsafeBufferPointer<S>, _ targets: UnsafeBufferPointer<S>,
    _ weights: UnsafeBufferPointer<S>?, _ gradient: UnsafeMutableBufferPointer<S>?
  ) throws(LossError) -> Double {
    let batch = try batch(logits, targets, weights, gradient: gradient, reduction: reduction)
    return run(batch, gradient: .init(gradient?.baseAddress))
  }

  /// Writes each sample's unweighted term `l_i` into `values` (0 for a
  /// skipped sample).
  ///
  /// - Throws: ``LossError`` for invalid input; `values` is untouched then.
  /// - Complexity: O(N).
  public func perSampleValues(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    into values: UnsafeMutableBufferPointer<Double>
  ) throws(LossError) {
    let batch = try batch(logits, targets, nil, gradient: nil)
    try Validation.checkValuesCount(values.count, sampleCount: batch.count)
    writeTerms(batch, into: KernelOutput(values.baseAddress!))
  }

  /// This shard's sums for data-parallel training: the number of samples
  /// not ignored and their total weight `Σ w`.
  ///
  /// - Throws: ``LossError`` for invalid input, as the loss itself.
  /// - Complexity: O(N).
  public func statistics(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?
  ) throws(LossError) -> BatchStatistics {
    try separableStatistics(logits, targets, weights)
  }

  /// This shard's share `Σ_shard w_i l_i / Σ_all w` (or `Σ_shard w_i l_i`
  /// for `.sum`) and its rows of the whole batch's gradient.
  ///
  /// - Throws: ``LossError`` for invalid input and for statistics of another loss.
  /// - Complexity: O(N).
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    statistics: BatchStatistics
  ) throws(LossError) -> Double {
    try separableValueAndGradient(logits, targets, weights, gradient, statistics)
  }

  /// The separable statistics, for a type that implements
  /// ``statistics(logits:targets:weights:)`` itself and falls back on them.
  func separableStatistics(
    _ logits: UnsafeBufferPointer<Double>, _ targets: UnsafeBufferPointer<Double>,
    _ weights: UnsafeBufferPointer<Double>?
  ) throws(LossError) -> BatchStatistics {
    let batch = try batch(logits, targets, weights, gradient: nil, reduction: .sum)
    return try BatchStatistics(of: self, samples: batch.count, sums: batch.keptSums(), weights: weights)
  }

  /// The separable share and gradient, the fallback as for ``separableStatistics(_:_:_:)``.
  func separableValueAndGradient(
    _ logits: UnsafeBufferPointer<Double>, _ targets: UnsafeBufferPointer<Double>,
    _ weights: UnsafeBufferPointer<Double>?, _ gradient: UnsafeMutableBufferPointer<Double>?,
    _ statistics: BatchStatistics
  ) throws(LossError) -> Double {
    let batch = try batch(logits, targets, weights, gradient: gradient, reduction: .sum)
      .withNormalizer(of: statistics, for: self, reduction: reduction)
    return run(batch, gradient: .init(gradient?.baseAddress))
  }
}

/// A separable binary loss with its Hessian diagonal, computed in the same
/// fused pass as the value and the gradient.
protocol SecondOrderBinaryLoss: SeparableBinaryLoss, SecondOrderLoss {
  /// The loss of a validated batch, its gradient and its Hessian diagonal.
  func runSecondOrder(
    _ batch: BinaryBatch, gradient: KernelOutput,
    hessian: KernelOutput
  ) -> Double
}

extension SecondOrderBinaryLoss {
  /// Computes the loss, writes `∂L/∂z` into `gradient` and `∂²L/∂z_i²` into
  /// `hessianDiagonal`; the formula of each loss is in its documentation.
  ///
  /// - Throws: as ``Loss/valueAndGradient(logits:targets:weights:gradient:)``,
  ///   and ``LossError/lengthMismatch(argument:expected:actual:)`` for a
  ///   `hessianDiagonal` whose count differs from `logits.count`. Both buffers
  ///   are untouched after a throw.
  /// - Complexity: O(N).
  public func valueGradientAndHessianDiagonal(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>,
    hessianDiagonal: UnsafeMutableBufferPointer<Double>
  ) throws(LossError) -> Double {
    try kernelValueGradientAndHessianDiagonal(logits, targets, weights, gradient, hessianDiagonal)
  }

  func float32ValueGradientAndHessianDiagonal(
    logits: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Float>,
    weights: UnsafeBufferPointer<Float>?, gradient: UnsafeMutableBufferPointer<Float>,
    hessianDiagonal: UnsafeMutableBufferPointer<Float>
  ) throws(LossError) -> Double? {
    return try kernelValueGradientAndHessianDiagonal(
      logits, targets, weights, gradient, hessianDiagonal)
  }

  /// Both of the above, on `Double` or `Float` buffers.
  func kernelValueGradientAndHessianDiagonal<S: StoredScalar>(
    _ logits: UnsafeBufferPointer<S>, _ targets: UnsafeBufferPointer<S>,
    _ weights: UnsafeBufferPointer<S>?, _ gradient: UnsafeMutableBufferPointer<S>,
    _ hessianDiagonal: UnsafeMutableBufferPointer<S>
  ) throws(LossError) -> Double {
    let batch = try batch(logits, targets, weights, gradient: gradient, reduction: reduction)
    try Validation.checkHessianCount(hessianDiagonal.count, logitCount: logits.count)
    return runSecondOrder(
      batch, gradient: KernelOutput(gradient.baseAddress!),
      hessian: KernelOutput(hessianDiagonal.baseAddress!))
  }
}

/// A binary loss that is one minus a Tversky index of the batch's soft
/// confusion sums (soft Dice, Tversky): one kernel, parameters of its own.
protocol SoftConfusionLoss: BinaryLossFamily, DataParallelLoss, Float32Kernels {
  /// The `α`, `β` and smoothing of the Tversky index this loss is.
  var tverskyParameters: (alpha: Double, beta: Double, smoothing: Double) { get }
  /// Whether TP is `Σ w p y` or `Σ w min(p, y)`.
  var overlap: OverlapForm { get }
  /// The focal exponent `γ` of the loss `(1 - I)^γ` (1 unless focal Tversky).
  var focalExponent: Double { get }
}

extension SoftConfusionLoss {
  /// Computes the loss and, when `gradient` is non-nil, writes `∂L/∂z` into it.
  ///
  /// - Throws: ``LossError`` for invalid parameters, an empty batch,
  ///   mismatched lengths, a non-finite logit, a target outside [0, 1] or an
  ///   invalid weight. The gradient buffer is untouched after a throw.
  /// - Complexity: O(N): one pass for the value, two with the gradient (it
  ///   needs the batch sums).
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?
  ) throws(LossError) -> Double {
    try kernelValueAndGradient(logits, targets, weights, gradient)
  }

  func float32ValueAndGradient(
    logits: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Float>,
    weights: UnsafeBufferPointer<Float>?, gradient: UnsafeMutableBufferPointer<Float>?
  ) throws(LossError) -> Double? {
    return try kernelValueAndGradient(logits, targets, weights, gradient)
  }

  /// Both of the above, on `Double` or `Float` buffers.
  func kernelValueAndGradient<S: StoredScalar>(
    _ logits: UnsafeBufferPointer<S>, _ targets: UnsafeBufferPointer<S>,
    _ weights: UnsafeBufferPointer<S>?, _ gradient: UnsafeMutableBufferPointer<S>?
  ) throws(LossError) -> Double {
    let batch = try batch(logits, targets, weights, gradient: gradient)
    let (alpha, beta, smoothing) = tverskyParameters
    return BinaryKernels.tversky(
      batch, alpha: alpha, beta: beta, smoothing: smoothing, overlap: overlap,
      exponent: focalExponent, gradient: .init(gradient?.baseAddress), parallelism: parallelism)
  }
}

extension SoftConfusionLoss {
  /// 1: the plain Tversky index loss.
  var focalExponent: Double { 1 }

  /// This shard's sums for data-parallel training: the samples not ignored,
  /// `Σ w`, and `TP = Σ w y p` (or `Σ w min(p, y)`), `FP`, `FN` in the
  /// loss's ``OverlapForm``, in raw weight units.
  ///
  /// - Throws: ``LossError`` for invalid input, as the loss itself (a shard
  ///   whose weights are all zero or whose samples are all ignored is valid).
  /// - Complexity: O(N).
  public func statistics(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?
  ) throws(LossError) -> BatchStatistics {
    try confusionStatistics(logits, targets, weights, overlap: overlap)
  }

  /// This shard's share `L n_shard / n_all` of the loss `L` of the whole
  /// batch (its index formed from the merged sums, the smoothing `ε` against
  /// the whole `Σ w`) and its rows of the whole batch's gradient.
  ///
  /// - Throws: ``LossError`` for invalid input, for statistics of another
  ///   loss, and ``LossError/zeroTotalWeight`` when the whole batch's kept
  ///   weights are all zero.
  /// - Complexity: O(N): one pass with the gradient, none without.
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    statistics: BatchStatistics
  ) throws(LossError) -> Double {
    let (batch, sums) = try confusionBatch(
      logits, targets, weights, gradient, statistics, reduction: .mean)
    if let g = gradient?.baseAddress, batch.normalizer.reciprocal != 0 {
      BinaryKernels.storeExpOfMinusMagnitude(batch, into: g, parallelism: parallelism)
    }
    let (alpha, beta, smoothing) = tverskyParameters
    let value = BinaryKernels.tversky(
      batch, statistics: sums, alpha: alpha, beta: beta, smoothing: smoothing,
      overlap: overlap, exponent: focalExponent, gradient: .init(gradient?.baseAddress),
      parallelism: parallelism)
    return statistics.share(of: value, samples: batch.count)
  }
}
