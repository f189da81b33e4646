/// Softmax cross-entropy on logits shifted by `tau log π_k`, also
/// known as logit adjustment (Menon et al. 2020); `tau = 1` is balanced softmax.
///
///     a_ik = z_ik + tau log π_k
///     L    = E[logsumexp_k(a_i) - a_i,c_i]
///     ∂L/∂z_ik = (w_i / W) (softmax(a_i)_k - [k == c_i])
///
/// With the options every softmax loss shares (``classWeights``,
/// ``labelSmoothing`` `eps`, ``ignoreIndex``), row i weighs
/// `v_i = w_i classWeights[c_i]` (0 if ignored) and
///
///     t_ik = (1 - eps) [k == c_i] + eps / K
///     l_i  = logsumexp_k(a_i) - Σ_k t_ik a_ik
///     L    = Σ_i v_i l_i / Σ_i v_i        (.sum: Σ_i v_i l_i)
///     ∂L/∂z_ik = (v_i / Σ v) (softmax(a_i)_k - t_ik)
///
/// Rare classes get a larger margin on their own logit, so the trained model's
/// raw logits `z` (the adjustment lives only in the loss) are calibrated for
/// the balanced error. `tau = 0` is plain softmax cross-entropy.
///
/// Logits are row-major, `K = priors.classCount` per sample; targets are class
/// indices in `0..<K`.
///
/// ```swift
/// let loss = try LogitAdjustedCrossEntropy(priors: [0.9, 0.09, 0.01])
/// let (value, gradient) = try loss.valueAndGradient(
///     logits: [2.0, 0.5, -1.0,   0.1, 0.2, 0.3], targets: [0, 2])
/// ```
public struct LogitAdjustedCrossEntropy: SeparableLoss {
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
  /// Per-class weights `a_k >= 0` (`K` of them), or `nil` for none: row i
  /// weighs `v_i = w_i a_{c_i}`, and `.mean` divides by `Σ v_i` (PyTorch's
  /// `weight=`). ``ClassWeights`` computes common choices from class counts.
  public var classWeights: [Double]? = nil
  /// Label smoothing `eps` in [0, 1]: the target is
  /// `(1 - eps) onehot(c) + eps / K` (PyTorch's `label_smoothing`), so
  /// `l = logsumexp(a) - Σ_k t_k a_k` and `∂l/∂a = softmax(a) - t`.
  public var labelSmoothing: Double = 0
  /// A label that marks a row to skip (PyTorch's `ignore_index`), or `nil`.
  /// Such rows are not checked as labels, add nothing to the loss or to
  /// `Σ v`, and get a zero gradient; if every row is skipped the loss is 0.
  public var ignoreIndex: Int? = nil
  /// `tau log π_k`, added to every row.
  let offsets: [Double]

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

  /// K: one logit per class and sample.
  public var logitsPerSample: Int { classCount }

  /// Computes the loss and, when `gradient` is non-nil, writes `∂L/∂z` into it.
  ///
  /// - Throws: ``LossError`` for a logit count that is not a multiple of K, an
  ///   empty batch, mismatched lengths, a non-finite logit, a label outside
  ///   `0..<K` (other than `ignoreIndex`), an invalid weight or class weight,
  ///   `classWeights` of a length other than K, or a `labelSmoothing` outside
  ///   [0, 1]. The gradient buffer is untouched after a throw.
  /// - Complexity: O(N K), three passes over each row held in cache.
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?
  ) throws(LossError) -> Double {
    try setup.valueAndGradient(
      logits: logits, targets: targets, weights: weights, gradient: gradient)
  }

  /// Writes each sample's term `l_i = logsumexp_k(a_i) - Σ_k t_ik a_ik` into
  /// `values`: without `w_i` or the class weight, 0 for an ignored row.
  ///
  /// - Throws: ``LossError`` for invalid input; `values` is untouched then.
  /// - Complexity: O(N K).
  public func perSampleValues(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    into values: UnsafeMutableBufferPointer<Double>
  ) throws(LossError) {
    try setup.perSampleValues(logits: logits, targets: targets, into: values)
  }

  /// The shared softmax configuration of this loss.
  var setup: SoftmaxSetup {
    var setup = SoftmaxSetup(classCount: classCount, offsets: offsets)
    setup.classWeights = classWeights
    setup.labelSmoothing = labelSmoothing
    setup.ignoreIndex = ignoreIndex
    setup.reduction = reduction
    setup.parallelism = parallelism
    return setup
  }
}

/// Plain softmax cross-entropy: ``LogitAdjustedCrossEntropy`` with `tau = 0`.
///
///     L = E[logsumexp_k(z_i) - z_i,c_i]
///     ∂L/∂z_ik = (w_i / W) (softmax(z_i)_k - [k == c_i])
///
/// Class weights, label smoothing and an ignored label work as in
/// ``LogitAdjustedCrossEntropy``.
///
/// Pair it with ``ClassPriors/predictions(logits:tau:)`` for post-hoc logit
/// adjustment.
public struct SoftmaxCrossEntropy: SeparableLoss {
  /// A class index in `0..<classCount`.
  public typealias Target = Int

  /// The number of classes `K`.
  public let classCount: Int
  /// How per-sample terms are combined: weighted mean (default) or sum.
  public var reduction: Reduction = .mean
  /// How many threads a call may use; the result is the same bits either way.
  public var parallelism: Parallelism = .automatic
  /// Per-class weights `a_k >= 0` (`K` of them), or `nil` for none: row i
  /// weighs `v_i = w_i a_{c_i}`, and `.mean` divides by `Σ v_i` (PyTorch's
  /// `weight=`). ``ClassWeights`` computes common choices from class counts.
  public var classWeights: [Double]? = nil
  /// Label smoothing `eps` in [0, 1]: the target is
  /// `(1 - eps) onehot(c) + eps / K` (PyTorch's `label_smoothing`), so
  /// `l = logsumexp(a) - Σ_k t_k a_k` and `∂l/∂a = softmax(a) - t`.
  public var labelSmoothing: Double = 0
  /// A label that marks a row to skip (PyTorch's `ignore_index`), or `nil`.
  /// Such rows are not checked as labels, add nothing to the loss or to
  /// `Σ v`, and get a zero gradient; if every row is skipped the loss is 0.
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

  /// K: one logit per class and sample.
  public var logitsPerSample: Int { classCount }

  /// Computes the loss and, when `gradient` is non-nil, writes `∂L/∂z` into it.
  ///
  /// - Throws: as ``LogitAdjustedCrossEntropy``.
  /// - Complexity: O(N K).
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?
  ) throws(LossError) -> Double {
    try setup.valueAndGradient(
      logits: logits, targets: targets, weights: weights, gradient: gradient)
  }

  /// Writes each sample's term `l_i = logsumexp_k(a_i) - Σ_k t_ik a_ik` into
  /// `values`: without `w_i` or the class weight, 0 for an ignored row.
  ///
  /// - Throws: ``LossError`` for invalid input; `values` is untouched then.
  /// - Complexity: O(N K).
  public func perSampleValues(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    into values: UnsafeMutableBufferPointer<Double>
  ) throws(LossError) {
    try setup.perSampleValues(logits: logits, targets: targets, into: values)
  }

  /// The shared softmax configuration of this loss.
  var setup: SoftmaxSetup {
    var setup = SoftmaxSetup(classCount: classCount, offsets: offsets)
    setup.classWeights = classWeights
    setup.labelSmoothing = labelSmoothing
    setup.ignoreIndex = ignoreIndex
    setup.reduction = reduction
    setup.parallelism = parallelism
    return setup
  }
}
