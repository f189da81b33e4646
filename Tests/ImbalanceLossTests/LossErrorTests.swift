import ImbalanceLoss
import Testing

@Suite struct LossErrorTests {
  @Test func descriptionsSayWhatAndWhere() {
    #expect(
      LossError.nonFiniteLogit(index: 7, value: .nan).description
        == "logits[7] is nan; logits must be finite")
    #expect(
      LossError.targetOutOfRange(index: 2, value: 1.5).description
        == "targets[2] is 1.5; binary targets must lie in [0, 1]")
    #expect(
      LossError.labelOutOfRange(index: 3, label: 10, classCount: 10).description
        == "targets[3] is 10; class labels must lie in 0..<10")
    #expect(
      LossError.lengthMismatch(argument: "weights", expected: 4, actual: 3).description
        == "weights has 3 elements, expected 4")
    #expect(
      LossError.invalidParameter(name: "tau", value: -1, requirement: "finite and >= 0")
        .description == "tau is -1.0; it must be finite and >= 0")
  }

  @Test func nanPayloadsCompareEqual() {
    #expect(LossError.invalidWeight(index: 1, value: .nan) == .invalidWeight(index: 1, value: .nan))
    #expect(LossError.invalidWeight(index: 1, value: .nan) != .invalidWeight(index: 2, value: .nan))
    #expect(LossError.invalidWeight(index: 1, value: 1) != .invalidPrior(index: 1, value: 1))
    #expect(LossError.emptyBatch != .zeroTotalWeight)
  }
}
