/// Binary focal loss on logits (Lin et al. 2017), for hard or soft targets,
/// with class weights and an exact Hessian.
///
///     p = sigmoid(z)
///     l(p) = -(1 - p)^γ log p                  (the focal term of a positive)
///     l_i  = a_pos y_i l(p_i) + a_neg (1 - y_i) l(1 - p_i)
///     L    = E[l] = Σ w_i l_i / Σ w_i
///     ∂l/∂z = a_pos y (1-p)^γ (γ p log p - (1-p))
///           - a_neg (1 - y) p^γ (γ (1-p) log(1-p) - p)
///
/// For a hard target this is `-a_t (1 - p_t)^γ log p_t`, and the slope is
/// `a_t s (1 - p_t)^γ (γ p_t log p_t - (1 - p_t))` with `s = +1` for a
/// positive and `-1` for a negative. A soft target `y` mixes the two focal
/// terms linearly, `y · focal(positive) + (1 - y) · focal(negative)`, so the
/// loss is linear in `y` as cross-entropy is (other soft-target focal
/// variants, e.g. torchvision's, apply `(1 - p_t)^γ` with a blended `p_t`;
/// they agree on hard targets only).
///
/// `γ = 0` is ``BinaryCrossEntropy`` with the same class weights, bit for bit
/// (it runs the same kernel). Everything is computed in log space,
/// `(1 - p)^γ = exp(-γ softplus(z))` (for an integer `γ <= 8`, such as the
/// default 2, `(1 - p)^γ` as a product of the accurate `1 - p`) and
/// `log p = -softplus(-z)`, and the
/// closed-form slope above has no `0^(γ - 1)`: `0 < γ < 1` and saturated
/// logits (±1e300) give finite, exact values and gradients where a naive
/// `pow` gives NaN.
///
/// Class weights: `alpha` sets `a_pos = α`, `a_neg = 1 - α`. The default is
/// no weighting (`a_pos = a_neg = 1`), as optax's `sigmoid_focal_loss`
/// (`alpha=None`); torchvision's `sigmoid_focal_loss` defaults to
/// `alpha=0.25`: pass `alpha: 0.25` to match it.
///
/// The Hessian diagonal (``SecondOrderLoss``) is negative for a badly
/// misclassified sample when `γ > 0` (small `p_t`): the loss is not convex
/// there. Newton steps and gradient-boosting objectives that divide by the
/// Hessian can set ``hessianFloor``:
///
///     ∂²/∂z² [(1-p)^γ (-log p)] = (1-p)^γ ((2γ+1) p (1-p) + γ p log p ((1-p) - γ p))
///
/// for the positive term, the same with `z -> -z` for the negative term,
/// mixed by `a_pos y` and `a_neg (1 - y)` and weighted by `w_i / W` (`w_i`
/// for ``Reduction/sum``); with ``hessianFloor`` set, each sample's second
/// derivative is raised to the floor before weighting.
///
/// ```swift
/// let loss = BinaryFocalLoss(gamma: 2, alpha: 0.25)  // torchvision's defaults
/// let (value, gradient) = try loss.valueAndGradient(
///     logits: [2.0, -1.0, 0.5], targets: [1, 0, 1])
/// ```
public struct BinaryFocalLoss: SecondOrderBinaryLoss {
  public typealias Target = Double

  /// The focusing parameter `γ` in [0, 1000].
  public let gamma: Double
  /// The `α` this loss was created with, or `nil` when it was created with
  /// explicit class weights (or none).
  public let alpha: Double?
  /// The weight `a_pos` of the positive term (`α` when created with `alpha`).
  public let positiveWeight: Double
  /// The weight `a_neg` of the negative term (`1 - α` when created with `alpha`).
  public let negativeWeight: Double
  /// How per-sample terms are combined: weighted mean (default) or sum.
  public var reduction: Reduction = .mean
  /// Samples whose target equals this marker (NaN matches NaN) are skipped, like
  /// PyTorch's `ignore_index`: their target is not validated, their weight
  /// leaves `Σ w`, and their gradient and Hessian entries are 0. `nil` (the
  /// default) skips none. A batch with every sample skipped has value 0.
  public var ignoredTarget: Double? = nil
  /// A lower bound on each sample's second derivative `∂²l_i/∂z_i²`, applied
  /// before the weight `w_i / W`, or `nil` (the default) for the exact
  /// Hessian. With a floor the Hessian diagonal is `(w_i / W) max(∂²l_i/∂z_i², floor)`:
  /// no longer exact where it binds, but never below the floor, as LightGBM
  /// and XGBoost custom objectives need (they divide by it; 1e-6 is a common
  /// choice). The value and gradient are unaffected.
  public var hessianFloor: Double? = nil
  /// How many threads a call may use; the result is the same bits either way.
  public var parallelism: Parallelism = .automatic

  /// Creates the loss with focusing parameter `γ` and optional `α`.
  ///
  /// `alpha: nil` (the default, as optax) weights both classes by 1;
  /// `alpha: 0.25` matches torchvision's default.
  ///
  /// A `gamma` outside [0, 1000] (beyond 1000, `(1 - p_t)^γ` is below 1e-300
  /// for any `p_t > 1/2`) or an `alpha` outside [0, 1] is reported by every
  /// call as ``LossError/invalidParameter(name:value:requirement:)``.
  public init(gamma: Double = 2, alpha: Double? = nil) {
    self.gamma = gamma
    self.alpha = alpha
    self.positiveWeight = alpha ?? 1
    self.negativeWeight = alpha.map { 1 - $0 } ?? 1
  }

  /// Creates the loss with focusing parameter `γ` and class weights `a_pos`, `a_neg`.
  ///
  /// A weight that is negative or not finite is reported by every call as
  /// ``LossError/invalidParameter(name:value:requirement:)``.
  public init(gamma: Double = 2, positiveWeight: Double, negativeWeight: Double) {
    self.gamma = gamma
    self.alpha = nil
    self.positiveWeight = positiveWeight
    self.negativeWeight = negativeWeight
  }

  func run(_ batch: BinaryBatch, gradient: UnsafeMutablePointer<Double>?) -> Double {
    if gamma == 0 {
      return BinaryKernels.weightedCrossEntropy(
        batch, positiveWeight: positiveWeight, negativeWeight: negativeWeight,
        gradient: gradient, parallelism: parallelism)
    }
    return BinaryKernels.focal(
      batch, gamma: gamma, positiveWeight: positiveWeight, negativeWeight: negativeWeight,
      hessianFloor: nil, gradient: gradient, hessian: nil, parallelism: parallelism)
  }

  func runSecondOrder(
    _ batch: BinaryBatch, gradient: UnsafeMutablePointer<Double>,
    hessian: UnsafeMutablePointer<Double>
  ) -> Double {
    BinaryKernels.focal(
      batch, gamma: gamma, positiveWeight: positiveWeight, negativeWeight: negativeWeight,
      hessianFloor: hessianFloor, gradient: gradient, hessian: hessian,
      parallelism: parallelism)
  }

  func writeTerms(_ batch: BinaryBatch, into values: UnsafeMutablePointer<Double>) {
    let (g, aPos, aNeg) = (gamma, positiveWeight, negativeWeight)
    BinaryKernels.writeTerms(batch, into: values, parallelism: parallelism) {
      BinaryKernels.focalTerm($0, $1, g, aPos, aNeg).loss
    }
  }

  func validateParameters() throws(LossError) {
    guard gamma >= 0 && gamma <= 1000 else {
      throw .invalidParameter(name: "gamma", value: gamma, requirement: "in [0, 1000]")
    }
    if let alpha, !(alpha >= 0 && alpha <= 1) {
      throw .invalidParameter(name: "alpha", value: alpha, requirement: "in [0, 1]")
    }
    try Validation.checkNonNegative(positiveWeight, name: "positiveWeight")
    try Validation.checkNonNegative(negativeWeight, name: "negativeWeight")
    if let hessianFloor, !hessianFloor.isFinite {
      throw .invalidParameter(name: "hessianFloor", value: hessianFloor, requirement: "finite")
    }
  }
}
