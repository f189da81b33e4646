import ImbalanceLoss

/// What a multi-label method knows about its training set when it builds its loss.
public struct MultiLabelTrainingSet: Sendable {
  /// The losses' entry points each step calls.
  public var precision: Precision = .double
  /// `count × L` targets 0/1, row-major.
  public var targets: [Double]
  /// The number of labels `L`.
  public var labelCount: Int
  /// The number of training rows with each label.
  public var counts: [Int]
  /// The number of training rows.
  public var rowCount: Int

  /// The rate `π_l` of each label in the training set (a label on no row
  /// counts as on one, so that `(1 - π) / π` stays finite).
  public var rates: [Double] { counts.map { Double(max($0, 1)) / Double(rowCount) } }

  /// Replaces `batch` with the targets of `rows`.
  func gather(_ rows: [Int], into batch: inout [Double]) {
    batch.removeAll(keepingCapacity: true)
    for i in rows { batch += targets[(i * labelCount)..<((i + 1) * labelCount)] }
  }
}

/// One row of the multi-label comparison: a per-entry loss on the `count × L`
/// logits of a linear model with one output per label.
///
/// Add a loss with one line in ``standard``:
/// `.loss("name") { (set) throws(LossError) in try MyLoss(...) }`.
public struct MultiLabelMethod: Sendable {
  /// The row's name in tables and the JSON key of its scores.
  public var name: String
  var makeObjective: @Sendable (MultiLabelTrainingSet) throws(LossError) -> Objective

  /// A method that trains on `loss`, each entry of the batch one term.
  public static func loss<L: Loss>(
    _ name: String,
    _ makeLoss: @escaping @Sendable (MultiLabelTrainingSet) throws(LossError) -> L
  ) -> MultiLabelMethod where L.Target == Double {
    MultiLabelMethod(name: name) { (set) throws(LossError) in
      let loss = try makeLoss(set)
      var targets: [Double] = []
      return { z, rows, _, gradient throws(LossError) in
        set.gather(rows, into: &targets)
        return try step(
          loss, logits: z, targets: targets, gradient: &gradient, precision: set.precision)
      }
    }
  }

  /// The losses the demo compares on the multi-label task, in table order.
  /// (``EqualizationLossV2`` takes one label per row: it runs on the
  /// multiclass task.)
  public static let standard: [MultiLabelMethod] = [
    .loss("BCE") { (set) throws(LossError) in
      try MultiLabelBinaryCrossEntropy(labelCount: set.labelCount)
    },
    .loss("BCE, positiveWeights (1-pi)/pi") { (set) throws(LossError) in
      try MultiLabelBinaryCrossEntropy(positiveWeights: set.rates.map { (1 - $0) / $0 })
    },
    .loss("focal (gamma 2)") { _ in BinaryFocalLoss(gamma: 2) },
    .loss("ASL (gamma+ 0, gamma- 4, clip 0.05)") { _ in AsymmetricLoss() },
  ]
}

/// A multi-label method's trained model and its test scores.
public struct MultiLabelResult: Sendable {
  /// The method's name.
  public var name: String
  /// The trained model, one logit per label.
  public var model: LinearModel
  /// The scores on the test set.
  public var scores: MultiLabelScores
}

/// Trains a linear model with one sigmoid output per label with every method
/// on `train` and scores it on `test`.
///
/// - Parameter progress: Called with each method's name before it trains.
/// - Throws: A ``LossError`` if a loss rejects its input (a bug in the demo).
public func runMultiLabelComparison(
  train: MultiLabelDataset, test: MultiLabelDataset,
  methods: [MultiLabelMethod] = MultiLabelMethod.standard,
  settings: TrainingSettings, progress: (String) -> Void = { _ in }
) throws(LossError) -> [MultiLabelResult] {
  precondition(train.labelCount == test.labelCount && train.featureCount == test.featureCount)
  let counts = train.labelCounts
  var set = MultiLabelTrainingSet(
    targets: train.targets, labelCount: train.labelCount, counts: counts, rowCount: train.count)
  set.precision = settings.precision
  var results: [MultiLabelResult] = []
  for method in methods {
    progress(method.name)
    var model = LinearModel(inputCount: train.featureCount, outputCount: train.labelCount)
    try model.train(
      features: train.features, settings: settings, objective: try method.makeObjective(set))
    let logits = model.logits(features: test.features)
    results.append(
      MultiLabelResult(
        name: method.name, model: model,
        scores: MultiLabelScores(logits: logits, test: test, trainingCounts: counts)))
  }
  return results
}
