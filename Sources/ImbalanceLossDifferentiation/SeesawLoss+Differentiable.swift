#if canImport(_Differentiation)
import ImbalanceLoss

extension SeesawLoss {
  /// One training step's loss, with `targets` and `weights` fixed, as a
  /// differentiable function of the logits; `state` takes the step now.
  ///
  /// A seesaw step adds the batch's labels to the class counts before it
  /// computes, and the update does not depend on the logits. So the factory
  /// validates the batch and the state, advances `state` exactly as
  /// `valueAndGradient(logits:targets:weights:state:)` would, and returns the
  /// loss at the counts of that step: every call of the function (any
  /// logits) gives the bits of that step, and leaves `state` alone. Make one
  /// function per training step.
  ///
  /// - Parameters:
  ///   - targets: `N` labels in `0..<K` (or ``SeesawLoss/ignoreIndex``).
  ///   - weights: `N` per-sample weights, or `nil` for all ones.
  ///   - state: the run's class counts, advanced by this step.
  /// - Returns: A ``DifferentiableLoss`` of `N * K` logits.
  /// - Throws: The `LossError` a step throws for these targets, weights and
  ///   state; `state` is untouched then.
  /// - Complexity: O(N K): one evaluation at zero logits.
  public func differentiable(
    targets: [Int], weights: [Double]? = nil, state: inout State
  ) throws(LossError) -> DifferentiableLoss {
    // A seesaw step's update reads the labels only: the zero-logit step's is it.
    let (function, after) = try frozenStep(targets: targets, weights: weights, from: state)
    state = after
    return function
  }
}
#endif

#if canImport(_Differentiation)
extension SeesawLoss {
  /// The step's differentiable function as `differentiable(targets:weights:state:)`
  /// makes it, for `Float` weights (a model that computes in `Float`; the
  /// function also takes `[Float]` logits).
  ///
  /// - Throws: As the `[Double]`-weight factory; `state` is untouched then.
  /// - Complexity: O(N K).
  @_disfavoredOverload
  public func differentiable(
    targets: [Int], weights: [Float]?, state: inout State
  ) throws(LossError) -> DifferentiableLoss {
    try differentiable(targets: targets, weights: weights.map { $0.map { Double($0) } }, state: &state)
  }
}
#endif
