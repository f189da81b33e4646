/// One minus smooth accuracy: accuracy made differentiable by replacing the
/// 0/1 prediction with `p = sigmoid(z)`.
///
///     ACC_s = E[y p + (1 - y)(1 - p)]
///     L     = 1 - ACC_s = E[y (1 - p) + (1 - y) p]
///     ∂L/∂z_i = -(w_i / W) (2 y_i - 1) p_i (1 - p_i)
///
/// The factor `p (1 - p)` vanishes for a confidently wrong sample, which gets
/// almost no gradient: training on this loss is slow where it is most wrong.
/// ``BinaryCrossEntropy`` removes that factor.
///
/// The value is summed as `y (1 - p) + (1 - y) p` rather than `1 - ACC_s`,
/// so a near-perfect batch keeps its significant digits. The Hessian
/// (``SecondOrderLoss``) is diagonal:
///
///     ∂²L/∂z_i² = (w_i / W) (1 - 2 y_i) p_i (1 - p_i) (1 - 2 p_i)
///
/// Its sign changes with `p_i - 1/2`: the loss is not convex. `1 - 2p =
/// -tanh(z/2)` is formed without cancellation, so the Hessian keeps its
/// relative accuracy where it is tiny near `z = 0`.
public struct SmoothAccuracyLoss: SecondOrderBinaryLoss, Hashable {
  /// A binary target: a label or soft label in [0, 1].
  public typealias Target = Double

  /// How per-sample terms are combined: weighted mean (default) or sum.
  public var reduction: Reduction = .mean
  /// Samples whose target equals this marker (NaN matches NaN) are skipped, like
  /// PyTorch's `ignore_index`: their target is not validated, their weight
  /// leaves `Σ w`, and their gradient entries are 0. `nil` (the default) skips
  /// none. A batch with every sample skipped has value 0 and gradient 0.
  public var ignoredTarget: Double? = nil
  /// How many threads a call may use; the result is the same bits either way.
  public var parallelism: Parallelism = .automatic

  /// Creates the loss.
  public init() {}

  func run(_ batch: BinaryBatch, gradient: KernelOutput?) -> Double {
    BinaryKernels.smoothAccuracy(batch, gradient: gradient, parallelism: parallelism)
  }

  func runSecondOrder(
    _ batch: BinaryBatch, gradient: KernelOutput,
    hessian: KernelOutput
  ) -> Double {
    BinaryKernels.smoothAccuracy(
      batch, gradient: gradient, hessian: hessian, parallelism: parallelism)
  }

  func writeTerms(_ batch: BinaryBatch, into values: KernelOutput) {
    BinaryKernels.writeTerms(batch, into: values, parallelism: parallelism) {
      BinaryKernels.smoothAccuracyTerm($0, $1).loss
    }
  }
}
