/// Asymmetric loss (ASL) for multi-label classification (Ridnik et al. 2021,
/// "Asymmetric Loss For Multi-Label Classification"): focal terms with
/// separate focusing for positives and negatives, and a probability margin
/// that discards easy negatives outright.
///
///     p    = sigmoid(z),   p_m = max(p - m, 0)
///     L+   = (1 - p)^γ+ log p
///     L-   = p_m^γ- log(1 - p_m)
///     l    = -y L+ - (1 - y) L-
///     L    = Σ w l / Σ w
///     ∂l/∂z = y (1-p)^γ+ (γ+ p log p - (1 - p))
///           + (1 - y) p p_m^γ- (γ- (1 - p) (-log(1 - p_m)) / p_m + (1 - p) / (1 - p_m))   (p > m)
///
/// and the negative part of the slope is 0 for `p <= m`. Names against the
/// paper: ``positiveFocusing`` is γ+, ``negativeFocusing`` is γ-,
/// ``probabilityMargin`` is `m` (the authors' code calls it `clip`); the
/// defaults are the paper's, γ+ = 0, γ- = 4, m = 0.05.
///
/// Each entry of an N×L batch (logits and targets row-major, N·L each) is one
/// term, so `weights`, per-sample values, the gradient and the Hessian
/// diagonal have N·L elements, as ``MultiLabelBinaryCrossEntropy``; the
/// loss treats every entry alike, so it needs no label count. Targets lie in
/// [0, 1]: the paper's are hard labels, and a soft target mixes the two terms
/// linearly, `y L+ + (1 - y) L-` as written (as cross-entropy and
/// ``BinaryFocalLoss`` do).
///
/// The gradient is the exact derivative of the formula above, including
/// through the focusing factors. The authors' reference `AsymmetricLoss`
/// (github.com/Alibaba-MIIL/ASL, src/loss_functions/losses.py) differs:
/// - it clamps the probabilities inside the logs at `eps = 1e-8`, so its
///   loss saturates (and its gradient vanishes) where `-log p` exceeds 18.4,
///   e.g. a positive with a logit below -18.4; here `-log p = softplus(-z)`;
/// - its `disable_torch_grad_focal_loss` option detaches the focusing weight
///   (`(1 - p_t)^γ` then gets no gradient). In `AsymmetricLoss` the
///   detaching lines are commented out (the flag defaults to true but does
///   nothing); in `AsymmetricLossOptimized` it defaults to false. With it on,
///   the gradient is not the loss's derivative; here it always is;
/// - its constructor defaults to `gamma_pos=1` (the paper recommends 0) and
///   returns the sum over all entries (``Reduction/sum`` here; the default
///   ``Reduction/mean`` divides by N·L);
/// - for a soft target it blends the weight's base and exponent,
///   `(1 - p_t)^(γ+ y + γ- (1 - y))` with `p_t = y p + (1 - y)(1 - p_m)`,
///   rather than the two terms: the two agree on hard targets only.
///
/// timm's `AsymmetricLossMultiLabel` is the same computation as the authors'.
///
/// `γ+ = γ- = γ` with `m = 0` is ``BinaryFocalLoss`` with
/// `gamma: γ` (the same kernel, bit for bit), and `γ+ = γ- = 0, m = 0` is
/// binary cross-entropy (``MultiLabelBinaryCrossEntropy`` with unit class
/// weights). At `p = m` the negative term has a kink: its slope jumps there
/// for `γ- = 0` (and its curvature for `γ- = 1`), and for `0 < γ- < 1` the
/// curvature grows without bound as `p` falls to `m`. Below the margin the
/// term, slope and curvature are 0; above it they are the formulas below.
///
/// Hessian diagonal (``SecondOrderLoss``), with `u = p_m`, `r = 1 - u`,
/// `A = -log(r) / u`, `q = 1 - p`:
///
///     ∂²/∂z² [(1-p)^γ+ (-log p)] = (1-p)^γ+ ((2γ+ + 1) p q + γ+ p log p (q - γ+ p))
///     ∂²/∂z² [u^γ- (-log r)]     = (p q / r)² u^γ- + p² q u^(γ- - 1) (γ-(γ- - 1) q A + 2γ- q / r)
///                                  + (q - p) p u^γ- (γ- q A + q / r)          (p > m; else 0)
///
/// ```swift
/// let loss = AsymmetricLoss()  // γ+ = 0, γ- = 4, m = 0.05
/// let (value, gradient) = try loss.valueAndGradient(
///     logits: [2.0, -1.0, 0.5,   0.1, 0.2, -3], targets: [1, 0, 0,   0, 1, 1])
/// ```
public struct AsymmetricLoss: SecondOrderBinaryLoss, Hashable {
  public typealias Target = Double

  /// The focusing parameter γ+ of the positive term, in [0, 1000].
  public let positiveFocusing: Double
  /// The focusing parameter γ- of the negative term, in [0, 1000].
  public let negativeFocusing: Double
  /// The probability margin `m` (the paper's and authors' `clip`) in [0, 1):
  /// a negative with `p <= m` contributes nothing, others are scored at `p - m`.
  public let probabilityMargin: Double
  /// How per-entry terms are combined: weighted mean (default) or sum.
  public var reduction: Reduction = .mean
  /// Entries whose target equals this marker (NaN matches NaN) are skipped,
  /// like PyTorch's `ignore_index` (a missing label): their target is not
  /// validated, their weight leaves `Σ w`, and their gradient and Hessian
  /// entries are 0. `nil` (the default) skips none. A batch with every entry
  /// skipped has value 0.
  public var ignoredTarget: Double? = nil
  /// How many threads a call may use; the result is the same bits either way.
  public var parallelism: Parallelism = .automatic

  /// Creates the loss with focusing parameters γ+ and γ- and the probability
  /// margin `m` (defaults: the paper's 0, 4 and 0.05).
  ///
  /// A focusing parameter outside [0, 1000] or a margin outside [0, 1) is
  /// reported by every call as ``LossError/invalidParameter(name:value:requirement:)``.
  public init(
    positiveFocusing: Double = 0, negativeFocusing: Double = 4, probabilityMargin: Double = 0.05
  ) {
    self.positiveFocusing = positiveFocusing
    self.negativeFocusing = negativeFocusing
    self.probabilityMargin = probabilityMargin
  }

  func run(_ batch: BinaryBatch, gradient: KernelOutput?) -> Double {
    run(batch, gradient: gradient, hessian: nil)
  }

  func runSecondOrder(
    _ batch: BinaryBatch, gradient: KernelOutput,
    hessian: KernelOutput
  ) -> Double {
    run(batch, gradient: gradient, hessian: hessian)
  }

  func run(
    _ batch: BinaryBatch, gradient: KernelOutput?,
    hessian: KernelOutput?
  ) -> Double {
    if probabilityMargin == 0 && positiveFocusing == negativeFocusing {
      // The focal loss (cross-entropy for γ = 0), as BinaryFocalLoss runs it.
      if positiveFocusing == 0 && hessian == nil {
        return BinaryKernels.weightedCrossEntropy(
          batch, positiveWeight: 1, negativeWeight: 1, gradient: gradient,
          parallelism: parallelism)
      }
      return BinaryKernels.focal(
        batch, gamma: positiveFocusing, positiveWeight: 1, negativeWeight: 1,
        hessianFloor: nil, gradient: gradient, hessian: hessian, parallelism: parallelism)
    }
    return BinaryKernels.asymmetric(
      batch, positiveGamma: positiveFocusing, negativeGamma: negativeFocusing,
      margin: probabilityMargin, gradient: gradient, hessian: hessian,
      parallelism: parallelism)
  }

  func writeTerms(_ batch: BinaryBatch, into values: KernelOutput) {
    let (gp, gn, m) = (positiveFocusing, negativeFocusing, probabilityMargin)
    if m == 0 && gp == gn {
      BinaryKernels.writeTerms(batch, into: values, parallelism: parallelism) {
        BinaryKernels.focalTerm($0, $1, gp, 1, 1).loss
      }
      return
    }
    BinaryKernels.writeTerms(batch, into: values, parallelism: parallelism) {
      BinaryKernels.asymmetricTerm($0, $1, positiveGamma: gp, negativeGamma: gn, margin: m).loss
    }
  }

  func validateParameters() throws(LossError) {
    try Validation.check(positiveFocusing, name: "positiveFocusing", in: 0...1000)
    try Validation.check(negativeFocusing, name: "negativeFocusing", in: 0...1000)
    try Validation.check(probabilityMargin, name: "probabilityMargin", in: 0..<1)
  }
}
