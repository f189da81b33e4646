/// The Tversky loss on sigmoid probabilities (Salehi et al. 2017): a soft
/// overlap loss that weighs false positives and false negatives apart.
///
///     p_i = sigmoid(z_i)
///     TP = Σ w_i y_i p_i    FP = Σ w_i (1 - y_i) p_i    FN = Σ w_i y_i (1 - p_i)
///     L  = 1 - (TP + ε) / (TP + α FP + β FN + ε)
///     ∂L/∂z_i = -p_i (1 - p_i) (w_i / D) (y_i (1 - (1 - β) I) - α (1 - y_i) I)
///
/// with `D = TP + α FP + β FN + ε` and `I = 1 - L` the Tversky index. `β > α`
/// penalises missed positives more (the paper's choice, and the default, is
/// `α = 0.3`, `β = 0.7`); `α = β = 1/2` is ``SoftDiceLoss`` with smoothing
/// `2ε`, and with `ε = 0` also ``SmoothF1Loss``: all three run one kernel.
///
/// `1 - I` is computed as `(α FP + β FN) / D`, whose terms are all
/// non-negative: no cancellation near a perfect batch. The sums are raw
/// (weighted counts, not means), so `ε` is in units of samples. When
/// `D = 0` (`ε = 0` and nothing positive or predicted) the loss is 1 and the
/// gradient 0, as smooth F1 defines it; never a NaN.
///
/// With ``overlap`` set to ``OverlapForm/semimetric`` the sums are
///
///     TP = Σ w_i min(p_i, y_i)   FP = Σ w_i max(p_i - y_i, 0)   FN = Σ w_i max(y_i - p_i, 0)
///
/// (Wang et al. 2023, MONAI's `soft_label=True`) and the gradient is the one
/// above with `y_i` replaced by `c_i = [p_i < y_i]`: the same on hard labels,
/// and, for soft ones, a loss minimised at `p = y`, where FP = FN = 0 and the
/// loss is 0 (the only minimiser when `α, β > 0`); the product form's minimiser
/// is elsewhere.
///
/// The loss is a ratio of batch sums, not a mean of per-sample terms: it has
/// no `reduction`, and `weights` scale each sample's contribution to the sums.
///
/// ```swift
/// let loss = TverskyLoss(alpha: 0.3, beta: 0.7)
/// let (value, gradient) = try loss.valueAndGradient(
///     logits: [2.0, -1.0, 0.5], targets: [1, 0, 1])
/// ```
public struct TverskyLoss: SoftConfusionLoss, Hashable {
  public typealias Target = Double

  /// The weight `α` of the false positives.
  public let alpha: Double
  /// The weight `β` of the false negatives.
  public let beta: Double
  /// The smoothing `ε >= 0` added to the numerator and the denominator.
  public let smoothing: Double
  /// Samples whose target equals this marker (NaN matches NaN) are skipped, like
  /// PyTorch's `ignore_index`: their target is not validated, they leave every
  /// sum, and their gradient entries are 0. `nil` (the default) skips none. A
  /// batch with every sample skipped has loss 0 when `ε > 0` (`ε / ε = 1`)
  /// and 1 when `ε = 0`; gradient 0.
  public var ignoredTarget: Double? = nil
  /// How the soft true positives are formed: `.product` (the default)
  /// takes `TP = Σ w p y`, `.semimetric` takes `TP = Σ w min(p, y)`,
  /// `FP = Σ w max(p - y, 0)` and `FN = Σ w max(y - p, 0)`.
  /// The two give the same bits on hard 0/1 labels; for soft labels (label
  /// smoothing, distillation, partial-volume masks) use `.semimetric`, the
  /// only one minimised at `p = y`. See ``OverlapForm``.
  public var overlap: OverlapForm = .product
  /// The exponent `γ > 0` of the focal Tversky loss (Abraham & Khan 2019),
  /// `L_γ = L^γ = (1 - I)^γ` with `∂L_γ/∂z = γ L^(γ-1) ∂L/∂z`; 1 (the
  /// default) is the Tversky loss. The paper writes `(1 - I)^(1/γ')` with
  /// `γ' = 4/3`, i.e. `exponent: 0.75`; segmentation_models_pytorch's
  /// `TverskyLoss(gamma:)` is this exponent. Where `L = 0` the gradient is 0.
  public var exponent: Double = 1
  /// How many threads a call may use; the result is the same bits either way.
  public var parallelism: Parallelism = .automatic

  /// Creates the loss with weights `α` (false positives), `β` (false
  /// negatives) and smoothing `ε`.
  ///
  /// `alpha` and `beta` must be finite and `>= 0` with a positive sum, and
  /// `smoothing` finite and `>= 0`; every call reports a violation as
  /// ``LossError/invalidParameter(name:value:requirement:)``.
  public init(alpha: Double = 0.3, beta: Double = 0.7, smoothing: Double = 1) {
    self.alpha = alpha
    self.beta = beta
    self.smoothing = smoothing
  }

  var tverskyParameters: (alpha: Double, beta: Double, smoothing: Double) {
    (alpha, beta, smoothing)
  }

  func validateParameters() throws(LossError) {
    try Validation.checkNonNegative(alpha, name: "alpha")
    try Validation.checkNonNegative(beta, name: "beta")
    if alpha + beta == 0 {
      throw .invalidParameter(name: "alpha + beta", value: 0, requirement: "positive")
    }
    try Validation.checkNonNegative(smoothing, name: "smoothing")
    try Validation.checkPositive(exponent, name: "exponent")
  }

  var focalExponent: Double { exponent }
}
