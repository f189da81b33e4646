import Testing

@testable import ImbalanceDemoKit

@Test func builtInDataIsFixedBySeed() {
  let task = BinaryTask(trainCount: 500, testCount: 500)
  #expect(task.data(seed: 1).train == task.data(seed: 1).train)
  #expect(task.data(seed: 1).train != task.data(seed: 2).train)
  let multiclass = MulticlassTask()
  #expect(multiclass.data(seed: 3).split.test == multiclass.data(seed: 3).split.test)
  #expect(multiclass.data(seed: 3).means != multiclass.data(seed: 4).means)
}

@Test func binaryTaskGrowsWithTheImbalance() {
  let task = BinaryTask()
  #expect(task.positiveRate == 0.05)
  #expect((task.trainCount, task.testCount) == (10_000, 100_000))
  // 50 · (1 + 999) = 50000 training and 200000 test rows: ≈ 50 and 200 positives.
  let rare = BinaryTask(imbalance: 999)
  #expect((rare.trainCount, rare.testCount) == (50_000, 200_000))
  #expect(rare.positiveRate == 0.001)
}

@Test func multiclassTaskHasTheLongTailedCountsAndABalancedTest() {
  let (means, split) = MulticlassTask().data(seed: 1)
  #expect(means.count == 10 && means.allSatisfy { $0.count == 16 })
  #expect(split.train.classCounts == [1000, 599, 359, 215, 129, 77, 46, 28, 17, 10])
  #expect(split.test.classCounts == [Int](repeating: 1000, count: 10))
}

@Test func nearestMeanRuleIsPerfectOnFarApartClasses() {
  var generator = SplitMix64(seed: 5)
  let means = [[-100.0, 0], [100, 0], [0, 100]]
  let test = Dataset.gaussianClasses(means: means, counts: [20, 20, 20], using: &generator)
  #expect(MulticlassTask.bayesBalancedAccuracy(means: means, test: test) == 1)
  // With the means swapped every prediction is wrong.
  #expect(
    MulticlassTask.bayesBalancedAccuracy(means: [means[1], means[0], [0, -100]], test: test) == 0)
}

@Test func multiLabelTaskHasTheIntendedLabelRates() {
  let task = MultiLabelTask()
  #expect((task.trainCount, task.testCount) == (5000, 10_000))
  let rates = task.labelRates
  expectClose(rates[0], 0.4, relative: 1e-15)
  expectClose(rates[7], 0.01, relative: 1e-14)
  #expect(zip(rates, rates.dropFirst()).allSatisfy { $0 > $1 })
  let (means, train, test) = task.data(seed: 1)
  #expect(means.count == 8 && means.allSatisfy { $0.count == 16 })
  #expect(train.count == 5000 && test.count == 10_000 && train.featureCount == 16)
  // Each label's count is binomial: within 4 standard deviations of n π.
  for data in [train, test] {
    for (count, rate) in zip(data.labelCounts, rates) {
      let n = Double(data.count)
      let deviation = (n * rate * (1 - rate)).squareRoot()
      #expect(abs(Double(count) - n * rate) < 4 * deviation, "rate \(rate): \(count) of \(n)")
    }
  }
  // The same seed gives the same data, another seed other data.
  #expect(task.data(seed: 1).train == train && task.data(seed: 1).test == test)
  #expect(task.data(seed: 2).train != train)
  // About 50 rows of the rarest label at any imbalance.
  #expect(MultiLabelTask(imbalance: 400).trainCount == 50_000)
}
