import ImbalanceLoss
import Testing

@Suite struct ReductionTests {
  @Test func sumIsMeanTimesTotalWeight() throws {
    var rng = SplitMix64(seed: 21)
    let z = rng.uniforms(30, in: -4...4)
    let y = rng.uniforms(30, in: 0...1)
    let w = rng.uniforms(30, in: 0...2)
    let total = w.reduce(0, +)
    var sum = BinaryCrossEntropy(positiveWeight: 2)
    sum.reduction = .sum
    let s = try sum.valueAndGradient(logits: z, targets: y, weights: w)
    let m = try BinaryCrossEntropy(positiveWeight: 2).valueAndGradient(
      logits: z, targets: y, weights: w)
    expectClose(s.value, m.value * total, relative: 1e-14)
    expectClose(s.gradient, m.gradient.map { $0 * total }, relative: 1e-14)
    // With .sum all-zero weights are fine: the sum is 0.
    #expect(try sum.value(logits: z, targets: y, weights: [Double](repeating: 0, count: 30)) == 0)
  }

  @Test func perSampleValuesAverageToTheValue() throws {
    var rng = SplitMix64(seed: 22)
    let z = rng.uniforms(21, in: -4...4)
    let y = rng.labels(21, positiveRate: 0.3)
    let w = rng.uniforms(21, in: 0...2)
    func check<L: SeparableLoss>(_ loss: L, _ z: [Double], _ t: [L.Target]) throws {
      let w = Array(w.prefix(t.count))
      let terms = try loss.perSampleValues(logits: z, targets: t)
      let mean = zip(terms, w).map(*).reduce(0, +) / w.reduce(0, +)
      expectClose(try loss.value(logits: z, targets: t, weights: w), mean, relative: 1e-14)
    }
    try check(BinaryCrossEntropy(negativeWeight: 0.5), z, y)
    try check(SmoothAccuracyLoss(), z, y)
    try check(F1WeightedCrossEntropy(f1: 0.6), z, y)
    let c = rng.classes(7, classCount: 3)
    try check(try LogitAdjustedCrossEntropy(priors: [0.6, 0.3, 0.1]), z, c)
    try check(try SoftmaxCrossEntropy(classCount: 3), z, c)
    // Hand value: l = log(1 + e^-2) for z = 2, y = 1 (≈ 0.12692801104297249).
    let one = try BinaryCrossEntropy().perSampleValues(logits: [2], targets: [1])
    expectClose(one[0], 0.12692801104297249, relative: 1e-15)
  }

  @Test func perSampleValuesRejectWrongBuffer() {
    var values = [Double](repeating: 7, count: 3)
    expectError(.lengthMismatch(argument: "values", expected: 4, actual: 3)) {
      try binaryLogits.withUnsafeBufferPointer { z in
        try hardTargets.withUnsafeBufferPointer { y in
          try values.withUnsafeMutableBufferPointer { v in
            try BinaryCrossEntropy().perSampleValues(logits: z, targets: y, into: v)
          }
        }
      }
    }
    #expect(values == [7, 7, 7])
  }
}
