import ImbalanceLoss
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct ClassPriorsTests {
  @Test func countsAreNormalised() throws {
    let p = try ClassPriors(counts: [900, 90, 10])
    #expect(p.classCount == 3)
    expectClose(p.probabilities, [0.9, 0.09, 0.01], relative: 1e-15)
    expectClose(p.logProbabilities[2], log(0.01), relative: 1e-15)
    let q = try ClassPriors(labels: [0, 0, 0, 1, 2, 0, 0, 0, 0, 0], classCount: 3)
    expectClose(q.probabilities, [0.8, 0.1, 0.1], relative: 1e-15)
    // Any positive scale, even near overflow, gives the same priors.
    let r = try ClassPriors([1e308, 1e308, 2e307])
    expectClose(r.probabilities, [1 / 2.2, 1 / 2.2, 0.2 / 2.2], relative: 1e-15)
  }

  @Test func tinyPriorsKeepFiniteAccurateLogs() throws {
    // log(x / largest) underflowed (-inf) or lost digits to a subnormal ratio.
    // References: Tests/References/overflow_rows.py (mpmath, 50 digits).
    let p = try ClassPriors([1e-300, 1e30])
    expectUlps(p.logProbabilities[0], -759.8530806880350757207627, 4)
    let q = try ClassPriors([Double("1e-312")!, 1e10])  // a subnormal; a literal would warn
    expectUlps(q.logProbabilities[0], -741.4323999440842449123626, 4)
    // The offset is finite, so tau = 1 is accepted (it was blamed before).
    let loss = try LogitAdjustedCrossEntropy(priors: [1e-300, 1e30], tau: 1)
    let (value, gradient) = try loss.valueAndGradient(logits: [0, 0], targets: [0])
    expectClose(value, 759.8530806880350757207627, relative: 4e-16)
    #expect(gradient == [-1, 1])
  }

  @Test func postHocAdjustment() throws {
    // z - tau log pi: a rare class wins once its prior is taken out.
    let p = try ClassPriors([0.9, 0.1])
    let z = [1.0, 0.0]
    #expect(try p.predictions(logits: z, tau: 0) == [0])
    #expect(try p.predictions(logits: z, tau: 1) == [1])  // 1 - log .9 = 1.105 < 0 - log .1 = 2.303
    let adjusted = try p.adjustedLogits(logits: z, tau: 1)
    expectClose(adjusted, [1 - log(0.9), -log(0.1)], relative: 1e-15)
    // Ties go to the first class, as numpy's argmax.
    let u = try ClassPriors.uniform(classCount: 3)
    #expect(try u.predictions(logits: [1, 1, 0, 0, 2, 2], tau: 1) == [0, 1])
  }

  @Test func badInputsThrow() {
    expectError(.noClasses) { _ = try ClassPriors([]) }
    expectError(.noClasses) { _ = try ClassPriors(counts: []) }
    expectError(.invalidClassCount(index: 1, count: 0)) { _ = try ClassPriors(counts: [3, 0]) }
    expectError(.invalidClassCount(index: 2, count: 0)) {
      _ = try ClassPriors(labels: [0, 1, 1], classCount: 3)
    }
    expectError(.labelOutOfRange(index: 2, label: 5, classCount: 3)) {
      _ = try ClassPriors(labels: [0, 1, 5], classCount: 3)
    }
    expectError(.noClasses) { _ = try ClassPriors.uniform(classCount: 0) }
    let p = try! ClassPriors([0.5, 0.5])
    expectError(.logitCountNotMultipleOfClassCount(logitCount: 3, classCount: 2)) {
      _ = try p.predictions(logits: [1, 2, 3])
    }
    expectError(.emptyBatch) { _ = try p.adjustedLogits(logits: []) }
    expectError(.nonFiniteLogit(index: 1, value: .nan)) { _ = try p.predictions(logits: [1, .nan]) }
    expectError(.invalidParameter(name: "tau", value: -1, requirement: "finite and >= 0")) {
      _ = try p.predictions(logits: [1, 2], tau: -1)
    }
  }
}
