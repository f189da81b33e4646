/// Counts of (true class, predicted class) pairs.
public struct ConfusionMatrix: Sendable, Equatable {
  /// The number of classes `K`.
  public let classCount: Int
  /// `counts[t * K + p]`: rows of true class `t` predicted as `p`.
  public private(set) var counts: [Int]

  /// The confusion matrix of `predictions` against `labels` (both in `0..<K`).
  public init(labels: [Int], predictions: [Int], classCount: Int) {
    precondition(labels.count == predictions.count)
    self.classCount = classCount
    counts = [Int](repeating: 0, count: classCount * classCount)
    for (t, p) in zip(labels, predictions) { counts[t * classCount + p] += 1 }
  }

  private func truePositives(_ k: Int) -> Int { counts[k * classCount + k] }
  private func actual(_ k: Int) -> Int {
    (0..<classCount).reduce(0) { $0 + counts[k * classCount + $1] }
  }
  private func predicted(_ k: Int) -> Int {
    (0..<classCount).reduce(0) { $0 + counts[$1 * classCount + k] }
  }

  /// Recall of class `k`, `TP / (TP + FN)` (0 for a class with no rows).
  public func recall(_ k: Int) -> Double { ratio(truePositives(k), actual(k)) }

  /// Precision of class `k`, `TP / (TP + FP)` (0 when nothing is predicted `k`).
  public func precision(_ k: Int) -> Double { ratio(truePositives(k), predicted(k)) }

  /// F1 of class `k`, `2 TP / (2 TP + FP + FN)` (0 when the denominator is 0).
  public func f1(_ k: Int) -> Double {
    ratio(2 * truePositives(k), actual(k) + predicted(k))
  }

  /// The mean of the per-class recalls.
  public var balancedAccuracy: Double {
    (0..<classCount).reduce(0) { $0 + recall($1) } / Double(classCount)
  }

  /// The mean of the per-class F1 scores.
  public var macroF1: Double {
    (0..<classCount).reduce(0) { $0 + f1($1) } / Double(classCount)
  }

  private func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }
}

/// The scores of a binary classifier on a test set; class 1 is positive.
public struct BinaryScores: Sendable, Equatable {
  /// `1 - (TPR + TNR) / 2`.
  public var balancedError: Double
  /// F1 of class 1.
  public var f1: Double
  /// Precision of class 1.
  public var precision: Double
  /// Recall (TPR) of class 1.
  public var recall: Double

  /// The scores of a two-class confusion matrix.
  public init(_ confusion: ConfusionMatrix) {
    precondition(confusion.classCount == 2)
    balancedError = 1 - confusion.balancedAccuracy
    f1 = confusion.f1(1)
    precision = confusion.precision(1)
    recall = confusion.recall(1)
  }
}

/// The scores of a multiclass classifier on a test set.
public struct MulticlassScores: Sendable, Equatable {
  /// The mean per-class recall.
  public var balancedAccuracy: Double
  /// The smallest per-class recall.
  public var worstClassRecall: Double
  /// The mean recall of the head classes (the most frequent in training).
  public var headRecall: Double
  /// The mean recall of the tail classes (the least frequent in training).
  public var tailRecall: Double
  /// The mean per-class F1.
  public var macroF1: Double

  /// The scores of `confusion`; head and tail are each the `max(1, K/3)`
  /// classes with the most and the fewest training rows (`trainingCounts`).
  public init(_ confusion: ConfusionMatrix, trainingCounts: [Int]) {
    let k = confusion.classCount
    let recalls = (0..<k).map(confusion.recall)
    let byFrequency = (0..<k).sorted {
      (trainingCounts[$0], $1) > (trainingCounts[$1], $0)
    }
    let groupSize = max(1, k / 3)
    func mean(_ classes: ArraySlice<Int>) -> Double {
      classes.reduce(0) { $0 + recalls[$1] } / Double(classes.count)
    }
    balancedAccuracy = confusion.balancedAccuracy
    worstClassRecall = recalls.min() ?? 0
    headRecall = mean(byFrequency.prefix(groupSize))
    tailRecall = mean(byFrequency.suffix(groupSize))
    macroF1 = confusion.macroF1
  }
}

/// The scores of a multi-label classifier on a test set, each label
/// predicted present when its logit is above 0 (probability above 0.5).
public struct MultiLabelScores: Sendable, Equatable {
  /// The mean over labels of each label's F1.
  public var macroF1: Double
  /// The mean over labels of each label's average precision (threshold-free).
  public var meanAveragePrecision: Double
  /// The mean recall of the head labels (the most frequent in training).
  public var headRecall: Double
  /// The mean recall of the tail labels (the least frequent in training).
  public var tailRecall: Double
  /// The mean F1 of the tail labels.
  public var tailF1: Double

  /// The scores of `logits` (`count × L`, row-major) against `test`; head
  /// and tail are each the `max(1, L/3)` labels with the most and the fewest
  /// training rows (`trainingCounts`).
  public init(logits: [Double], test: MultiLabelDataset, trainingCounts: [Int]) {
    let l = test.labelCount
    precondition(logits.count == test.targets.count && trainingCounts.count == l)
    var recalls: [Double] = []
    var f1s: [Double] = []
    var precisions: [Double] = []
    for k in 0..<l {
      let scores = (0..<test.count).map { logits[$0 * l + k] }
      let labels = test.labels(k)
      let confusion = ConfusionMatrix(
        labels: labels, predictions: scores.map { $0 > 0 ? 1 : 0 }, classCount: 2)
      recalls.append(confusion.recall(1))
      f1s.append(confusion.f1(1))
      precisions.append(averagePrecision(scores: scores, labels: labels))
    }
    let byFrequency = (0..<l).sorted { (trainingCounts[$0], $1) > (trainingCounts[$1], $0) }
    let groupSize = max(1, l / 3)
    func mean(_ values: [Double], _ labels: ArraySlice<Int>) -> Double {
      labels.reduce(0) { $0 + values[$1] } / Double(labels.count)
    }
    macroF1 = f1s.reduce(0, +) / Double(l)
    meanAveragePrecision = precisions.reduce(0, +) / Double(l)
    headRecall = mean(recalls, byFrequency.prefix(groupSize))
    tailRecall = mean(recalls, byFrequency.suffix(groupSize))
    tailF1 = mean(f1s, byFrequency.suffix(groupSize))
  }
}

/// The average precision of `scores` for the 0/1 `labels`, as scikit-learn's
/// `average_precision_score`: `Σ_n (R_n - R_(n-1)) P_n` over the distinct
/// scores taken as thresholds from the highest down (0 without positives).
func averagePrecision(scores: [Double], labels: [Int]) -> Double {
  let positives = labels.reduce(0, +)
  guard positives > 0 else { return 0 }
  let order = scores.indices.sorted { (scores[$0], $1) > (scores[$1], $0) }
  var (truePositives, seen, previousRecall, total) = (0, 0, 0.0, 0.0)
  for (n, i) in order.enumerated() {
    truePositives += labels[i]
    seen += 1
    // Close a threshold only after the last row with this score.
    if n + 1 < order.count && scores[order[n + 1]] == scores[i] { continue }
    let recall = Double(truePositives) / Double(positives)
    total += (recall - previousRecall) * Double(truePositives) / Double(seen)
    previousRecall = recall
  }
  return total
}
