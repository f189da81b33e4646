/// A loss on a batch of logits that returns its value and its exact gradient
/// with respect to the logits.
///
/// A batch of `N` samples is stored contiguously: one logit per sample for a
/// binary loss (`Target == Double`, a label or soft label in `[0, 1]`), `K`
/// logits per sample, row-major (`logits[i * K + k]`), for a softmax loss
/// (`Target == Int`, a class index in `0..<K`). The gradient has the layout
/// of the logits. A loss whose target is a set of labels
/// (``MultiLabelCategoricalCrossEntropy``) takes one target per logit.
///
/// Optional per-sample weights `w_i >= 0` (all ones when `nil`) make every
/// mean a weighted mean:
///
///     E[f] = Σ_i w_i f_i / Σ_i w_i
///
/// Conforming types implement the single buffer requirement
/// ``valueAndGradient(logits:targets:weights:gradient:)``; the array methods
/// are thin wrappers over it:
///
/// ```swift
/// let loss = BinaryCrossEntropy(positiveWeight: 3)
/// let (value, gradient) = try loss.valueAndGradient(
///     logits: [2.0, -1.0, 0.5], targets: [1, 0, 1])
/// ```
///
/// Every method validates all inputs before it writes anything and throws a
/// ``LossError`` naming the first problem (index and value). After a throw a
/// caller's gradient buffer holds exactly what it held before the call.
public protocol Loss<Target>: Sendable {
  /// What a sample's target is: `Double` for binary losses, `Int` for softmax losses.
  associatedtype Target: Sendable

  /// The number of logits per sample: 1 for a binary loss, `K` for a softmax
  /// loss. Every loss has `N = logits.count / logitsPerSample` samples.
  var logitsPerSample: Int { get }

  /// How many threads a call may use. Large batches are cut into fixed
  /// chunks combined in order, so the result is the same bits whatever the
  /// setting.
  var parallelism: Parallelism { get set }

  /// Computes the loss and, when `gradient` is non-nil, writes `∂L/∂logits` into it.
  ///
  /// This is the non-allocating entry point a training loop calls every step.
  ///
  /// - Parameters:
  ///   - logits: `N * logitsPerSample` finite logits.
  ///   - targets: `N` targets.
  ///   - weights: `N` per-sample weights `>= 0` with a positive sum, or `nil` for all ones.
  ///   - gradient: `nil` for the value alone, or a buffer of `logits.count`
  ///     elements that receives the gradient. Its previous contents are ignored
  ///     and are left untouched if the call throws.
  /// - Returns: The loss value.
  /// - Throws: ``LossError`` for an empty batch, mismatched lengths, a
  ///   non-finite logit, an invalid target or weight.
  /// - Complexity: O(`logits.count`).
  func valueAndGradient(
    logits: UnsafeBufferPointer<Double>,
    targets: UnsafeBufferPointer<Target>,
    weights: UnsafeBufferPointer<Double>?,
    gradient: UnsafeMutableBufferPointer<Double>?
  ) throws(LossError) -> Double

  /// The loss value of a batch.
  ///
  /// - Parameters:
  ///   - logits: `N * logitsPerSample` finite logits.
  ///   - targets: `N` targets.
  ///   - weights: `N` per-sample weights, or `nil` for all ones.
  /// - Throws: ``LossError`` for invalid input.
  /// - Complexity: O(`logits.count`).
  func value(logits: [Double], targets: [Target], weights: [Double]?) throws(LossError) -> Double

  /// The loss value of a batch and its gradient with respect to the logits.
  ///
  /// - Parameters:
  ///   - logits: `N * logitsPerSample` finite logits.
  ///   - targets: `N` targets.
  ///   - weights: `N` per-sample weights, or `nil` for all ones.
  /// - Returns: The value and a new gradient array with the layout of `logits`.
  /// - Throws: ``LossError`` for invalid input.
  /// - Complexity: O(`logits.count`).
  func valueAndGradient(
    logits: [Double], targets: [Target], weights: [Double]?
  ) throws(LossError) -> (value: Double, gradient: [Double])
}

extension Loss {
  /// The loss value of a batch; see ``Loss/value(logits:targets:weights:)``.
  ///
  /// - Complexity: O(`logits.count`).
  @inlinable
  public func value(
    logits: [Double], targets: [Target], weights: [Double]? = nil
  ) throws(LossError) -> Double {
    try withBuffers(logits, targets, weights) { (z, t, w) throws(LossError) in
      try valueAndGradient(logits: z, targets: t, weights: w, gradient: nil)
    }
  }

  /// The loss value of a batch over buffers, without a gradient.
  ///
  /// - Complexity: O(`logits.count`).
  @inlinable
  public func value(
    logits: UnsafeBufferPointer<Double>,
    targets: UnsafeBufferPointer<Target>,
    weights: UnsafeBufferPointer<Double>? = nil
  ) throws(LossError) -> Double {
    try valueAndGradient(logits: logits, targets: targets, weights: weights, gradient: nil)
  }

  /// The loss value and a freshly allocated gradient; see
  /// ``Loss/valueAndGradient(logits:targets:weights:)``.
  ///
  /// - Complexity: O(`logits.count`).
  @inlinable
  public func valueAndGradient(
    logits: [Double], targets: [Target], weights: [Double]? = nil
  ) throws(LossError) -> (value: Double, gradient: [Double]) {
    var gradient = [Double](repeating: 0, count: logits.count)
    let value = try valueAndGradient(
      logits: logits, targets: targets, weights: weights, gradient: &gradient)
    return (value, gradient)
  }

  /// The loss value, with the gradient written into a reusable array.
  ///
  /// `gradient` is resized to `logits.count` if its count differs (the only
  /// allocation; reuse the array across steps to avoid it). If the call
  /// throws, `gradient` is left unchanged.
  ///
  /// - Complexity: O(`logits.count`).
  @inlinable
  public func valueAndGradient(
    logits: [Double], targets: [Target], weights: [Double]? = nil,
    gradient: inout [Double]
  ) throws(LossError) -> Double {
    if gradient.count != logits.count {
      // Validate first so that a throwing call leaves `gradient` unchanged.
      _ = try value(logits: logits, targets: targets, weights: weights)
      gradient = [Double](repeating: 0, count: logits.count)
    }
    return try withBuffers(logits, targets, weights) { (z, t, w) throws(LossError) in
      try gradient.withUnsafeMutableBufferPointer { (g) throws(LossError) in
        try valueAndGradient(logits: z, targets: t, weights: w, gradient: g)
      }
    }
  }

  /// The gradient of the loss with respect to the logits.
  ///
  /// - Complexity: O(`logits.count`).
  @inlinable
  public func gradient(
    logits: [Double], targets: [Target], weights: [Double]? = nil
  ) throws(LossError) -> [Double] {
    try valueAndGradient(logits: logits, targets: targets, weights: weights).gradient
  }
}

/// Runs `body` over the buffers of three arrays, with `nil` weights as a `nil` buffer.
@inlinable
func withBuffers<S, T, R>(
  _ logits: [S], _ targets: [T], _ weights: [S]?,
  _ body: (
    UnsafeBufferPointer<S>, UnsafeBufferPointer<T>, UnsafeBufferPointer<S>?
  ) throws(LossError) -> R
) throws(LossError) -> R {
  try logits.withUnsafeBufferPointer { (z) throws(LossError) in
    try targets.withUnsafeBufferPointer { (t) throws(LossError) in
      if let weights {
        return try weights.withUnsafeBufferPointer { (w) throws(LossError) in
          try body(z, t, w)
        }
      }
      return try body(z, t, nil)
    }
  }
}
