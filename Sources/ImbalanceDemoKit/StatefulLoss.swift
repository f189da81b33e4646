import ImbalanceLoss

/// A loss that carries a state from one training step to the next (the
/// class counts of ``SeesawLoss``, the gradient statistics of
/// ``EqualizationLossV2``), over class labels.
///
/// The demo creates the state when a training run starts and passes it to
/// every step of that run, so the run stays deterministic and two runs never
/// share one.
public protocol StatefulLoss: Sendable {
  /// The state a training run owns.
  associatedtype State

  /// The state of a run that has taken no step.
  func makeState() -> State

  /// One training step: the loss of `logits` against the labels `targets`,
  /// its gradient written into `gradient`, and `state` advanced.
  func valueAndGradient(
    logits: [Double], targets: [Int], weights: [Double]?, gradient: inout [Double],
    state: inout State
  ) throws(LossError) -> Double
}

extension SeesawLoss: StatefulLoss {}
extension EqualizationLossV2: StatefulLoss {}
