/// How the soft overlap losses (``SmoothF1Loss``, ``SoftDiceLoss``,
/// ``TverskyLoss``) measure the agreement of a probability `p_i = sigmoid(z_i)`
/// with its target `y_i`: the soft true positives `TP` from which their false
/// positives and false negatives follow.
///
///     product:      TP = Σ w_i p_i y_i
///     semimetric:   TP = Σ w_i min(p_i, y_i) = Σ w_i (p_i + y_i - |p_i - y_i|) / 2
///     both:         FP = Σ w_i p_i - TP        FN = Σ w_i y_i - TP
///
/// The two forms are equal on hard labels (`y_i` is 0 or 1, where
/// `min(p, y) = p y`), and the losses return the same bits for them, value and
/// gradient. They differ on soft labels: with the product form the loss of a
/// sample with `y = 0.5` keeps falling as `p → 1`, because `p y` grows with
/// `p` for every `y > 0`; the semimetric form is minimised at `p = y`, as a
/// loss should be (Wang et al. 2023, "Dice semimetric losses", arXiv
/// 2303.16296; MONAI's `soft_label=True`).
///
/// Which to use:
/// - Hard 0/1 labels: either; they are identical. ``product`` is the default
///   and the classic formula (Milletari et al. 2016, Salehi et al. 2017).
/// - Soft labels — label smoothing, knowledge distillation (a teacher's
///   probabilities as targets), partial-volume or averaged annotator masks,
///   mixup: ``semimetric``. The product form rewards pushing every `p` with
///   `y > 0` towards 1, so it does not calibrate to the soft target.
///
/// The semimetric form is piecewise smooth: `min(p, y)` has a kink at
/// `p = y`, so its loss is continuous with a gradient that jumps there (see
/// ``semimetric``). These losses have no Hessian entry point, so nothing
/// second-order depends on the choice.
///
/// ```swift
/// var loss = SoftDiceLoss()
/// loss.overlap = .semimetric
/// let (value, gradient) = try loss.valueAndGradient(
///     logits: [2.0, -1.0, 0.5], targets: [0.9, 0.1, 0.5])
/// ```
public enum OverlapForm: Sendable, Hashable {
  /// `TP = Σ w_i p_i y_i`, `FP = Σ w_i (1 - y_i) p_i`, `FN = Σ w_i y_i (1 - p_i)`:
  /// the classic soft confusion sums, smooth in `p`; biased for soft labels
  /// (the loss of a target `y` in (0, 1) is not minimised at `p = y`).
  case product

  /// `TP = Σ w_i min(p_i, y_i)`, `FP = Σ w_i max(p_i - y_i, 0)`,
  /// `FN = Σ w_i max(y_i - p_i, 0)`: the Dice semimetric form of Wang et al.
  /// (2023), whose loss is minimised at `p = y` for soft targets and equals
  /// ``product`` (same bits) on hard labels.
  ///
  /// The gradient uses `∂ min(p_i, y_i) / ∂z_i = c_i p_i (1 - p_i)` with
  /// `c_i = 1` where `p_i < y_i`, `0` where `p_i > y_i` and, at a tie
  /// `p_i = y_i` (a kink), the subgradient `c_i = y_i`: the product form's
  /// slope there. On hard labels every tie is `p` rounding to exactly 0 or 1,
  /// and `c = y` is then the exact gradient of the unrounded `p`. (MONAI's
  /// autograd of `|p - y|` takes `c = 1/2` at a tie instead.)
  case semimetric
}
