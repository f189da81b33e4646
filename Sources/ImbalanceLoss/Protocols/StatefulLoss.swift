/// A loss that accumulates statistics across training steps (``SeesawLoss``,
/// ``EqualizationLossV2``) over `N × K` logits and `N` class labels: every
/// call is one step, which reads and advances an explicit ``State`` that the
/// training loop owns.
///
///     var state = loss.makeState()               // once per training run
///     let (value, gradient) = try loss.valueAndGradient(
///         logits: z, targets: labels, state: &state)   // every step
///
/// The loss value itself holds no mutable state: the same loss, state and
/// batch give the same bits and the same new state. `State` is `Codable`: a
/// run resumed from a checkpoint's state (and the same hyper-parameters)
/// continues bit for bit. After a throw, `state` and every buffer are
/// untouched.
///
/// A stateful loss does not conform to ``Loss``, whose entry points have no
/// state to pass. It has the two-phase data-parallel step of
/// ``DataParallelLoss`` with its state: every worker holds a copy of the
/// state, computes its shard's ``statistics(logits:targets:weights:state:)-(UnsafeBufferPointer<Double>,_,_,_)``,
/// all-reduces them, and takes
/// ``valueAndGradient(logits:targets:weights:gradient:state:statistics:)``,
/// which advances every copy by the whole batch alike.
public protocol StatefulLoss: Sendable {
  /// What the loss accumulates across the steps of a training run.
  associatedtype State: Sendable, Codable, Hashable

  /// The number of classes `K` (logits per row).
  var classCount: Int { get }

  /// The state of a run that has taken no step.
  func makeState() -> State

  /// One training step: the loss value; writes `∂L/∂z` into `gradient`
  /// when it is non-nil and advances `state`.
  ///
  /// - Throws: ``LossError`` for invalid input or state; `gradient` and
  ///   `state` are untouched then.
  func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    state: inout State
  ) throws(LossError) -> Double

  /// One training step with second order: as the first-order step, and
  /// writes the diagonal of the Hessian (with the step's factors held, as
  /// in the gradient) into `hessianDiagonal`.
  ///
  /// - Throws: ``LossError`` for invalid input or state, or a
  ///   `hessianDiagonal` whose length is not `N K`; buffers and `state` are
  ///   untouched then.
  func valueGradientAndHessianDiagonal(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>,
    hessianDiagonal: UnsafeMutableBufferPointer<Double>, state: inout State
  ) throws(LossError) -> Double

  /// This shard's sums for a data-parallel step from `state` (the same on
  /// every worker): an element of the sum that is the whole batch's
  /// statistics.
  ///
  /// - Parameters:
  ///   - logits: this shard's `N K` logits, row-major.
  ///   - targets: this shard's `N` labels.
  ///   - weights: this shard's `N` per-sample weights, or `nil` for all ones.
  ///   - state: the run's state before the step.
  /// - Throws: ``LossError`` for invalid input or state, as a step.
  func statistics(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, state: State
  ) throws(LossError) -> BatchStatistics

  /// A data-parallel step on this shard: its share of the whole batch's
  /// value (the shares add up to it), its rows of the whole batch's
  /// gradient in `gradient` when non-nil, and `state` advanced as the whole
  /// batch advances it. `statistics` is the sum over the shards of
  /// ``statistics(logits:targets:weights:state:)-(UnsafeBufferPointer<Double>,_,_,_)``.
  ///
  /// - Throws: ``LossError`` for invalid input or state and for statistics
  ///   of another loss configuration; `gradient` and `state` are untouched then.
  func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    state: inout State, statistics: BatchStatistics
  ) throws(LossError) -> Double
}

extension StatefulLoss {
  /// One training step over arrays: the value and a new gradient (the
  /// buffer form's semantics).
  ///
  /// - Throws: ``LossError`` for invalid input or state (both left untouched).
  /// - Complexity: O(N K).
  public func valueAndGradient(
    logits: [Double], targets: [Int], weights: [Double]? = nil, state: inout State
  ) throws(LossError) -> (value: Double, gradient: [Double]) {
    var gradient = [Double](repeating: 0, count: logits.count)
    let value = try valueAndGradient(
      logits: logits, targets: targets, weights: weights, gradient: &gradient, state: &state)
    return (value, gradient)
  }

  /// One training step over arrays, the gradient written into a reusable
  /// array (resized to `logits.count` if needed; unchanged after a throw).
  ///
  /// - Throws: ``LossError`` for invalid input or state (both left untouched).
  /// - Complexity: O(N K).
  public func valueAndGradient(
    logits: [Double], targets: [Int], weights: [Double]? = nil,
    gradient: inout [Double], state: inout State
  ) throws(LossError) -> Double {
    if gradient.count != logits.count {
      // Validate on a copy first so that a throwing call changes nothing.
      var probe = state
      _ = try value(logits: logits, targets: targets, weights: weights, state: &probe)
      gradient = [Double](repeating: 0, count: logits.count)
    }
    return try withBuffers(logits, targets, weights) { (z, t, w) throws(LossError) in
      try gradient.withUnsafeMutableBufferPointer { (g) throws(LossError) in
        try valueAndGradient(logits: z, targets: t, weights: w, gradient: g, state: &state)
      }
    }
  }

  /// One training step without a gradient: the loss value. It advances
  /// `state` like every step.
  ///
  /// - Throws: ``LossError`` for invalid input or state (both left untouched).
  /// - Complexity: O(N K).
  public func value(
    logits: [Double], targets: [Int], weights: [Double]? = nil, state: inout State
  ) throws(LossError) -> Double {
    try withBuffers(logits, targets, weights) { (z, t, w) throws(LossError) in
      try valueAndGradient(logits: z, targets: t, weights: w, gradient: nil, state: &state)
    }
  }

  /// One training step with second order over arrays: the value, gradient
  /// and Hessian diagonal (factors held) in new arrays.
  ///
  /// - Throws: ``LossError`` for invalid input or state (`state` untouched).
  /// - Complexity: O(N K).
  public func valueGradientAndHessianDiagonal(
    logits: [Double], targets: [Int], weights: [Double]? = nil, state: inout State
  ) throws(LossError) -> (value: Double, gradient: [Double], hessianDiagonal: [Double]) {
    var gradient = [Double](repeating: 0, count: logits.count)
    var hessian = gradient
    let value = try withBuffers(logits, targets, weights) { (z, t, w) throws(LossError) in
      try gradient.withUnsafeMutableBufferPointer { (g) throws(LossError) in
        try hessian.withUnsafeMutableBufferPointer { (h) throws(LossError) in
          try valueGradientAndHessianDiagonal(
            logits: z, targets: t, weights: w, gradient: g, hessianDiagonal: h, state: &state)
        }
      }
    }
    return (value, gradient, hessian)
  }

  /// The array form of ``statistics(logits:targets:weights:state:)-(UnsafeBufferPointer<Double>,_,_,_)``.
  ///
  /// - Throws: ``LossError`` for invalid input or state.
  /// - Complexity: O(N K).
  public func statistics(
    logits: [Double], targets: [Int], weights: [Double]? = nil, state: State
  ) throws(LossError) -> BatchStatistics {
    try withBuffers(logits, targets, weights) { (z, t, w) throws(LossError) in
      try statistics(logits: z, targets: t, weights: w, state: state)
    }
  }

  /// The array form of ``valueAndGradient(logits:targets:weights:gradient:state:statistics:)``:
  /// this shard's share and a new gradient array.
  ///
  /// - Throws: ``LossError`` for invalid input, state or statistics (`state`
  ///   untouched then).
  /// - Complexity: O(N K).
  public func valueAndGradient(
    logits: [Double], targets: [Int], weights: [Double]? = nil, state: inout State,
    statistics: BatchStatistics
  ) throws(LossError) -> (value: Double, gradient: [Double]) {
    var gradient = [Double](repeating: 0, count: logits.count)
    let value = try withBuffers(logits, targets, weights) { (z, t, w) throws(LossError) in
      try gradient.withUnsafeMutableBufferPointer { (g) throws(LossError) in
        try valueAndGradient(
          logits: z, targets: t, weights: w, gradient: g, state: &state, statistics: statistics)
      }
    }
    return (value, gradient)
  }
}
