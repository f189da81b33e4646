/// The generalised Dice loss on softmax probabilities (Sudre et al. 2017): one
/// overlap ratio over all classes, each class weighted by the inverse square
/// of its volume, so small structures count as much as large ones.
///
///     p_ik = softmax(z_i)_k      y_ik = [c_i == k]
///     T_k = Σ_i w_i p_ik y_ik    S_k = Σ_i w_i (p_ik + y_ik)    R_k = Σ_i w_i y_ik
///     ω_k = 1 / R_k²  (.square),  1 / R_k  (.simple),  1  (.uniform)
///     L   = 1 - (2 Σ_k ω_k T_k + ε) / (Σ_k ω_k S_k + ε)
///     ∂L/∂p_ik = w_i ω_k (G - 2 y_ik) / (Σ_k ω_k S_k + ε),   G = 1 - L
///     ∂L/∂z_ij = p_ij (∂L/∂p_ij - Σ_k p_ik ∂L/∂p_ik)      (through the softmax)
///
/// This is MONAI's `GeneralizedDiceLoss(softmax=True, to_onehot_y=True,
/// batch=True)` with `smooth_nr = smooth_dr = ε`, the rows as its spatial
/// positions: a class absent from the batch (`R_k = 0`) gets the largest
/// weight of the present classes, as MONAI does, instead of an infinite one.
/// The weights are held constant in the gradient (they depend on the labels
/// only). `1 - (2N + ε)/(D + ε)` is computed as `Σ_k ω_k (S_k - 2 T_k) / (D + ε)`
/// from non-negative terms, and the weights relative to the largest one, so
/// that neither cancels nor overflows; with `ε = 0` and `D = 0` (every row
/// ignored) the loss is 1 and the gradient 0.
///
/// The loss is a ratio of batch sums: it has no `reduction`, and `weights`
/// scale each sample's contribution to the sums.
///
/// ```swift
/// let loss = GeneralizedDiceLoss(classCount: 3)
/// let (value, gradient) = try loss.valueAndGradient(
///     logits: [2.0, 0.5, -1.0,   0.1, 0.2, 0.3], targets: [0, 2])
/// ```
public struct GeneralizedDiceLoss: MacroSumsLoss, Hashable {
  public typealias Target = Int

  /// How a class's weight `ω_k` follows from its volume `R_k = Σ_i w_i y_ik`
  /// (MONAI's `w_type`).
  public enum Weighting: Sendable, Hashable {
    /// `ω_k = 1 / R_k²`, Sudre et al.'s choice (the default).
    case square
    /// `ω_k = 1 / R_k`.
    case simple
    /// `ω_k = 1`: the Dice of all classes pooled.
    case uniform
  }

  /// The number of classes `K`.
  public let classCount: Int
  /// How each class is weighted by its volume.
  public var weighting: Weighting = .square
  /// The smoothing `ε >= 0` added to the numerator and the denominator, in
  /// the units of the raw weighted sums (MONAI's `smooth_nr = smooth_dr`,
  /// default 1e-5 there and here).
  public var smoothing: Double = 1e-5
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
  /// - Throws: ``LossError`` for a `smoothing` that is negative or not finite,
  ///   a logit count that is not a multiple of K, an empty batch, mismatched
  ///   lengths, a non-finite logit, a label outside `0..<K` (other than
  ///   `ignoreIndex`) or an invalid weight. The gradient buffer is untouched
  ///   after a throw.
  /// - Complexity: O(N K) time, two passes with the gradient; O(K) scratch memory.
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?
  ) throws(LossError) -> Double {
    try macroValueAndGradient(
      logits: logits, targets: targets, weights: weights, gradient: gradient)
  }

  func validateParameters() throws(LossError) {
    try Validation.checkNonNegative(smoothing, name: "smoothing")
  }

  /// `finish` of `MacroSumsLoss`: the generalised Dice loss.
  func finish(
    _ batch: SoftmaxBatch, _ rule: SoftmaxRule, _ statistics: MacroF1Statistics,
    _ gradient: UnsafeMutablePointer<Double>?
  ) -> Double {
    let ratio = GeneralizedDiceRatio(
      statistics, weighting: weighting, smoothing: smoothing, normalizer: batch.normalizer)
    if let gradient {
      if ratio.denominator == 0 {
        gradient.update(repeating: 0, count: batch.rows * batch.classCount)
      } else {
        SoftmaxF1Kernel.gradient(
          batch, rule: rule, up: ratio.up, beta: ratio.beta, gamma: ratio.gamma,
          into: gradient)
      }
    }
    return ratio.loss
  }

  /// The shared softmax configuration of this loss.
  var setup: SoftmaxSetup {
    SoftmaxSetup(classCount: classCount, offsets: offsets, ignoreIndex: ignoreIndex)
  }
}

/// The generalised Dice ratio of a batch from its per-class sums (normalised
/// weights `f = w / W`), with the class weights relative to the largest one:
/// `ω'_k = (R_min / R_k)²` or `R_min / R_k` (1 for an absent class), so the
/// ratio is that of ``GeneralizedDiceLoss`` once `ε` is put in the same units,
/// `ε' = ε W R_min²` (square), `ε R_min` (simple), `ε / W` (uniform).
@usableFromInline
struct GeneralizedDiceRatio {
  /// `D' = Σ_k ω'_k S_k + ε'`.
  @usableFromInline var denominator: Double
  /// `L = Σ_k ω'_k (S_k - 2 T_k) / D'` (1 when `D' = 0`).
  @usableFromInline var loss: Double
  /// The gradient coefficients of `SoftmaxF1Kernel.gradient`: `up` brings a
  /// tiny `D'` into [1, 2), `beta_k = ω'_k G / (D' up)`, `gamma_k = 2 ω'_k / (D' up)`.
  @usableFromInline var up: [Double]
  @usableFromInline var beta: [Double]
  @usableFromInline var gamma: [Double]

  @inlinable
  init(
    _ s: MacroF1Statistics, weighting: GeneralizedDiceLoss.Weighting, smoothing: Double,
    normalizer: WeightNormalizer
  ) {
    let k = s.totals.count
    var smallest = Double.infinity
    for r in s.volumes where r > 0 { smallest = Swift.min(smallest, r) }
    let omega: [Double] = s.volumes.map { r in
      guard r > 0, weighting != .uniform else { return 1 }
      let ratio = smallest / r
      return weighting == .square ? ratio * ratio : ratio
    }
    // ε' = ε c in log space: W = 1 / (reciprocal scale) can exceed the largest double.
    var epsilon = 0.0
    if smoothing > 0 && normalizer.reciprocal > 0 {
      let logW = -Elementary.log(normalizer.reciprocal) - Elementary.log(normalizer.scale)
      let logSmallest = smallest.isFinite ? Elementary.log(smallest) : 0
      let logC: Double
      switch weighting {
      case .square: logC = 2 * logSmallest + logW
      case .simple: logC = logSmallest
      case .uniform: logC = -logW
      }
      epsilon = Swift.min(
        Elementary.exp(Elementary.log(smoothing) + logC), .greatestFiniteMagnitude)
    }
    var total = CompensatedSum()
    var twiceOverlap = CompensatedSum()
    var mismatch = CompensatedSum()
    for j in 0..<k {
      total.add(omega[j] * s.totals[j])
      twiceOverlap.add(2 * omega[j] * s.truePositives[j])
      mismatch.add(omega[j] * s.errors[j])
    }
    let d = total.value + epsilon
    denominator = d
    up = [Double](repeating: 1, count: k)
    beta = [Double](repeating: 0, count: k)
    gamma = [Double](repeating: 0, count: k)
    guard d > 0 else {
      // No mass at all (every row ignored): (0 + ε) / (0 + ε) = 1 when ε > 0.
      loss = smoothing > 0 ? 0 : 1
      return
    }
    loss = Swift.min(1, mismatch.value / d)
    let g = Swift.min(1, (twiceOverlap.value + epsilon) / d)
    let scale = d < 0x1p-900 ? PowerOfTwo.scale(bringingToUnit: d, limit: 1023) : 1
    let scaled = d * scale
    for j in 0..<k {
      up[j] = scale
      beta[j] = omega[j] * g / scaled
      gamma[j] = 2 * omega[j] / scaled
    }
  }
}
