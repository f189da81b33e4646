/// Per-class weights computed from class counts, for the `classWeights` of a
/// softmax loss.
///
///     effective number (Cui et al. 2019):  a_k ∝ (1 - beta) / (1 - beta^n_k),  Σ a_k = K
///     balanced (scikit-learn):             a_k = N / (K n_k),                  N = Σ n_k
///
/// A class with no samples has no weight: its count is an error
/// (``LossError/invalidClassCount(index:count:)``), where class-balanced code
/// elsewhere returns an infinite or NaN weight.
///
/// ```swift
/// var loss = try SoftmaxCrossEntropy(classCount: 3)
/// loss.classWeights = try ClassWeights.effectiveNumber(classCounts: [5000, 500, 50], beta: 0.999)
/// ```
public enum ClassWeights {
  /// Class-balanced weights from the effective number of samples
  /// `E_n = (1 - beta^n) / (1 - beta)` (Cui et al. 2019), normalised to sum to K.
  ///
  ///     a_k = K (1 / (1 - beta^n_k)) / Σ_j (1 / (1 - beta^n_j))
  ///
  /// `beta = 0` gives equal weights; as `beta -> 1` the weights approach
  /// inverse class frequency. `1 - beta^n` is computed as
  /// `-expm1(n log(beta))`, so it keeps its digits when `beta^n` is near 1
  /// (the naive formula loses about 7 digits at `beta = 1 - 2^-52`).
  ///
  /// - Parameters:
  ///   - classCounts: `n_k > 0`, the training samples of each class.
  ///   - beta: in [0, 1); the paper uses 0.9, 0.99, 0.999 or 0.9999.
  /// - Returns: K weights, positive, summing to K.
  /// - Throws: ``LossError/noClasses`` for no counts,
  ///   ``LossError/invalidClassCount(index:count:)`` for a count `<= 0`,
  ///   ``LossError/invalidParameter(name:value:requirement:)`` for a beta
  ///   outside [0, 1).
  /// - Complexity: O(K).
  public static func effectiveNumber(
    classCounts: [Int], beta: Double
  ) throws(LossError) -> [Double] {
    try checkCounts(classCounts)
    try Validation.check(beta, name: "beta", in: 0..<1)
    let logBeta = beta == 0 ? -Double.infinity : Elementary.log(beta)
    // 1 / (1 - beta^n) lies in [1, 1 / (1 - beta)] <= 2^53: no overflow.
    let inverse = classCounts.map { 1 / -expMinusOne(Double($0) * logBeta) }
    var sum = CompensatedSum()
    for r in inverse { sum.add(r) }
    let scale = Double(classCounts.count) / sum.value
    return inverse.map { $0 * scale }
  }

  /// scikit-learn's `class_weight="balanced"`: the inverse class frequency,
  /// scaled so that a balanced data set gets weights of 1.
  ///
  ///     a_k = N / (K n_k),     N = Σ_j n_j
  ///
  /// - Parameter classCounts: `n_k > 0`, the training samples of each class.
  /// - Returns: K positive weights with `Σ_k n_k a_k = N`.
  /// - Throws: ``LossError/noClasses`` for no counts,
  ///   ``LossError/invalidClassCount(index:count:)`` for a count `<= 0`.
  /// - Complexity: O(K).
  public static func balanced(classCounts: [Int]) throws(LossError) -> [Double] {
    try checkCounts(classCounts)
    // N as a double: exact up to 2^53 samples, and no Int overflow beyond.
    var total = CompensatedSum()
    for n in classCounts { total.add(Double(n)) }
    let k = Double(classCounts.count)
    return classCounts.map { total.value / (k * Double($0)) }
  }

  static func checkCounts(_ counts: [Int]) throws(LossError) {
    if counts.isEmpty { throw .noClasses }
    for (k, n) in counts.enumerated() where n <= 0 {
      throw .invalidClassCount(index: k, count: n)
    }
  }

  /// `e^x - 1` for `x <= 0` without cancellation (Kahan's trick: the rounding
  /// error of `u = e^x` cancels in `(u - 1) x / log u`), a few ulps.
  static func expMinusOne(_ x: Double) -> Double {
    let u = Elementary.exp(x)
    if u == 1 { return x }
    let um1 = u - 1
    if um1 == -1 { return -1 }
    return um1 * x / Elementary.log(u)
  }
}
