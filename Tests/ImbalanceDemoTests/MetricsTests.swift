import Testing

@testable import ImbalanceDemoKit

@Test func binaryScoresFromAConfusionMatrix() {
  // TP = 3, FN = 1, FP = 2, TN = 4 (by hand):
  // TPR = 3/4, TNR = 4/6, balanced error = 1 - (3/4 + 2/3)/2 = 7/24,
  // precision = 3/5, F1 = 6 / (6 + 2 + 1) = 2/3.
  let labels = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
  let predictions = [1, 1, 1, 0, 1, 1, 0, 0, 0, 0]
  let scores = BinaryScores(
    ConfusionMatrix(labels: labels, predictions: predictions, classCount: 2))
  expectClose(scores.balancedError, 7.0 / 24, relative: 1e-15)
  expectClose(scores.precision, 0.6, relative: 1e-15)
  expectClose(scores.recall, 0.75, relative: 1e-15)
  expectClose(scores.f1, 2.0 / 3, relative: 1e-15)
}

@Test func noPositivePredictionsGiveZeroNotNaN() {
  let scores = BinaryScores(
    ConfusionMatrix(labels: [1, 0, 0], predictions: [0, 0, 0], classCount: 2))
  #expect(scores.precision == 0 && scores.f1 == 0 && scores.recall == 0)
  #expect(scores.balancedError == 0.5)
}

@Test func multiclassScoresUseTrainingFrequencyForHeadAndTail() {
  // Class recalls 1, 1/2, 0 (by hand); training counts make class 2 the head
  // and class 1 the tail (K = 3: groups of one class).
  let labels = [0, 1, 1, 2, 2]
  let predictions = [0, 1, 0, 0, 0]
  let confusion = ConfusionMatrix(labels: labels, predictions: predictions, classCount: 3)
  let scores = MulticlassScores(confusion, trainingCounts: [5, 1, 9])
  expectClose(scores.balancedAccuracy, 0.5, relative: 1e-15)
  #expect(scores.worstClassRecall == 0)
  #expect(scores.headRecall == 0)
  #expect(scores.tailRecall == 0.5)
  // F1: class 0: 2·1/(2 + 3) = 0.4, class 1: 2/(2 + 1) = 2/3, class 2: 0.
  expectClose(scores.macroF1, (0.4 + 2.0 / 3) / 3, relative: 1e-15)
}

@Test func averagePrecisionIsScikitLearns() {
  // Thresholds 0.9, 0.8, 0.7, 0.6 (by hand): recall steps of 1/2 at precision
  // 1 and 2/3: AP = 1/2 + 1/3.
  expectClose(
    averagePrecision(scores: [0.9, 0.8, 0.7, 0.6], labels: [1, 0, 1, 0]), 5.0 / 6,
    relative: 1e-15)
  // Tied scores form one threshold: recall 1/2 at precision 1/2, then 1 at 2/3.
  expectClose(
    averagePrecision(scores: [1, 1, 0], labels: [1, 0, 1]), 0.25 + 1.0 / 3, relative: 1e-15)
  #expect(averagePrecision(scores: [1, 2], labels: [0, 0]) == 0)
}

@Test func multiLabelScoresPerLabelThenAveraged() {
  // Four rows, three labels (columns 1 0 1 0, 1 0 0 0, 0 1 0 1); the model
  // predicts label 0 perfectly, label 1 on no row, label 2 on every row.
  // Training counts make label 0 the head and label 2 the tail.
  let test = MultiLabelDataset(
    features: [0, 0, 0, 0],
    targets: [1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1], featureCount: 1, labelCount: 3)
  let logits: [Double] = [3, -1, 1, -2, -1, 1, 2, -1, 1, -3, -1, 1]
  let scores = MultiLabelScores(logits: logits, test: test, trainingCounts: [30, 20, 10])
  // F1 (by hand): label 0 1, label 1 0, label 2 2·2 / (2·2 + 2 + 0) = 2/3.
  expectClose(scores.macroF1, (1 + 0 + 2.0 / 3) / 3, relative: 1e-15)
  #expect(scores.headRecall == 1 && scores.tailRecall == 1)
  expectClose(scores.tailF1, 2.0 / 3, relative: 1e-15)
  // AP: label 0 ranks its positives first (1); labels 1 and 2 tie every
  // row, one threshold: their precision 1/4 and 2/4.
  expectClose(scores.meanAveragePrecision, (1 + 0.25 + 0.5) / 3, relative: 1e-15)
}
