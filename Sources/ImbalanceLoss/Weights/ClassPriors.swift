/// Class priors `π_k > 0` with `Σ π_k = 1`, and the post-hoc logit adjustment
/// that uses them at prediction time.
///
///     adjusted_ik = z_ik - tau log π_k
///     prediction_i = argmax_k adjusted_ik
///
/// Post-hoc adjustment is the alternative to ``LogitAdjustedCrossEntropy``:
/// train with plain cross-entropy, then predict from the adjusted logits.
/// Both are consistent for the balanced error (Menon et al. 2020).
///
/// ```swift
/// let priors = try ClassPriors(counts: [900, 90, 10])
/// let classes = try priors.predictions(logits: [2.0, 1.0, 0.5], tau: 1)
/// ```
public struct ClassPriors: Sendable, Hashable {
  /// `π_k`, normalised to sum to 1 (0 for a prior below the smallest double
  /// relative to the sum; its ``logProbabilities`` entry stays finite).
  public let probabilities: [Double]
  /// `log π_k`, finite even when `π_k` underflows to 0:
  ///
  ///     log π_k = log(x_k / x_max) - log Σ_j (x_j / x_max)
  ///
  /// with `log x_k - log x_max` in place of the first term when the ratio is
  /// not a normal number.
  public let logProbabilities: [Double]

  /// The number of classes `K`.
  public var classCount: Int { probabilities.count }

  /// Priors from positive, finite numbers, divided by their sum.
  ///
  /// Any positive scale works, so class counts can be passed as they are.
  ///
  /// - Throws: ``LossError/noClasses`` for an empty array,
  ///   ``LossError/invalidPrior(index:value:)`` for a value that is not
  ///   finite and positive.
  /// - Complexity: O(K).
  public init(_ priors: [Double]) throws(LossError) {
    if priors.isEmpty { throw .noClasses }
    var largest = 0.0
    for (k, x) in priors.enumerated() {
      guard x > 0 && x.isFinite else { throw .invalidPrior(index: k, value: x) }
      largest = Swift.max(largest, x)
    }
    // Dividing by the largest first keeps the sum finite for any finite input.
    var sum = CompensatedSum()
    for x in priors { sum.add(x / largest) }
    let total = sum.value
    let logTotal = Elementary.log(total)
    probabilities = priors.map { ($0 / largest) / total }
    // log(x / largest) keeps its digits near 1 (the ratio is exact there), but
    // a ratio below the normal range has lost digits or underflowed to 0: then
    // the two logarithms apart (both finite, so no -inf).
    logProbabilities = priors.map { x in
      let ratio = x / largest
      return
        (ratio.isNormal
        ? Elementary.log(ratio)
        : Elementary.log(x) - Elementary.log(largest)) - logTotal
    }
  }

  /// Priors from class counts `n_k`: `π_k = n_k / Σ n_j`.
  ///
  /// - Throws: ``LossError/noClasses`` for an empty array,
  ///   ``LossError/invalidClassCount(index:count:)`` for a count `<= 0`
  ///   (a class with no samples would get `log π_k = -inf`).
  /// - Complexity: O(K).
  public init(counts: [Int]) throws(LossError) {
    if counts.isEmpty { throw .noClasses }
    for (k, n) in counts.enumerated() where n <= 0 {
      throw .invalidClassCount(index: k, count: n)
    }
    try self.init(counts.map(Double.init))
  }

  /// Priors from the class frequencies of a label array.
  ///
  /// - Throws: ``LossError/labelOutOfRange(index:label:classCount:)`` for a
  ///   label outside `0..<classCount`, ``LossError/invalidClassCount(index:count:)``
  ///   for a class that never occurs, ``LossError/noClasses`` when
  ///   `classCount <= 0`.
  /// - Complexity: O(N + K).
  public init(labels: [Int], classCount: Int) throws(LossError) {
    if classCount <= 0 { throw .noClasses }
    var counts = [Int](repeating: 0, count: classCount)
    for (i, c) in labels.enumerated() {
      guard c >= 0 && c < classCount else {
        throw .labelOutOfRange(index: i, label: c, classCount: classCount)
      }
      counts[c] += 1
    }
    try self.init(counts: counts)
  }

  /// The uniform prior `π_k = 1 / K`, for which logit adjustment changes nothing.
  ///
  /// - Throws: ``LossError/noClasses`` when `classCount <= 0`.
  public static func uniform(classCount: Int) throws(LossError) -> ClassPriors {
    if classCount <= 0 { throw .noClasses }
    return try ClassPriors([Double](repeating: 1, count: classCount))
  }

  /// The offsets `tau log π_k` that logit adjustment adds in training.
  ///
  /// - Throws: ``LossError/invalidParameter(name:value:requirement:)`` for a
  ///   tau that is negative or not finite, or so large that an offset overflows.
  func offsets(tau: Double) throws(LossError) -> [Double] {
    try Validation.checkNonNegative(tau, name: "tau")
    let offsets = logProbabilities.map { tau == 0 ? 0 : tau * $0 }
    guard offsets.allSatisfy(\.isFinite) else {
      throw .invalidParameter(
        name: "tau", value: tau, requirement: "small enough that tau * log(prior) is finite")
    }
    return offsets
  }

  /// The post-hoc adjusted logits `z_ik - tau log π_k`, row-major like `logits`.
  ///
  /// - Throws: ``LossError`` for a logit count that is not a multiple of K, an
  ///   empty batch, a non-finite logit, or an invalid tau (including one so
  ///   large that an adjusted logit overflows).
  /// - Complexity: O(N K).
  public func adjustedLogits(logits: [Double], tau: Double = 1) throws(LossError) -> [Double] {
    let offsets = try checkedOffsets(logits, tau: tau)
    let k = classCount
    var adjusted = logits
    for i in adjusted.indices {
      adjusted[i] -= offsets[i % k]
      // z - tau log π can exceed the largest double only when tau is huge.
      guard adjusted[i].isFinite else {
        throw .invalidParameter(
          name: "tau", value: tau,
          requirement: "small enough that every adjusted logit z - tau log(prior) is finite")
      }
    }
    return adjusted
  }

  /// The classes predicted by post-hoc adjustment: `argmax_k (z_ik - tau log π_k)`,
  /// the first maximum on ties.
  ///
  /// - Throws: ``LossError`` for a logit count that is not a multiple of K, an
  ///   empty batch, a non-finite logit, or an invalid tau.
  /// - Complexity: O(N K).
  public func predictions(logits: [Double], tau: Double = 1) throws(LossError) -> [Int] {
    let offsets = try checkedOffsets(logits, tau: tau)
    let k = classCount
    // Halving both terms is exact here (|z| > 2^-1021 or the comparison is
    // unaffected) and keeps z/2 - o/2 finite where z - o would overflow.
    return (0..<(logits.count / k)).map { i in
      var best = 0
      var bestValue = -Double.infinity
      for j in 0..<k where 0.5 * logits[i * k + j] - 0.5 * offsets[j] > bestValue {
        best = j
        bestValue = 0.5 * logits[i * k + j] - 0.5 * offsets[j]
      }
      return best
    }
  }

  private func checkedOffsets(_ logits: [Double], tau: Double) throws(LossError) -> [Double] {
    let offsets = try offsets(tau: tau)
    if logits.count % classCount != 0 {
      throw .logitCountNotMultipleOfClassCount(logitCount: logits.count, classCount: classCount)
    }
    if logits.isEmpty { throw .emptyBatch }
    try logits.withUnsafeBufferPointer { (z) throws(LossError) in try Validation.checkFinite(z) }
    return offsets
  }
}
