/// How a separable loss combines its per-sample values `l_i`.
///
///     .mean:  L = Σ_i w_i l_i / Σ_i w_i        .sum:  L = Σ_i w_i l_i
///
/// In the softmax losses a row's weight is `v_i = w_i classWeights[c_i]`, and
/// rows with the `ignoreIndex` label have `v_i = 0` and leave `Σ v`: `.mean` is
/// then exactly PyTorch's `cross_entropy(weight=, ignore_index=)` "mean". A
/// batch whose rows are all ignored gives 0. How this compares with PyTorch,
/// Keras and mlx-swift (which divide by N) is in <doc:Conventions>.
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
