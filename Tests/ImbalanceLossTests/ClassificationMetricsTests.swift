import ImbalanceLoss
import Testing

/// Reference values from scikit-learn 1.9.1 and imbalanced-learn 0.14.2
/// (`pip install scikit-learn imbalanced-learn`): `confusion_matrix(y, p,
/// labels=range(K), sample_weight=w)`, `precision_recall_fscore_support(y, p,
/// labels=range(K), zero_division=0, sample_weight=w)`, `f1_score(y, p,
/// average="macro" | "micro", zero_division=0, sample_weight=w)`,
/// `balanced_accuracy_score(y, p, sample_weight=w)` and
/// `imblearn.metrics.geometric_mean_score(y, p, sample_weight=w)`, printed
/// with `repr`.
struct SklearnReference {
  var counts: [Double]
  var precision: [Double], recall: [Double], f1: [Double]
  var macroF1: Double, microF1: Double, balanced: Double, gmean: Double, accuracy: Double
}

/// Checks every metric of `m` against a reference, to 2 ulps-ish (1e-15
/// relative): sklearn and this code divide the same small sums.
func expectMatches(
  _ m: ConfusionMatrix, _ r: SklearnReference, _ note: String,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(m.counts == r.counts, "\(note)", sourceLocation: sourceLocation)
  for k in 0..<m.classCount {
    expectClose(m.precision(of: k), r.precision[k], relative: 1e-15, "\(note) precision \(k)",
      sourceLocation: sourceLocation)
    expectClose(m.recall(of: k), r.recall[k], relative: 1e-15, "\(note) recall \(k)",
      sourceLocation: sourceLocation)
    expectClose(m.f1(of: k), r.f1[k], relative: 1e-15, "\(note) f1 \(k)",
      sourceLocation: sourceLocation)
  }
  #expect(m.precisions.count == m.classCount && m.f1Scores == (0..<m.classCount).map(m.f1(of:)),
    sourceLocation: sourceLocation)
  expectClose(m.macroF1, r.macroF1, relative: 1e-15, "\(note) macro",
    sourceLocation: sourceLocation)
  expectClose(m.microF1, r.microF1, relative: 1e-15, "\(note) micro",
    sourceLocation: sourceLocation)
  expectClose(m.balancedAccuracy, r.balanced, relative: 1e-15, "\(note) balanced",
    sourceLocation: sourceLocation)
  expectClose(m.geometricMeanRecall, r.gmean, relative: 1e-15, "\(note) gmean",
    sourceLocation: sourceLocation)
  expectClose(m.accuracy, r.accuracy, relative: 1e-15, "\(note) accuracy",
    sourceLocation: sourceLocation)
}

@Suite struct ClassificationMetricsTests {
  // Case A: K = 5; class 3 is only predicted, class 4 occurs nowhere.
  static let yA = [0, 0, 0, 0, 1, 1, 2, 2, 2, 0, 1, 0]
  static let pA = [0, 1, 0, 3, 1, 1, 0, 1, 0, 0, 3, 0]
  static let wA = [1, 2, 0.5, 1, 3, 1, 1, 2, 1, 0.25, 1, 1]

  @Test func zeroDivisionAndAbsentClassesFollowScikitLearn() throws {
    let m = try ConfusionMatrix(predictions: Self.pA, labels: Self.yA, classCount: 5)
    expectMatches(m, SklearnReference(
      counts: [4, 1, 0, 1, 0, 0, 2, 0, 1, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      precision: [0.6666666666666666, 0.5, 0, 0, 0],
      recall: [0.6666666666666666, 0.6666666666666666, 0, 0, 0],
      f1: [0.6666666666666666, 0.5714285714285714, 0, 0, 0],
      macroF1: 0.30952380952380953, microF1: 0.5, balanced: 0.4444444444444444, gmean: 0,
      accuracy: 0.5), "A")
    let weighted = try ConfusionMatrix(
      predictions: Self.pA, labels: Self.yA, classCount: 5, weights: Self.wA)
    expectMatches(weighted, SklearnReference(
      counts: [2.75, 2, 0, 1, 0, 0, 4, 0, 1, 0, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      precision: [0.5789473684210527, 0.5, 0, 0, 0], recall: [0.4782608695652174, 0.8, 0, 0, 0],
      f1: [0.5238095238095238, 0.6153846153846154, 0, 0, 0],
      macroF1: 0.2847985347985348, microF1: 0.4576271186440678, balanced: 0.42608695652173917,
      gmean: 0, accuracy: 0.4576271186440678), "A weighted")
  }

  @Test func everyClassPresent() throws {
    let y = [0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 0, 1, 2]
    let p = [0, 0, 1, 0, 0, 2, 1, 0, 1, 2, 1, 0, 1, 2]
    let m = try ConfusionMatrix(predictions: p, labels: y, classCount: 3)
    expectMatches(m, SklearnReference(
      counts: [5, 1, 1, 1, 3, 0, 0, 1, 2],
      precision: [0.8333333333333334, 0.6, 0.6666666666666666],
      recall: [0.7142857142857143, 0.75, 0.6666666666666666],
      f1: [0.7692307692307693, 0.6666666666666666, 0.6666666666666666],
      macroF1: 0.7008547008547009, microF1: 0.7142857142857143, balanced: 0.7103174603174603,
      gmean: 0.709491705985192, accuracy: 0.7142857142857143), "B")
  }

  @Test func binaryLogitsWithAndWithoutPostHocAdjustment() throws {
    let z = [2.0, -1, 0, -0.5, 3, -2, 0.7, -1e300, 1e300, -0.1]
    let y = [1, 0, 0, 1, 1, 0, 0, 0, 1, 1]
    // Predictions z >= 0 (numpy): [1, 0, 1, 0, 1, 0, 1, 0, 1, 0].
    let m = try ConfusionMatrix(binaryLogits: z, labels: y)
    expectMatches(m, SklearnReference(
      counts: [3, 2, 2, 3], precision: [0.6, 0.6], recall: [0.6, 0.6], f1: [0.6, 0.6],
      macroF1: 0.6, microF1: 0.6, balanced: 0.6, gmean: 0.6, accuracy: 0.6), "C")
    // The same from the Double targets of a loss batch.
    #expect(try ConfusionMatrix(binaryLogits: z, targets: y.map(Double.init)) == m)
    // Priors (0.8, 0.2), tau = 1: predict 1 when z >= log 0.2 - log 0.8 (numpy):
    // [1, 1, 1, 1, 1, 0, 1, 0, 1, 1].
    let adjusted = try ConfusionMatrix(
      binaryLogits: z, labels: y, priors: ClassPriors([0.8, 0.2]), tau: 1)
    expectMatches(adjusted, SklearnReference(
      counts: [2, 3, 0, 5], precision: [1, 0.625], recall: [0.4, 1],
      f1: [0.5714285714285714, 0.7692307692307693], macroF1: 0.6703296703296704,
      microF1: 0.7, balanced: 0.7, gmean: 0.6324555320336759, accuracy: 0.7), "C adjusted")
    // tau = 0 is no adjustment.
    #expect(try ConfusionMatrix(
      binaryLogits: z, labels: y, priors: ClassPriors([0.8, 0.2]), tau: 0) == m)
  }

  @Test func softmaxLogitsWithAndWithoutPostHocAdjustment() throws {
    let z: [Double] = [2, 1.5, 0.1, 0.2, 0.1, -0.5, 1, 0.9, 1.2, 0, -1, -0.9,
      3, 2, 2.2, 0.5, 0.6, 0.4, -1, -1.1, -2, 1, 0, 0.5]
    let y = [0, 1, 2, 0, 2, 1, 1, 2]
    // argmax (numpy): [0, 0, 2, 0, 0, 1, 0, 0].
    let raw = try ConfusionMatrix(logits: z, labels: y, classCount: 3)
    expectMatches(raw, SklearnReference(
      counts: [2, 0, 0, 2, 1, 0, 2, 0, 1], precision: [0.3333333333333333, 1, 1],
      recall: [1, 0.3333333333333333, 0.3333333333333333], f1: [0.5, 0.5, 0.5],
      macroF1: 0.5, microF1: 0.5, balanced: 0.5555555555555555, gmean: 0.48074985676913606,
      accuracy: 0.5), "D raw")
    // argmax(z - log π), π = (0.7, 0.2, 0.1) (numpy): [1, 2, 2, 2, 2, 2, 1, 2].
    let adjusted = try ConfusionMatrix(
      logits: z, labels: y, priors: ClassPriors([0.7, 0.2, 0.1]), tau: 1)
    expectMatches(adjusted, SklearnReference(
      counts: [0, 1, 1, 0, 1, 2, 0, 0, 3], precision: [0, 0.5, 0.5],
      recall: [0, 0.3333333333333333, 1], f1: [0, 0.4, 0.6666666666666666],
      macroF1: 0.35555555555555557, microF1: 0.5, balanced: 0.4444444444444444, gmean: 0,
      accuracy: 0.5), "D adjusted")
  }
}
