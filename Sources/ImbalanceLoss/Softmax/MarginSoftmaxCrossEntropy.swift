/// Softmax cross-entropy with a per-class margin taken off the label's logit,
/// then scaled: additive-margin softmax (one margin for every class) and LDAM
/// (label-distribution-aware margins, Cao et al. 2019).
///
///     a_ik = s (z_ik - m_k [k == c_i]) + tau log π_k
///     l_i  = logsumexp_k(a_i) - a_i,c_i
///     L    = Σ_i v_i l_i / Σ_i v_i
///     ∂L/∂z_ik = (v_i / Σ v) s (softmax(a_i)_k - [k == c_i])
///
/// A sample must beat every other class by its class's margin before its loss
/// gets small, so a rare class (larger margin) is pushed further from the
/// decision boundary. LDAM sets `m_k = C / n_k^(1/4)` from the class counts,
/// with C chosen so that the largest margin is `largestMargin`.
///
/// The default scale `s = 30` is the LDAM paper's, and assumes **cosine
/// logits**: `z_ik = cos(x_i, W_k)` in [-1, 1] from normalised features and
/// class weights. With unnormalised logits, use a scale near 1 and margins on
/// the scale of the logits.
///
/// The optional logit adjustment `tau log π_k` (``LogitAdjustedCrossEntropy``)
/// is added after scaling, so both can be combined. Class weights, label
/// smoothing (`t = (1 - eps) onehot + eps/K` against `a`; the gradient gets the
/// factor s) and an ignored label work as in ``LogitAdjustedCrossEntropy``
/// (PyTorch's convention when both are set); per-sample terms exclude `v_i`
/// (only `w_i` when class weights and smoothing are both set). The Hessian
/// (``SoftmaxSecondOrderLoss``) has the diagonal `(v_i / Σ v) s² p_ik (1 - p_ik)`
/// (`(w_i / Σ v) A_i s² p_ik (1 - p_ik)` with both set).
///
/// ```swift
/// let loss = try MarginSoftmaxCrossEntropy.ldam(classCounts: [5000, 500, 50])
/// let value = try loss.value(logits: [0.8, 0.1, -0.3], targets: [2])
/// ```
public struct MarginSoftmaxCrossEntropy: SecondOrderSoftmaxLoss, Hashable {
  public typealias Target = Int

  /// The margins `m_k >= 0`, one per class.
  public let margins: [Double]
  /// The logit scale `s > 0`.
  public let scale: Double
  /// The class priors of the optional logit adjustment, or `nil`.
  public let priors: ClassPriors?
  /// The temperature of the logit adjustment (unused without priors).
  public let tau: Double
  /// How per-sample terms are combined: weighted mean (default) or sum.
  public var reduction: Reduction = .mean
  /// How many threads a call may use; the result is the same bits either way.
  public var parallelism: Parallelism = .automatic
  /// Per-class weights, as in ``LogitAdjustedCrossEntropy/classWeights``.
  public var classWeights: [Double]? = nil
  /// Label smoothing, as in ``LogitAdjustedCrossEntropy/labelSmoothing``.
  public var labelSmoothing: Double = 0
  /// A label that marks a row to skip, as in ``LogitAdjustedCrossEntropy/ignoreIndex``.
  public var ignoreIndex: Int? = nil
  let offsets: [Double]

  /// Creates the loss from per-class margins, a scale and an optional logit
  /// adjustment.
  ///
  /// - Parameters:
  ///   - margins: `m_k`, finite and `>= 0`, one per class.
  ///   - scale: `s`, finite and `> 0`; 30 assumes cosine logits.
  ///   - priors: class priors for the adjustment `tau log π_k`, or `nil`.
  ///   - tau: the adjustment's temperature, finite and `>= 0`.
  /// - Throws: ``LossError/noClasses`` for no margins,
  ///   ``LossError/invalidParameter(name:value:requirement:)`` for a bad
  ///   margin, scale or tau, or priors whose count differs from the margins'
  ///   (``LossError/lengthMismatch(argument:expected:actual:)``).
  /// - Complexity: O(K).
  public init(
    margins: [Double], scale: Double = 30, priors: ClassPriors? = nil, tau: Double = 1
  ) throws(LossError) {
    if margins.isEmpty { throw .noClasses }
    try Validation.checkPositive(scale, name: "scale")
    for (k, m) in margins.enumerated() where !(m >= 0 && (scale * m).isFinite) {
      throw .invalidParameter(
        name: "margins[\(k)]", value: m, requirement: "finite and >= 0, with scale * margin finite")
    }
    if let priors {
      if priors.classCount != margins.count {
        throw .lengthMismatch(
          argument: "priors", expected: margins.count, actual: priors.classCount)
      }
      offsets = try priors.offsets(tau: tau)
    } else {
      try Validation.checkNonNegative(tau, name: "tau")
      offsets = [Double](repeating: 0, count: margins.count)
    }
    self.margins = margins
    self.scale = scale
    self.priors = priors
    self.tau = tau
  }

  /// Additive-margin softmax (AM-softmax, CosFace): the same margin `m` for
  /// every class.
  ///
  ///     a_ik = s (z_ik - m [k == c_i])
  ///
  /// - Throws: ``LossError/noClasses`` when `classCount <= 0`, or as
  ///   ``init(margins:scale:priors:tau:)`` for a bad margin or scale.
  /// - Complexity: O(K).
  public static func additiveMargin(
    _ margin: Double, classCount: Int, scale: Double = 30
  ) throws(LossError) -> MarginSoftmaxCrossEntropy {
    if classCount <= 0 { throw .noClasses }
    return try MarginSoftmaxCrossEntropy(
      margins: [Double](repeating: margin, count: classCount), scale: scale)
  }

  /// LDAM: margins `m_k = C / n_k^(1/4)` from class counts, with C such that
  /// the rarest class gets `largestMargin`.
  ///
  ///     m_k = largestMargin (min_j n_j / n_k)^(1/4)
  ///
  /// - Parameters:
  ///   - classCounts: `n_k > 0`, the training samples of each class.
  ///   - largestMargin: the margin of the rarest class, finite and `>= 0`
  ///     (0.5 in the LDAM paper).
  ///   - scale: `s`; the default 30 assumes cosine logits.
  /// - Throws: ``LossError/noClasses`` for no counts,
  ///   ``LossError/invalidClassCount(index:count:)`` for a count `<= 0` (a
  ///   class with no samples has no margin, not an infinite one), or as
  ///   ``init(margins:scale:priors:tau:)``.
  /// - Complexity: O(K).
  public static func ldam(
    classCounts: [Int], largestMargin: Double = 0.5, scale: Double = 30
  ) throws(LossError) -> MarginSoftmaxCrossEntropy {
    try MarginSoftmaxCrossEntropy(
      margins: ldamMargins(classCounts: classCounts, largestMargin: largestMargin),
      scale: scale)
  }

  /// The LDAM margins `largestMargin (min_j n_j / n_k)^(1/4)`.
  ///
  /// - Throws: as ``ldam(classCounts:largestMargin:scale:)``.
  /// - Complexity: O(K).
  public static func ldamMargins(
    classCounts: [Int], largestMargin: Double = 0.5
  ) throws(LossError) -> [Double] {
    if classCounts.isEmpty { throw .noClasses }
    for (k, n) in classCounts.enumerated() where n <= 0 {
      throw .invalidClassCount(index: k, count: n)
    }
    try Validation.checkNonNegative(largestMargin, name: "largestMargin")
    let smallest = Double(classCounts.min()!)
    // The ratio is in (0, 1], so its fourth root is too: no overflow.
    return classCounts.map { largestMargin * (smallest / Double($0)).squareRoot().squareRoot() }
  }

  /// The number of classes `K`.
  public var classCount: Int { margins.count }

  /// The shared softmax configuration of this loss.
  var setup: SoftmaxSetup {
    var setup = SoftmaxSetup(
      classCount: classCount, offsets: offsets, classWeights: classWeights,
      labelSmoothing: labelSmoothing, ignoreIndex: ignoreIndex, reduction: reduction,
      parallelism: parallelism)
    setup.scale = scale
    setup.margins = margins
    return setup
  }
}
