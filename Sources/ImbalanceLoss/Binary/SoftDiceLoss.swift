/// The soft Dice loss on sigmoid probabilities (Milletari et al. 2016), with
/// smoothing.
///
///     p_i = sigmoid(z_i)
///     L   = 1 - (2 Σ w_i y_i p_i + ε) / (Σ w_i (y_i + p_i) + ε)
///     ∂L/∂z_i = -(2 w_i / B) (y_i - (1 - L)/2) p_i (1 - p_i),   B = Σ w (y + p) + ε
///
/// Soft Dice *is* smooth F1 up to the smoothing constant: with `ε = 0` it is
/// ``SmoothF1Loss`` exactly (same kernel, same bits), and it is the Tversky
/// loss with `α = β = 1/2` and smoothing `ε/2` (``TverskyLoss``). All three
/// share one kernel over the soft confusion sums TP, FP, FN, with
/// `Σ w (y + p) = 2TP + FP + FN` and `L = (FP + FN) / B` computed without
/// cancellation.
///
/// The sums are raw (weighted counts), as in segmentation_models_pytorch's
/// `DiceLoss(smooth=...)` and kornia; `ε = 1` (the default) keeps an
/// all-negative batch learnable: its loss tends to 0 as every `p` does,
/// where with `ε = 0` it is 1 with zero gradient (smooth F1's convention for
/// `S = 0`; segmentation_models_pytorch's default is `smooth=0`).
///
/// With ``overlap`` set to ``OverlapForm/semimetric`` the intersection
/// `Σ w_i y_i p_i` becomes `Σ w_i min(p_i, y_i)` (Wang et al. 2023, MONAI's
/// `soft_label=True`):
///
///     L = 1 - (2 Σ w_i min(p_i, y_i) + ε) / (Σ w_i (y_i + p_i) + ε)
///     ∂L/∂z_i = -(2 w_i / B) (c_i - (1 - L)/2) p_i (1 - p_i),   c_i = [p_i < y_i]
///
/// which equals the formula above on hard labels and, unlike it, is minimised
/// at `p = y` for soft ones.
///
/// The loss is a ratio of batch sums: it has no `reduction`, and `weights`
/// scale each sample's contribution to the sums.
public struct SoftDiceLoss: SoftConfusionLoss, Hashable {
  public typealias Target = Double

  /// The smoothing `ε >= 0` added to the numerator and the denominator.
  public let smoothing: Double
  /// Samples whose target equals this marker (NaN matches NaN) are skipped, like
  /// PyTorch's `ignore_index`: their target is not validated, they leave every
  /// sum, and their gradient entries are 0. `nil` (the default) skips none. A
  /// batch with every sample skipped has loss 0 when `ε > 0` and 1 when
  /// `ε = 0`; gradient 0.
  public var ignoredTarget: Double? = nil
  /// How the soft true positives are formed: `.product` (the default)
  /// takes `TP = Σ w p y`, `.semimetric` takes `TP = Σ w min(p, y)`, with
  /// `Σ w (y + p)` unchanged.
  /// The two give the same bits on hard 0/1 labels; for soft labels (label
  /// smoothing, distillation, partial-volume masks) use `.semimetric`, the
  /// only one minimised at `p = y`. See ``OverlapForm``.
  public var overlap: OverlapForm = .product
  /// How many threads a call may use; the result is the same bits either way.
  public var parallelism: Parallelism = .automatic

  /// Creates the loss with smoothing `ε`.
  ///
  /// A `smoothing` that is negative or not finite is reported by every call as
  /// ``LossError/invalidParameter(name:value:requirement:)``.
  public init(smoothing: Double = 1) {
    self.smoothing = smoothing
  }

  /// (2TP + ε) / (2TP + FP + FN + ε) = (TP + ε/2) / (TP + FP/2 + FN/2 + ε/2).
  var tverskyParameters: (alpha: Double, beta: Double, smoothing: Double) {
    (0.5, 0.5, smoothing / 2)
  }

  func validateParameters() throws(LossError) {
    try Validation.checkNonNegative(smoothing, name: "smoothing")
  }
}
