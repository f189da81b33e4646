// The front end of the softmax losses: their public entry points, written once.
//
// A softmax loss type holds its hyper-parameters and describes itself as a
// `SoftmaxSetup` (offsets, scale, margins, the row rule and the options every
// softmax loss shares); validation, the batch, the kernels and the buffer
// plumbing all go through that one value.

/// A loss with `K` logits per sample (row-major) and a class label in `0..<K`.
protocol SoftmaxLossFamily: Loss where Target == Int {
  /// The number of classes `K`.
  var classCount: Int { get }
  /// Everything the softmax kernels need to know about this loss.
  var setup: SoftmaxSetup { get }
}

extension SoftmaxLossFamily {
  /// K: one logit per class and sample.
  public var logitsPerSample: Int { classCount }
}

/// A softmax loss that is a reduction of row terms computed by the softmax
/// kernel's row rule.
protocol SeparableSoftmaxLoss: SoftmaxLossFamily, SeparableLoss, DataParallelLoss {}

extension SeparableSoftmaxLoss {
  /// Computes the loss and, when `gradient` is non-nil, writes `∂L/∂z` into it.
  ///
  /// - Throws: ``LossError`` for a logit count that is not a multiple of K, an
  ///   empty batch, mismatched lengths, a non-finite logit, a label outside
  ///   `0..<K` (other than `ignoreIndex`), an invalid weight or class weight,
  ///   `classWeights` of a length other than K, a `labelSmoothing` outside
  ///   [0, 1], or (name "scale") adjusted logits `s |z| + |tau log π| + s m`
  ///   that reach 2^1022. The gradient buffer is untouched after a throw.
  /// - Complexity: O(N K), three passes over each row held in cache.
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?
  ) throws(LossError) -> Double {
    try setup.valueAndGradient(
      logits: logits, targets: targets, weights: weights, gradient: gradient)
  }

  /// Writes each row's term `l_i` into `values`: without `w_i` or the class
  /// weight, 0 for an ignored row. With class weights and label smoothing
  /// together the term carries the class weights, as PyTorch's
  /// `reduction="none"` does (see ``LogitAdjustedCrossEntropy``).
  ///
  /// - Throws: ``LossError`` for invalid input; `values` is untouched then.
  /// - Complexity: O(N K).
  public func perSampleValues(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    into values: UnsafeMutableBufferPointer<Double>
  ) throws(LossError) {
    try setup.perSampleValues(logits: logits, targets: targets, into: values)
  }

  /// This shard's sums for data-parallel training: the number of rows not
  /// ignored and their total weight `Σ v = Σ w_i a_(c_i)`.
  ///
  /// - Throws: ``LossError`` for invalid input, as the loss itself.
  /// - Complexity: O(N K).
  public func statistics(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?
  ) throws(LossError) -> BatchStatistics {
    let sums = try setup.keptSums(logits: logits, targets: targets, weights: weights)
    return try BatchStatistics(of: self, samples: targets.count, sums: sums, weights: weights)
  }

  /// This shard's share `Σ_shard v_i l_i / Σ_all v` (or `Σ_shard v_i l_i`
  /// for `.sum`) and its rows of the whole batch's gradient.
  ///
  /// - Throws: ``LossError`` for invalid input and for statistics of another loss.
  /// - Complexity: O(N K).
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    statistics: BatchStatistics
  ) throws(LossError) -> Double {
    let totals = try statistics.totals(for: self, sums: 2, samples: targets.count)
    return try setup.valueAndGradient(
      logits: logits, targets: targets, weights: weights, gradient: gradient,
      global: (totals[0], totals[1]))
  }
}

/// A separable softmax loss with exact second derivatives.
protocol SecondOrderSoftmaxLoss: SeparableSoftmaxLoss, SoftmaxSecondOrderLoss {}

extension SecondOrderSoftmaxLoss {
  /// Computes the loss, its gradient and the diagonal of its Hessian (the
  /// formula of each loss is in its documentation).
  ///
  /// - Throws: as ``Loss/valueAndGradient(logits:targets:weights:gradient:)``,
  ///   ``LossError/lengthMismatch(argument:expected:actual:)`` for a
  ///   `hessianDiagonal` of the wrong length, and
  ///   ``LossError/invalidParameter(name:value:requirement:)`` for a
  ///   non-finite `hessianFloor`. Both buffers are untouched after a throw.
  /// - Complexity: O(N K).
  public func valueGradientAndHessianDiagonal(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>,
    hessianDiagonal: UnsafeMutableBufferPointer<Double>
  ) throws(LossError) -> Double {
    try setup.valueGradientAndHessianDiagonal(
      logits: logits, targets: targets, weights: weights, gradient: gradient,
      hessianDiagonal: hessianDiagonal)
  }

  /// Computes the loss and writes `H v` into `product`; see
  /// ``SoftmaxSecondOrderLoss/hessianVectorProduct(logits:targets:weights:vector:into:)``.
  ///
  /// - Throws: ``LossError`` for invalid input.
  /// - Complexity: O(N K).
  public func hessianVectorProduct(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, vector: UnsafeBufferPointer<Double>,
    into product: UnsafeMutableBufferPointer<Double>
  ) throws(LossError) -> Double {
    try setup.hessianVectorProduct(
      logits: logits, targets: targets, weights: weights, vector: vector, into: product)
  }
}
