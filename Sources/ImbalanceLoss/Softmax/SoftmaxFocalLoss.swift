/// Softmax focal loss (Lin et al. 2017): cross-entropy scaled down by
/// `(1 - p_t)^gamma` on samples the model already gets right.
///
///     p_t = softmax(z_i)_c_i            q = 1 - p_t
///     l_i = -q^gamma log p_t
///     L   = Σ_i v_i l_i / Σ_i v_i      with v_i = w_i α_c_i, α = classWeights
///     ∂l_i/∂z_ik = (p_ik - [k == c_i]) G,   G = q^(gamma-1) (q + gamma p_t (-log p_t))
///
/// `gamma = 0` is exactly ``SoftmaxCrossEntropy`` (same bits). For
/// `0 < gamma < 1` the factor `q^(gamma-1)` alone blows up as `p_t -> 1`, which
/// is where naive code (and users of kornia and LDAM-DRW) get NaN gradients;
/// here it is never formed: the label's entry is `-q^gamma (q + gamma p_t CE)`
/// and the others are `(p_k / q) q^gamma (q + gamma p_t CE)` with
/// `p_k / q = e_k / Σ_{j != c} e_j`, `q^gamma = exp(gamma log q)`, and `q`,
/// `log q` taken from the log-sum-exp without cancellation.
///
/// Class weights `α` (``classWeights``): `nil` by default, like optax's
/// `alpha=None`. torchvision's `sigmoid_focal_loss` defaults to `alpha = 0.25`
/// for its binary loss, where α weighs positives against negatives; a softmax
/// loss has no "positive" class, so no α is the neutral choice. Under `.mean`,
/// α is normalised like PyTorch's cross-entropy `weight=` (`Σ v` in the
/// denominator); use `.sum` and divide by N to get torchvision's scaling.
///
/// Second derivatives (``SoftmaxSecondOrderLoss``), per row before the weight
/// `v_i / Σ v`, each diagonal entry raised to ``hessianFloor`` when it is set:
///
///     ∂²l/∂z_c² = p q^γ (q (1 + 2γ) + γ CE (γ p - q))
///     ∂²l/∂z_k² = q^γ r_k ((q + γ p CE)(1 - p_k) - γ p r_k B)     k != c
///     r_k = p_k / q,   B = -2q + q CE - (γ - 1) p CE,   CE = -log p
///
/// ```swift
/// let loss = try SoftmaxFocalLoss(classCount: 3, gamma: 2)
/// let (value, gradient) = try loss.valueAndGradient(
///     logits: [2.0, 0.5, -1.0], targets: [0])
/// ```
public struct SoftmaxFocalLoss: SecondOrderSoftmaxLoss, Hashable {
  public typealias Target = Int

  /// The number of classes `K`.
  public let classCount: Int
  /// The focusing parameter `gamma` in [0, 1000] (2 in the paper; 0 is cross-entropy).
  public let gamma: Double
  /// How per-sample terms are combined: weighted mean (default) or sum.
  public var reduction: Reduction = .mean
  /// How many threads a call may use; the result is the same bits either way.
  public var parallelism: Parallelism = .automatic
  /// The per-class weights α (`K` finite values `>= 0`), or `nil` for none.
  public var classWeights: [Double]? = nil
  /// A label that marks a row to skip, as in ``LogitAdjustedCrossEntropy/ignoreIndex``.
  public var ignoreIndex: Int? = nil
  /// A lower bound for the diagonal second derivatives
  /// (``SecondOrderLoss/valueGradientAndHessianDiagonal(logits:targets:weights:gradient:hessianDiagonal:)``),
  /// or `nil` for the exact values.
  ///
  /// Focal loss is not convex: `∂²l/∂z_k²` is negative where `p_t` is small
  /// (for gamma = 2 the label's entry is negative below about p_t = 0.055),
  /// and Newton steps or gradient-boosting trees (LightGBM and XGBoost divide
  /// by the summed Hessian) then step the wrong way or blow up. With a floor, each row's
  /// entry becomes `max(∂²l_i/∂z_ik², hessianFloor)` before the weight
  /// multiplies it: 0 keeps the exact value where it is positive, a small
  /// positive number (1e-6, say) also keeps the trees' sums away from 0. The
  /// gradient and
  /// ``SoftmaxSecondOrderLoss/hessianVectorProduct(logits:targets:weights:vector:into:)``
  /// stay exact.
  public var hessianFloor: Double? = nil
  let offsets: [Double]

  /// Creates the loss for `classCount` classes.
  ///
  /// - Throws: ``LossError/noClasses`` when `classCount <= 0`,
  ///   ``LossError/invalidParameter(name:value:requirement:)`` for a gamma
  ///   that is negative or not finite, or above 1000 (as ``BinaryFocalLoss``:
  ///   the Hessian's `γ²` terms would overflow where `q^γ` is 0, giving NaN).
  public init(classCount: Int, gamma: Double = 2) throws(LossError) {
    if classCount <= 0 { throw .noClasses }
    try Validation.check(gamma, name: "gamma", in: 0...1000)
    self.classCount = classCount
    self.gamma = gamma
    self.offsets = [Double](repeating: 0, count: classCount)
  }

  /// The shared softmax configuration of this loss.
  var setup: SoftmaxSetup {
    var setup = SoftmaxSetup(
      classCount: classCount, offsets: offsets, classWeights: classWeights,
      ignoreIndex: ignoreIndex, reduction: reduction, parallelism: parallelism)
    setup.focusing = gamma
    setup.hessianFloor = hessianFloor
    return setup
  }
}
