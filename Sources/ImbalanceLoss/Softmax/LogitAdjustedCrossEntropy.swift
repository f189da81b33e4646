/// Softmax cross-entropy on logits shifted by `tau log π_k`, also
/// known as logit adjustment (Menon et al. 2020); `tau = 1` is balanced softmax.
///
///     a_ik = z_ik + tau log π_k
///     L    = E[logsumexp_k(a_i) - a_i,c_i]
///     ∂L/∂z_ik = (w_i / W) (softmax(a_i)_k - [k == c_i])
///
/// With the options every softmax loss shares (``classWeights`` `α`,
/// ``labelSmoothing`` `eps`, ``ignoreIndex``), row i weighs
/// `v_i = w_i α_{c_i}` (0 if ignored) and
///
///     t_ik = (1 - eps) [k == c_i] + eps / K
///     l_i  = logsumexp_k(a_i) - Σ_k t_ik a_ik
///     L    = Σ_i v_i l_i / Σ_i v_i        (.sum: Σ_i v_i l_i)
///     ∂L/∂z_ik = (v_i / Σ v) (softmax(a_i)_k - t_ik)
///
/// except with class weights and label smoothing together, where the
/// smoothing term of class k weighs `α_k`, as in PyTorch's
/// `cross_entropy(weight=α, label_smoothing=eps)`:
///
///     l_i = (1 - eps) α_{c_i} (-log p_{i,c_i}) + (eps / K) Σ_k α_k (-log p_ik)
///     L   = Σ_i w_i l_i / Σ_i v_i         (.sum: Σ_i w_i l_i)
///     ∂L/∂z_ik = (w_i / Σ v) (A_i p_ik - t_ik),  t_ik = (1 - eps) α_{c_i} [k == c_i] + eps α_k / K,
///                                               A_i = Σ_k t_ik
///
/// (a row whose label has `α = 0` still learns from its smoothing terms).
///
/// Rare classes get a larger margin on their own logit, so the trained model's
/// raw logits `z` (the adjustment lives only in the loss) are calibrated for
/// the balanced error. `tau = 0` is plain softmax cross-entropy.
///
/// The Hessian (``SoftmaxSecondOrderLoss``) has the diagonal
/// `(v_i / Σ v) p_ik (1 - p_ik)`, `p = softmax(a_i)` (with class weights and
/// smoothing together: `(w_i / Σ v) A_i p_ik (1 - p_ik)`).
///
/// Logits are row-major, `K = priors.classCount` per sample; targets are class
/// indices in `0..<K`.
///
/// ```swift
/// let loss = try LogitAdjustedCrossEntropy(priors: [0.9, 0.09, 0.01])
/// let (value, gradient) = try loss.valueAndGradient(
///     logits: [2.0, 0.5, -1.0,   0.1, 0.2, 0.3], targets: [0, 2])
/// ```
public struct LogitAdjustedCrossEntropy: SecondOrderSoftmaxLoss, Hashable {
  /// A class index in `0..<classCount`.
  public typealias Target = Int

  /// The class priors π.
  public let priors: ClassPriors
  /// The temperature `tau >= 0` of the adjustment.
  public let tau: Double
  /// How per-sample terms are combined: weighted mean (default) or sum.
  public var reduction: Reduction = .mean
  /// How many threads a call may use; the result is the same bits either way.
  public var parallelism: Parallelism = .automatic
  /// Per-class weights `α_k >= 0` (`K` of them), or `nil` for none: row i
  /// weighs `v_i = w_i α_{c_i}`, and `.mean` divides by `Σ v_i` (PyTorch's
  /// `weight=`; with ``labelSmoothing`` too, see the formula above).
  /// ``ClassWeights`` computes common choices from class counts.
  public var classWeights: [Double]? = nil
  /// Label smoothing `eps` in [0, 1]: the target is
  /// `(1 - eps) onehot(c) + eps / K` (PyTorch's `label_smoothing`), so
  /// `l = logsumexp(a) - Σ_k t_k a_k` and `∂l/∂a = softmax(a) - t`; with
  /// ``classWeights``, PyTorch's weighting of each term (formula above).
  public var labelSmoothing: Double = 0
  /// A label that marks a row to skip (PyTorch's `ignore_index`), or `nil`.
  /// Such rows are not checked as labels, add nothing to the loss or to
  /// `Σ v`, and get a zero gradient; if every row is skipped the loss is 0.
  public var ignoreIndex: Int? = nil
  /// `tau log π_k`, added to every row.
  let offsets: [Double]

  /// Balanced softmax (Ren et al. 2020): cross-entropy on `z_k + log n_k`,
  /// the logit-adjusted loss with `tau = 1` and priors proportional to the
  /// class counts `n_k` (the common `log Σ n` shift cancels in the softmax).
  ///
  /// ```swift
  /// let loss = try LogitAdjustedCrossEntropy.balancedSoftmax(classCounts: [5000, 500, 50])
  /// ```
  ///
  /// - Throws: ``LossError/noClasses`` for no counts and
  ///   ``LossError/invalidClassCount(index:count:)`` for a count `<= 0`.
  /// - Complexity: O(K).
  public static func balancedSoftmax(classCounts: [Int]) throws(LossError) -> Self {
    try Self(priors: ClassPriors(counts: classCounts), tau: 1)
  }

  /// Creates the loss from class priors (or counts: any positive scale is
  /// normalised) and a temperature.
  ///
  /// - Throws: ``LossError`` for empty, non-positive or non-finite priors and
  ///   for a tau that is negative or not finite.
  public init(priors: [Double], tau: Double = 1) throws(LossError) {
    try self.init(priors: ClassPriors(priors), tau: tau)
  }

  /// Creates the loss from class priors and a temperature.
  ///
  /// - Throws: ``LossError/invalidParameter(name:value:requirement:)`` for a
  ///   tau that is negative or not finite.
  public init(priors: ClassPriors, tau: Double = 1) throws(LossError) {
    self.offsets = try priors.offsets(tau: tau)
    self.priors = priors
    self.tau = tau
  }

  /// The number of classes `K`.
  public var classCount: Int { priors.classCount }

  /// The shared softmax configuration of this loss.
  var setup: SoftmaxSetup {
    SoftmaxSetup(
      classCount: classCount, offsets: offsets, classWeights: classWeights,
      labelSmoothing: labelSmoothing, ignoreIndex: ignoreIndex, reduction: reduction,
      parallelism: parallelism)
  }
}
