/// Seesaw loss (Wang et al. 2021, "Seesaw Loss for Long-Tailed Instance
/// Segmentation", CVPR): softmax cross-entropy whose negative logits are
/// shifted by a mitigation and a compensation factor, with the class counts
/// it needs kept in an explicit ``State`` that the training loop owns.
///
/// For a row with label `i`, logits `z` and accumulated class counts `N`
/// (each clamped to at least 1):
///
///     M_ij = (N_j / N_i)^p            if N_j < N_i, else 1    (mitigation)
///     σ    = softmax(z)               (held constant, see below)
///     C_ij = (σ_j / max(σ_i, eps))^q  if that ratio > 1, else 1  (compensation)
///     z̃_j  = z_j + log(M_ij C_ij)     for j ≠ i,   z̃_i = z_i
///     l_i  = logsumexp(z̃) - z_i
///     L    = Σ_i w_i l_i / Σ_i w_i    (.sum: Σ_i w_i l_i)
///
/// Mitigation lowers the penalty a frequent label puts on rarer classes'
/// logits; compensation raises it again for a class the model wrongly
/// scores above the label. `log(M C)` is formed in log space,
/// `p (log N_j - log N_i) + q (log σ_j - max(log σ_i, log eps))`, so no
/// power overflows.
///
/// **The gradient** is that of mmdetection's `seesaw_ce_loss`
/// (`mmdet/models/losses/seesaw_loss.py`), which the paper trains with: the
/// factors `M` and `C` are constants (the counts are data, and mmdetection
/// computes `σ` from `cls_score.detach()`), so
///
///     ∂L/∂z_ik = (w_i / Σ w) (softmax(z̃_i)_k - [k == i])
///
/// It is the exact gradient of `L` with the factors held at their values,
/// not the total derivative of `L` through `σ`: the gradient PyTorch users
/// of mmdetection get, checked against PyTorch autograd
/// (`Scripts/seesaw_reference.py`).
///
/// **State.** Every call is one training step: it first adds the batch's
/// labels to `state.classCounts` (one per row not ignored, whatever its
/// weight; before the loss is computed, as mmdetection does), then computes
/// the loss with the updated counts. The loss value itself holds no mutable
/// state; the same loss, state and batch give the same bits and the same new
/// state. A run that resumes from a checkpoint needs the saved ``State``
/// (it is `Codable`) and the same hyper-parameters; with those it continues
/// bit for bit. Restarting from ``makeState()`` instead forgets the counts
/// (every class then counts as 1 and mitigation is off until counts differ).
///
/// ```swift
/// let loss = try SeesawLoss(classCount: 3)
/// var state = loss.makeState()
/// let (value, gradient) = try loss.valueAndGradient(
///     logits: [2.0, 0.5, -1.0,   0.1, 0.2, 0.3], targets: [0, 2], state: &state)
/// // state.classCounts == [1, 0, 1]
/// ```
///
/// Not included: mmdetection's extra objectness (foreground/background)
/// branch and its two extra logits; this is the K-class classification term
/// on the foreground rows (pass background rows' label as ``ignoreIndex`` to
/// leave them out). mmdetection's `"mean"` divides by the row count (or an
/// `avg_factor`); here `.mean` divides by `Σ w` like every loss of the
/// package (the same without weights).
///
/// A ``StatefulLoss`` (not a ``Loss``: it cannot compute without a state,
/// and a stateless entry point would have to hide one); the array forms of
/// its steps come from that protocol. It runs on the calling thread.
public struct SeesawLoss: StatefulLoss, Hashable {
  /// The accumulated per-class sample counts `N_k` of a training run.
  ///
  /// The training loop owns it: create it with ``SeesawLoss/makeState()``,
  /// pass it `inout` to every step, and save it with the model's checkpoint
  /// (it is `Codable`). Counts are stored as `Double`, exact up to 2^53, as
  /// mmdetection's float buffer `cum_samples` (float32 there).
  public struct State: Sendable, Codable, Hashable {
    /// `N_k`: how many rows with label `k` the run has seen, `classCount`
    /// finite values `>= 0`.
    public var classCounts: [Double]

    /// Creates a state from class counts (e.g. the dataset's, to start with
    /// mitigation already on, or a checkpoint's).
    public init(classCounts: [Double]) {
      self.classCounts = classCounts
    }
  }

  /// The number of classes `K`.
  public let classCount: Int
  /// The mitigation exponent `p >= 0` (0.8 in the paper; 0 turns it off).
  public let p: Double
  /// The compensation exponent `q >= 0` (2 in the paper; 0 turns it off).
  public let q: Double
  /// The floor `eps > 0` of the label's score in the compensation ratio
  /// (mmdetection's `eps`, 1e-2).
  public let epsilon: Double
  /// How row terms are combined: weighted mean (default) or sum.
  public var reduction: Reduction = .mean
  /// A label that marks a row to skip, or `nil`: such rows are not counted
  /// in the state, add nothing to the loss and get a zero gradient; if every
  /// row is skipped the loss is 0.
  public var ignoreIndex: Int? = nil

  /// Creates the loss with mmdetection's defaults `p = 0.8`, `q = 2`, `eps = 1e-2`.
  ///
  /// - Throws: ``LossError/noClasses`` for `classCount < 1`, and
  ///   ``LossError/invalidParameter(name:value:requirement:)`` for a `p` or
  ///   `q` that is negative or not finite, or an `epsilon` that is not
  ///   finite and positive.
  public init(
    classCount: Int, p: Double = 0.8, q: Double = 2, epsilon: Double = 1e-2
  ) throws(LossError) {
    if classCount < 1 { throw .noClasses }
    try Validation.checkNonNegative(p, name: "p")
    try Validation.checkNonNegative(q, name: "q")
    try Validation.checkPositive(epsilon, name: "epsilon")
    self.classCount = classCount
    self.p = p
    self.q = q
    self.epsilon = epsilon
  }

  /// A fresh state: every class count 0.
  public func makeState() -> State {
    State(classCounts: [Double](repeating: 0, count: classCount))
  }

  /// One training step: adds the batch's labels to `state`, then computes
  /// the loss and, when `gradient` is non-nil, writes `∂L/∂z` (factors held
  /// constant) into it.
  ///
  /// - Parameters:
  ///   - logits: `N * K` finite logits, row-major.
  ///   - targets: `N` labels in `0..<K` (or ``ignoreIndex``).
  ///   - weights: `N` per-sample weights `>= 0`, or `nil` for all ones.
  ///   - gradient: `nil`, or `N * K` elements that receive the gradient.
  ///   - state: the run's class counts, updated by the step.
  /// - Returns: The loss value.
  /// - Throws: ``LossError`` for a state whose counts are not `K` finite
  ///   values `>= 0` (`"state.classCounts"`), for the inputs every softmax
  ///   loss rejects, and (name `"adjustment"`) for `p log(max N) + q log(1/eps)`
  ///   of 2^969 or more. Nothing is written, `gradient` and `state` are
  ///   untouched, after a throw.
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
  /// writes the diagonal of the Hessian with the factors held constant,
  ///
  ///     ∂²L/∂z_ik² = (w_i / Σ w) σ̃_ik (1 - σ̃_ik),   σ̃_i = softmax(z̃_i),
  ///
  /// into `hessianDiagonal` (for Newton steps and gradient-boosting
  /// objectives). `1 - σ̃` is formed without cancellation.
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
  /// their total weight `Σ w`, and how many of them each class labels (the
  /// counts every worker's state must add, whichever shard holds the rows).
  /// They do not depend on `state`, which is only checked.
  ///
  /// - Throws: ``LossError`` for invalid input or state, as a step.
  /// - Complexity: O(N K).
  public func statistics(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, state: State
  ) throws(LossError) -> BatchStatistics {
    try checkState(state)
    let batch = try SoftmaxBatch(
      logits: logits, labels: targets, weights: weights, gradient: nil,
      classCount: classCount, reduction: .sum, ignoreIndex: ignoreIndex)
    var counts = [CompensatedSum](repeating: CompensatedSum(), count: classCount)
    for i in 0..<batch.rows where !batch.isIgnored(i) { counts[batch.labels[i]].add(1) }
    return try BatchStatistics(
      of: self, samples: batch.rows, sums: batch.keptSums() + counts, weights: weights)
  }

  /// A data-parallel step on this shard: the state advanced by the label
  /// counts of the whole batch (the same on every worker), this shard's
  /// share `Σ_shard w_i l_i / Σ_all w` (or `Σ_shard w_i l_i` for `.sum`) and
  /// its rows of the whole batch's gradient. See ``DataParallelLoss`` for the
  /// two-phase step; each worker keeps its own copy of the state, and the
  /// copies stay equal.
  ///
  /// - Throws: ``LossError`` for invalid input or state, and for statistics
  ///   of another loss; the state and the gradient are untouched then.
  /// - Complexity: O(N K).
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    state: inout State, statistics: BatchStatistics
  ) throws(LossError) -> Double {
    let totals = try statistics.totals(
      for: self, sums: 2 + classCount, samples: targets.count)
    return try step(
      logits: logits, targets: targets, weights: weights, gradient: gradient, hessian: nil,
      state: &state, global: (totals[0], totals[1], Array(totals[2...])))
  }

  /// The step behind every entry point; `hessian` only with a gradient.
  /// With `global` (the merged sums), the normaliser and the counts added
  /// are the whole batch's.
  func step(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    hessian: UnsafeMutablePointer<Double>?, state: inout State,
    global: (kept: Double, total: Double, counts: [Double])? = nil
  ) throws(LossError) -> Double {
    try checkState(state)
    var batch = try SoftmaxBatch(
      logits: logits, labels: targets, weights: weights, gradient: gradient,
      classCount: classCount, reduction: global == nil ? reduction : .sum,
      ignoreIndex: ignoreIndex)
    var counts = state.classCounts
    if let global {
      try batch.normalize(kept: global.kept, total: global.total, reduction: reduction)
      for k in 0..<classCount { counts[k] += global.counts[k] }
    } else {
      for i in 0..<batch.rows where !batch.isIgnored(i) { counts[batch.labels[i]] += 1 }
    }
    // log N_k with the clamp N >= 1; the largest bounds the mitigation shift.
    let logCounts = counts.map { Elementary.log(Swift.max($0, 1)) }
    let largestLogCount = logCounts.max() ?? 0
    let logEpsilon = Elementary.log(epsilon)
    let bound = p * largestLogCount + q * Swift.max(-logEpsilon, 0)
    // Below half an ulp of the largest double, z + shift cannot overflow.
    if !(bound < 0x1p969) {
      throw .invalidParameter(
        name: "adjustment", value: bound,
        requirement: "p log(max count) + q log(1 / epsilon) < 2^969")
    }
    state.classCounts = counts
    return logCounts.withUnsafeBufferPointer { logN in
      var scratch = [Double](repeating: 0, count: classCount)
      return scratch.withUnsafeMutableBufferPointer { a in
        run(
          batch, counts: counts, logCounts: logN.baseAddress!, logEpsilon: logEpsilon,
          adjusted: a.baseAddress!, gradient: gradient?.baseAddress, hessian: hessian)
      }
    }
  }

  /// Throws unless `state` has `classCount` finite counts `>= 0`.
  func checkState(_ state: State) throws(LossError) {
    if state.classCounts.count != classCount {
      throw .lengthMismatch(
        argument: "state.classCounts", expected: classCount, actual: state.classCounts.count)
    }
    for (k, n) in state.classCounts.enumerated() where !(n >= 0 && n.isFinite) {
      throw .invalidParameter(
        name: "state.classCounts[\(k)]", value: n, requirement: "finite and >= 0")
    }
  }

  /// The kernel: rows in order, a compensated sum of `f_i l_i`.
  func run(
    _ batch: SoftmaxBatch, counts: [Double], logCounts logN: UnsafePointer<Double>,
    logEpsilon: Double, adjusted a: UnsafeMutablePointer<Double>,
    gradient: UnsafeMutablePointer<Double>?, hessian: UnsafeMutablePointer<Double>?
  ) -> Double {
    let k = classCount
    var total = CompensatedSum()
    for i in 0..<batch.rows {
      let z = batch.logits + i * k
      if batch.isIgnored(i) {
        if let gradient { for j in 0..<k { gradient[i * k + j] = 0 } }
        if let hessian { for j in 0..<k { hessian[i * k + j] = 0 } }
        continue
      }
      let c = batch.labels[i]
      // log σ_j = (z_j - m) - log Σ exp(z - m), of the raw logits.
      var m = z[0]
      for j in 1..<k where z[j] > m { m = z[j] }
      var s = 0.0
      for j in 0..<k { s += Elementary.exp(z[j] - m) }
      let logS = Elementary.log(s)
      let floor = Swift.max((z[c] - m) - logS, logEpsilon)
      let ownCount = Swift.max(counts[c], 1)
      // z̃ and its maximum.
      var top = 0
      for j in 0..<k {
        var shift = 0.0
        if j != c {
          if p > 0 && Swift.max(counts[j], 1) < ownCount { shift += p * (logN[j] - logN[c]) }
          if q > 0 {
            let d = ((z[j] - m) - logS) - floor
            if d > 0 { shift += q * d }
          }
        }
        a[j] = z[j] + shift
        if a[j] > a[top] { top = j }
      }
      let mt = a[top]
      var rest = 0.0
      for j in 0..<k {
        a[j] = Elementary.exp(a[j] - mt)
        if j != top { rest += a[j] }
      }
      // a[c] is exp(z̃_c - max); its logarithm is z̃_c - max = z_c - max.
      let term = Elementary.log1p(rest) - (z[c] - mt)
      let f = batch.factor(i)
      // A zero-weight row adds exactly 0, even where its term overflows.
      if f != 0 { total.add(f * term) }
      if let gradient {
        let reciprocal = 1 / (1 + rest)
        for j in 0..<k {
          // The label's entry: σ̃_c - 1, or -rest / (1 + rest) without
          // cancellation when the label is the largest adjusted logit.
          let softmax = a[j] * reciprocal
          let entry = j != c ? softmax : (c == top ? -rest * reciprocal : softmax - 1)
          gradient[i * k + j] = f * entry
          if let hessian {
            // 1 - σ̃_j = (1 + rest - a_j) / (1 + rest): rest for the top
            // entry (a = 1), and at least 1 / (1 + rest) for the others.
            let complement = (j == top ? rest : 1 + (rest - a[j])) * reciprocal
            hessian[i * k + j] = f * (softmax * complement)
          }
        }
      }
    }
    return total.value
  }
}
