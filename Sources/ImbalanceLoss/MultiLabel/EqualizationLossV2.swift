/// Equalization loss v2 (Tan et al. 2021, "Equalization Loss v2: A New
/// Gradient Balance Approach for Long-tailed Object Detection", CVPR):
/// one-vs-all sigmoid cross-entropy over `K` classes whose positive and
/// negative terms are re-weighted by each class's accumulated ratio of
/// positive to negative gradient, kept in an explicit ``State`` that the
/// training loop owns.
///
/// For row i with label `c_i` (targets `t_ij = [j == c_i]`), `σ = sigmoid`:
///
///     g_j    = P_j / (Q_j + 1e-10)            (from the state, before the step)
///     f(x)   = 1 / (1 + exp(-γ (x - μ)))
///     ω⁻_j   = f(g_j),   ω⁺_j = 1 + α (1 - f(g_j))     (1 and 1 at the first step)
///     ω_ij   = t_ij ω⁺_j + (1 - t_ij) ω⁻_j
///     l_i    = Σ_j ω_ij (softplus(z_ij) - t_ij z_ij)
///     L      = Σ_i w_i l_i / Σ_i w_i          (.sum: Σ_i w_i l_i)
///     ∂L/∂z_ij = (w_i / Σ w) ω_ij (σ(z_ij) - t_ij)
///
/// The weights `ω` are constants in the gradient, as in the authors'
/// implementation (`tztztztztz/eqlv2`, `eqlv2.py`), where they are detached.
///
/// **State.** After computing the loss, a step adds each class's weighted
/// gradient magnitudes to the state:
///
///     P_j += Σ_i w_i ω_ij t_ij |σ(z_ij) - 1|,   Q_j += Σ_i w_i ω_ij (1 - t_ij) σ(z_ij)
///
/// (the reference's `collect_grad`, with the per-sample weights that the
/// reference does not have: all ones reproduce it) and counts the step.
/// The reference collects these in a backward hook; here the call computes
/// them from its own gradient, deterministically (rows in order). A resumed
/// run needs the saved ``State`` (`Codable`) and the same hyper-parameters;
/// it then continues bit for bit.
///
/// A row whose label is `classCount` is a background row: every class is a
/// negative. (The reference's extra background logit, always weighted 1 and
/// not tracked, is not part of this loss: add it as a binary loss.) Its
/// `"mean"` divides by the row count, as `.mean` does here without weights;
/// its `dist.all_reduce` of the statistics across processes is the caller's
/// to do (sum the states' increments).
///
/// ```swift
/// let loss = try EqualizationLossV2(classCount: 3)
/// var state = loss.makeState()
/// let (value, gradient) = try loss.valueAndGradient(
///     logits: [2.0, 0.5, -1.0,   0.1, 0.2, 0.3], targets: [0, 3], state: &state)
/// ```
///
/// A ``StatefulLoss`` (not a ``Loss``: it cannot compute without a state);
/// the array forms of its steps come from that protocol. It runs on the
/// calling thread.
public struct EqualizationLossV2: StatefulLoss, Hashable {
  /// The accumulated gradient statistics of a training run.
  ///
  /// Create it with ``EqualizationLossV2/makeState()``, pass it `inout` to
  /// every step, and save it with the model's checkpoint (it is `Codable`).
  public struct State: Sendable, Codable, Hashable {
    /// `P_j`: accumulated positive gradient magnitude of each class, finite and `>= 0`.
    public var positiveGradients: [Double]
    /// `Q_j`: accumulated negative gradient magnitude of each class, finite and `>= 0`.
    public var negativeGradients: [Double]
    /// The number of steps taken; at 0 (no statistics yet) every weight is 1.
    public var stepCount: Int

    /// Creates a state from accumulated statistics (e.g. a checkpoint's).
    public init(positiveGradients: [Double], negativeGradients: [Double], stepCount: Int) {
      self.positiveGradients = positiveGradients
      self.negativeGradients = negativeGradients
      self.stepCount = stepCount
    }
  }

  /// The number of classes `K` (logits per row).
  public let classCount: Int
  /// The slope `γ >= 0` of the mapping function (12 in the paper).
  public let gamma: Double
  /// The centre `μ` of the mapping function (0.8 in the paper).
  public let mu: Double
  /// The extra positive weight `α >= 0` for a class with a low ratio (4 in the paper).
  public let alpha: Double
  /// How row terms are combined: weighted mean (default) or sum.
  public var reduction: Reduction = .mean
  /// A label that marks a row to skip, or `nil`: such rows add nothing to
  /// the loss or the state and get a zero gradient.
  public var ignoreIndex: Int? = nil

  /// Creates the loss with the paper's defaults `γ = 12`, `μ = 0.8`, `α = 4`.
  ///
  /// - Throws: ``LossError/noClasses`` for `classCount < 1`, and
  ///   ``LossError/invalidParameter(name:value:requirement:)`` for a `gamma`
  ///   or `alpha` that is negative or not finite, or a `mu` that is not finite.
  public init(
    classCount: Int, gamma: Double = 12, mu: Double = 0.8, alpha: Double = 4
  ) throws(LossError) {
    if classCount < 1 { throw .noClasses }
    try Validation.checkNonNegative(gamma, name: "gamma")
    try Validation.checkNonNegative(alpha, name: "alpha")
    try Validation.checkFinite(mu, name: "mu")
    self.classCount = classCount
    self.gamma = gamma
    self.mu = mu
    self.alpha = alpha
  }

  /// A fresh state: no statistics, step 0.
  public func makeState() -> State {
    let zeros = [Double](repeating: 0, count: classCount)
    return State(positiveGradients: zeros, negativeGradients: zeros, stepCount: 0)
  }

  /// The weights `(ω⁺_j, ω⁻_j)` that the next step with `state` uses.
  ///
  /// - Throws: ``LossError`` for an invalid state.
  /// - Complexity: O(K).
  public func classWeights(
    for state: State
  ) throws(LossError) -> (positive: [Double], negative: [Double]) {
    try checkState(state)
    var positive = [Double](repeating: 1, count: classCount)
    var negative = positive
    if state.stepCount > 0 {
      for j in 0..<classCount {
        let ratio = state.positiveGradients[j] / (state.negativeGradients[j] + 1e-10)
        let exponent = gamma == 0 ? 0 : -gamma * (ratio - mu)
        negative[j] = 1 / (1 + Elementary.exp(exponent))
        positive[j] = 1 + alpha * (1 - negative[j])
      }
    }
    return (positive, negative)
  }

  /// One training step: computes the loss and, when `gradient` is non-nil,
  /// writes `∂L/∂z` (weights held constant) into it, then adds the step's
  /// gradient statistics to `state`.
  ///
  /// - Parameters:
  ///   - logits: `N * K` finite logits, row-major.
  ///   - targets: `N` labels in `0...K` (`K`: background), or ``ignoreIndex``.
  ///   - weights: `N` per-sample weights `>= 0`, or `nil` for all ones.
  ///   - gradient: `nil`, or `N * K` elements that receive the gradient.
  ///   - state: the run's statistics, updated by the step.
  /// - Returns: The loss value.
  /// - Throws: ``LossError`` for an invalid state (lengths other than `K`,
  ///   statistics not finite and `>= 0`, a negative step count), for
  ///   statistics that this step could take past the double range, and for
  ///   the inputs every softmax loss rejects. After a throw `gradient` and
  ///   `state` are untouched.
  /// - Complexity: O(N K).
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    state: inout State
  ) throws(LossError) -> Double {
    try step(
      logits: logits, targets: targets, weights: weights, gradient: gradient, hessian: nil,
      state: &state)
  }

  /// One training step with second order: as
  /// ``valueAndGradient(logits:targets:weights:gradient:state:)``, and
  /// writes the diagonal of the Hessian with the weights held constant,
  ///
  ///     ∂²L/∂z_ij² = (w_i / Σ w) ω_ij σ(z_ij) (1 - σ(z_ij)),
  ///
  /// into `hessianDiagonal` (for Newton steps and gradient-boosting
  /// objectives).
  ///
  /// - Throws: as the first-order step, and for a `hessianDiagonal` whose
  ///   length is not `N * K`. Buffers and `state` are untouched after a throw.
  /// - Complexity: O(N K).
  public func valueGradientAndHessianDiagonal(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>,
    hessianDiagonal: UnsafeMutableBufferPointer<Double>, state: inout State
  ) throws(LossError) -> Double {
    try Validation.checkHessianCount(hessianDiagonal.count, logitCount: logits.count)
    return try step(
      logits: logits, targets: targets, weights: weights, gradient: gradient,
      hessian: hessianDiagonal.baseAddress, state: &state)
  }

  /// The step behind every entry point; `hessian` only with a gradient.
  func step(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    hessian: UnsafeMutablePointer<Double>?, state: inout State
  ) throws(LossError) -> Double {
    let (positive, negative) = try classWeights(for: state)
    let rows = try Validation.checkShapes(
      logitCount: logits.count, logitsPerSample: classCount, targetCount: targets.count,
      weightCount: weights?.count, gradientCount: gradient?.count)
    try Validation.checkFinite(logits)
    for (i, c) in targets.enumerated() where c != ignoreIndex && (c < 0 || c > classCount) {
      throw .labelOutOfRange(index: i, label: c, classCount: classCount + 1)
    }
    // The normalizer over the rows not ignored (all-ignored: 0, zero loss).
    var kept = 0
    var largest = 0.0
    if let weights {
      for (i, w) in weights.enumerated() {
        guard w >= 0 && w.isFinite else { throw .invalidWeight(index: i, value: w) }
        if targets[i] != ignoreIndex { largest = Swift.max(largest, w) }
      }
    }
    for c in targets where c != ignoreIndex { kept += 1 }
    var scale = 1.0
    var reciprocal = 1.0
    if reduction == .mean {
      if kept == 0 {
        reciprocal = 0
      } else if let weights {
        if largest == 0 { throw .zeroTotalWeight }
        scale = PowerOfTwo.scale(bringingToUnit: largest)
        var sum = CompensatedSum()
        for (i, w) in weights.enumerated() where targets[i] != ignoreIndex { sum.add(w * scale) }
        reciprocal = 1 / sum.value
      } else {
        reciprocal = 1 / Double(kept)
      }
    }
    // Each step adds at most Σ w_i (1 + α) to a statistic: keep it finite.
    var weightTotal = CompensatedSum()
    for i in 0..<rows where targets[i] != ignoreIndex { weightTotal.add(weights?[i] ?? 1) }
    let increment = weightTotal.value * (1 + alpha)
    let largestStatistic = (state.positiveGradients + state.negativeGradients).max() ?? 0
    if !(largestStatistic + increment < .greatestFiniteMagnitude) || state.stepCount == .max {
      throw .invalidParameter(
        name: "state", value: largestStatistic + increment,
        requirement: "statistics that stay finite after this step")
    }
    var positiveSums = [CompensatedSum](repeating: CompensatedSum(), count: classCount)
    var negativeSums = positiveSums
    var total = CompensatedSum()
    let k = classCount
    let g = gradient?.baseAddress
    for i in 0..<rows {
      let c = targets[i]
      if c == ignoreIndex {
        if let g { for j in 0..<k { g[i * k + j] = 0 } }
        if let hessian { for j in 0..<k { hessian[i * k + j] = 0 } }
        continue
      }
      let w = weights?[i] ?? 1
      let f = (weights.map { $0[i] * scale } ?? 1) * reciprocal
      var row = CompensatedSum()
      for j in 0..<k {
        let z = logits[i * k + j]
        // σ, 1 - σ and softplus(±z) from e = exp(-|z|), without cancellation.
        let e = Elementary.exp(-abs(z))
        let r = 1 / (1 + e)
        let sigma = z >= 0 ? r : e * r
        let complement = z >= 0 ? e * r : r
        let l = Elementary.log1p(e)
        if let hessian {
          hessian[i * k + j] = f * ((j == c ? positive[j] : negative[j]) * (sigma * complement))
        }
        if j == c {
          // -log σ = softplus(-z); ∂/∂z = σ - 1 = -(1 - σ).
          row.add(positive[j] * (Swift.max(-z, 0) + l))
          if let g { g[i * k + j] = f * (positive[j] * -complement) }
          positiveSums[j].add(w * positive[j] * complement)
        } else {
          row.add(negative[j] * (Swift.max(z, 0) + l))
          if let g { g[i * k + j] = f * (negative[j] * sigma) }
          negativeSums[j].add(w * negative[j] * sigma)
        }
      }
      // A zero-weight row adds exactly 0, even where its term overflows.
      if f != 0 { total.add(f * row.value) }
    }
    for j in 0..<k {
      state.positiveGradients[j] += positiveSums[j].value
      state.negativeGradients[j] += negativeSums[j].value
    }
    state.stepCount += 1
    return total.value
  }

  /// Throws unless `state` has `K` finite statistics `>= 0` of each kind
  /// and a step count `>= 0`.
  func checkState(_ state: State) throws(LossError) {
    for (name, values) in [
      ("positiveGradients", state.positiveGradients),
      ("negativeGradients", state.negativeGradients),
    ] {
      if values.count != classCount {
        throw .lengthMismatch(
          argument: "state.\(name)", expected: classCount, actual: values.count)
      }
      for (k, x) in values.enumerated() where !(x >= 0 && x.isFinite) {
        throw .invalidParameter(
          name: "state.\(name)[\(k)]", value: x, requirement: "finite and >= 0")
      }
    }
    if state.stepCount < 0 {
      throw .invalidParameter(
        name: "state.stepCount", value: Double(state.stepCount), requirement: ">= 0")
    }
  }
}
