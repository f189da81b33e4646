/// One minus smooth F1: F1 made differentiable by replacing the 0/1
/// prediction with `p = sigmoid(z)`.
///
///     T = Σ w_i y_i p_i        S = Σ w_i (y_i + p_i)
///     F = 2T / S               L = 1 - F
///     ∂L/∂z_i = -(2 w_i / S) (y_i - F/2) p_i (1 - p_i)
///
/// When `S = 0` (no positive sample and every `p` underflowed to 0) F is
/// defined as 0, the value it has on every other all-negative batch, so the
/// loss is 1 and the gradient 0: never a NaN.
///
/// With ``overlap`` set to ``OverlapForm/semimetric``, `T = Σ w_i min(p_i, y_i)`
/// (Wang et al. 2023) and the gradient is the one above with `y_i` replaced by
/// `c_i = [p_i < y_i]`: the same on hard labels, minimised at `p = y` for soft
/// ones.
///
/// Smooth F1 is not a mean of per-sample terms; `weights` scale each sample's
/// contribution to T and S.
public struct SmoothF1Loss: BinaryLossFamily, Float32Kernels, Hashable {
  /// A binary target: a label or soft label in [0, 1].
  public typealias Target = Double

  /// Samples whose target equals this marker (NaN matches NaN) are skipped, like
  /// PyTorch's `ignore_index`: their target is not validated, their weight
  /// leaves `Σ w`, and their gradient entries are 0. `nil` (the default) skips
  /// none. A batch with every sample skipped has `S = 0`: loss 1, gradient 0.
  public var ignoredTarget: Double? = nil
  /// How the soft true positives are formed: `.product` (the default)
  /// takes `TP = Σ w p y`, `.semimetric` takes `TP = Σ w min(p, y)`, with
  /// `S = Σ w (y + p)` unchanged.
  /// The two give the same bits on hard 0/1 labels; for soft labels (label
  /// smoothing, distillation, partial-volume masks) use `.semimetric`, the
  /// only one minimised at `p = y`. See ``OverlapForm``.
  public var overlap: OverlapForm = .product
  /// How many threads a call may use; the result is the same bits either way.
  public var parallelism: Parallelism = .automatic

  /// Creates the loss.
  public init() {}

  /// Computes `1 - F` and, when `gradient` is non-nil, writes `∂L/∂z` into it.
  ///
  /// - Throws: ``LossError`` for an empty batch, mismatched lengths, a
  ///   non-finite logit, a target outside [0, 1] or an invalid weight. The
  ///   gradient buffer is untouched after a throw.
  /// - Complexity: O(N): one pass for the value, two with the gradient
  ///   (the gradient needs F, a sum over the whole batch); the first pass
  ///   leaves `exp(-|z|)` in the gradient buffer, so exp runs once per sample.
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

  /// Both of the above, on `Double` or `Float` buffers (a `Float` gradient
  /// buffer cannot hold `exp(-|z|)` exactly, so the gradient pass recomputes it).
  func kernelValueAndGradient<S: StoredScalar>(
    _ logits: UnsafeBufferPointer<S>, _ targets: UnsafeBufferPointer<S>,
    _ weights: UnsafeBufferPointer<S>?, _ gradient: UnsafeMutableBufferPointer<S>?
  ) throws(LossError) -> Double {
    let batch = try batch(logits, targets, weights, gradient: gradient)
    let output = KernelOutput?(gradient?.baseAddress)
    let statistics = BinaryKernels.f1Statistics(
      batch, overlap: overlap, parallelism: parallelism, storingExpIn: output?.doubles)
    if let output {
      BinaryKernels.smoothF1Gradient(
        batch, statistics: statistics, overlap: overlap, gradient: output,
        parallelism: parallelism)
    }
    return statistics.loss
  }

  /// The smooth F1 score `F = 2T / S` of a batch (0 when `S = 0`), with `T`
  /// in the loss's ``overlap`` form.
  ///
  /// This is the F that ``F1WeightedCrossEntropy`` holds constant when it is
  /// not given one.
  ///
  /// - Throws: ``LossError`` for invalid input, as for the loss.
  /// - Complexity: O(N), one pass.
  public func f1(
    logits: [Double], targets: [Double], weights: [Double]? = nil
  ) throws(LossError) -> Double {
    try withBuffers(logits, targets, weights) { (z, y, w) throws(LossError) in
      BinaryKernels.f1Statistics(
        try batch(z, y, w, gradient: nil), overlap: overlap, parallelism: parallelism
      ).f1
    }
  }
}

extension SmoothF1Loss: DataParallelLoss {
  /// This shard's sums for data-parallel training: the samples not ignored,
  /// `Σ w`, and `T = Σ w y p` (or `Σ w min(p, y)`), `FP`, `FN` (with
  /// `S = 2T + FP + FN`), in raw weight units.
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

  /// This shard's share `(1 - F) n_shard / n_all` of the loss of the whole
  /// batch, `F = 2T / S` from the merged sums, and its rows of the whole
  /// batch's gradient `-(2 w_i / S) (y_i - F/2) p_i (1 - p_i)`.
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
    if let g = gradient?.baseAddress {
      BinaryKernels.storeExpOfMinusMagnitude(batch, into: g, parallelism: parallelism)
      BinaryKernels.smoothF1Gradient(
        batch, statistics: sums, overlap: overlap, gradient: KernelOutput(g),
        parallelism: parallelism)
    }
    return statistics.share(of: sums.loss, samples: batch.count)
  }
}
