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
protocol SeparableSoftmaxLoss: SoftmaxLossFamily, SeparableLoss, DataParallelLoss, Float32Kernels {}

extension SeparableSoftmaxLoss {
  func float32ValueAndGradient(
    logits: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Float>?, gradient: UnsafeMutableBufferPointer<Float>?
  ) throws(LossError) -> Double? {
    try setup.valueAndGradient(logits: logits, targets: labels, weights: weights, gradient: gradient)
  }

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
    let sums = try setup.shardSums(logits: logits, targets: targets, weights: weights)
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
  func float32ValueGradientAndHessianDiagonal(
    logits: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Float>?, gradient: UnsafeMutableBufferPointer<Float>,
    hessianDiagonal: UnsafeMutableBufferPointer<Float>
  ) throws(LossError) -> Double? {
    try setup.valueGradientAndHessianDiagonal(
      logits: logits, targets: labels, weights: weights, gradient: gradient,
      hessianDiagonal: hessianDiagonal)
  }

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

/// A softmax loss of the whole batch's per-class sums `T_k`, `S_k`, `D_k`,
/// `R_k` (macro smooth F1 and the Dice losses): the value and the gradient
/// follow from `MacroF1Statistics`, so the one-batch call and the two
/// data-parallel phases are written once, here.
protocol MacroSumsLoss: SoftmaxLossFamily, DataParallelLoss {
  /// Throws for an invalid hyper-parameter; checked before the data.
  func validateParameters() throws(LossError)

  /// The loss from a batch's per-class sums (in the units of its
  /// normaliser), and its gradient when `gradient` is non-nil.
  func finish(
    _ batch: SoftmaxBatch, _ rule: SoftmaxRule, _ statistics: MacroF1Statistics,
    _ gradient: UnsafeMutablePointer<Double>?
  ) -> Double
}

extension MacroSumsLoss {
  func validateParameters() throws(LossError) {}

  /// The one-batch call: the sums pass, then `finish`.
  func macroValueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?
  ) throws(LossError) -> Double {
    try validateParameters()
    return try setup.withBatch(
      logits: logits, targets: targets, weights: weights, gradient: gradient, reduction: .mean
    ) { batch, rule in
      finish(batch, rule, SoftmaxF1Kernel.statistics(batch, rule: rule), gradient?.baseAddress)
    }
  }

  /// This shard's sums for data-parallel training: its rows not ignored,
  /// `Σ w`, and per class `T_k = Σ w p_k y_k`, `S_k = Σ w (p_k + y_k)`,
  /// `D_k = S_k - 2 T_k` and `R_k = Σ w y_k` (`2 + 4 K` sums, raw weights).
  ///
  /// - Throws: ``LossError`` for invalid input or parameters, as the loss itself.
  /// - Complexity: O(N K), one pass.
  public func statistics(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?
  ) throws(LossError) -> BatchStatistics {
    try validateParameters()
    let sums = try setup.shardSums(
      logits: logits, targets: targets, weights: weights, perClass: true)
    return try BatchStatistics(of: self, samples: targets.count, sums: sums, weights: weights)
  }

  /// This shard's share `L n_shard / n` of the whole batch's loss `L`
  /// (formed from the merged per-class sums, any smoothing in raw weight
  /// units) and its rows of the whole batch's gradient.
  ///
  /// - Throws: ``LossError`` for invalid input or parameters and for
  ///   statistics of another loss.
  /// - Complexity: O(N K), one pass.
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    statistics: BatchStatistics
  ) throws(LossError) -> Double {
    try validateParameters()
    let totals = try statistics.totals(
      for: self, sums: 2 + 4 * classCount, samples: targets.count)
    return try setup.withBatch(
      logits: logits, targets: targets, weights: weights, gradient: gradient, reduction: .mean,
      global: (totals[0], totals[1])
    ) { batch, rule in
      let merged = MacroF1Statistics(merged: totals[2...], normalizer: batch.normalizer)
      let value = finish(batch, rule, merged, gradient?.baseAddress)
      return statistics.share(of: value, samples: targets.count)
    }
  }
}
