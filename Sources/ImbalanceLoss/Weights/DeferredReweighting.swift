/// Deferred re-weighting (DRW, Cao et al. 2019, the "DRW" of LDAM-DRW): equal
/// class weights until epoch `E`, then class-balanced weights from the
/// effective number of samples.
///
///     a_k(epoch) = 1                                         epoch < E
///     a_k(epoch) = ClassWeights.effectiveNumber(n, beta)_k   epoch >= E
///                = K (1 / (1 - beta^n_k)) / Σ_j (1 / (1 - beta^n_j))
///
/// The model first learns a representation from the natural distribution,
/// then the re-weighting moves the decision boundaries towards the rare
/// classes. The authors' recipe (CIFAR, 200 epochs) defers to epoch 160 with
/// `beta = 0.9999`, their code's `betas = [0, 0.9999]`: `beta = 0` gives
/// the weights of 1 before `E`. The schedule is a value: a resumed run needs
/// only the epoch number.
///
/// ```swift
/// let schedule = try DeferredReweighting(classCounts: [5000, 500, 50], deferralEpoch: 160)
/// var loss = try MarginSoftmaxCrossEntropy.ldam(classCounts: [5000, 500, 50])
/// for epoch in 0..<200 {
///   loss.classWeights = schedule.classWeights(epoch: epoch)
///   // ... train one epoch with `loss`
/// }
/// ```
public struct DeferredReweighting: Sendable, Hashable {
  /// The first epoch (counted from 0) with re-weighted classes, `E >= 0`.
  public let deferralEpoch: Int
  /// The effective-number `beta` in [0, 1) of the re-weighted phase.
  public let beta: Double
  /// The weights from epoch `E` on: `ClassWeights.effectiveNumber`.
  public let deferredWeights: [Double]

  /// Creates the schedule from class counts.
  ///
  /// - Parameters:
  ///   - classCounts: `n_k > 0`, the training samples of each class.
  ///   - deferralEpoch: `E >= 0`, the first re-weighted epoch (0: from the start).
  ///   - beta: in [0, 1); 0.9999 as the paper.
  /// - Throws: as ``ClassWeights/effectiveNumber(classCounts:beta:)``, and
  ///   ``LossError/invalidParameter(name:value:requirement:)`` for a negative
  ///   `deferralEpoch`.
  /// - Complexity: O(K).
  public init(classCounts: [Int], deferralEpoch: Int, beta: Double = 0.9999) throws(LossError) {
    if deferralEpoch < 0 {
      throw .invalidParameter(
        name: "deferralEpoch", value: Double(deferralEpoch), requirement: ">= 0")
    }
    deferredWeights = try ClassWeights.effectiveNumber(classCounts: classCounts, beta: beta)
    self.deferralEpoch = deferralEpoch
    self.beta = beta
  }

  /// The class weights of `epoch` (counted from 0): K ones before
  /// ``deferralEpoch``, ``deferredWeights`` from it on (a negative epoch counts
  /// as before it).
  ///
  /// - Complexity: O(K).
  public func classWeights(epoch: Int) -> [Double] {
    epoch >= deferralEpoch
      ? deferredWeights : [Double](repeating: 1, count: deferredWeights.count)
  }
}
