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
/// state to pass.
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
}
