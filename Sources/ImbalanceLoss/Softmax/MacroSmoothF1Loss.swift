/// One minus macro smooth F1 over K classes: the mean over classes of the
/// one-vs-rest smooth F1 on softmax probabilities.
///
///     p_ik = softmax(z_i)_k          y_ik = [c_i == k]
///     T_k  = Σ_i w_i p_ik y_ik       S_k = Σ_i w_i (p_ik + y_ik)
///     F_k  = 2 T_k / S_k             L = 1 - (1/K) Σ_k F_k
///     u_ik = ∂L/∂p_ik = -(2 w_i / (K S_k)) (y_ik - F_k / 2)
///     ∂L/∂z_ij = p_ij (u_ij - Σ_k p_ik u_ik)          (through the softmax)
///
/// Every class counts the same, so rare classes weigh as much as common ones:
/// class weights would change the metric and are not offered. The value is
/// summed as `(1/K) Σ_k D_k / S_k` with `D_k = S_k - 2 T_k` accumulated from
/// non-negative terms, so a near-perfect batch keeps its digits.
///
/// A class with `S_k = 0` (no sample and every `p_ik` underflowed) has
/// `F_k = 0` and contributes no gradient, as in ``SmoothF1Loss``: never a NaN.
/// Note that a class absent from a batch still has `S_k > 0` and `F_k = 0`,
/// so small batches pull macro F1 down; use batches that cover the classes,
/// or ``MacroF1WeightedCrossEntropy`` with F supplied. Rows with
/// ``ignoreIndex`` add nothing to T or S; if every row is ignored, every
/// `S_k = 0` and the loss is 1 with a zero gradient.
///
/// Macro smooth F1 is not a mean of per-sample terms; `weights` scale each
/// sample's contribution to T and S.
public struct MacroSmoothF1Loss: MacroSumsLoss, Hashable {
  public typealias Target = Int

  /// The number of classes `K`.
  public let classCount: Int
  /// A label that marks a row to skip, as in ``LogitAdjustedCrossEntropy/ignoreIndex``.
  public var ignoreIndex: Int? = nil
  /// How many threads a call may use. Both passes of this loss run on the
  /// calling thread today, whatever the setting (the same bits either way).
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

  /// Computes `1 - mean_k F_k` and, when `gradient` is non-nil, writes `∂L/∂z` into it.
  ///
  /// - Throws: ``LossError`` for a logit count that is not a multiple of K, an
  ///   empty batch, mismatched lengths, a non-finite logit, a label outside
  ///   `0..<K` (other than `ignoreIndex`) or an invalid weight. The gradient
  ///   buffer is untouched after a throw.
  /// - Complexity: O(N K) time, two passes with the gradient (it needs every
  ///   F_k); O(K) scratch memory.
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?
  ) throws(LossError) -> Double {
    try macroValueAndGradient(
      logits: logits, targets: targets, weights: weights, gradient: gradient)
  }

  /// `finish` of `MacroSumsLoss`: `1 - mean_k F_k` and its gradient.
  func finish(
    _ batch: SoftmaxBatch, _ rule: SoftmaxRule, _ statistics: MacroF1Statistics,
    _ gradient: UnsafeMutablePointer<Double>?
  ) -> Double {
    if let gradient {
      SoftmaxF1Kernel.gradient(batch, rule: rule, statistics: statistics, into: gradient)
    }
    return statistics.loss
  }

  /// The per-class smooth F1 scores `F_k = 2 T_k / S_k` (0 when `S_k = 0`).
  ///
  /// These are the F_k that ``MacroF1WeightedCrossEntropy`` holds constant when
  /// it is not given them.
  ///
  /// - Throws: ``LossError`` for invalid input, as for the loss.
  /// - Complexity: O(N K), one pass.
  public func classF1Scores(
    logits: [Double], targets: [Int], weights: [Double]? = nil
  ) throws(LossError) -> [Double] {
    try withBuffers(logits, targets, weights) { (z, c, w) throws(LossError) in
      try classF1Scores(logits: z, targets: c, weights: w)
    }
  }

  /// The per-class smooth F1 scores `F_k = 2 T_k / S_k` of a batch held in
  /// buffers (0 when `S_k = 0`).
  ///
  /// - Throws: ``LossError`` for invalid input, as for the loss.
  /// - Complexity: O(N K), one pass.
  public func classF1Scores(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?
  ) throws(LossError) -> [Double] {
    try setup.withBatch(
      logits: logits, targets: targets, weights: weights, gradient: nil, reduction: .mean
    ) { batch, rule in
      SoftmaxF1Kernel.statistics(batch, rule: rule).f1Scores
    }
  }

  /// The shared softmax configuration of this loss.
  var setup: SoftmaxSetup {
    SoftmaxSetup(classCount: classCount, offsets: offsets, ignoreIndex: ignoreIndex)
  }
}
