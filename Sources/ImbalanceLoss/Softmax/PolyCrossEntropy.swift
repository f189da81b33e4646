/// Poly-1 softmax cross-entropy (Leng et al. 2022, "PolyLoss: A Polynomial
/// Expansion Perspective of Classification Loss Functions"): cross-entropy
/// plus `ε` times its first polynomial term `1 - p_t`.
///
///     p_i = softmax(z_i)      t_i = (1 - eps) onehot(c_i) + eps / K   (label smoothing)
///     p_t = Σ_k t_ik p_ik     (= p_i,c_i without smoothing)
///     l_i = Σ_k t_ik (-log p_ik) + ε (1 - p_t)
///     L   = Σ_i v_i l_i / Σ_i v_i      with v_i = w_i α_c_i, α = classWeights
///     ∂l_i/∂z_ik = p_ik - t_ik - ε p_ik (t_ik - p_t)
///
/// This is the paper's `poly1_cross_entropy` (its TensorFlow listing takes
/// `p_t = Σ_k t_k p_k` of the smoothed labels). `ε > 0` keeps a larger
/// gradient on samples already fitted (the paper's ImageNet setting is
/// `ε = 2`); `ε < 0` lowers it. `ε = 0` is exactly ``SoftmaxCrossEntropy``
/// (same bits).
///
/// With label smoothing, `1 - p_t = (1 - eps)(1 - p_c) + eps (K - 1)/K`, so
/// the gradient is `(p_k - t_k) + e p_c (p_k - [k == c])`, `e = ε (1 - eps)`.
/// The second derivatives (``SoftmaxSecondOrderLoss``), per row before the
/// weight, with `p = p_c`, `q = 1 - p`, `u = p - onehot(c)`:
///
///     H = diag(p) - p pᵀ + e (p (diag(p) - p pᵀ) - p u uᵀ)
///     ∂²l/∂z_c² = p q (1 + e (p - q))
///     ∂²l/∂z_k² = p_k ((1 - p_k) + e p (1 - 2 p_k))      k != c
///
/// The loss is not convex for large `ε` (the label's entry is negative where
/// `p < (1 - 1/e)/2`); ``hessianFloor`` works as in ``SoftmaxFocalLoss``.
///
/// Range of `ε`: [-1, 1000]. For `ε >= -1` every row term is `>= 0`
/// (`-log p >= 1 - p`, and with smoothing Jensen's inequality gives
/// `CE_t >= -log p_t`); `ε = -1` is the paper's lower end, where the leading
/// `1 - p_t` term of cross-entropy's expansion is removed. There the value
/// `-log p - q` of a confident row would cancel; it is summed from its series
/// `Σ_{n>=2} q^n / n` instead and keeps its digits. The upper bound keeps the
/// weighted gradients (up to `(2 + |ε|)` times cross-entropy's) finite.
///
/// Class weights, the ignored label, the reduction and label smoothing work
/// as in ``LogitAdjustedCrossEntropy``, except that class weights and label
/// smoothing together are refused: PyTorch's convention for them gives the
/// row a target of mass `A_c != 1`, for which Poly-1 has no agreed `p_t`.
///
/// ```swift
/// let loss = try PolyCrossEntropy(classCount: 3, epsilon: 1)
/// let (value, gradient) = try loss.valueAndGradient(
///     logits: [2.0, 0.5, -1.0], targets: [0])
/// ```
public struct PolyCrossEntropy: SecondOrderSoftmaxLoss, Hashable {
  /// A class index in `0..<classCount`.
  public typealias Target = Int

  /// The number of classes `K`.
  public let classCount: Int
  /// The coefficient `ε` in [-1, 1000] of the `1 - p_t` term.
  public let epsilon: Double
  /// How per-sample terms are combined: weighted mean (default) or sum.
  public var reduction: Reduction = .mean
  /// How many threads a call may use; the result is the same bits either way.
  public var parallelism: Parallelism = .automatic
  /// Per-class weights `α_k >= 0`, as in ``LogitAdjustedCrossEntropy/classWeights``
  /// (PyTorch's `weight=`); they multiply the whole row term `l_i`. Not
  /// together with ``labelSmoothing``.
  public var classWeights: [Double]? = nil
  /// Label smoothing `eps` in [0, 1], as in
  /// ``LogitAdjustedCrossEntropy/labelSmoothing``; `p_t` is then taken
  /// against the smoothed target. Calls throw
  /// ``LossError/invalidParameter(name:value:requirement:)`` (name
  /// "labelSmoothing") for `eps > 0` together with ``classWeights``.
  public var labelSmoothing: Double = 0
  /// A label that marks a row to skip, as in ``LogitAdjustedCrossEntropy/ignoreIndex``
  /// (PyTorch's `ignore_index`).
  public var ignoreIndex: Int? = nil
  /// A lower bound for the diagonal second derivatives of each row before
  /// its weight, or `nil` for the exact values; as in
  /// ``SoftmaxFocalLoss/hessianFloor``.
  public var hessianFloor: Double? = nil
  let offsets: [Double]

  /// Creates the loss for `classCount` classes.
  ///
  /// - Throws: ``LossError/noClasses`` when `classCount <= 0`,
  ///   ``LossError/invalidParameter(name:value:requirement:)`` (name
  ///   "epsilon") for an `epsilon` that is not finite or outside [-1, 1000].
  public init(classCount: Int, epsilon: Double = 1) throws(LossError) {
    if classCount <= 0 { throw .noClasses }
    try PolyEpsilon.check(epsilon)
    self.classCount = classCount
    self.epsilon = epsilon
    self.offsets = [Double](repeating: 0, count: classCount)
  }

  /// The shared softmax configuration of this loss.
  var setup: SoftmaxSetup {
    var setup = SoftmaxSetup(
      classCount: classCount, offsets: offsets, classWeights: classWeights,
      labelSmoothing: labelSmoothing, ignoreIndex: ignoreIndex, reduction: reduction,
      parallelism: parallelism)
    setup.poly = epsilon
    setup.hessianFloor = hessianFloor
    return setup
  }
}

/// The validation of Poly-1's `ε`, shared by the softmax and binary forms.
enum PolyEpsilon {
  /// Throws unless `epsilon` is finite and in [-1, 1000].
  static func check(_ epsilon: Double) throws(LossError) {
    try Validation.check(epsilon, name: "epsilon", in: -1...1000)
  }
}
