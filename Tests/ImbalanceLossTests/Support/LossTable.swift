#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ImbalanceLoss

/// One loss of the reliability table, its entry points captured as closures
/// so that property, concurrency and accuracy tests loop over every loss with
/// one body. Built by ``separable(_:_:perSampleUsesUnweightedBatch:)`` or
/// ``whole(_:_:)`` from any `Loss`.
struct LossCase<Target: Sendable>: Sendable, CustomStringConvertible {
  let name: String
  let logitsPerSample: Int
  /// `.mean` (the default) value and gradient through the array API.
  let evaluate: @Sendable ([Double], [Target], [Double]?) throws -> (Double, [Double])
  /// Value and gradient through the buffer API with `.serial` or `.automatic` parallelism.
  let step:
    @Sendable (
      UnsafeBufferPointer<Double>, UnsafeBufferPointer<Target>, UnsafeBufferPointer<Double>?,
      UnsafeMutableBufferPointer<Double>?, _ serial: Bool
    ) throws -> Double
  /// `.sum` value and gradient; nil for a loss that is not a reduction of per-sample terms.
  let evaluateSum: (@Sendable ([Double], [Target], [Double]?) throws -> (Double, [Double]))?
  /// Unweighted per-sample terms; nil for a loss that has none.
  let perSampleValues: (@Sendable ([Double], [Target]) throws -> [Double])?
  /// True when the per-sample terms depend on the batch through an unweighted
  /// statistic (F1WeightedCrossEntropy with the batch F): their weighted mean
  /// is the value only without weights.
  let perSampleUsesUnweightedBatch: Bool

  var description: String { name }

  /// A loss with a reduction and per-sample terms.
  static func separable<L: SeparableLoss & ParallelLoss>(
    _ name: String, _ loss: L, perSampleUsesUnweightedBatch: Bool = false
  ) -> LossCase where L.Target == Target {
    var sum = loss
    sum.reduction = .sum
    return LossCase(
      name: name, logitsPerSample: loss.logitsPerSample,
      evaluate: { z, t, w in try loss.valueAndGradient(logits: z, targets: t, weights: w) },
      step: step(loss),
      evaluateSum: { [sum] z, t, w in try sum.valueAndGradient(logits: z, targets: t, weights: w) },
      perSampleValues: { z, t in try loss.perSampleValues(logits: z, targets: t) },
      perSampleUsesUnweightedBatch: perSampleUsesUnweightedBatch)
  }

  /// A loss that is a function of the whole batch (no reduction, no per-sample terms).
  static func whole<L: ParallelLoss>(
    _ name: String, _ loss: L
  ) -> LossCase where L.Target == Target {
    LossCase(
      name: name, logitsPerSample: loss.logitsPerSample,
      evaluate: { z, t, w in try loss.valueAndGradient(logits: z, targets: t, weights: w) },
      step: step(loss), evaluateSum: nil, perSampleValues: nil,
      perSampleUsesUnweightedBatch: false)
  }

  private static func step<L: ParallelLoss>(_ loss: L) -> @Sendable (
    UnsafeBufferPointer<Double>, UnsafeBufferPointer<Target>, UnsafeBufferPointer<Double>?,
    UnsafeMutableBufferPointer<Double>?, Bool
  ) throws -> Double where L.Target == Target {
    var serial = loss
    serial.parallelism = .serial
    return { [serial] z, t, w, g, isSerial in
      try (isSerial ? serial : loss).valueAndGradient(
        logits: z, targets: t, weights: w, gradient: g)
    }
  }
}

/// A loss whose thread count can be set; every loss so far has `parallelism`.
protocol ParallelLoss: Loss {
  var parallelism: Parallelism { get set }
}

// ADDING A LOSS: one line here too.
extension BinaryCrossEntropy: ParallelLoss {}
extension SmoothAccuracyLoss: ParallelLoss {}
extension SmoothF1Loss: ParallelLoss {}
extension F1WeightedCrossEntropy: ParallelLoss {}
extension LogitAdjustedCrossEntropy: ParallelLoss {}
extension SoftmaxCrossEntropy: ParallelLoss {}

/// The losses every reliability test runs over. ADDING A LOSS: one line in
/// `binary` or `softmax(classCount:)`, and its `ParallelLoss` conformance above.
enum LossTable {
  static let binary: [LossCase<Double>] = [
    .separable("BinaryCrossEntropy()", BinaryCrossEntropy()),
    .separable(
      "BinaryCrossEntropy(3, 0.5)", BinaryCrossEntropy(positiveWeight: 3, negativeWeight: 0.5)),
    .separable("SmoothAccuracyLoss()", SmoothAccuracyLoss()),
    .whole("SmoothF1Loss()", SmoothF1Loss()),
    .separable("F1WeightedCrossEntropy(f1: 0.3)", F1WeightedCrossEntropy(f1: 0.3)),
    .separable(
      "F1WeightedCrossEntropy()", F1WeightedCrossEntropy(), perSampleUsesUnweightedBatch: true),
  ]

  /// The softmax losses for `classCount` classes; priors fall geometrically
  /// from 1 to 1e-6 so that logit adjustment really shifts the logits.
  static func softmax(classCount k: Int) -> [LossCase<Int>] {
    let priors = (0..<k).map { pow(10, -6 * Double($0) / Double(max(1, k - 1))) }
    // The initialisers only throw for invalid priors or tau, which these are not.
    return try! [
      .separable("SoftmaxCrossEntropy(K: \(k))", SoftmaxCrossEntropy(classCount: k)),
      .separable(
        "LogitAdjustedCrossEntropy(K: \(k), tau: 1)",
        LogitAdjustedCrossEntropy(priors: priors, tau: 1)),
      .separable(
        "LogitAdjustedCrossEntropy(K: \(k), tau: 0.5)",
        LogitAdjustedCrossEntropy(priors: priors, tau: 0.5)),
    ]
  }
}
