import ImbalanceLoss
import Testing

@testable import ImbalanceDemoKit

/// A short run of the built-in binary task: 2000 training rows, 30 epochs (480 steps).
func shortBinaryRun(seed: UInt64) throws -> [String: BinaryScores] {
  let task = BinaryTask(trainCount: 2000, testCount: 20_000)
  let data = task.data(seed: seed)
  let settings = TrainingSettings(
    epochs: 30, learningRate: 0.01, batchSize: 128, shuffleSeed: seed)
  let results = try runBinaryComparison(train: data.train, test: data.test, settings: settings)
  return Dictionary(uniqueKeysWithValues: results.map { ($0.name, $0.scores) })
}

@Test(arguments: [1, 2, 3] as [UInt64])
func logitAdjustmentBeatsPlainBCEOnBalancedError(seed: UInt64) throws {
  let scores = try shortBinaryRun(seed: seed)
  let bce = try #require(scores["BCE"]).balancedError
  let adjusted = try #require(scores["logit-adjusted BCE (tau 1)"]).balancedError
  let postHoc = try #require(scores["BCE + post-hoc adjustment (tau 1)"]).balancedError
  #expect(adjusted < bce, "seed \(seed): logit-adjusted \(adjusted) vs BCE \(bce)")
  #expect(postHoc < bce, "seed \(seed): post-hoc \(postHoc) vs BCE \(bce)")
  // And neither can beat the Bayes rule by more than test-set noise
  // (20000 rows, ≈ 1000 positives: sd of the balanced error ≈ 0.006).
  let bayes = BinaryTask().bayes.balancedError
  #expect(adjusted > bayes - 0.03, "seed \(seed)")
}

@Test func everyStandardBinaryMethodIsScoredOnceUnderItsName() throws {
  let scores = try shortBinaryRun(seed: 4)
  #expect(scores.count == BinaryMethod.standard.count)
  for (name, s) in scores {
    for x in [s.balancedError, s.f1, s.precision, s.recall] {
      #expect(x >= 0 && x <= 1, "\(name)")
    }
  }
}

@Test func postHocAdjustmentReusesTheBaseModelWithAShiftedThreshold() throws {
  let task = BinaryTask(trainCount: 1000, testCount: 1000)
  let data = task.data(seed: 8)
  let settings = TrainingSettings(epochs: 3, learningRate: 0.01, batchSize: 128, shuffleSeed: 8)
  let results = try runBinaryComparison(
    train: data.train, test: data.test,
    methods: [
      .loss("BCE") { _ in BinaryCrossEntropy() },
      .postHoc("post-hoc", of: "BCE", tau: 0.5),
    ],
    settings: settings)
  #expect(results[1].model == results[0].model)
  let rate = Double(data.train.classCounts[1]) / Double(data.train.count)
  expectClose(results[1].decisionOffset, 0.5 * Platform.log(rate / (1 - rate)), relative: 1e-15)
}
