import ImbalanceLoss
import Testing

@testable import ImbalanceDemoKit

@Test(arguments: [1, 2] as [UInt64])
func logitAdjustmentRaisesBalancedAccuracyOnTheLongTail(seed: UInt64) throws {
  var task = MulticlassTask()
  task.largestCount = 300
  task.testCountPerClass = 200
  let (means, data) = task.data(seed: seed)
  let settings = TrainingSettings(epochs: 10, learningRate: 0.01, batchSize: 128, shuffleSeed: seed)
  let results = try runMulticlassComparison(train: data.train, test: data.test, settings: settings)
  #expect(results.map(\.name) == MulticlassMethod.standard.map(\.name))
  let plain = results[0].scores
  let adjusted = results[1].scores
  #expect(adjusted.balancedAccuracy > plain.balancedAccuracy, "seed \(seed)")
  #expect(adjusted.tailRecall > plain.tailRecall, "seed \(seed)")
  // The Bayes rule (nearest true mean) is the ceiling, up to test noise.
  let bayes = MulticlassTask.bayesBalancedAccuracy(means: means, test: data.test)
  #expect(adjusted.balancedAccuracy < bayes + 0.03, "seed \(seed)")
}

@Test func aMulticlassMethodThatRejectsItsSetThrows() {
  let data = Dataset(
    features: [0, 1, 2, 3], labels: [0, 1, 0, 1], featureCount: 1, classCount: 2)
  let settings = TrainingSettings(epochs: 1, learningRate: 0.01, batchSize: nil, shuffleSeed: 1)
  #expect(
    throws: LossError.invalidParameter(name: "tau", value: -1, requirement: "finite and >= 0")
  ) {
    try runMulticlassComparison(
      train: data, test: data,
      methods: [
        .loss("bad") { (set) throws(LossError) in
          try LogitAdjustedCrossEntropy(priors: set.priors, tau: -1)
        }
      ],
      settings: settings)
  }
}

@Test func classWeightsBecomePerSampleWeights() throws {
  // Two rows, one per class, one feature of 0: only the biases learn. With
  // weights (1, 3) the weighted CE is minimised at softmax = (1/4, 3/4), so
  // the logit difference tends to log 3 (by hand: d/dz of
  // -(1 log p0 + 3 log p1) vanishes at p1 = 3/4).
  let data = Dataset(features: [0, 0], labels: [0, 1], featureCount: 1, classCount: 2)
  let settings = TrainingSettings(epochs: 3000, learningRate: 0.01, batchSize: nil, shuffleSeed: 1)
  let results = try runMulticlassComparison(
    train: data, test: data,
    methods: [
      .loss("weighted", classWeights: { _ in [1, 3] }) { (set) throws(LossError) in
        try SoftmaxCrossEntropy(classCount: set.classCount)
      }
    ],
    settings: settings)
  let model = results[0].model
  expectClose(model.bias(1) - model.bias(0), Platform.log(3), relative: 1e-6)

  #expect(throws: LossError.lengthMismatch(argument: "classWeights", expected: 2, actual: 1)) {
    try runMulticlassComparison(
      train: data, test: data,
      methods: [
        .loss("short", classWeights: { _ in [1] }) { (set) throws(LossError) in
          try SoftmaxCrossEntropy(classCount: set.classCount)
        }
      ],
      settings: settings)
  }
}

/// The objective a method builds for one training run on `set`.
func objective(_ method: MulticlassMethod, _ set: MulticlassTrainingSet) throws -> Objective {
  guard case .objective(let make) = method.training else {
    Issue.record("\(method.name) trains no model")
    throw LossError.noClasses
  }
  return try make(set)
}

func method(_ name: String) throws -> MulticlassMethod {
  try #require(MulticlassMethod.standard.first { $0.name == name })
}

/// Three classes, six rows, counts 3, 2, 1.
let smallSet = MulticlassTrainingSet(
  labels: [0, 0, 0, 1, 1, 2], classCount: 3, counts: [3, 2, 1],
  priors: try! ClassPriors(counts: [3, 2, 1]), epochs: 10)
let smallLogits: [Double] = [0.3, -0.2, 0.1, 0.5, 0.4, -1, -0.3, 0.2, 0.6]

@Test(arguments: ["seesaw (p 0.8, q 2)", "EQLv2 (one-vs-all sigmoid)"])
func statefulObjectivesCarryTheirStateThroughOneRunOnly(name: String) throws {
  let method = try method(name)
  var g: [Double] = []
  // Step A (rows of class 0 only), then step B; and B alone on a fresh run.
  func run(_ batches: [[Int]]) throws -> [Double] {
    let step = try objective(method, smallSet)
    return try batches.map { rows in try step(smallLogits, rows, 0, &g) }
  }
  let afterA = try run([[0, 1, 2], [3, 4, 5]])
  let fresh = try run([[3, 4, 5]])
  // The state of step A changes step B's loss; a new run starts afresh.
  #expect(afterA[1] != fresh[0])
  // The same steps from the start give the same bits.
  #expect(try run([[0, 1, 2], [3, 4, 5]]) == afterA)
  // The state is the library's: the same steps on one explicit state.
  let labels = smallSet.labels
  if name.hasPrefix("seesaw") {
    let loss = try SeesawLoss(classCount: 3)
    var state = loss.makeState()
    _ = try loss.valueAndGradient(logits: smallLogits, targets: [0, 0, 0], state: &state)
    let b = try loss.valueAndGradient(logits: smallLogits, targets: [1, 1, 2], state: &state)
    #expect(b.value == afterA[1])
  } else {
    let loss = try EqualizationLossV2(classCount: 3)
    var state = loss.makeState()
    _ = try loss.valueAndGradient(logits: smallLogits, targets: [0, 0, 0], state: &state)
    let b = try loss.valueAndGradient(
      logits: smallLogits, targets: [3, 4, 5].map { labels[$0] }, state: &state)
    #expect(b.value == afterA[1])
  }
}

@Test func ldamDRWSwitchesToEffectiveNumberWeightsAtFourFifthsOfTheRun() throws {
  #expect(smallSet.deferralEpoch == 8)
  let step = try objective(try method("LDAM-DRW (beta 0.9999 from 4/5 of the run)"), smallSet)
  let ldam = try MarginSoftmaxCrossEntropy.ldam(
    classCounts: smallSet.counts, largestMargin: 0.5, scale: 1)
  let rows = [0, 3, 5]
  let labels = rows.map { smallSet.labels[$0] }
  let deferred = try ClassWeights.effectiveNumber(classCounts: smallSet.counts, beta: 0.9999)
  var g: [Double] = []
  for epoch in [0, 7] {
    let plain = try ldam.valueAndGradient(logits: smallLogits, targets: labels)
    #expect(try step(smallLogits, rows, epoch, &g) == plain.value, "epoch \(epoch)")
    #expect(g == plain.gradient, "epoch \(epoch)")
  }
  for epoch in [8, 9] {
    let weighted = try ldam.valueAndGradient(
      logits: smallLogits, targets: labels, weights: labels.map { deferred[$0] })
    #expect(try step(smallLogits, rows, epoch, &g) == weighted.value, "epoch \(epoch)")
    #expect(g == weighted.gradient, "epoch \(epoch)")
  }
  #expect(deferred[2] > deferred[1] && deferred[1] > deferred[0])
}

@Test func balancedSoftmaxIsLogitAdjustmentWithTauOne() throws {
  let a = try objective(try method("balanced softmax"), smallSet)
  let b = try objective(try method("logit-adjusted CE (tau 1)"), smallSet)
  var (ga, gb): ([Double], [Double]) = ([], [])
  #expect(try a(smallLogits, [0, 3, 5], 0, &ga) == (try b(smallLogits, [0, 3, 5], 0, &gb)))
  #expect(ga == gb)
}

/// `--float`: every method trains through the Float32 entry points; the
/// models differ from the Double ones only by Float rounding of each step.
@Test func float32TrainingMatchesDoubleTrainingClosely() throws {
  var task = MulticlassTask()
  task.largestCount = 200
  task.testCountPerClass = 100
  let (_, data) = task.data(seed: 4)
  var settings = TrainingSettings(epochs: 3, learningRate: 0.01, batchSize: 128, shuffleSeed: 4)
  let double = try runMulticlassComparison(train: data.train, test: data.test, settings: settings)
  settings.precision = .float32
  let float = try runMulticlassComparison(train: data.train, test: data.test, settings: settings)
  for (d, f) in zip(double, float) {
    #expect(abs(d.scores.balancedAccuracy - f.scores.balancedAccuracy) <= 0.02, "\(d.name)")
    let drift = zip(d.model.parameters, f.model.parameters).map { abs($0 - $1) }.max() ?? 0
    #expect(drift < 1e-2, "\(d.name): parameters moved by \(drift)")
  }
  #expect(double[0].model.parameters != float[0].model.parameters)
}
