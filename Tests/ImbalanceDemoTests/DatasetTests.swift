import Testing

@testable import ImbalanceDemoKit

@Test func longTailCountsFollowTheGeometricProfile() {
  // [round(1000 * 100**(-k/9)) for k in range(10)] in Python.
  #expect(
    Dataset.longTailCounts(classCount: 10, largest: 1000, imbalance: 100)
      == [1000, 599, 359, 215, 129, 77, 46, 28, 17, 10])
  #expect(Dataset.longTailCounts(classCount: 3, largest: 5, imbalance: 1000) == [5, 1, 1])
}

@Test func stratifiedSplitKeepsEveryClassInBothParts() throws {
  var generator = SplitMix64(seed: 11)
  let data = Dataset.gaussianClasses(
    means: [[0, 0], [1, 1], [2, 2]], counts: [100, 10, 2], using: &generator)
  let split = try data.stratifiedSplit(testFraction: 0.3, seed: 5)
  // round(0.3 n), at least 1, at most n - 1.
  #expect(split.test.classCounts == [30, 3, 1])
  #expect(split.train.classCounts == [70, 7, 1])
  // The two parts are a partition of the rows.
  var rows = split.train.features + split.test.features
  var all = data.features
  rows.sort()
  all.sort()
  #expect(rows == all)
  // Same seed, same split.
  #expect(try data.stratifiedSplit(testFraction: 0.3, seed: 5).test == split.test)
}

@Test func stratifiedSplitRejectsAClassWithOneRow() {
  let data = Dataset(features: [1, 2, 3], labels: [0, 0, 1], featureCount: 1, classCount: 2)
  #expect(throws: SplitError(classIndex: 1, count: 1)) {
    try data.stratifiedSplit(testFraction: 0.3, seed: 1)
  }
}

@Test func standardizationGivesZeroMeanAndUnitDeviation() {
  let data = Dataset(
    features: [1, 5, 2, 5, 3, 5, 6, 5], labels: [0, 1, 0, 1], featureCount: 2, classCount: 2)
  let (mean, deviation) = data.featureMoments()
  // Column 1: 1, 2, 3, 6 → mean 3, population variance (4 + 1 + 0 + 9) / 4 = 3.5.
  #expect(mean == [3, 5])
  expectClose(deviation[0], 3.5.squareRoot(), relative: 1e-15)
  #expect(deviation[1] == 1)  // a constant column is left unscaled
  let z = data.standardized(mean: mean, deviation: deviation)
  expectClose(z.features[6], 3 / 3.5.squareRoot(), relative: 1e-15)
  #expect(z.features[1] == 0)
}

@Test func gaussianPairHasTheRequestedPositiveRateAndMeans() {
  var generator = SplitMix64(seed: 3)
  let data = Dataset.gaussianPair(count: 40_000, positiveRate: 0.05, using: &generator)
  let positives = Double(data.classCounts[1])
  // Binomial(40000, 0.05): sd = sqrt(40000 * 0.05 * 0.95) ≈ 43.6; allow 5 sd.
  #expect(abs(positives - 2000) < 5 * 43.6)
  var sum = 0.0
  for i in 0..<data.count where data.labels[i] == 1 { sum += data.features[2 * i] }
  // The mean of x1 over ≈ 2000 positives: 1 ± 5/sqrt(2000) ≈ 1 ± 0.11.
  #expect(abs(sum / positives - 1) < 0.11)
}
