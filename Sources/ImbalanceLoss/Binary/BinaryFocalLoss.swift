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
/// positive and `-1` for a negative. By default (``SoftTargetFocusing/linear``)
/// a soft target `y` mixes the two focal terms linearly,
/// `y · focal(positive) + (1 - y) · focal(negative)`, so the loss is linear
/// in `y` as cross-entropy is. ``softTargetFocusing`` set to
/// ``SoftTargetFocusing/blendedProbability`` gives instead the form of
/// torchvision's, optax's and Keras' sigmoid focal losses, which apply
/// `(1 - p_t)^γ` with a blended `p_t = p y + (1 - p)(1 - y)` to the soft
/// cross-entropy; the two agree bit for bit on hard targets.
///
/// ``labelSmoothing`` `ε` replaces every kept target by `y (1 - ε) + ε / 2`
/// (Keras' `label_smoothing`) before either form, in the value, the gradient
/// and the Hessian.
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
public struct BinaryFocalLoss: SecondOrderBinaryLoss, Hashable {
  /// A binary target: a label or soft label in [0, 1].
  public typealias Target = Double

  /// How the focusing factor `(1 - p_t)^γ` treats a soft target `y`; both
  /// forms are the same on hard targets (`y` 0 or 1), bit for bit.
  ///
  /// With `p = sigmoid(z)`, `a_pos`, `a_neg` the class weights and
  /// `ce(y) = -y log p - (1 - y) log(1 - p)`:
  ///
  ///     linear:              l = a_pos y (1 - p)^γ (-log p) + a_neg (1 - y) p^γ (-log(1 - p))
  ///     blendedProbability:  l = a_t ce(y) (1 - p_t)^γ,
  ///                          p_t = p y + (1 - p)(1 - y),  a_t = a_pos y + a_neg (1 - y)
  public enum SoftTargetFocusing: Sendable, Hashable {
    /// The loss of a soft target is the `y`-weighted mixture of the losses
    /// of the two hard targets, so it is linear in `y` (the expected focal
    /// loss under a label drawn with probability `y`), as cross-entropy is.
    /// The default, and this library's behaviour before the option existed.
    case linear
    /// torchvision's `sigmoid_focal_loss` (and optax's `sigmoid_focal_loss`,
    /// Keras' `BinaryFocalCrossentropy`): the soft cross-entropy times
    /// `(1 - p_t)^γ` with the blended probability `p_t = p y + (1 - p)(1 - y)`,
    /// times `a_t` (`α y + (1 - α)(1 - y)` with `alpha`; 1 without weights,
    /// as torchvision's `alpha=-1` and optax's `alpha=None`). Not linear in
    /// `y`: its minimiser for a soft target is not `p = y` when `γ > 0`.
    ///
    ///     ∂l/∂z   = a_t m^γ (ce' + γ ce (1 - 2y) r)
    ///     ∂²l/∂z² = a_t m^γ (p (1 - p) + 2γ ce' (1 - 2y) r
    ///                        + γ ce ((γ - 1)(1 - 2y)² r² + (1 - 2y)(1 - 2p) r))
    ///
    /// with `m = 1 - p_t = y (1 - p) + (1 - y) p`, `ce' = p - y`, `r = p (1 - p) / m`.
    case blendedProbability
  }

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
  /// How the focusing factor treats soft targets: ``SoftTargetFocusing/linear``
  /// (the default) or torchvision's ``SoftTargetFocusing/blendedProbability``.
  /// Hard targets give the same bits either way.
  public var softTargetFocusing: SoftTargetFocusing = .linear
  /// Label smoothing `ε` in [0, 1]: every kept target `y` becomes
  /// `y (1 - ε) + ε / 2` (Keras' `label_smoothing`; optax's `smooth_labels`
  /// with two classes) in the value, gradient and Hessian. ``ignoredTarget``
  /// is matched against the target before smoothing. 0 (the default) leaves
  /// the targets, and every bit of the results, as they are. A value outside
  /// [0, 1] or NaN is reported by every call as
  /// ``LossError/invalidParameter(name:value:requirement:)``.
  public var labelSmoothing: Double = 0
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

  /// Whether soft targets take the blended form: not when it equals the
  /// linear one for every `y` (`γ = 0` with equal class weights).
  var isBlended: Bool {
    softTargetFocusing == .blendedProbability
      && !(gamma == 0 && positiveWeight == negativeWeight)
  }

  func run(_ batch: BinaryBatch, gradient: KernelOutput?) -> Double {
    if gamma == 0 && !isBlended {
      return BinaryKernels.weightedCrossEntropy(
        batch, positiveWeight: positiveWeight, negativeWeight: negativeWeight,
        gradient: gradient, parallelism: parallelism)
    }
    return BinaryKernels.focal(
      batch, gamma: gamma, positiveWeight: positiveWeight, negativeWeight: negativeWeight,
      blended: isBlended, crossEntropyOnHardTargets: gamma == 0,
      hessianFloor: nil, gradient: gradient, hessian: nil, parallelism: parallelism)
  }

  func runSecondOrder(
    _ batch: BinaryBatch, gradient: KernelOutput,
    hessian: KernelOutput
  ) -> Double {
    BinaryKernels.focal(
      batch, gamma: gamma, positiveWeight: positiveWeight, negativeWeight: negativeWeight,
      blended: isBlended, hessianFloor: hessianFloor, gradient: gradient, hessian: hessian,
      parallelism: parallelism)
  }

  func writeTerms(_ batch: BinaryBatch, into values: KernelOutput) {
    let (g, aPos, aNeg) = (gamma, positiveWeight, negativeWeight)
    if isBlended {
      BinaryKernels.writeTerms(batch, into: values, parallelism: parallelism) {
        BinaryKernels.blendedFocalTerm(
          $0, $1, g, aPos, aNeg, weight: Vector(repeating: 1), crossEntropyOnHardTargets: false
        ).loss
      }
      return
    }
    BinaryKernels.writeTerms(batch, into: values, parallelism: parallelism) {
      BinaryKernels.focalTerm($0, $1, g, aPos, aNeg).loss
    }
  }

  func validateParameters() throws(LossError) {
    try Validation.check(gamma, name: "gamma", in: 0...1000)
    if let alpha { try Validation.check(alpha, name: "alpha", in: 0...1) }
    try Validation.checkNonNegative(positiveWeight, name: "positiveWeight")
    try Validation.checkNonNegative(negativeWeight, name: "negativeWeight")
    try Validation.checkFinite(hessianFloor, name: "hessianFloor")
  }
}
