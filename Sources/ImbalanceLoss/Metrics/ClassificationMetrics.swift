// Classification metrics from a confusion matrix, with scikit-learn's and
// imbalanced-learn's definitions and zero-division conventions:
//
// - precision_k = C_kk / Σ_a C_ak, recall_k = C_kk / Σ_p C_kp,
//   F1_k = 2 C_kk / (Σ_a C_ak + Σ_p C_kp); a zero denominator gives the
//   ZeroDivision value (sklearn's `zero_division`), 0 by default (also what
//   sklearn's default "warn" returns).
// - macro F1 averages F1_k over the classes that occur among the labels or
//   the predictions, whatever their weight (sklearn's default `labels`), or
//   over the given classes (its `labels=`); NaN values leave the mean.
//   Micro F1 is Σ_k C_kk / Σ C, which for single-label data is the accuracy.
// - balanced accuracy averages recall_k over the classes of positive support
//   (`balanced_accuracy_score`, whose 0/0 recalls it drops with a warning:
//   the classes that are only predicted, or whose samples all weigh 0).
// - the geometric mean of recalls runs over the same classes as macro F1
//   (imbalanced-learn's `geometric_mean_score`, `average="multiclass"`): a
//   zero recall (a class only predicted, or present with weight 0 only, has
//   recall 0) becomes `correction`, 0 by default, which makes the mean 0.
//
// A class argument `k` must lie in 0..<classCount (a precondition, as an
// array index: it is the caller's code, not data, that picks it). A list of
// classes is data and is validated (LossError).

extension ConfusionMatrix {
  /// The value a metric takes when its denominator is 0: scikit-learn's
  /// `zero_division`.
  ///
  /// Precision divides by the weight predicted as the class, recall by its
  /// support, F1 by their sum. scikit-learn's default, `"warn"`, returns 0
  /// (with a warning); ``zero`` returns the same 0 without one.
  public enum ZeroDivision: Sendable, Hashable, CaseIterable {
    /// 0 (`zero_division=0`, and the value of sklearn's default `"warn"`).
    case zero
    /// 1 (`zero_division=1.0`).
    case one
    /// NaN (`zero_division=np.nan`); a macro mean leaves such classes out.
    case nan

    /// The value it stands for.
    var value: Double {
      switch self {
      case .zero: 0
      case .one: 1
      case .nan: .nan
      }
    }
  }

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

  /// Precision `C_kk / Σ_a C_ak` of class `k`, 0 when nothing is predicted as `k`:
  /// ``precision(of:zeroDivision:)`` with ``ZeroDivision/zero``.
  ///
  /// - Complexity: O(K).
  public func precision(of k: Int) -> Double { precision(of: k, zeroDivision: .zero) }

  /// Precision `C_kk / Σ_a C_ak` of class `k`; `zeroDivision` when nothing
  /// (of positive weight) is predicted as `k` (sklearn's `precision_score`).
  ///
  /// - Complexity: O(K).
  public func precision(of k: Int, zeroDivision: ZeroDivision) -> Double {
    ratio(self[k, k], predictedCount(of: k), zeroDivision)
  }

  /// Recall `C_kk / Σ_p C_kp` of class `k`, 0 when no sample is of class `k`:
  /// ``recall(of:zeroDivision:)`` with ``ZeroDivision/zero``.
  ///
  /// - Complexity: O(K).
  public func recall(of k: Int) -> Double { recall(of: k, zeroDivision: .zero) }

  /// Recall `C_kk / Σ_p C_kp` of class `k`; `zeroDivision` when its support
  /// is 0 (sklearn's `recall_score`).
  ///
  /// - Complexity: O(K).
  public func recall(of k: Int, zeroDivision: ZeroDivision) -> Double {
    ratio(self[k, k], support(of: k), zeroDivision)
  }

  /// F1 `2 C_kk / (Σ_a C_ak + Σ_p C_kp)` of class `k`, 0 when both sums are 0:
  /// ``f1(of:zeroDivision:)`` with ``ZeroDivision/zero``.
  ///
  ///     F1 = 2 TP / (2 TP + FP + FN)
  ///
  /// - Complexity: O(K).
  public func f1(of k: Int) -> Double { f1(of: k, zeroDivision: .zero) }

  /// F1 `2 C_kk / (Σ_a C_ak + Σ_p C_kp)` of class `k`; `zeroDivision` when
  /// both sums are 0 (sklearn's `f1_score`).
  ///
  /// - Complexity: O(K).
  public func f1(of k: Int, zeroDivision: ZeroDivision) -> Double {
    ratio(2 * self[k, k], predictedCount(of: k) + support(of: k), zeroDivision)
  }

  /// Precision of every class (sklearn's `precision_score(average=None, labels=range(K))`).
  public var precisions: [Double] { (0..<classCount).map { precision(of: $0) } }
  /// Recall of every class (sklearn's `recall_score(average=None, labels=range(K))`).
  public var recalls: [Double] { (0..<classCount).map { recall(of: $0) } }
  /// F1 of every class (sklearn's `f1_score(average=None, labels=range(K))`).
  public var f1Scores: [Double] { (0..<classCount).map { f1(of: $0) } }

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

  /// Macro-averaged F1 over the classes that occur among the labels or the
  /// predictions, whatever their weight, with ``ZeroDivision/zero``:
  /// scikit-learn's `f1_score(average="macro")` with its defaults.
  ///
  ///     macroF1 = (1 / |C|) Σ_{k in C} F1_k,   C = classes in labels or predictions
  ///
  /// A class whose samples all weigh 0 still counts, with F1 0 (its true
  /// positives weigh 0).
  ///
  /// - Complexity: O(K²).
  public var macroF1: Double { macroMean(of: f1(of:zeroDivision:), .zero, over: nil) }

  /// Macro-averaged F1 with a chosen ``ZeroDivision`` and class set
  /// (scikit-learn's `f1_score(average="macro", labels=classes,
  /// zero_division=)`): the mean of `F1_k` over `classes`, or, for `nil`,
  /// over the classes that occur among the labels or the predictions,
  /// whatever their weight. Classes whose F1 is NaN (``ZeroDivision/nan``)
  /// leave the mean; NaN if all do.
  ///
  ///     macroF1 = (1 / |C'|) Σ_{k in C'} F1_k,   C' = {k in C : F1_k not NaN}
  ///
  /// - Parameters:
  ///   - zeroDivision: the F1 of a class with no weight as actual or predicted class.
  ///   - classes: distinct classes in `0..<classCount`, at least one, in any
  ///     order; `nil` for those that occur.
  /// - Throws: ``LossError/invalidParameter(name:value:requirement:)`` for an
  ///   empty `classes`, a class outside `0..<classCount` or a repeated class.
  /// - Complexity: O(K²).
  public func macroF1(zeroDivision: ZeroDivision, classes: [Int]? = nil) throws(LossError)
    -> Double
  {
    try checkClasses(classes)
    return macroMean(of: f1(of:zeroDivision:), zeroDivision, over: classes)
  }

  /// Balanced accuracy: the mean recall over the classes of positive support
  /// (scikit-learn's `balanced_accuracy_score`, which drops the 0/0 recalls
  /// of the classes that are only predicted or whose samples all weigh 0).
  ///
  ///     balanced = (1 / |C|) Σ_{k in C} recall_k,   C = {k : support_k > 0}
  ///
  /// - Complexity: O(K²).
  public var balancedAccuracy: Double {
    var sum = CompensatedSum()
    var count = 0
    for k in 0..<classCount where support(of: k) > 0 {
      sum.add(recall(of: k))
      count += 1
    }
    return count > 0 ? sum.value / Double(count) : 0
  }

  /// The geometric mean of the recalls over the classes that occur among
  /// the labels or the predictions, whatever their weight (imbalanced-learn's
  /// `geometric_mean_score` with its defaults: multiclass, `correction=0`);
  /// 0 when any of those recalls is 0, as for a class only predicted or
  /// present with weight 0 only. For two classes it is
  /// `sqrt(sensitivity · specificity)`.
  ///
  ///     G = exp((1 / |C|) Σ_{k in C} log recall_k),   C = classes in labels or predictions
  ///
  /// - Complexity: O(K²).
  public var geometricMeanRecall: Double { geometricMean(correction: 0, over: nil) }

  /// The geometric mean of the recalls with imbalanced-learn's `correction`
  /// and `labels` (`geometric_mean_score(average="multiclass",
  /// correction=, labels=classes)`): each recall that is 0 (a class with
  /// no support counts as recall 0) becomes `correction`.
  ///
  ///     G = exp((1 / |C|) Σ_{k in C} log r_k),   r_k = recall_k > 0 ? recall_k : correction
  ///
  /// - Parameters:
  ///   - correction: the recall substituted for 0, finite and `>= 0`.
  ///   - classes: distinct classes in `0..<classCount`, at least one, in any
  ///     order; `nil` for those that occur among the labels or the predictions.
  /// - Throws: ``LossError/invalidParameter(name:value:requirement:)`` for an
  ///   invalid `correction` or `classes` (as ``macroF1(zeroDivision:classes:)``).
  /// - Complexity: O(K²).
  public func geometricMeanRecall(correction: Double, classes: [Int]? = nil) throws(LossError)
    -> Double
  {
    guard correction >= 0 && correction.isFinite else {
      throw .invalidParameter(name: "correction", value: correction, requirement: "finite and >= 0")
    }
    try checkClasses(classes)
    return geometricMean(correction: correction, over: classes)
  }

  /// `numerator / denominator`, or the zero-division value when the denominator is 0.
  func ratio(_ numerator: Double, _ denominator: Double, _ zeroDivision: ZeroDivision) -> Double {
    denominator > 0 ? numerator / denominator : zeroDivision.value
  }

  /// `classes`, or the classes that occur among the labels or predictions.
  func selected(_ classes: [Int]?) -> [Int] {
    classes ?? (0..<classCount).filter { occurs[$0] }
  }

  /// Throws unless `classes` is nil or distinct classes in `0..<classCount`, at least one.
  func checkClasses(_ classes: [Int]?) throws(LossError) {
    guard let classes else { return }
    if classes.isEmpty {
      throw .invalidParameter(name: "classes.count", value: 0, requirement: "at least 1")
    }
    var seen = [Bool](repeating: false, count: classCount)
    for (i, k) in classes.enumerated() {
      guard k >= 0 && k < classCount else {
        throw .invalidParameter(
          name: "classes[\(i)]", value: Double(k), requirement: "a class in 0..<\(classCount)")
      }
      guard !seen[k] else {
        throw .invalidParameter(
          name: "classes[\(i)]", value: Double(k), requirement: "a class not listed before")
      }
      seen[k] = true
    }
  }

  /// The mean of the non-NaN `metric(k, zeroDivision)` over the selected
  /// classes (sklearn's `_nanaverage`); NaN if there are none.
  func macroMean(
    of metric: (Int, ZeroDivision) -> Double, _ zeroDivision: ZeroDivision, over classes: [Int]?
  ) -> Double {
    var sum = CompensatedSum()
    var count = 0
    for k in selected(classes) {
      let value = metric(k, zeroDivision)
      if value.isNaN { continue }
      sum.add(value)
      count += 1
    }
    return count > 0 ? sum.value / Double(count) : .nan
  }

  /// `exp` of the mean log recall over the selected classes, a zero recall
  /// counting as `correction` (0 makes the mean 0).
  func geometricMean(correction: Double, over classes: [Int]?) -> Double {
    var logSum = CompensatedSum()
    let included = selected(classes)
    for k in included {
      let r = recall(of: k)
      let value = r > 0 ? r : correction
      if value == 0 { return 0 }
      logSum.add(Elementary.log(value))
    }
    return Elementary.exp(logSum.value / Double(included.count))
  }
}
