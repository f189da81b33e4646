import ImbalanceLoss
import Testing

@testable import ImbalanceDemoKit

@Test func multiLabelComparisonIsDeterministicAndPositiveWeightsRaiseTailRecall() throws {
  let task = MultiLabelTask(trainCount: 3000, testCount: 3000)
  let (_, train, test) = task.data(seed: 3)
  let settings = TrainingSettings(epochs: 8, learningRate: 0.01, batchSize: 128, shuffleSeed: 3)
  let results = try runMultiLabelComparison(train: train, test: test, settings: settings)
  #expect(results.map(\.name) == MultiLabelMethod.standard.map(\.name))
  #expect(results.map(\.name).contains("ASL (gamma+ 0, gamma- 4, clip 0.05)"))
  let again = try runMultiLabelComparison(train: train, test: test, settings: settings)
  #expect(results.map(\.model) == again.map(\.model))
  #expect(results.map(\.scores) == again.map(\.scores))
  // Rare labels are rarely predicted by plain BCE; (1 - π) / π weights fix that.
  let bce = results[0].scores
  let weighted = results[1].scores
  #expect(weighted.tailRecall > bce.tailRecall)
  for r in results {
    let s = r.scores
    for x in [s.macroF1, s.meanAveragePrecision, s.headRecall, s.tailRecall, s.tailF1] {
      #expect(x >= 0 && x <= 1, "\(r.name)")
    }
  }
}

@Test func multiLabelTargetsOfABatchAreGatheredByRow() throws {
  let set = MultiLabelTrainingSet(
    targets: [1, 0, 0, 1, 1, 1], labelCount: 2, counts: [2, 2], rowCount: 3)
  var batch: [Double] = [9]
  set.gather([2, 0], into: &batch)
  #expect(batch == [1, 1, 1, 0])
  #expect(set.rates == [2.0 / 3, 2.0 / 3])
}
