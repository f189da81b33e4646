/// Plain softmax cross-entropy: ``LogitAdjustedCrossEntropy`` with `tau = 0`.
///
///     L = E[logsumexp_k(z_i) - z_i,c_i]
///     ∂L/∂z_ik = (w_i / W) (softmax(z_i)_k - [k == c_i])
///
/// Class weights, label smoothing and an ignored label work as in
/// ``LogitAdjustedCrossEntropy`` (and in PyTorch's `cross_entropy`, also
/// together). The Hessian (``SoftmaxSecondOrderLoss``)
/// has the diagonal `(w_i / W) p_ik (1 - p_ik)`.
///
/// Pair it with ``ClassPriors/predictions(logits:tau:)`` for post-hoc logit
/// adjustment.
public struct SoftmaxCrossEntropy: SecondOrderSoftmaxLoss, Hashable {
  /// A class index in `0..<classCount`.
  public typealias Target = Int

  /// The number of classes `K`.
  public let classCount: Int
  /// How per-sample terms are combined: weighted mean (default) or sum.
  public var reduction: Reduction = .mean
  /// How many threads a call may use; the result is the same bits either way.
  public var parallelism: Parallelism = .automatic
  /// Per-class weights `α_k >= 0`, as in ``LogitAdjustedCrossEntropy/classWeights``
  /// (PyTorch's `weight=`).
  public var classWeights: [Double]? = nil
  /// Label smoothing `eps` in [0, 1], as in
  /// ``LogitAdjustedCrossEntropy/labelSmoothing`` (PyTorch's `label_smoothing`).
  public var labelSmoothing: Double = 0
  /// A label that marks a row to skip, as in ``LogitAdjustedCrossEntropy/ignoreIndex``
  /// (PyTorch's `ignore_index`).
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
    SoftmaxSetup(
      classCount: classCount, offsets: offsets, classWeights: classWeights,
      labelSmoothing: labelSmoothing, ignoreIndex: ignoreIndex, reduction: reduction,
      parallelism: parallelism)
  }
}
