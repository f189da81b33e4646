/// One minus softmax smooth accuracy: accuracy made differentiable by
/// replacing the 0/1 "prediction is right" with the probability of the label
/// for K classes.
///
///     p_ic = softmax(z_i)_c_i
///     L    = 1 - E[p_ic] = Σ_i v_i (1 - p_ic) / Σ_i v_i
///     ∂L/∂z_ik = (v_i / Σ v) p_ic (p_ik - [k == c_i])
///
/// As in the binary case the gradient carries the factor `p_ic`, which
/// vanishes on a confidently wrong sample: such samples barely learn. The
/// cross-entropy removes the factor ("p -> log p").
///
/// Each term `1 - p_ic` is taken from the log-sum-exp without cancellation,
/// so a near-perfect batch keeps its digits. Class weights and an ignored label
/// work as in ``LogitAdjustedCrossEntropy`` (`v_i = w_i classWeights[c_i]`).
public struct SoftmaxSmoothAccuracyLoss: SeparableSoftmaxLoss, Hashable {
  public typealias Target = Int

  /// The number of classes `K`.
  public let classCount: Int
  /// How per-sample terms are combined: weighted mean (default) or sum.
  public var reduction: Reduction = .mean
  /// How many threads a call may use; the result is the same bits either way.
  public var parallelism: Parallelism = .automatic
  /// Per-class weights, as in ``LogitAdjustedCrossEntropy/classWeights``.
  public var classWeights: [Double]? = nil
  /// A label that marks a row to skip, as in ``LogitAdjustedCrossEntropy/ignoreIndex``.
  public var ignoreIndex: Int? = nil
  let offsets: [Double]

  /// Creates the loss for `classCount` classes.
  ///
  /// - Throws: ``LossError/noClasses`` when `classCount <= 0`.
  public init(classCount: Int) throws(LossError) {
    if classCount <= 0 { throw .noClasses }
    self.classCount = classCount
    self.offsets = [Double](repeating: 0, count: classCount)
  }

  /// The shared softmax configuration of this loss.
  var setup: SoftmaxSetup {
    var setup = SoftmaxSetup(
      classCount: classCount, offsets: offsets, classWeights: classWeights,
      ignoreIndex: ignoreIndex, reduction: reduction, parallelism: parallelism)
    setup.smoothAccuracy = true
    return setup
  }
}
