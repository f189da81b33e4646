import ImbalanceLoss

/// What a multiclass method knows about its training set when it builds its loss.
public struct MulticlassTrainingSet: Sendable {
  /// The class labels, in `0..<classCount`.
  public var labels: [Int]
  /// The number of classes `K`.
  public var classCount: Int
  /// The number of training rows of each class.
  public var counts: [Int]
  /// The class priors `π_k = n_k / N` of the training set.
  public var priors: ClassPriors
}

/// One row of the multiclass comparison: how to train a linear softmax
/// classifier and how to turn its logits into a class.
///
/// Add a softmax loss to the demo with one line in ``standard``:
/// `.loss("name") { (set) throws(LossError) in try MyLoss(counts: set.counts) }`,
/// or re-weight an existing one with `.loss("name", classWeights: { ... }) { ... }`.
public struct MulticlassMethod: Sendable {
  /// The row's name in tables and the JSON key of its scores.
  public var name: String
  var training: Training
  /// `tau` of post-hoc adjustment at prediction (0: plain argmax).
  var postHocTau: Double

  enum Training: Sendable {
    case objective(@Sendable (MulticlassTrainingSet) throws(LossError) -> Objective)
    case reuse(String)
  }

  /// A method that trains on `loss` and predicts the argmax of the raw logits.
  ///
  /// - Parameter classWeights: Per-class weights `a_k`, or `nil`: each
  ///   training row of class `c` then gets the per-sample weight `a_c`.
  public static func loss<L: Loss>(
    _ name: String,
    classWeights: (@Sendable (MulticlassTrainingSet) throws(LossError) -> [Double])? = nil,
    _ makeLoss: @escaping @Sendable (MulticlassTrainingSet) throws(LossError) -> L
  ) -> MulticlassMethod where L.Target == Int {
    MulticlassMethod(
      name: name,
      training: .objective { (set) throws(LossError) in
        let loss = try makeLoss(set)
        let perClass = try classWeights?(set)
        if let perClass, perClass.count != set.classCount {
          throw .lengthMismatch(
            argument: "classWeights", expected: set.classCount, actual: perClass.count)
        }
        var labels: [Int] = []
        var weights: [Double] = []
        return { z, rows, gradient throws(LossError) in
          labels.removeAll(keepingCapacity: true)
          for i in rows { labels.append(set.labels[i]) }
          guard let perClass else {
            return try loss.valueAndGradient(logits: z, targets: labels, gradient: &gradient)
          }
          weights.removeAll(keepingCapacity: true)
          for c in labels { weights.append(perClass[c]) }
          return try loss.valueAndGradient(
            logits: z, targets: labels, weights: weights, gradient: &gradient)
        }
      },
      postHocTau: 0)
  }

  /// The model of method `base`, predicting `argmax_k (z_k - tau log π_k)`:
  /// post-hoc logit adjustment.
  public static func postHoc(_ name: String, of base: String, tau: Double) -> MulticlassMethod {
    MulticlassMethod(name: name, training: .reuse(base), postHocTau: tau)
  }

  /// The losses the demo compares on multiclass tasks, in table order.
  public static let standard: [MulticlassMethod] = [
    .loss("softmax CE") { (set) throws(LossError) in
      try SoftmaxCrossEntropy(classCount: set.classCount)
    },
    .loss("logit-adjusted CE (tau 1)") { (set) throws(LossError) in
      try LogitAdjustedCrossEntropy(priors: set.priors, tau: 1)
    },
    .postHoc("softmax CE + post-hoc adjustment (tau 1)", of: "softmax CE", tau: 1),
    .loss(
      "CE, class-balanced weights (beta 0.999)",
      classWeights: { (set) throws(LossError) in
        try ClassWeights.effectiveNumber(classCounts: set.counts, beta: 0.999)
      }
    ) { (set) throws(LossError) in
      try SoftmaxCrossEntropy(classCount: set.classCount)
    },
    .loss("LDAM margins (max 0.5, scale 1)") { (set) throws(LossError) in
      // Scale 1: these are raw linear logits, not the cosine logits s = 30 assumes.
      try MarginSoftmaxCrossEntropy.ldam(classCounts: set.counts, largestMargin: 0.5, scale: 1)
    },
    .loss("softmax focal (gamma 2)") { (set) throws(LossError) in
      try SoftmaxFocalLoss(classCount: set.classCount, gamma: 2)
    },
    .loss("macro smooth F1") { (set) throws(LossError) in
      try MacroSmoothF1Loss(classCount: set.classCount)
    },
    .loss("macro-F1-weighted CE (batch F)") { (set) throws(LossError) in
      try MacroF1WeightedCrossEntropy(classCount: set.classCount)
    },
  ]
}

/// A multiclass method's test scores.
public struct MulticlassResult: Sendable {
  /// The method's name.
  public var name: String
  /// The trained classifier.
  public var model: LinearModel
  /// The scores on the test set.
  public var scores: MulticlassScores
}

/// Trains a linear softmax classifier with every method on `train` and scores
/// it on `test`.
///
/// - Parameter progress: Called with each method's name before it trains.
/// - Throws: A ``LossError`` if a loss rejects its input (for example a class
///   with no training rows).
public func runMulticlassComparison(
  train: Dataset, test: Dataset, methods: [MulticlassMethod] = MulticlassMethod.standard,
  settings: TrainingSettings, progress: (String) -> Void = { _ in }
) throws(LossError) -> [MulticlassResult] {
  precondition(train.classCount == test.classCount)
  let counts = train.classCounts
  let set = MulticlassTrainingSet(
    labels: train.labels, classCount: train.classCount, counts: counts,
    priors: try ClassPriors(counts: counts))
  var results: [MulticlassResult] = []
  for method in methods {
    progress(method.name)
    var model: LinearModel
    switch method.training {
    case .objective(let makeObjective):
      model = LinearModel(inputCount: train.featureCount, outputCount: train.classCount)
      try model.train(
        features: train.features, settings: settings, objective: try makeObjective(set))
    case .reuse(let base):
      guard let trained = results.first(where: { $0.name == base }) else {
        preconditionFailure("\(method.name) reuses \(base), which is not listed before it")
      }
      model = trained.model
    }
    // tau = 0 is the plain argmax (first maximum on ties).
    let predictions = try set.priors.predictions(logits: model.logits(test), tau: method.postHocTau)
    let confusion = ConfusionMatrix(
      labels: test.labels, predictions: predictions, classCount: train.classCount)
    results.append(
      MulticlassResult(
        name: method.name, model: model,
        scores: MulticlassScores(confusion, trainingCounts: counts)))
  }
  return results
}
