#if canImport(_Differentiation)
import ImbalanceLoss

extension EqualizationLossV2 {
  /// The loss at a fixed `state`, with `targets` and `weights` fixed, as a
  /// differentiable function of the logits.
  ///
  /// An EQLv2 step reads its class weights from the state before the step,
  /// then adds statistics computed from the logits' gradient. The function
  /// covers the first half: its value and gradient are the step's bits for
  /// any logits, and it never changes a state. The second half needs the
  /// logits of the step, which only the caller has; advance the state with
  /// them after the step, at the cost of one more evaluation:
  ///
  ///     let f = try eql.differentiable(targets: y, state: state)
  ///     let logits = model(x)
  ///     let (value, 𝛁model) = valueWithGradient(at: model) { m in f(m(x)) }
  ///     _ = try eql.value(logits: logits, targets: y, state: &state)
  ///
  /// - Parameters:
  ///   - targets: `N` labels in `0...K` (`K`: background) or
  ///     ``EqualizationLossV2/ignoreIndex``.
  ///   - weights: `N` per-sample weights, or `nil` for all ones.
  ///   - state: the run's statistics before the step (copied).
  /// - Returns: A ``DifferentiableLoss`` of `N * K` logits.
  /// - Throws: The `LossError` a step throws for these targets, weights and
  ///   state.
  /// - Complexity: O(N K): one evaluation at zero logits.
  public func differentiable(
    targets: [Int], weights: [Double]? = nil, state: State
  ) throws(LossError) -> DifferentiableLoss {
    try frozenStep(targets: targets, weights: weights, from: state).function
  }
}
#endif

#if canImport(_Differentiation)
extension EqualizationLossV2 {
  /// The step's differentiable function as `differentiable(targets:weights:state:)`
  /// makes it, for `Float` weights (a model that computes in `Float`; the
  /// function also takes `[Float]` logits).
  ///
  /// - Throws: As the `[Double]`-weight factory.
  /// - Complexity: O(N K).
  @_disfavoredOverload
  public func differentiable(
    targets: [Int], weights: [Float]?, state: State
  ) throws(LossError) -> DifferentiableLoss {
    try differentiable(targets: targets, weights: weights.map { $0.map { Double($0) } }, state: state)
  }
}
#endif
