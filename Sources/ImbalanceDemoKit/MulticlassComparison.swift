import ImbalanceLoss

/// What a multiclass method knows about its training set when it builds its loss.
public struct MulticlassTrainingSet: Sendable {
  /// The losses' entry points each step calls.
  public var precision: Precision = .double
  /// The class labels, in `0..<classCount`.
  public var labels: [Int]
  /// The number of classes `K`.
  public var classCount: Int
  /// The number of training rows of each class.
  public var counts: [Int]
  /// The class priors `π_k = n_k / N` of the training set.
  public var priors: ClassPriors
  /// The passes over the training set of this run.
  public var epochs: Int

  /// The first re-weighted epoch of a deferred re-weighting: 4/5 of the run,
  /// as Cao et al.'s 160 of 200.
  public var deferralEpoch: Int { epochs * 4 / 5 }
}

/// One row of the multiclass comparison: how to train a linear softmax
/// classifier and how to turn its logits into a class.
///
/// Add a softmax loss to the demo with one line in ``standard``:
/// `.loss("name") { (set) throws(LossError) in try MyLoss(counts: set.counts) }`,
/// or re-weight an existing one with `.loss("name", classWeights: { ... }) { ... }`.
/// A loss with a training state (``StatefulLoss``) uses ``statefulLoss(_:_:)``.
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

  /// One step of a loss on the batch's labels and per-sample weights (`nil`: none).
  typealias Step =
    (_ logits: [Double], _ labels: [Int], _ weights: [Double]?, _ gradient: inout [Double])
    throws(LossError) -> Double

  /// The per-class weights `a_k` of an epoch (counted from 0).
  public typealias EpochWeights = @Sendable (_ epoch: Int) -> [Double]

  /// The per-class weights of each epoch, or `nil` for none.
  typealias WeightSchedule =
    @Sendable (MulticlassTrainingSet) throws(LossError) -> EpochWeights?

  /// A method that trains on the steps of `makeStep`, made afresh for each
  /// run, with the labels of each batch and, when `schedule` gives per-class
  /// weights `a_k`, the per-sample weights `a_c` of its rows (those of the
  /// step's epoch).
  static func training(
    _ name: String, schedule: @escaping WeightSchedule,
    _ makeStep: @escaping @Sendable (MulticlassTrainingSet) throws(LossError) -> Step
  ) -> MulticlassMethod {
    MulticlassMethod(
      name: name,
      training: .objective { (set) throws(LossError) in
        let step = try makeStep(set)
        let classWeights = try schedule(set)
        var labels: [Int] = []
        var weights: [Double] = []
        return { z, rows, epoch, gradient throws(LossError) in
          labels.removeAll(keepingCapacity: true)
          for i in rows { labels.append(set.labels[i]) }
          guard let perClass = classWeights?(epoch) else {
            return try step(z, labels, nil, &gradient)
          }
          if perClass.count != set.classCount {
            throw .lengthMismatch(
              argument: "classWeights", expected: set.classCount, actual: perClass.count)
          }
          weights.removeAll(keepingCapacity: true)
          for c in labels { weights.append(perClass[c]) }
          return try step(z, labels, weights, &gradient)
        }
      },
      postHocTau: 0)
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
    loss(
      name,
      classWeightsByEpoch: { (set) throws(LossError) in
        guard let weights = try classWeights?(set) else { return nil }
        return { _ in weights }
      }, makeLoss)
  }

  /// A method that trains on `loss` with per-class weights that change with
  /// the epoch (``DeferredReweighting/classWeights(epoch:)``), and predicts
  /// the argmax of the raw logits.
  public static func loss<L: Loss>(
    _ name: String,
    classWeightsByEpoch:
      @escaping @Sendable (MulticlassTrainingSet) throws(LossError) -> EpochWeights?,
    _ makeLoss: @escaping @Sendable (MulticlassTrainingSet) throws(LossError) -> L
  ) -> MulticlassMethod where L.Target == Int {
    training(name, schedule: classWeightsByEpoch) { (set) throws(LossError) in
      let loss = try makeLoss(set)
      return { z, labels, weights, gradient throws(LossError) in
        try step(
          loss, logits: z, targets: labels, weights: weights, gradient: &gradient,
          precision: set.precision)
      }
    }
  }

  /// A method that trains on a stateful loss, with a fresh state
  /// (``StatefulLoss/makeState()``) at the start of each run that every step
  /// of the run advances, and predicts the argmax of the raw logits.
  public static func statefulLoss<L: StatefulLoss>(
    _ name: String, _ makeLoss: @escaping @Sendable (MulticlassTrainingSet) throws(LossError) -> L
  ) -> MulticlassMethod {
    training(name, schedule: { _ in nil }) { (set) throws(LossError) in
      let loss = try makeLoss(set)
      var state = loss.makeState()
      return { z, labels, weights, gradient throws(LossError) in
        try step(
          loss, logits: z, targets: labels, weights: weights, gradient: &gradient,
          state: &state, precision: set.precision)
      }
    }
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
    .loss("balanced softmax") { (set) throws(LossError) in
      try LogitAdjustedCrossEntropy.balancedSoftmax(classCounts: set.counts)
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
    .loss(
      "LDAM-DRW (beta 0.9999 from 4/5 of the run)",
      classWeightsByEpoch: { (set) throws(LossError) in
        try DeferredReweighting(
          classCounts: set.counts, deferralEpoch: set.deferralEpoch, beta: 0.9999
        ).classWeights(epoch:)
      }
    ) { (set) throws(LossError) in
      try MarginSoftmaxCrossEntropy.ldam(classCounts: set.counts, largestMargin: 0.5, scale: 1)
    },
    .loss("softmax focal (gamma 2)") { (set) throws(LossError) in
      try SoftmaxFocalLoss(classCount: set.classCount, gamma: 2)
    },
    .loss("Poly-1 (epsilon 1)") { (set) throws(LossError) in
      try PolyCrossEntropy(classCount: set.classCount, epsilon: 1)
    },
    .statefulLoss("seesaw (p 0.8, q 2)") { (set) throws(LossError) in
      try SeesawLoss(classCount: set.classCount)
    },
    .statefulLoss("EQLv2 (one-vs-all sigmoid)") { (set) throws(LossError) in
      try EqualizationLossV2(classCount: set.classCount)
    },
    .loss("macro smooth F1") { (set) throws(LossError) in
      try MacroSmoothF1Loss(classCount: set.classCount)
    },
    .loss("macro-F1-weighted CE (batch F)") { (set) throws(LossError) in
      try MacroF1WeightedCrossEntropy(classCount: set.classCount)
    },
    .loss("generalized Dice") { (set) throws(LossError) in
      try GeneralizedDiceLoss(classCount: set.classCount)
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
  var set = MulticlassTrainingSet(
    labels: train.labels, classCount: train.classCount, counts: counts,
    priors: try ClassPriors(counts: counts), epochs: settings.epochs)
  set.precision = settings.precision
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
