/// Binary Poly-1 loss (Leng et al. 2022, "PolyLoss: A Polynomial Expansion
/// Perspective of Classification Loss Functions"): binary cross-entropy plus
/// `ε` times its first polynomial term `1 - p_t`.
///
///     p_i = sigmoid(z_i)      p_t = y_i p_i + (1 - y_i)(1 - p_i)
///     l_i = -a_pos y_i log p_i - a_neg (1 - y_i) log(1 - p_i) + ε (1 - p_t)
///     L   = Σ w_i l_i / Σ w_i
///     ∂l_i/∂z_i = (1 - y) p (a_neg + ε (1 - p)) - y (1 - p)(a_pos + ε p)
///     ∂²l_i/∂z_i² = p (1 - p) (y (a_pos - ε (1 - 2p)) + (1 - y)(a_neg + ε (1 - 2p)))
///
/// This is the paper's sigmoid `poly1_cross_entropy` (`1 - p_t` is
/// ``SmoothAccuracyLoss``'s term); the class weights `a_pos`, `a_neg` weigh
/// the cross-entropy part only, as PyTorch ports that pass `pos_weight` to
/// `binary_cross_entropy_with_logits` and add `ε (1 - p_t)` do. With
/// `ε = 0` it is ``BinaryCrossEntropy`` (equal within rounding, not the
/// same bits).
///
/// Range of `ε`: [-1, 1000]. Every term is `>= 0` when `a_pos, a_neg >= max(0, -ε)`
/// (`-log p >= 1 - p`), so always with the default weights 1; smaller class
/// weights with `ε < 0` can make a term negative. For `ε < 0` the value is
/// summed as `a_pos y D(q) + (a_pos + ε) y q + (the same for the negative
/// part)`, `q = 1 - p`, with `D(q) = -log(1 - q) - q` from its series: a
/// confident sample at `ε = -1` keeps its digits instead of cancelling to
/// noise, and the terms stay `>= 0` in floating point too. The loss is not
/// convex for large `ε` (the second derivative of `ε (1 - p_t)` changes sign
/// at `p = 1/2`); ``hessianFloor`` works as in ``BinaryFocalLoss``.
///
/// ```swift
/// let loss = BinaryPolyLoss(epsilon: 1)
/// let (value, gradient) = try loss.valueAndGradient(
///     logits: [2.0, -1.0, 0.5], targets: [1, 0, 1])
/// ```
public struct BinaryPolyLoss: SecondOrderBinaryLoss, Hashable {
  /// A binary target: a label or soft label in [0, 1].
  public typealias Target = Double

  /// The coefficient `ε` in [-1, 1000] of the `1 - p_t` term.
  public let epsilon: Double
  /// The weight `a_pos` of the positive cross-entropy term.
  public let positiveWeight: Double
  /// The weight `a_neg` of the negative cross-entropy term.
  public let negativeWeight: Double
  /// How per-sample terms are combined: weighted mean (default) or sum.
  public var reduction: Reduction = .mean
  /// Samples whose target equals this marker (NaN matches NaN) are skipped, like
  /// PyTorch's `ignore_index`: their target is not validated, their weight
  /// leaves `Σ w`, and their gradient entries are 0. `nil` (the default) skips
  /// none. A batch with every sample skipped has value 0 and gradient 0.
  public var ignoredTarget: Double? = nil
  /// A lower bound for each sample's second derivative before its weight,
  /// or `nil` for the exact values; as in ``BinaryFocalLoss/hessianFloor``.
  public var hessianFloor: Double? = nil
  /// How many threads a call may use; the result is the same bits either way.
  public var parallelism: Parallelism = .automatic

  /// Creates the loss with coefficient `epsilon` and class weights `a_pos`, `a_neg`.
  ///
  /// An `epsilon` outside [-1, 1000] or not finite, a weight that is negative
  /// or not finite and a non-finite ``hessianFloor`` are reported by every
  /// call as ``LossError/invalidParameter(name:value:requirement:)``.
  public init(epsilon: Double = 1, positiveWeight: Double = 1, negativeWeight: Double = 1) {
    self.epsilon = epsilon
    self.positiveWeight = positiveWeight
    self.negativeWeight = negativeWeight
  }

  func run(_ batch: BinaryBatch, gradient: KernelOutput?) -> Double {
    BinaryKernels.poly(
      batch, epsilon: epsilon, positiveWeight: positiveWeight, negativeWeight: negativeWeight,
      hessianFloor: nil, gradient: gradient, hessian: nil, parallelism: parallelism)
  }

  func runSecondOrder(
    _ batch: BinaryBatch, gradient: KernelOutput,
    hessian: KernelOutput
  ) -> Double {
    BinaryKernels.poly(
      batch, epsilon: epsilon, positiveWeight: positiveWeight, negativeWeight: negativeWeight,
      hessianFloor: hessianFloor, gradient: gradient, hessian: hessian,
      parallelism: parallelism)
  }

  func writeTerms(_ batch: BinaryBatch, into values: KernelOutput) {
    let (e, aPos, aNeg) = (epsilon, positiveWeight, negativeWeight)
    BinaryKernels.writeTerms(batch, into: values, parallelism: parallelism) {
      BinaryKernels.polyTerm($0, $1, epsilon: e, aPos, aNeg).loss
    }
  }

  func validateParameters() throws(LossError) {
    try PolyEpsilon.check(epsilon)
    try Validation.checkNonNegative(positiveWeight, name: "positiveWeight")
    try Validation.checkNonNegative(negativeWeight, name: "negativeWeight")
    try Validation.checkFinite(hessianFloor, name: "hessianFloor")
  }
}
