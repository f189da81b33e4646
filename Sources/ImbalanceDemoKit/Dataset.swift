/// A labelled data set: `count` rows of `featureCount` features (row-major)
/// and a class label in `0..<classCount` per row.
public struct Dataset: Sendable, Equatable {
  /// `count * featureCount` features, row `i` at `i * featureCount`.
  public var features: [Double]
  /// One label per row, in `0..<classCount`.
  public var labels: [Int]
  /// The number of features per row.
  public var featureCount: Int
  /// The number of classes.
  public var classCount: Int

  /// A data set from its parts; labels must lie in `0..<classCount`.
  public init(features: [Double], labels: [Int], featureCount: Int, classCount: Int) {
    precondition(features.count == labels.count * featureCount)
    precondition(labels.allSatisfy { $0 >= 0 && $0 < classCount })
    self.features = features
    self.labels = labels
    self.featureCount = featureCount
    self.classCount = classCount
  }

  /// The number of rows.
  public var count: Int { labels.count }

  /// How many rows each class has.
  public var classCounts: [Int] {
    var counts = [Int](repeating: 0, count: classCount)
    for c in labels { counts[c] += 1 }
    return counts
  }

  /// The labels as binary targets 0/1 (for a two-class set).
  public var binaryTargets: [Double] { labels.map { $0 == 1 ? 1 : 0 } }

  /// The rows at `indices`, in that order.
  public func rows(_ indices: [Int]) -> Dataset {
    var features: [Double] = []
    features.reserveCapacity(indices.count * featureCount)
    for i in indices {
      features.append(contentsOf: self.features[(i * featureCount)..<((i + 1) * featureCount)])
    }
    return Dataset(
      features: features, labels: indices.map { labels[$0] }, featureCount: featureCount,
      classCount: classCount)
  }
}

extension Dataset {
  /// The binary task of Menon et al. 2020 (§6): `x | y ~ N(±(1, 1), I)` in R²
  /// with `P(y = 1) = positiveRate`; the labels are drawn, not fixed counts.
  public static func gaussianPair(
    count: Int, positiveRate: Double, using generator: inout SplitMix64
  ) -> Dataset {
    var features: [Double] = []
    features.reserveCapacity(2 * count)
    var labels: [Int] = []
    labels.reserveCapacity(count)
    for _ in 0..<count {
      let y = generator.uniform() < positiveRate ? 1 : 0
      let mean = y == 1 ? 1.0 : -1.0
      features.append(mean + generator.normal())
      features.append(mean + generator.normal())
      labels.append(y)
    }
    return Dataset(features: features, labels: labels, featureCount: 2, classCount: 2)
  }

  /// Gaussian classes `x | y = k ~ N(μ_k, I)` with `counts[k]` rows of class `k`,
  /// in random order.
  public static func gaussianClasses(
    means: [[Double]], counts: [Int], using generator: inout SplitMix64
  ) -> Dataset {
    let d = means[0].count
    var labels: [Int] = []
    for (k, n) in counts.enumerated() { labels += [Int](repeating: k, count: n) }
    labels = generator.permutation(labels.count).map { labels[$0] }
    var features: [Double] = []
    features.reserveCapacity(labels.count * d)
    for k in labels {
      for j in 0..<d { features.append(means[k][j] + generator.normal()) }
    }
    return Dataset(features: features, labels: labels, featureCount: d, classCount: means.count)
  }

  /// The long-tailed training counts `n_k = n_max · ρ^(-k/(K-1))`, rounded, at least 1.
  public static func longTailCounts(classCount: Int, largest: Int, imbalance: Double) -> [Int] {
    (0..<classCount).map { k in
      let exponent = classCount > 1 ? -Double(k) / Double(classCount - 1) : 0
      let n = Double(largest) * Platform.exp(exponent * Platform.log(imbalance))
      return max(1, Int((n).rounded()))
    }
  }
}

/// A split of a data set into training and test rows.
public struct Split: Sendable {
  /// The training rows.
  public var train: Dataset
  /// The test rows.
  public var test: Dataset
}

/// A data set's rows could not be split so that every class is in both parts.
public struct SplitError: Error, Equatable, CustomStringConvertible {
  /// The class with too few rows (its index after relabelling).
  public var classIndex: Int
  /// Its number of rows.
  public var count: Int

  /// The message shown to the user.
  public var description: String {
    "class \(classIndex) has \(count) row\(count == 1 ? "" : "s"); "
      + "a stratified split needs at least 2 per class"
  }
}

extension Dataset {
  /// A stratified split: each class's rows are shuffled with `seed` and
  /// `round(testFraction · n_c)` of them (at least 1, at most `n_c - 1`) go to
  /// the test part.
  ///
  /// - Throws: ``SplitError`` when a class has fewer than 2 rows.
  public func stratifiedSplit(testFraction: Double, seed: UInt64) throws(SplitError) -> Split {
    var generator = SplitMix64(seed: seed)
    var byClass = [[Int]](repeating: [], count: classCount)
    for (i, c) in labels.enumerated() { byClass[c].append(i) }
    var train: [Int] = []
    var test: [Int] = []
    for (c, rows) in byClass.enumerated() {
      guard rows.count >= 2 else { throw SplitError(classIndex: c, count: rows.count) }
      let shuffled = generator.permutation(rows.count).map { rows[$0] }
      let testCount = min(
        rows.count - 1, max(1, Int((testFraction * Double(rows.count)).rounded())))
      test += shuffled[..<testCount]
      train += shuffled[testCount...]
    }
    return Split(train: self.rows(train.sorted()), test: self.rows(test.sorted()))
  }

  /// Per-feature mean and standard deviation (1 for a constant feature).
  public func featureMoments() -> (mean: [Double], deviation: [Double]) {
    let d = featureCount
    var mean = [Double](repeating: 0, count: d)
    var squares = [Double](repeating: 0, count: d)
    for i in 0..<count {
      for j in 0..<d { mean[j] += features[i * d + j] }
    }
    for j in 0..<d { mean[j] /= Double(max(count, 1)) }
    for i in 0..<count {
      for j in 0..<d {
        let e = features[i * d + j] - mean[j]
        squares[j] += e * e
      }
    }
    let deviation = squares.map { s -> Double in
      let sd = (s / Double(max(count, 1))).squareRoot()
      return sd > 0 && sd.isFinite ? sd : 1
    }
    return (mean, deviation)
  }

  /// The data set with every feature mapped to `(x - mean) / deviation`.
  public func standardized(mean: [Double], deviation: [Double]) -> Dataset {
    var copy = self
    let d = featureCount
    for i in 0..<count {
      for j in 0..<d {
        copy.features[i * d + j] = (features[i * d + j] - mean[j]) / deviation[j]
      }
    }
    return copy
  }
}

/// A multi-label data set: `count` rows of `featureCount` features and
/// `labelCount` targets 0/1 (both row-major); a row may have any number of
/// labels, none included.
public struct MultiLabelDataset: Sendable, Equatable {
  /// `count * featureCount` features, row `i` at `i * featureCount`.
  public var features: [Double]
  /// `count * labelCount` targets 0 or 1, row `i` at `i * labelCount`.
  public var targets: [Double]
  /// The number of features per row.
  public var featureCount: Int
  /// The number of labels `L`.
  public var labelCount: Int

  /// A data set from its parts; targets must be 0 or 1.
  public init(features: [Double], targets: [Double], featureCount: Int, labelCount: Int) {
    precondition(features.count / featureCount == targets.count / labelCount)
    precondition(features.count % featureCount == 0 && targets.count % labelCount == 0)
    precondition(targets.allSatisfy { $0 == 0 || $0 == 1 })
    self.features = features
    self.targets = targets
    self.featureCount = featureCount
    self.labelCount = labelCount
  }

  /// The number of rows.
  public var count: Int { targets.count / labelCount }

  /// How many rows have each label.
  public var labelCounts: [Int] {
    var counts = [Int](repeating: 0, count: labelCount)
    for (m, t) in targets.enumerated() where t == 1 { counts[m % labelCount] += 1 }
    return counts
  }

  /// Label `l` of every row as a two-class label 0/1.
  public func labels(_ l: Int) -> [Int] {
    (0..<count).map { targets[$0 * labelCount + l] == 1 ? 1 : 0 }
  }

  /// Rows with independent labels, label `l` present with probability
  /// `rates[l]`, and features `x = Σ_l y_l μ_l + N(0, I)`: each label
  /// shifts the features along its own mean.
  public static func gaussianLabels(
    means: [[Double]], rates: [Double], count: Int, using generator: inout SplitMix64
  ) -> MultiLabelDataset {
    precondition(means.count == rates.count)
    let (d, l) = (means[0].count, means.count)
    var features: [Double] = []
    features.reserveCapacity(count * d)
    var targets: [Double] = []
    targets.reserveCapacity(count * l)
    for _ in 0..<count {
      let y = rates.map { generator.uniform() < $0 ? 1.0 : 0 }
      targets += y
      for j in 0..<d {
        var x = generator.normal()
        for k in 0..<l where y[k] == 1 { x += means[k][j] }
        features.append(x)
      }
    }
    return MultiLabelDataset(features: features, targets: targets, featureCount: d, labelCount: l)
  }
}
