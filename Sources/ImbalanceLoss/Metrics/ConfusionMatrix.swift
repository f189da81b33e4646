/// A (weighted) confusion matrix of a K-class prediction: `counts[a * K + p]`
/// is the total weight of the samples of actual class `a` predicted as `p`,
/// scikit-learn's `confusion_matrix(y_true, y_pred, labels=range(K))` layout
/// (rows actual, columns predicted).
///
/// Build it from predicted and actual classes, or straight from the logits a
/// loss consumed: binary logits predict class 1 when `z >= 0`, softmax logits
/// predict their argmax (first maximum on ties), either optionally after
/// post-hoc logit adjustment with ``ClassPriors`` (Menon et al. 2020). The
/// metrics (precision, recall, F1, balanced accuracy, ...) are computed from
/// it; see ClassificationMetrics.swift.
///
/// Besides the counts it records which classes occur among the labels or
/// the predictions, whatever their weight: scikit-learn's and
/// imbalanced-learn's default class set for macro F1 and the geometric mean,
/// which a class seen only with weight 0 belongs to. Two matrices are equal
/// when both agree.
///
/// ```swift
/// let matrix = try ConfusionMatrix(binaryLogits: [2.0, -1.0, 0.5], labels: [1, 0, 0])
/// let f1 = matrix.f1(of: 1)
/// ```
public struct ConfusionMatrix: Sendable, Hashable {
  /// The number of classes `K`.
  public let classCount: Int
  /// `K * K` weighted counts, row-major: `counts[actual * K + predicted]`.
  public let counts: [Double]
  /// `occurs[k]`: class `k` is a label or a prediction of some sample, of
  /// any weight (0 included).
  let occurs: [Bool]

  /// The total weight of samples of class `actual` predicted as `predicted`.
  ///
  /// - Precondition: both classes lie in `0..<classCount`.
  public subscript(actual: Int, predicted: Int) -> Double {
    precondition((0..<classCount).contains(actual) && (0..<classCount).contains(predicted))
    return counts[actual * classCount + predicted]
  }

  /// Counts predicted classes against actual classes.
  ///
  /// - Parameters:
  ///   - predictions: N predicted classes in `0..<classCount`.
  ///   - labels: N actual classes in `0..<classCount`.
  ///   - classCount: `K`.
  ///   - weights: N sample weights `>= 0` with a positive sum (sklearn's
  ///     `sample_weight`), or `nil` for all ones.
  /// - Throws: ``LossError/noClasses`` for `classCount <= 0`,
  ///   ``LossError/lengthMismatch(argument:expected:actual:)``,
  ///   ``LossError/emptyBatch``, ``LossError/labelOutOfRange(index:label:classCount:)``
  ///   for a label, ``LossError/invalidParameter(name:value:requirement:)``
  ///   for a prediction outside `0..<K`, ``LossError/invalidWeight(index:value:)``
  ///   and ``LossError/zeroTotalWeight``.
  /// - Complexity: O(N + K²).
  public init(
    predictions: [Int], labels: [Int], classCount: Int, weights: [Double]? = nil
  ) throws(LossError) {
    if classCount <= 0 { throw .noClasses }
    for (i, p) in predictions.enumerated() where p < 0 || p >= classCount {
      throw .invalidParameter(
        name: "predictions[\(i)]", value: Double(p), requirement: "a class in 0..<\(classCount)")
    }
    try self.init(
      checkedPredictions: predictions, labels: labels, classCount: classCount, weights: weights)
  }

  /// Counts the argmax of each row of softmax logits (first maximum on ties)
  /// against the labels.
  ///
  /// - Parameters:
  ///   - logits: `N * classCount` finite logits, row-major.
  ///   - labels: N classes in `0..<classCount`.
  ///   - classCount: `K`.
  ///   - weights: N sample weights, or `nil`.
  /// - Throws: as ``init(predictions:labels:classCount:weights:)``, and
  ///   ``LossError/logitCountNotMultipleOfClassCount(logitCount:classCount:)``
  ///   and ``LossError/nonFiniteLogit(index:value:)``.
  /// - Complexity: O(N K + K²).
  public init(
    logits: [Double], labels: [Int], classCount: Int, weights: [Double]? = nil
  ) throws(LossError) {
    if classCount <= 0 { throw .noClasses }
    try Self.checkLogits(logits, classCount: classCount)
    let predictions = (0..<(logits.count / classCount)).map { i in
      var best = 0
      for k in 1..<classCount where logits[i * classCount + k] > logits[i * classCount + best] {
        best = k
      }
      return best
    }
    try self.init(
      checkedPredictions: predictions, labels: labels, classCount: classCount, weights: weights)
  }

  /// Counts the post-hoc logit-adjusted predictions
  /// `argmax_k (z_ik - tau log π_k)` (``ClassPriors/predictions(logits:tau:)``)
  /// against the labels; K is `priors.classCount`.
  ///
  /// - Throws: as ``init(logits:labels:classCount:weights:)``, and
  ///   ``LossError/invalidParameter(name:value:requirement:)`` for an invalid `tau`.
  /// - Complexity: O(N K + K²).
  public init(
    logits: [Double], labels: [Int], priors: ClassPriors, tau: Double = 1,
    weights: [Double]? = nil
  ) throws(LossError) {
    try Self.checkLogits(logits, classCount: priors.classCount)
    let predictions = try priors.predictions(logits: logits, tau: tau)
    try self.init(
      checkedPredictions: predictions, labels: labels, classCount: priors.classCount,
      weights: weights)
  }

  /// Counts the predictions of binary logits against 0/1 labels (K = 2).
  ///
  /// A sample is predicted positive when `z >= 0` (p >= 1/2), or, with
  /// `priors` (two classes), after post-hoc adjustment when
  /// `z >= tau (log π_1 - log π_0)`: the two-class form of
  /// `argmax_k (z_k - tau log π_k)` with logits `(0, z)`, ties going to class 1.
  ///
  /// - Throws: ``LossError/lengthMismatch(argument:expected:actual:)``
  ///   (also for priors of another class count than 2), ``LossError/emptyBatch``,
  ///   ``LossError/nonFiniteLogit(index:value:)``,
  ///   ``LossError/labelOutOfRange(index:label:classCount:)`` for a label
  ///   other than 0 or 1, an invalid `tau`, and invalid weights.
  /// - Complexity: O(N).
  public init(
    binaryLogits: [Double], labels: [Int], weights: [Double]? = nil,
    priors: ClassPriors? = nil, tau: Double = 1
  ) throws(LossError) {
    try Self.checkLogits(binaryLogits, classCount: 1)
    var threshold = 0.0
    if let priors {
      if priors.classCount != 2 {
        throw .lengthMismatch(argument: "priors", expected: 2, actual: priors.classCount)
      }
      let offsets = try priors.offsets(tau: tau)
      threshold = offsets[1] - offsets[0]
    }
    try self.init(
      checkedPredictions: binaryLogits.map { $0 >= threshold ? 1 : 0 }, labels: labels,
      classCount: 2, weights: weights)
  }

  /// Counts the predictions of binary logits against the 0/1 targets of a
  /// binary loss batch (K = 2); as ``init(binaryLogits:labels:weights:priors:tau:)``.
  ///
  /// - Throws: as ``init(binaryLogits:labels:weights:priors:tau:)``, with
  ///   ``LossError/targetNotBinary(index:value:)`` for a target other than 0 or 1.
  /// - Complexity: O(N).
  public init(
    binaryLogits: [Double], targets: [Double], weights: [Double]? = nil,
    priors: ClassPriors? = nil, tau: Double = 1
  ) throws(LossError) {
    var labels = [Int](repeating: 0, count: targets.count)
    for (i, y) in targets.enumerated() {
      guard y == 0 || y == 1 else { throw .targetNotBinary(index: i, value: y) }
      labels[i] = y == 1 ? 1 : 0
    }
    try self.init(
      binaryLogits: binaryLogits, labels: labels, weights: weights, priors: priors, tau: tau)
  }

  /// Shapes and finiteness of a logit array with `classCount` logits per sample.
  static func checkLogits(_ logits: [Double], classCount: Int) throws(LossError) {
    if logits.count % classCount != 0 {
      throw .logitCountNotMultipleOfClassCount(logitCount: logits.count, classCount: classCount)
    }
    if logits.isEmpty { throw .emptyBatch }
    try logits.withUnsafeBufferPointer { (z) throws(LossError) in try Validation.checkFinite(z) }
  }

  /// Counts validated predictions; checks labels and weights.
  init(
    checkedPredictions predictions: [Int], labels: [Int], classCount k: Int, weights: [Double]?
  ) throws(LossError) {
    let n = predictions.count
    if labels.count != n {
      throw .lengthMismatch(argument: "labels", expected: n, actual: labels.count)
    }
    if let weights, weights.count != n {
      throw .lengthMismatch(argument: "weights", expected: n, actual: weights.count)
    }
    if n == 0 { throw .emptyBatch }
    for (i, c) in labels.enumerated() where c < 0 || c >= k {
      throw .labelOutOfRange(index: i, label: c, classCount: k)
    }
    var total = 0.0
    if let weights {
      for (i, w) in weights.enumerated() {
        guard w >= 0 && w.isFinite else { throw .invalidWeight(index: i, value: w) }
        total += w
      }
      if total == 0 { throw .zeroTotalWeight }
    }
    var sums = [CompensatedSum](repeating: CompensatedSum(), count: k * k)
    var occurs = [Bool](repeating: false, count: k)
    for i in 0..<n {
      sums[labels[i] * k + predictions[i]].add(weights?[i] ?? 1)
      occurs[labels[i]] = true
      occurs[predictions[i]] = true
    }
    classCount = k
    counts = sums.map(\.value)
    self.occurs = occurs
  }
}
