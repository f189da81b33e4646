import ImbalanceLoss
import Testing

@Suite struct ConfusionMatrixTests {
  @Test func countsByHand() throws {
    // Rows actual, columns predicted: (0,0) twice, (0,1) once, (1,1) once, (2,0) once.
    let m = try ConfusionMatrix(predictions: [0, 1, 0, 1, 0], labels: [0, 0, 0, 1, 2],
      classCount: 3)
    #expect(m.counts == [2, 1, 0, 0, 1, 0, 1, 0, 0])
    #expect(m[0, 1] == 1 && m[2, 0] == 1 && m.support(of: 0) == 3 && m.predictedCount(of: 0) == 3)
    // Weights add up per cell.
    let w = try ConfusionMatrix(predictions: [0, 0, 1], labels: [1, 1, 1], classCount: 2,
      weights: [0.5, 0.25, 2])
    #expect(w.counts == [0, 0, 0.75, 2])
  }

  @Test func softmaxArgmaxTakesTheFirstMaximumAndHandlesExtremes() throws {
    let m = try ConfusionMatrix(
      logits: [1, 1, 0, -1e300, 1e300, 1e300, 5, -5, 5], labels: [0, 1, 0], classCount: 3)
    // Predictions: 0 (tie 0/1), 1 (tie 1/2), 0 (tie 0/2).
    #expect(m.counts == [2, 0, 0, 0, 1, 0, 0, 0, 0])
    // It agrees with ClassPriors.predictions at tau = 0.
    var rng = SplitMix64(seed: 71)
    let z = rng.uniforms(40 * 4, in: -3...3)
    let y = rng.classes(40, classCount: 4)
    let priors = try ClassPriors([0.4, 0.3, 0.2, 0.1])
    #expect(try ConfusionMatrix(logits: z, labels: y, classCount: 4)
      == ConfusionMatrix(logits: z, labels: y, priors: priors, tau: 0))
    let p = try priors.predictions(logits: z, tau: 1)
    #expect(try ConfusionMatrix(logits: z, labels: y, priors: priors, tau: 1)
      == ConfusionMatrix(predictions: p, labels: y, classCount: 4))
  }

  @Test func binaryThresholdIsInclusiveAtZero() throws {
    let m = try ConfusionMatrix(binaryLogits: [0, -0.0, -Double.leastNonzeroMagnitude, .leastNonzeroMagnitude], labels: [1, 1, 0, 0])
    // z >= 0 is positive (0 and -0 both), the smallest negative is not.
    #expect(m.counts == [1, 1, 0, 2])
  }

  @Test func invalidInputThrows() throws {
    #expect(throws: LossError.noClasses) {
      try ConfusionMatrix(predictions: [0], labels: [0], classCount: 0)
    }
    #expect(throws: LossError.invalidParameter(
      name: "predictions[1]", value: 3, requirement: "a class in 0..<3")) {
      try ConfusionMatrix(predictions: [0, 3], labels: [0, 1], classCount: 3)
    }
    #expect(throws: LossError.labelOutOfRange(index: 0, label: -1, classCount: 3)) {
      try ConfusionMatrix(predictions: [0, 1], labels: [-1, 1], classCount: 3)
    }
    #expect(throws: LossError.lengthMismatch(argument: "labels", expected: 2, actual: 1)) {
      try ConfusionMatrix(predictions: [0, 1], labels: [1], classCount: 3)
    }
    #expect(throws: LossError.lengthMismatch(argument: "weights", expected: 2, actual: 3)) {
      try ConfusionMatrix(predictions: [0, 1], labels: [1, 1], classCount: 3, weights: [1, 1, 1])
    }
    #expect(throws: LossError.emptyBatch) {
      try ConfusionMatrix(predictions: [], labels: [], classCount: 3)
    }
    #expect(throws: LossError.invalidWeight(index: 1, value: .nan)) {
      try ConfusionMatrix(predictions: [0, 1], labels: [1, 1], classCount: 3, weights: [1, .nan])
    }
    #expect(throws: LossError.zeroTotalWeight) {
      try ConfusionMatrix(predictions: [0, 1], labels: [1, 1], classCount: 3, weights: [0, 0])
    }
    #expect(throws: LossError.logitCountNotMultipleOfClassCount(logitCount: 5, classCount: 2)) {
      try ConfusionMatrix(logits: [1, 2, 3, 4, 5], labels: [0, 1], classCount: 2)
    }
    #expect(throws: LossError.nonFiniteLogit(index: 2, value: .infinity)) {
      try ConfusionMatrix(logits: [1, 2, .infinity, 4], labels: [0, 1], classCount: 2)
    }
    #expect(throws: LossError.emptyBatch) {
      try ConfusionMatrix(logits: [], labels: [], classCount: 2)
    }
    #expect(throws: LossError.labelOutOfRange(index: 1, label: 2, classCount: 2)) {
      try ConfusionMatrix(binaryLogits: [1, 2], labels: [0, 2])
    }
    #expect(throws: LossError.targetNotBinary(index: 0, value: 0.5)) {
      try ConfusionMatrix(binaryLogits: [1, 2], targets: [0.5, 1])
    }
    #expect(throws: LossError.nonFiniteLogit(index: 0, value: .nan)) {
      try ConfusionMatrix(binaryLogits: [.nan, 2], labels: [0, 1])
    }
    #expect(throws: LossError.lengthMismatch(argument: "priors", expected: 2, actual: 3)) {
      try ConfusionMatrix(binaryLogits: [1, 2], labels: [0, 1], priors: ClassPriors([1, 1, 1]))
    }
    #expect(throws: LossError.invalidParameter(
      name: "tau", value: -1, requirement: "finite and >= 0")) {
      try ConfusionMatrix(binaryLogits: [1, 2], labels: [0, 1], priors: ClassPriors([1, 3]),
        tau: -1)
    }
    #expect(throws: LossError.labelOutOfRange(index: 0, label: 5, classCount: 2)) {
      try ConfusionMatrix(logits: [1, 2], labels: [5], priors: ClassPriors([1, 3]))
    }
  }
}
