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
