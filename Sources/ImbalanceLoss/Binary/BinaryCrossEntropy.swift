/// Binary cross-entropy on logits, with class weights.
///
///     p_i = sigmoid(z_i)
///     l_i = -a_pos y_i log p_i - a_neg (1 - y_i) log(1 - p_i)
///     L   = E[l] = Σ w_i l_i / Σ w_i
///     ∂L/∂z_i = (w_i / W) (a_neg (1 - y_i) p_i - a_pos y_i (1 - p_i))
///
/// With the default `a_pos = a_neg = 1` the gradient is `(w_i / W)(p_i - y_i)`.
/// With ``labelSmoothing`` `ε`, `y_i` stands for `y_i (1 - ε) + ε / 2`
/// throughout (Keras' `BinaryCrossentropy(label_smoothing=ε)`).
/// `a_pos` alone is what other libraries call `pos_weight`; a common choice
/// for a positive rate π is `positiveWeight: (1 - π) / π`.
///
/// `log p` is computed as `-softplus(-z)`, never from `p`, so any finite logit
/// gives a finite value and gradient. The Hessian (``SecondOrderLoss``) is
/// diagonal:
///
///     ∂²L/∂z_i² = (w_i / W) (a_pos y_i + a_neg (1 - y_i)) p_i (1 - p_i)
///
/// ```swift
/// let loss = BinaryCrossEntropy(positiveWeight: 3)
/// let (value, gradient) = try loss.valueAndGradient(
///     logits: [2.0, -1.0, 0.5], targets: [1, 0, 1])
/// ```
public struct BinaryCrossEntropy: SecondOrderBinaryLoss, Hashable {
  /// A binary target: a label or soft label in [0, 1].
  public typealias Target = Double

  /// The weight `a_pos` of the positive term.
  public let positiveWeight: Double
  /// The weight `a_neg` of the negative term.
  public let negativeWeight: Double
  /// How per-sample terms are combined: weighted mean (default) or sum.
  public var reduction: Reduction = .mean
  /// Samples whose target equals this marker (NaN matches NaN) are skipped, like
  /// PyTorch's `ignore_index`: their target is not validated, their weight
  /// leaves `Σ w`, and their gradient entries are 0. `nil` (the default) skips
  /// none. A batch with every sample skipped has value 0 and gradient 0.
  public var ignoredTarget: Double? = nil
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

  /// Creates the loss with class weights `a_pos` and `a_neg`.
  ///
  /// A weight that is negative or not finite is reported by every call as
  /// ``LossError/invalidParameter(name:value:requirement:)``.
  public init(positiveWeight: Double = 1, negativeWeight: Double = 1) {
    self.positiveWeight = positiveWeight
    self.negativeWeight = negativeWeight
  }

  func run(_ batch: BinaryBatch, gradient: KernelOutput?) -> Double {
    BinaryKernels.weightedCrossEntropy(
      batch, positiveWeight: positiveWeight, negativeWeight: negativeWeight,
      gradient: gradient, parallelism: parallelism)
  }

  func runSecondOrder(
    _ batch: BinaryBatch, gradient: KernelOutput,
    hessian: KernelOutput
  ) -> Double {
    BinaryKernels.weightedCrossEntropy(
      batch, positiveWeight: positiveWeight, negativeWeight: negativeWeight,
      gradient: gradient, hessian: hessian, parallelism: parallelism)
  }

  func writeTerms(_ batch: BinaryBatch, into values: KernelOutput) {
    let (aPos, aNeg) = (positiveWeight, negativeWeight)
    BinaryKernels.writeTerms(batch, into: values, parallelism: parallelism) {
      BinaryKernels.crossEntropyTerm($0, $1, aPos, aNeg).loss
    }
  }

  func validateParameters() throws(LossError) {
    try Validation.checkNonNegative(positiveWeight, name: "positiveWeight")
    try Validation.checkNonNegative(negativeWeight, name: "negativeWeight")
  }
}
