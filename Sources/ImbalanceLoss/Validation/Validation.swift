// Input validation shared by every loss. Each check is one read-only pass that
// runs before any kernel writes, so a throwing call leaves the caller's
// gradient buffer untouched.

/// The per-sample factor `w_i / W` of the weighted mean, computed without
/// overflow or underflow of `W = Σ w_i`.
///
/// `factor(i) = (w_i * scale) * reciprocal`, where `scale` is the power of two
/// that brings the largest weight into [1, 2) (exact) and `reciprocal` is
/// `1 / Σ (w_i * scale)`. Without weights, `scale = 1` and `reciprocal = 1 / N`.
@usableFromInline
struct WeightNormalizer: Sendable {
  @usableFromInline var scale: Double
  @usableFromInline var reciprocal: Double

  @inlinable init(scale: Double, reciprocal: Double) {
    self.scale = scale
    self.reciprocal = reciprocal
  }

  /// `x / W`: an amount in raw weight units (a smoothing constant) in the
  /// units of the factors `w_i / W`, 0 when every row is ignored. `reciprocal
  /// <= 1`, so the order of the two products never overflows early.
  @inlinable func normalized(_ x: Double) -> Double {
    scale >= 1 ? (x * reciprocal) * scale : (x * scale) * reciprocal
  }
}

@usableFromInline
enum Validation {
  /// Checks that a batch is non-empty and that the targets (`targetsPerSample`
  /// per sample), weights and gradient have the lengths its logits imply;
  /// returns the sample count.
  @inlinable
  static func checkShapes(
    logitCount: Int, logitsPerSample: Int, targetCount: Int, targetsPerSample: Int = 1,
    weightCount: Int?, gradientCount: Int?
  ) throws(LossError) -> Int {
    assert(logitsPerSample > 0)
    if logitCount % logitsPerSample != 0 {
      throw .logitCountNotMultipleOfClassCount(
        logitCount: logitCount, classCount: logitsPerSample)
    }
    let sampleCount = logitCount / logitsPerSample
    if targetCount != sampleCount * targetsPerSample {
      throw .lengthMismatch(
        argument: "targets", expected: sampleCount * targetsPerSample, actual: targetCount)
    }
    if let weightCount, weightCount != sampleCount {
      throw .lengthMismatch(argument: "weights", expected: sampleCount, actual: weightCount)
    }
    if let gradientCount, gradientCount != logitCount {
      throw .lengthMismatch(argument: "gradient", expected: logitCount, actual: gradientCount)
    }
    if sampleCount == 0 { throw .emptyBatch }
    return sampleCount
  }

  /// Throws for the first NaN or infinite logit.
  @inlinable
  static func checkFinite<S: StoredScalar>(_ logits: UnsafeBufferPointer<S>) throws(LossError) {
    // `x - x` is 0 for finite x and NaN otherwise; summing it is a branch-free
    // vector scan, and only a failing batch pays for the search.
    let n = logits.count
    guard let base = logits.baseAddress else { return }
    var acc = SIMD8<Double>()
    var i = 0
    while i + 8 <= n {
      let v = S.load(base + i)
      acc += v - v
      i += 8
    }
    var tail = 0.0
    while i < n {
      tail += base[i].widened - base[i].widened
      i += 1
    }
    if acc.sum() + tail == 0 { return }
    for j in 0..<n where !base[j].isFinite {
      throw .nonFiniteLogit(index: j, value: base[j].widened)
    }
  }

  /// Throws for the first binary target that is NaN or outside [0, 1].
  @inlinable
  static func checkUnitInterval<S: StoredScalar>(_ targets: UnsafeBufferPointer<S>) throws(LossError) {
    let n = targets.count
    guard let base = targets.baseAddress else { return }
    var good = SIMDMask<SIMD8<Int64>>(repeating: true)
    var i = 0
    while i + 8 <= n {
      let v = S.load(base + i)
      good = good .& (v .>= 0) .& (v .<= 1)
      i += 8
    }
    var tailGood = true
    while i < n {
      let y = base[i].widened
      tailGood = tailGood && y >= 0 && y <= 1
      i += 1
    }
    if all(good) && tailGood { return }
    for j in 0..<n where !(base[j] >= 0 && base[j] <= 1) {
      throw .targetOutOfRange(index: j, value: base[j].widened)
    }
  }

  /// Throws for the first label outside `0..<classCount`.
  @inlinable
  static func checkLabels(
    _ labels: UnsafeBufferPointer<Int>, classCount: Int
  ) throws(LossError) {
    for (i, c) in labels.enumerated() where c < 0 || c >= classCount {
      throw .labelOutOfRange(index: i, label: c, classCount: classCount)
    }
  }

  /// Validates per-sample weights and returns the normalizer of the reduction:
  /// `w_i / Σ w` for the mean, `w_i` for the sum.
  @inlinable
  static func normalizer<S: StoredScalar>(
    weights: UnsafeBufferPointer<S>?, sampleCount: Int, reduction: Reduction = .mean
  ) throws(LossError) -> WeightNormalizer {
    var largest = 0.0
    if let weights {
      for (i, w) in weights.lazy.map(\.widened).enumerated() {
        guard w >= 0 && w.isFinite else { throw .invalidWeight(index: i, value: w) }
        largest = largest < w ? w : largest
      }
    }
    if reduction == .sum { return WeightNormalizer(scale: 1, reciprocal: 1) }
    guard let weights else {
      return WeightNormalizer(scale: 1, reciprocal: 1 / Double(sampleCount))
    }
    if largest == 0 { throw .zeroTotalWeight }
    // 2^-exponent(largest) puts the largest weight in [1, 2): the scaled sum
    // lies in [1, 2N], so neither it nor its reciprocal can overflow.
    // (Clamped so that an all-subnormal weight vector still gets a finite scale.)
    let scale = PowerOfTwo.scale(bringingToUnit: largest)
    var sum = CompensatedSum()
    for w in weights { sum.add(w.widened * scale) }
    return WeightNormalizer(scale: scale, reciprocal: 1 / sum.value)
  }

  /// Throws unless a per-sample output buffer has one element per sample.
  @inlinable
  static func checkValuesCount(_ count: Int, sampleCount: Int) throws(LossError) {
    if count != sampleCount {
      throw .lengthMismatch(argument: "values", expected: sampleCount, actual: count)
    }
  }

  /// Throws unless the label smoothing `eps` is in [0, 1] (NaN is not): the
  /// one check of every loss with a `labelSmoothing` option.
  @inlinable
  static func checkLabelSmoothing(_ eps: Double) throws(LossError) {
    try check(eps, name: "labelSmoothing", in: 0...1)
  }

  /// Throws unless `value` lies in `range` (NaN never does); the requirement
  /// reads "in [lower, upper]".
  @usableFromInline
  static func check(_ value: Double, name: String, in range: ClosedRange<Double>)
    throws(LossError)
  {
    guard range.contains(value) else {
      throw .invalidParameter(
        name: name, value: value,
        requirement: "in [\(bound(range.lowerBound)), \(bound(range.upperBound))]")
    }
  }

  /// Throws unless `value` lies in `range` (NaN never does); the requirement
  /// reads "in [lower, upper)".
  @usableFromInline
  static func check(_ value: Double, name: String, in range: Range<Double>) throws(LossError) {
    guard range.contains(value) else {
      throw .invalidParameter(
        name: name, value: value,
        requirement: "in [\(bound(range.lowerBound)), \(bound(range.upperBound)))")
    }
  }

  /// A range bound as users write it: `1000`, not `1000.0`.
  static func bound(_ x: Double) -> String {
    x == x.rounded() && x.magnitude < 0x1p53 ? String(Int(x)) : String(x)
  }

  /// Throws unless `value` is finite and `> 0`.
  @usableFromInline
  static func checkPositive(_ value: Double, name: String) throws(LossError) {
    guard value > 0 && value.isFinite else {
      throw .invalidParameter(name: name, value: value, requirement: "finite and > 0")
    }
  }

  /// Throws unless `value` is finite (an absent optional passes): the check of
  /// every `hessianFloor`.
  @usableFromInline
  static func checkFinite(_ value: Double?, name: String) throws(LossError) {
    if let value, !value.isFinite {
      throw .invalidParameter(name: name, value: value, requirement: "finite")
    }
  }

  /// Throws unless `value` is finite and `>= 0`.
  @inlinable
  static func checkNonNegative(_ value: Double, name: String) throws(LossError) {
    guard value >= 0 && value.isFinite else {
      throw .invalidParameter(name: name, value: value, requirement: "finite and >= 0")
    }
  }
}
