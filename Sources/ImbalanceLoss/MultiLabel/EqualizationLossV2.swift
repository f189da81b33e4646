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
/// `"mean"` divides by the row count, as `.mean` does here without weights.
/// Its `dist.all_reduce` of the statistics across processes is the
/// data-parallel step here:
/// ``statistics(logits:targets:weights:state:)-(UnsafeBufferPointer<Double>,_,_,_)``
/// on every shard, an all-reduce of the sums, then
/// ``valueAndGradient(logits:targets:weights:gradient:state:statistics:)``,
/// which advances every worker's copy of the state by the whole batch's
/// increments.
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

  /// This shard's sums for data-parallel training: the rows not ignored,
  /// their total weight `Σ w`, and the shard's increments of the state,
  /// `Σ_i w_i ω_ij t_ij |σ(z_ij) - 1|` then `Σ_i w_i ω_ij (1 - t_ij) σ(z_ij)`
  /// for every class, with the weights `ω` of `state` (before the step; the
  /// same on every worker).
  ///
  /// - Throws: ``LossError`` for invalid input or state, as a step.
  /// - Complexity: O(N K).
  public func statistics(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, state: State
  ) throws(LossError) -> BatchStatistics {
    let (positive, negative) = try classWeights(for: state)
    let batch = try check(logits: logits, targets: targets, weights: weights, gradient: nil)
    let (_, increments) = run(
      logits: logits, targets: targets, weights: weights,
      normalizer: WeightNormalizer(scale: 1, reciprocal: 1), positive: positive,
      negative: negative, gradient: nil, hessian: nil)
    return try BatchStatistics(
      of: self, samples: targets.count, sums: batch.sums + increments, weights: weights)
  }

  /// A data-parallel step on this shard: this shard's share
  /// `Σ_shard w_i l_i / Σ_all w` (or `Σ_shard w_i l_i` for `.sum`), its rows
  /// of the whole batch's gradient, and the state advanced by the whole
  /// batch's increments (the same on every worker, so the copies stay
  /// equal). `statistics` is the sum over the shards of
  /// ``statistics(logits:targets:weights:state:)-(UnsafeBufferPointer<Double>,_,_,_)``
  /// with this `state`; see ``DataParallelLoss`` for the two-phase step.
  ///
  /// - Throws: ``LossError`` for invalid input or state, for statistics of
  ///   another loss, and for increments that would take the state past the
  ///   double range; the state and the gradient are untouched then.
  /// - Complexity: O(N K).
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    state: inout State, statistics: BatchStatistics
  ) throws(LossError) -> Double {
    let totals = try statistics.totals(
      for: self, sums: 2 + 2 * classCount, samples: targets.count)
    return try step(
      logits: logits, targets: targets, weights: weights, gradient: gradient, hessian: nil,
      state: &state, global: totals)
  }

  /// The step behind every entry point; `hessian` only with a gradient.
  /// With `global`, the merged sums of a data-parallel batch (as
  /// ``statistics(logits:targets:weights:state:)-(UnsafeBufferPointer<Double>,_,_,_)``
  /// lays them out), the normaliser and the state's increments are the
  /// whole batch's.
  func step(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    hessian: UnsafeMutablePointer<Double>?, state: inout State, global: [Double]? = nil
  ) throws(LossError) -> Double {
    let (positive, negative) = try classWeights(for: state)
    let batch = try check(
      logits: logits, targets: targets, weights: weights, gradient: gradient?.count)
    let k = classCount
    var normalizer = WeightNormalizer(scale: 1, reciprocal: 1)
    if let global {
      normalizer = try WeightNormalizer(
        kept: global[0], total: global[1], weighted: weights != nil, reduction: reduction)
    } else if reduction == .mean {
      // Σ w over the kept rows, scaled so that the largest weight is in [1, 2).
      if batch.kept == 0 {
        normalizer.reciprocal = 0
      } else if let weights {
        if batch.largest == 0 { throw .zeroTotalWeight }
        normalizer.scale = PowerOfTwo.scale(bringingToUnit: batch.largest)
        var sum = CompensatedSum()
        for (i, w) in weights.enumerated() where targets[i] != ignoreIndex {
          sum.add(w * normalizer.scale)
        }
        normalizer.reciprocal = 1 / sum.value
      } else {
        normalizer.reciprocal = 1 / Double(batch.kept)
      }
    }
    // Each step adds at most Σ w_i (1 + α) to a statistic: keep it finite.
    let weightTotal = global?[1] ?? batch.sums[1].value
    var increment = weightTotal * (1 + alpha)
    if let global { increment = Swift.max(increment, global[2...].max() ?? 0) }
    let largestStatistic = (state.positiveGradients + state.negativeGradients).max() ?? 0
    if !(largestStatistic + increment < .greatestFiniteMagnitude) || state.stepCount == .max {
      throw .invalidParameter(
        name: "state", value: largestStatistic + increment,
        requirement: "statistics that stay finite after this step")
    }
    let (value, increments) = run(
      logits: logits, targets: targets, weights: weights, normalizer: normalizer,
      positive: positive, negative: negative, gradient: gradient?.baseAddress, hessian: hessian)
    for j in 0..<k {
      state.positiveGradients[j] += global?[2 + j] ?? increments[j].value
      state.negativeGradients[j] += global?[2 + k + j] ?? increments[k + j].value
    }
    state.stepCount += 1
    return value
  }

  /// Throws for invalid shapes, logits, labels or weights; returns the
  /// kept rows' count and `Σ w` (as data-parallel sums) and largest weight.
  func check(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: Int?
  ) throws(LossError) -> (kept: Int, largest: Double, sums: [CompensatedSum]) {
    _ = try Validation.checkShapes(
      logitCount: logits.count, logitsPerSample: classCount, targetCount: targets.count,
      weightCount: weights?.count, gradientCount: gradient)
    try Validation.checkFinite(logits)
    for (i, c) in targets.enumerated() where c != ignoreIndex && (c < 0 || c > classCount) {
      throw .labelOutOfRange(index: i, label: c, classCount: classCount + 1)
    }
    var largest = 0.0
    if let weights {
      for (i, w) in weights.enumerated() {
        guard w >= 0 && w.isFinite else { throw .invalidWeight(index: i, value: w) }
        if targets[i] != ignoreIndex { largest = Swift.max(largest, w) }
      }
    }
    var kept = CompensatedSum()
    var total = CompensatedSum()
    for (i, c) in targets.enumerated() where c != ignoreIndex {
      kept.add(1)
      total.add(weights?[i] ?? 1)
    }
    return (Int(kept.value), largest, [kept, total])
  }

  /// The kernel: rows in order, a compensated sum of `f_i l_i` with
  /// `f_i = normalizer(w_i)`, the gradient and Hessian rows, and the state's
  /// increments (`K` positive sums, then `K` negative ones, raw weights).
  func run(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, normalizer: WeightNormalizer,
    positive: [Double], negative: [Double], gradient g: UnsafeMutablePointer<Double>?,
    hessian: UnsafeMutablePointer<Double>?
  ) -> (value: Double, increments: [CompensatedSum]) {
    let k = classCount
    var increments = [CompensatedSum](repeating: CompensatedSum(), count: 2 * k)
    var total = CompensatedSum()
    for i in 0..<targets.count {
      let c = targets[i]
      if c == ignoreIndex {
        if let g { for j in 0..<k { g[i * k + j] = 0 } }
        if let hessian { for j in 0..<k { hessian[i * k + j] = 0 } }
        continue
      }
      let w = weights?[i] ?? 1
      let f = (w * normalizer.scale) * normalizer.reciprocal
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
          increments[j].add(w * positive[j] * complement)
        } else {
          row.add(negative[j] * (Swift.max(z, 0) + l))
          if let g { g[i * k + j] = f * (negative[j] * sigma) }
          increments[k + j].add(w * negative[j] * sigma)
        }
      }
      // A zero-weight row adds exactly 0, even where its term overflows.
      if f != 0 { total.add(f * row.value) }
    }
    return (total.value, increments)
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
