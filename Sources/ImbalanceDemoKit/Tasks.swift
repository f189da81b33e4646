import ImbalanceLoss

/// The built-in binary task: `x | y ~ N(±(1,1), I)` in R² with
/// `P(y = 1) = 1 / (1 + imbalance)` (Menon et al. 2020, §6).
public struct BinaryTask: Sendable {
  /// Negatives per positive, in expectation (19: 5 % positives).
  public var imbalance: Double
  /// Training rows.
  public var trainCount: Int
  /// Test rows (large, so the scores are close to their population values).
  public var testCount: Int

  /// The task with `imbalance` negatives per positive: by default 10000
  /// training and 100000 test rows, grown with the imbalance so that about 50
  /// training and 200 test rows are positive.
  public init(imbalance: Double = 19, trainCount: Int? = nil, testCount: Int? = nil) {
    self.imbalance = imbalance
    self.trainCount = trainCount ?? max(10_000, Int(50 * (1 + imbalance)))
    self.testCount = testCount ?? max(100_000, Int(200 * (1 + imbalance)))
  }

  /// `π = P(y = 1)`.
  public var positiveRate: Double { 1 / (1 + imbalance) }

  /// The analytic Bayes figures of this distribution.
  public var bayes: GaussianPairBayes { GaussianPairBayes(positiveRate: positiveRate) }

  /// Training and test sets drawn from `seed`.
  public func data(seed: UInt64) -> Split {
    var generator = SplitMix64(seed: seed)
    let train = Dataset.gaussianPair(
      count: trainCount, positiveRate: positiveRate, using: &generator)
    let test = Dataset.gaussianPair(count: testCount, positiveRate: positiveRate, using: &generator)
    return Split(train: train, test: test)
  }
}

/// The built-in long-tailed task: `K` Gaussian classes `N(μ_k, I)` in R^d with
/// means drawn from `N(0, meanScale² I)`, training counts
/// `n_k = n_max · ρ^(-k/(K-1))`, and a balanced test set.
public struct MulticlassTask: Sendable {
  /// `K`.
  public var classCount = 10
  /// `d`.
  public var dimension = 16
  /// `ρ = n_0 / n_(K-1)`.
  public var imbalance: Double
  /// `n_max = n_0`.
  public var largestCount = 1000
  /// Test rows per class.
  public var testCountPerClass = 1000
  /// The standard deviation of each mean coordinate: 0.5 puts class means
  /// about 2.8 apart, so classes overlap and the tail has something to lose.
  public var meanScale = 0.5

  /// The task with imbalance ratio `ρ`.
  public init(imbalance: Double = 100) { self.imbalance = imbalance }

  /// The training counts `n_k`.
  public var trainingCounts: [Int] {
    Dataset.longTailCounts(classCount: classCount, largest: largestCount, imbalance: imbalance)
  }

  /// Class means, training and test sets drawn from `seed`.
  public func data(seed: UInt64) -> (means: [[Double]], split: Split) {
    var generator = SplitMix64(seed: seed)
    let means = (0..<classCount).map { _ in
      (0..<dimension).map { _ in meanScale * generator.normal() }
    }
    let train = Dataset.gaussianClasses(means: means, counts: trainingCounts, using: &generator)
    let test = Dataset.gaussianClasses(
      means: means, counts: [Int](repeating: testCountPerClass, count: classCount),
      using: &generator)
    return (means, Split(train: train, test: test))
  }

  /// The balanced accuracy of the Bayes rule for balanced accuracy on `test`:
  /// with equal priors and identity covariances it predicts the nearest mean.
  public static func bayesBalancedAccuracy(means: [[Double]], test: Dataset) -> Double {
    let d = test.featureCount
    let predictions = (0..<test.count).map { i in
      let x = test.features[(i * d)..<((i + 1) * d)]
      var best = 0
      var bestDistance = Double.infinity
      for (k, mean) in means.enumerated() {
        var distance = 0.0
        for (a, b) in zip(x, mean) { distance += (a - b) * (a - b) }
        if distance < bestDistance { (best, bestDistance) = (k, distance) }
      }
      return best
    }
    return ConfusionMatrix(labels: test.labels, predictions: predictions, classCount: means.count)
      .balancedAccuracy
  }
}

/// The built-in long-tailed multi-label task: `L` independent labels with
/// rates `π_l = π_max · ρ^(-l/(L-1))`, label means drawn from
/// `N(0, meanScale² I)` in R^d, and features `x = Σ_l y_l μ_l + N(0, I)`.
public struct MultiLabelTask: Sendable {
  /// `L`.
  public var labelCount = 8
  /// `d`.
  public var dimension = 16
  /// `ρ = π_0 / π_(L-1)`.
  public var imbalance: Double
  /// `π_max = π_0`.
  public var largestRate = 0.4
  /// The standard deviation of each mean coordinate (means about 2 long).
  public var meanScale = 0.5
  /// Training rows.
  public var trainCount: Int
  /// Test rows.
  public var testCount: Int

  /// The task with rate ratio `ρ` (40: the rarest label on 1 % of the rows):
  /// by default enough training rows for about 50 of the rarest label
  /// (at least 5000), and twice as many test rows.
  public init(imbalance: Double = 40, trainCount: Int? = nil, testCount: Int? = nil) {
    self.imbalance = imbalance
    let train = trainCount ?? max(5000, Int((50 * imbalance / largestRate).rounded()))
    self.trainCount = train
    self.testCount = testCount ?? 2 * train
  }

  /// The label rates `π_l`.
  public var labelRates: [Double] {
    (0..<labelCount).map { l in
      let exponent = labelCount > 1 ? -Double(l) / Double(labelCount - 1) : 0
      return largestRate * Platform.exp(exponent * Platform.log(imbalance))
    }
  }

  /// Label means, training and test sets drawn from `seed`.
  public func data(
    seed: UInt64
  ) -> (means: [[Double]], train: MultiLabelDataset, test: MultiLabelDataset) {
    var generator = SplitMix64(seed: seed)
    let means = (0..<labelCount).map { _ in
      (0..<dimension).map { _ in meanScale * generator.normal() }
    }
    let rates = labelRates
    let train = MultiLabelDataset.gaussianLabels(
      means: means, rates: rates, count: trainCount, using: &generator)
    let test = MultiLabelDataset.gaussianLabels(
      means: means, rates: rates, count: testCount, using: &generator)
    return (means, train, test)
  }
}
