// Classification metrics from a confusion matrix, with scikit-learn's and
// imbalanced-learn's definitions and zero-division conventions:
//
// - precision_k = C_kk / Σ_a C_ak, recall_k = C_kk / Σ_p C_kp,
//   F1_k = 2 C_kk / (Σ_a C_ak + Σ_p C_kp); each is 0 when its denominator is
//   0 (sklearn's `zero_division=0`, also what its default "warn" returns).
// - macro F1 averages F1_k over the classes that occur among the labels or
//   the predictions (sklearn's default `labels`); micro F1 is
//   Σ_k C_kk / Σ C, which for single-label data is the accuracy.
// - balanced accuracy averages recall_k over the classes that occur among the
//   labels (`balanced_accuracy_score`, which drops the others with a warning).
// - the geometric mean of recalls runs over the classes that occur among the
//   labels or the predictions (imbalanced-learn's `geometric_mean_score`,
//   `average="multiclass"`, `correction=0`): a class only ever predicted has
//   recall 0, which makes the mean 0.
//
// A class argument `k` must lie in 0..<classCount (a precondition, as an
// array index: it is the caller's code, not data, that picks it).

extension ConfusionMatrix {
  /// The total weight of samples whose actual class is `k` (sklearn's support).
  ///
  /// - Complexity: O(K).
  public func support(of k: Int) -> Double {
    var s = CompensatedSum()
    for p in 0..<classCount { s.add(self[k, p]) }
    return s.value
  }

  /// The total weight of samples predicted as `k`.
  ///
  /// - Complexity: O(K).
  public func predictedCount(of k: Int) -> Double {
    var s = CompensatedSum()
    for a in 0..<classCount { s.add(self[a, k]) }
    return s.value
  }

  /// Precision `C_kk / Σ_a C_ak` of class `k`, 0 when nothing is predicted as `k`.
  ///
  /// - Complexity: O(K).
  public func precision(of k: Int) -> Double {
    let d = predictedCount(of: k)
    return d > 0 ? self[k, k] / d : 0
  }

  /// Recall `C_kk / Σ_p C_kp` of class `k`, 0 when no sample is of class `k`.
  ///
  /// - Complexity: O(K).
  public func recall(of k: Int) -> Double {
    let d = support(of: k)
    return d > 0 ? self[k, k] / d : 0
  }

  /// F1 `2 C_kk / (Σ_a C_ak + Σ_p C_kp)` of class `k`, 0 when both sums are 0.
  ///
  ///     F1 = 2 TP / (2 TP + FP + FN)
  ///
  /// - Complexity: O(K).
  public func f1(of k: Int) -> Double {
    let d = predictedCount(of: k) + support(of: k)
    return d > 0 ? 2 * self[k, k] / d : 0
  }

  /// Precision of every class (sklearn's `precision_score(average=None, labels=range(K))`).
  public var precisions: [Double] { (0..<classCount).map(precision(of:)) }
  /// Recall of every class (sklearn's `recall_score(average=None, labels=range(K))`).
  public var recalls: [Double] { (0..<classCount).map(recall(of:)) }
  /// F1 of every class (sklearn's `f1_score(average=None, labels=range(K))`).
  public var f1Scores: [Double] { (0..<classCount).map(f1(of:)) }

  /// The fraction (by weight) of correct predictions, `Σ_k C_kk / Σ C`.
  ///
  /// - Complexity: O(K²).
  public var accuracy: Double {
    var diagonal = CompensatedSum()
    var total = CompensatedSum()
    for a in 0..<classCount {
      diagonal.add(self[a, a])
      for p in 0..<classCount { total.add(self[a, p]) }
    }
    return total.value > 0 ? diagonal.value / total.value : 0
  }

  /// Micro-averaged F1: pooled `2 ΣTP / (2 ΣTP + ΣFP + ΣFN)`, which for
  /// single-label data equals ``accuracy``.
  ///
  /// - Complexity: O(K²).
  public var microF1: Double { accuracy }

  /// Macro-averaged F1: the mean of F1_k over the classes that occur among
  /// the labels or the predictions (scikit-learn's `f1_score(average="macro")`
  /// without `labels`).
  ///
  ///     macroF1 = (1 / |C|) Σ_{k in C} F1_k,   C = {k : support_k + predicted_k > 0}
  ///
  /// - Complexity: O(K²).
  public var macroF1: Double {
    mean(of: f1(of:)) { support(of: $0) + predictedCount(of: $0) > 0 }
  }

  /// Balanced accuracy: the mean recall over the classes that occur among the
  /// labels (scikit-learn's `balanced_accuracy_score`).
  ///
  ///     balanced = (1 / |C|) Σ_{k in C} recall_k,   C = {k : support_k > 0}
  ///
  /// - Complexity: O(K²).
  public var balancedAccuracy: Double {
    mean(of: recall(of:)) { support(of: $0) > 0 }
  }

  /// The geometric mean of the recalls over the classes that occur among the
  /// labels or the predictions (imbalanced-learn's `geometric_mean_score`,
  /// multiclass, no correction); 0 when any of those recalls is 0. For two
  /// classes it is `sqrt(sensitivity · specificity)`.
  ///
  ///     G = exp((1 / |C|) Σ_{k in C} log recall_k),   C = {k : support_k + predicted_k > 0}
  ///
  /// - Complexity: O(K²).
  public var geometricMeanRecall: Double {
    var logSum = CompensatedSum()
    var count = 0
    for k in 0..<classCount where support(of: k) + predictedCount(of: k) > 0 {
      let r = recall(of: k)
      if r == 0 { return 0 }
      logSum.add(Elementary.log(r))
      count += 1
    }
    return count > 0 ? Elementary.exp(logSum.value / Double(count)) : 0
  }

  /// The mean of `metric` over the classes that satisfy `included`.
  func mean(of metric: (Int) -> Double, over included: (Int) -> Bool) -> Double {
    var sum = CompensatedSum()
    var count = 0
    for k in 0..<classCount where included(k) {
      sum.add(metric(k))
      count += 1
    }
    return count > 0 ? sum.value / Double(count) : 0
  }
}
