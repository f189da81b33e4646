#if canImport(_Differentiation)
import ImbalanceLoss

/// The step API that ``SeesawLoss`` and ``EqualizationLossV2`` share, as
/// their factories use it.
protocol StatefulLoss: Sendable {
  /// The run's accumulated statistics.
  associatedtype State: Sendable
  /// The number of classes `K` (logits per row).
  var classCount: Int { get }
  /// One step's value; advances `state`.
  func value(
    logits: [Double], targets: [Int], weights: [Double]?, state: inout State
  ) throws(LossError) -> Double
  /// One step's value and gradient; advances `state`.
  func valueAndGradient(
    logits: [Double], targets: [Int], weights: [Double]?, state: inout State
  ) throws(LossError) -> (value: Double, gradient: [Double])
}

extension SeesawLoss: StatefulLoss {}
extension EqualizationLossV2: StatefulLoss {}

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
