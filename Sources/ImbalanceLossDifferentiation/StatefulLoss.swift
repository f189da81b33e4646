#if canImport(_Differentiation)
import ImbalanceLoss

extension StatefulLoss {
  /// The step from `state` with `targets` and `weights` fixed, as a
  /// differentiable function of the logits that never changes a state, and
  /// the state this step leaves at zero logits (validating everything but
  /// the logits).
  func frozenStep(
    targets: [Int], weights: [Double]?, from state: State
  ) throws(LossError) -> (function: DifferentiableLoss, stateAtZeroLogits: State) {
    let loss = self
    let logitCount = targets.count * classCount
    var after = state
    _ = try value(
      logits: [Double](repeating: 0, count: logitCount), targets: targets, weights: weights,
      state: &after)
    let function = DifferentiableLoss(logitCount: logitCount) {
      (logits, withGradient) throws(LossError) in
      var step = state
      return withGradient
        ? try loss.valueAndGradient(
          logits: logits, targets: targets, weights: weights, state: &step)
        : (try loss.value(logits: logits, targets: targets, weights: weights, state: &step), [])
    }
    return (function, after)
  }
}
#endif
