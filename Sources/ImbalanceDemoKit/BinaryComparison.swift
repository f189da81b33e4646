import ImbalanceLoss

/// What a binary method knows about its training set when it builds its loss.
public struct BinaryTrainingSet: Sendable {
  /// The losses' entry points each step calls.
  public var precision: Precision = .double
  /// The 0/1 targets.
  public var targets: [Double]
  /// The fraction `π` of positive rows.
  public var positiveRate: Double

  /// `log(π / (1 - π))`, the log prior odds that binary logit adjustment uses.
  public var logPriorOdds: Double { Platform.log(positiveRate / (1 - positiveRate)) }

  /// Replaces `batch` with the targets of `rows`.
  func gather(_ rows: [Int], into batch: inout [Double]) {
    batch.removeAll(keepingCapacity: true)
    for i in rows { batch.append(targets[i]) }
  }
}

/// One row of the binary comparison: how to train a logistic regression and
/// how to turn its logit into a prediction.
///
/// Add a binary loss to the demo with one line in ``standard``:
/// `.loss("name") { set in MyLoss(...) }`.
public struct BinaryMethod: Sendable {
  /// The row's name in tables and the JSON key of its scores.
  public var name: String
  /// How the model is obtained.
  var training: Training
  /// Predict 1 when the logit exceeds this offset (0 but for post-hoc adjustment).
  var decisionOffset: @Sendable (BinaryTrainingSet) -> Double

  enum Training: Sendable {
    /// Train a fresh model on this objective.
    case objective(@Sendable (BinaryTrainingSet) -> Objective)
    /// Reuse the model trained by the method named here.
    case reuse(String)
  }

  /// A method that trains on `loss` with `logitOffset` added to every logit
  /// in training (the model learns `z` while the loss sees `z + offset`).
  public static func loss<L: Loss>(
    _ name: String, logitOffset: (@Sendable (BinaryTrainingSet) -> Double)? = nil,
    _ makeLoss: @escaping @Sendable (BinaryTrainingSet) -> L
  ) -> BinaryMethod where L.Target == Double {
    BinaryMethod(
      name: name,
      training: .objective { set in
        let loss = makeLoss(set)
        let offset = logitOffset?(set) ?? 0
        var targets: [Double] = []
        return { z, rows, _, gradient throws(LossError) in
          set.gather(rows, into: &targets)
          // ∂L/∂z = ∂L/∂(z + offset): the gradient needs no correction.
          return try step(
            loss, logits: offset == 0 ? z : z.map { $0 + offset }, targets: targets,
            gradient: &gradient, precision: set.precision)
        }
      },
      decisionOffset: { _ in 0 })
  }

  /// F1-weighted cross-entropy with F held at an exponential running average
  /// (`F ← momentum F + (1 - momentum) F_batch`) of the batch smooth F1.
  public static func runningF1WeightedCrossEntropy(
    _ name: String, momentum: Double
  ) -> BinaryMethod {
    BinaryMethod(
      name: name,
      training: .objective { set in
        var running: Double?
        var targets: [Double] = []
        return { z, rows, _, gradient throws(LossError) in
          set.gather(rows, into: &targets)
          let batchF = try SmoothF1Loss().f1(logits: z, targets: targets)
          let f = running.map { momentum * $0 + (1 - momentum) * batchF } ?? batchF
          running = f
          return try step(
            F1WeightedCrossEntropy(f1: f), logits: z, targets: targets, gradient: &gradient,
            precision: set.precision)
        }
      },
      decisionOffset: { _ in 0 })
  }

  /// The model of method `base`, predicting 1 when `z > tau log(π / (1 - π))`:
  /// post-hoc logit adjustment.
  public static func postHoc(_ name: String, of base: String, tau: Double) -> BinaryMethod {
    BinaryMethod(name: name, training: .reuse(base)) { tau * $0.logPriorOdds }
  }

  /// The losses the demo compares on binary tasks, in table order.
  public static let standard: [BinaryMethod] = [
    .loss("BCE") { _ in BinaryCrossEntropy() },
    .loss("smooth accuracy") { _ in SmoothAccuracyLoss() },
    .loss("smooth F1") { _ in SmoothF1Loss() },
    .loss("F1-weighted CE (batch F)") { _ in F1WeightedCrossEntropy() },
    .runningF1WeightedCrossEntropy("F1-weighted CE (running F)", momentum: 0.9),
    .loss("BCE, positiveWeight (1-pi)/pi") {
      BinaryCrossEntropy(positiveWeight: (1 - $0.positiveRate) / $0.positiveRate)
    },
    .loss("logit-adjusted BCE (tau 1)", logitOffset: { $0.logPriorOdds }) { _ in
      BinaryCrossEntropy()
    },
    .postHoc("BCE + post-hoc adjustment (tau 1)", of: "BCE", tau: 1),
    .loss("focal (gamma 2)") { _ in BinaryFocalLoss(gamma: 2) },
    .loss("soft Dice") { _ in SoftDiceLoss() },
  ]
}

/// A binary method's trained model and its test scores.
public struct BinaryResult: Sendable {
  /// The method's name.
  public var name: String
  /// The trained logistic regression.
  public var model: LinearModel
  /// The model predicts 1 when its logit exceeds this.
  public var decisionOffset: Double
  /// The scores on the test set.
  public var scores: BinaryScores
}

/// Trains a logistic regression with every method on `train` (labels 0/1)
/// and scores it on `test`.
///
/// - Parameter progress: Called with each method's name before it trains.
/// - Throws: A ``LossError`` if a loss rejects its input (a bug in the demo).
public func runBinaryComparison(
  train: Dataset, test: Dataset, methods: [BinaryMethod] = BinaryMethod.standard,
  settings: TrainingSettings, progress: (String) -> Void = { _ in }
) throws(LossError) -> [BinaryResult] {
  precondition(train.classCount == 2 && test.classCount == 2)
  let targets = train.binaryTargets
  let positives = targets.reduce(0, +)
  var set = BinaryTrainingSet(targets: targets, positiveRate: positives / Double(targets.count))
  set.precision = settings.precision
  var results: [BinaryResult] = []
  for method in methods {
    progress(method.name)
    var model: LinearModel
    switch method.training {
    case .objective(let makeObjective):
      model = LinearModel(inputCount: train.featureCount, outputCount: 1)
      try model.train(features: train.features, settings: settings, objective: makeObjective(set))
    case .reuse(let base):
      guard let trained = results.first(where: { $0.name == base }) else {
        preconditionFailure("\(method.name) reuses \(base), which is not listed before it")
      }
      model = trained.model
    }
    let offset = method.decisionOffset(set)
    let predictions = model.logits(test).map { $0 > offset ? 1 : 0 }
    let confusion = ConfusionMatrix(labels: test.labels, predictions: predictions, classCount: 2)
    results.append(
      BinaryResult(
        name: method.name, model: model, decisionOffset: offset,
        scores: BinaryScores(confusion)))
  }
  return results
}
