// Soft Dice and Tversky losses over the smooth-F1 statistics: one kernel for
// the three. The sums are formed with normalised weights
// f = w / W, so a smoothing constant given in units of the raw sums Σ w(...)
// is divided by W here.

extension BinaryKernels {
  /// The Tversky loss `1 - (TP + ε) / (TP + α FP + β FN + ε)` with raw sums
  /// (`TP = Σ w y p`, ...): returns the value and writes the gradient when
  /// `gradient` is non-nil.
  ///
  /// A batch whose every sample is ignored has empty sums: the ratio is
  /// `ε / ε = 1` (loss 0) when `ε > 0` and, as smooth F1's `S = 0`, loss 1
  /// when `ε = 0`; the gradient is 0 either way.
  @inlinable
  static func tversky(
    _ batch: BinaryBatch, alpha: Double, beta: Double, smoothing: Double,
    gradient: UnsafeMutablePointer<Double>?, parallelism: Parallelism
  ) -> Double {
    if batch.normalizer.reciprocal == 0 {
      gradient?.initialize(repeating: 0, count: batch.count)
      return smoothing > 0 ? 0 : 1
    }
    // The statistics pass leaves exp(-|z|) in the gradient buffer for the
    // gradient pass to reuse.
    let statistics = f1Statistics(batch, parallelism: parallelism, storingExpIn: gradient)
    // e = ε / W; it can only overflow for subnormal total weights, where ε
    // dominates anyway (ratio 1), so it saturates at the largest finite value.
    var e = 0.0
    if smoothing > 0 {
      e = smoothing * (batch.normalizer.scale * batch.normalizer.reciprocal)
      if !e.isFinite { e = .greatestFiniteMagnitude }
    }
    let ratio = statistics.tversky(alpha: alpha, beta: beta, smoothing: e)
    if let gradient {
      tverskyGradient(batch, ratio: ratio, gradient: gradient, parallelism: parallelism)
    }
    return ratio.loss
  }
}
