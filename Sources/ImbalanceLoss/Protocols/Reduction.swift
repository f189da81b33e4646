/// How a separable loss combines its per-sample values `l_i`.
///
/// | case    | value            | PyTorch          | Keras 3                      | mlx-swift |
/// |---------|------------------|------------------|------------------------------|-----------|
/// | `.mean` | `Σ w l / Σ w`    | `"mean"` only without weights; with `weight=` on CE it also divides by `Σ w_{c_i}` | `"sum_over_batch_size"` divides by N, not `Σ w` | `.mean` divides by N |
/// | `.sum`  | `Σ w l`          | `"sum"`          | `"sum"`                      | `.sum`    |
///
/// In the softmax losses a row's weight is `v_i = w_i classWeights[c_i]`, and
/// rows with the `ignoreIndex` label have `v_i = 0` and leave `Σ v`: `.mean` is
/// then exactly PyTorch's `cross_entropy(weight=, ignore_index=)` "mean".
/// Keras's `class_weight` multiplies the sample weights but its default still
/// divides by the batch size, and mlx-swift has no class weights or ignore
/// index (its `.mean` divides by the element count). A batch whose rows are
/// all ignored gives 0 (PyTorch gives NaN).
///
/// `.sum` makes gradient accumulation across micro-batches exact: the sum of
/// the micro-batch sums is the sum of the whole batch. Per-sample values go
/// into a caller's buffer through ``SeparableLoss/perSampleValues(logits:targets:into:)``.
public enum Reduction: Sendable, Hashable {
  /// The weighted mean `Σ_i w_i l_i / Σ_i w_i` (the default).
  case mean
  /// The weighted sum `Σ_i w_i l_i`.
  case sum
}

/// A loss that is a (weighted) reduction of per-sample terms `l_i`, each a
/// function of its own sample's logits only.
///
/// Such a loss can report each sample's term, and its Hessian with respect to
/// the logits is block-diagonal (diagonal for binary losses), which is what
/// gradient-boosting custom objectives consume.
public protocol SeparableLoss: Loss {
  /// How per-sample terms are combined; ``Reduction/mean`` by default.
  var reduction: Reduction { get set }

  /// Writes each sample's unweighted term `l_i` into `values` (`N` elements).
  ///
  /// - Throws: ``LossError`` for invalid input; `values` is untouched then.
  /// - Complexity: O(`logits.count`).
  func perSampleValues(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Target>,
    into values: UnsafeMutableBufferPointer<Double>
  ) throws(LossError)
}

extension SeparableLoss {
  /// Each sample's unweighted term `l_i`, in a new array of `N` elements.
  ///
  /// - Throws: ``LossError`` for invalid input.
  /// - Complexity: O(`logits.count`).
  @inlinable
  public func perSampleValues(logits: [Double], targets: [Target]) throws(LossError) -> [Double] {
    var values = [Double](repeating: 0, count: logits.count / logitsPerSample)
    try withBuffers(logits, targets, nil) { (z, t, _) throws(LossError) in
      try values.withUnsafeMutableBufferPointer { (v) throws(LossError) in
        try perSampleValues(logits: z, targets: t, into: v)
      }
    }
    return values
  }
}
