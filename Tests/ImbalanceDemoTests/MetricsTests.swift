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
