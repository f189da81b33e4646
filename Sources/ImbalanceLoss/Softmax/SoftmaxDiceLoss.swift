/// The multi-class soft Dice loss on softmax probabilities (Milletari et al.
/// 2016, V-Net): one minus the mean over classes of each class's smoothed
/// Dice ratio against the one-hot labels.
///
///     p_ik = softmax(z_i)_k      y_ik = [c_i == k]
///     T_k  = Σ_i w_i p_ik y_ik   S_k = Σ_i w_i (p_ik + y_ik)
///     L    = 1 - (1/K') Σ_{k >= k0} (2 T_k + ε_nr) / (S_k + ε_dr)
///     ∂L/∂p_ik = w_i (F_k - 2 y_ik) / (K' (S_k + ε_dr)),  F_k = (2 T_k + ε_nr) / (S_k + ε_dr)
///     ∂L/∂z_ij = p_ij (∂L/∂p_ij - Σ_k p_ik ∂L/∂p_ik)      (through the softmax)
///
/// with `k0 = 0`, `K' = K`, or `k0 = 1`, `K' = K - 1` without the background
/// class 0. This is MONAI's `DiceLoss(softmax=True, to_onehot_y=True,
/// batch=True)` with its `include_background`, `smooth_nr` and `smooth_dr`
/// (default 1e-5 there and here), the rows as its spatial positions; without
/// smoothing it is ``MacroSmoothF1Loss``, whose row pass it shares. The
/// softmax runs over all K classes whether or not the background counts.
///
/// `1 - F_k` is summed as `(D_k + ε_dr - ε_nr) / (S_k + ε_dr)` with
/// `D_k = S_k - 2 T_k` accumulated from non-negative terms, so a
/// near-perfect batch keeps its digits. A class with `S_k + ε_dr = 0` has
/// `F_k = ε_nr / ε_dr` (0 when `ε_dr = 0`) and no gradient; if every row is
/// ignored the loss is `1 - ε_nr / ε_dr` (1 without smoothing) with a zero
/// gradient. With `ε_nr > ε_dr` a perfect class scores above 1 and the loss
/// can go below 0, as in MONAI, down to `1 - ε_nr / ε_dr`; `ε_dr = 0` with
/// `ε_nr > 0` (a NaN or infinity in MONAI for an empty class) is refused, as
/// is a ratio `ε_nr / ε_dr` above 2^64.
///
/// The loss is a ratio of batch sums: it has no `reduction`, and `weights`
/// scale each sample's contribution to T and S (the smoothing is in the units
/// of those raw weighted sums, so it does not scale with the weights).
///
/// ```swift
/// var loss = try SoftmaxDiceLoss(classCount: 3)
/// loss.includeBackground = false
/// let (value, gradient) = try loss.valueAndGradient(
///     logits: [2.0, 0.5, -1.0,   0.1, 0.2, 0.3], targets: [0, 2])
/// ```
public struct SoftmaxDiceLoss: MacroSumsLoss, Hashable {
  public typealias Target = Int

  /// The number of classes `K`.
  public let classCount: Int
  /// Whether class 0 (the background) counts in the mean (MONAI's
  /// `include_background`, default `true`). Needs `classCount >= 2` when false.
  public var includeBackground = true
  /// `ε_nr >= 0`, added to the numerator `2 T_k` (MONAI's `smooth_nr`).
  public var numeratorSmoothing: Double = 1e-5
  /// `ε_dr >= 0`, added to the denominator `S_k` (MONAI's `smooth_dr`).
  public var denominatorSmoothing: Double = 1e-5
  /// A label that marks a row to skip, as in ``LogitAdjustedCrossEntropy/ignoreIndex``.
  public var ignoreIndex: Int? = nil
  /// How many threads a call may use. This loss computes on the calling
  /// thread today, whatever the setting (the same bits either way).
  public var parallelism: Parallelism = .automatic
  let offsets: [Double]

  /// Creates the loss for `classCount` classes.
  ///
  /// - Throws: ``LossError/noClasses`` when `classCount <= 0`.
  public init(classCount: Int) throws(LossError) {
    if classCount <= 0 { throw .noClasses }
    self.classCount = classCount
    self.offsets = [Double](repeating: 0, count: classCount)
  }

  /// Computes the loss and, when `gradient` is non-nil, writes `∂L/∂z` into it.
  ///
  /// - Throws: ``LossError`` for a smoothing that is negative or not finite,
  ///   `numeratorSmoothing > 0` with a `denominatorSmoothing` of 0 (or a ratio
  ///   of the two above 2^64), `includeBackground == false` with
  ///   one class, a logit count that is not
  ///   a multiple of K, an empty batch, mismatched lengths, a non-finite
  ///   logit, a label outside `0..<K` (other than `ignoreIndex`) or an invalid
  ///   weight. The gradient buffer is untouched after a throw.
  /// - Complexity: O(N K) time, two passes with the gradient; O(K) scratch memory.
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?
  ) throws(LossError) -> Double {
    try macroValueAndGradient(
      logits: logits, targets: targets, weights: weights, gradient: gradient)
  }

  /// The loss from a batch's statistics (in the units of its normaliser),
  /// and its gradient when `gradient` is non-nil.
  func finish(
    _ batch: SoftmaxBatch, _ rule: SoftmaxRule, _ statistics: MacroF1Statistics,
    _ gradient: UnsafeMutablePointer<Double>?
  ) -> Double {
    let (nr, dr) = (numeratorSmoothing, denominatorSmoothing)
    let n = batch.normalizer
    let ratios = MacroDiceRatios(
      statistics, numerator: n.normalized(nr),
      denominator: n.normalized(dr), excess: n.normalized(dr - nr),
      empty: dr > 0 ? nr / dr : 0, firstClass: includeBackground ? 0 : 1)
    if let gradient {
      SoftmaxF1Kernel.gradient(
        batch, rule: rule, up: ratios.up, beta: ratios.beta, gamma: ratios.gamma,
        into: gradient)
    }
    return ratios.loss
  }

  /// Throws for smoothing or `includeBackground` the loss refuses.
  func validateParameters() throws(LossError) {
    let (nr, dr) = (numeratorSmoothing, denominatorSmoothing)
    try Validation.checkNonNegative(nr, name: "numeratorSmoothing")
    try Validation.checkNonNegative(dr, name: "denominatorSmoothing")
    // F_k lies between 2 T_k / S_k and ε_nr / ε_dr: with that ratio below
    // 2^64 every coefficient of the row pass (<= F_k 2^900 / K') stays finite.
    if nr > 0 && !(nr / dr <= 0x1p64) {
      throw .invalidParameter(
        name: "denominatorSmoothing", value: dr,
        requirement: "> 0 with numeratorSmoothing / denominatorSmoothing <= 2^64")
    }
    if !includeBackground && classCount == 1 {
      throw .invalidParameter(
        name: "includeBackground", value: 0, requirement: "true when classCount is 1")
    }
  }

  /// The shared softmax configuration of this loss.
  var setup: SoftmaxSetup {
    SoftmaxSetup(classCount: classCount, offsets: offsets, ignoreIndex: ignoreIndex)
  }
}
