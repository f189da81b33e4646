// The ignore mask of the binary losses (PyTorch's `ignore_index` for binary
// targets): a sample whose target equals the marker is skipped. Its target is
// not validated, its weight is taken as 0 (it leaves Σ w and every batch
// statistic), and its gradient and Hessian entries are exactly 0. Its logit
// and weight are still validated: a NaN logit is a broken model whatever the
// label. Class weights, per-sample weights and the reduction compose with the
// mask: the result is the loss of the kept samples alone.
//
// The kernels apply the mask per vector (`BinaryBatch.mask`), so a batch
// without a marker runs exactly the code it ran before masks existed.

extension Validation {
  /// Validates binary targets, skipping those equal to `marker` (NaN matches
  /// NaN), and the weights; returns the normaliser over the kept samples.
  ///
  /// When every sample is skipped, the normaliser is `(scale: 1, reciprocal: 0)`:
  /// every `f` is masked to 0 anyway, so the value, gradient and Hessian are 0.
  /// Kept samples whose weights are all 0 still throw ``LossError/zeroTotalWeight``
  /// for the mean, as without a mask.
  @inlinable
  static func checkIgnoringTargets<S: StoredScalar>(
    _ targets: UnsafeBufferPointer<S>, equalTo marker: Double,
    weights: UnsafeBufferPointer<S>?, reduction: Reduction
  ) throws(LossError) -> WeightNormalizer {
    @inline(__always) func isIgnored(_ y: Double) -> Bool {
      marker.isNaN ? y.isNaN : y == marker
    }
    var kept = 0
    var largest = 0.0
    for (i, y) in targets.lazy.map(\.widened).enumerated() where !isIgnored(y) {
      guard y >= 0 && y <= 1 else { throw .targetOutOfRange(index: i, value: y) }
      kept += 1
    }
    if let weights {
      for (i, w) in weights.lazy.map(\.widened).enumerated() {
        guard w >= 0 && w.isFinite else { throw .invalidWeight(index: i, value: w) }
        if !isIgnored(targets[i].widened) { largest = Swift.max(largest, w) }
      }
    }
    if reduction == .sum { return WeightNormalizer(scale: 1, reciprocal: 1) }
    if kept == 0 { return WeightNormalizer(scale: 1, reciprocal: 0) }
    guard let weights else { return WeightNormalizer(scale: 1, reciprocal: 1 / Double(kept)) }
    if largest == 0 { throw .zeroTotalWeight }
    // As in `normalizer(weights:sampleCount:reduction:)`: scale the largest kept
    // weight into [1, 2) so that neither the sum nor its reciprocal overflows.
    let scale = PowerOfTwo.scale(bringingToUnit: largest)
    var sum = CompensatedSum()
    for (i, w) in weights.enumerated() where !isIgnored(targets[i].widened) {
      sum.add(w.widened * scale)
    }
    return WeightNormalizer(scale: scale, reciprocal: 1 / sum.value)
  }
}

extension BinaryBatch {
  /// Zeroes the target and the weight of every lane whose target is the marker,
  /// so that the lane adds exactly 0 to every sum, gradient and Hessian.
  @inlinable @inline(__always)
  func mask(_ y: inout Vector, _ f: inout Vector, _ marker: Double) {
    mask(&y, &f, marker, matching: y)
  }

  /// The same, matching the marker against `raw` (the targets before label
  /// smoothing) rather than `y`.
  @inlinable @inline(__always)
  func mask(_ y: inout Vector, _ f: inout Vector, _ marker: Double, matching raw: Vector) {
    let skip = marker.isNaN ? (raw .!= raw) : (raw .== marker)
    y = y.replacing(with: 0, where: skip)
    f = f.replacing(with: 0, where: skip)
  }
}
