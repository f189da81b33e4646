import ImbalanceLoss
import Testing

// Reference values: Scripts/core_values.py (mpmath, 50 digits, from SPEC §4).
@Suite struct F1WeightedCrossEntropyTests {
  @Test func valuesMatchHighPrecisionReference() throws {
    var r = try F1WeightedCrossEntropy().valueAndGradient(
      logits: binaryLogits, targets: hardTargets)
    expectClose(r.value, 0.12672061125260044, relative: 1e-15)
    expectClose(
      r.gradient,
      [-0.018072313623269536, 0.026461239818849017, -0.057238809723079046, 0.0046662481271095263],
      relative: 1e-15)
    r = try F1WeightedCrossEntropy().valueAndGradient(
      logits: binaryLogits, targets: softTargets, weights: sampleWeights)
    expectClose(r.value, 0.65243318787981147, relative: 1e-15)
    expectClose(
      r.gradient,
      [0.015543906263626669, -0.15825694629249235, -0.022951345526373926, -0.083420228017151783],
      relative: 1e-15)
    r = try F1WeightedCrossEntropy(f1: 0.4).valueAndGradient(
      logits: binaryLogits, targets: hardTargets)
    expectClose(r.value, 0.13829345099921408, relative: 1e-15)
    expectClose(
      r.gradient,
      [-0.023840584404423511, 0.013447071068499756, -0.075508133759629087, 0.002371293658878339],
      relative: 1e-15)
  }

  @Test func isClassWeightedCrossEntropyWithHalfF() throws {
    // SPEC §4: a_pos = 1 - F/2, a_neg = F/2, with F held constant.
    var rng = SplitMix64(seed: 5)
    let z = rng.uniforms(77, in: -5...5)
    let y = rng.uniforms(77, in: 0...1)
    let w = rng.uniforms(77, in: 0...2)
    for f in [0.0, 0.3, 0.5, 1.0] {
      let a = try F1WeightedCrossEntropy(f1: f).valueAndGradient(
        logits: z, targets: y, weights: w)
      let b = try BinaryCrossEntropy(positiveWeight: 1 - f / 2, negativeWeight: f / 2)
        .valueAndGradient(logits: z, targets: y, weights: w)
      #expect(a.value == b.value && a.gradient == b.gradient, "f1 \(f)")
    }
  }

  @Test func batchFIsSmoothF1HeldConstant() throws {
    var rng = SplitMix64(seed: 9)
    let z = rng.uniforms(40, in: -3...3)
    let y = rng.labels(40, positiveRate: 0.3)
    let w = rng.uniforms(40, in: 0.5...1.5)
    let f = try SmoothF1Loss().f1(logits: z, targets: y, weights: w)
    let batch = try F1WeightedCrossEntropy().valueAndGradient(logits: z, targets: y, weights: w)
    let frozen = try F1WeightedCrossEntropy(f1: f).valueAndGradient(
      logits: z, targets: y, weights: w)
    #expect(batch.value == frozen.value)
    #expect(batch.gradient == frozen.gradient)
  }

  @Test(arguments: [1, 16, 63, 150])
  func gradientWithFrozenFMatchesFiniteDifferences(n: Int) throws {
    // The gradient holds F constant, so the finite differences must too: supply it.
    for seed in UInt64(1)...4 {
      var rng = SplitMix64(seed: seed &* 13 &+ UInt64(n))
      let z = rng.uniforms(n, in: -5...5)
      let y = seed % 2 == 0 ? rng.uniforms(n, in: 0...1) : rng.labels(n, positiveRate: 0.2)
      let w: [Double]? = seed > 2 ? rng.uniforms(n, in: 0...2) : nil
      let f = try SmoothF1Loss().f1(logits: z, targets: y, weights: w)
      try expectGradientMatchesFiniteDifferences(
        F1WeightedCrossEntropy(f1: f), logits: z, targets: y, weights: w,
        "seed \(seed), n \(n)")
    }
  }

  @Test func extremeLogits() throws {
    // F of [1e300, -1e300] vs [1, 0] is 1: a_pos = a_neg = 1/2; both right: 0.
    var r = try F1WeightedCrossEntropy().valueAndGradient(
      logits: [1e300, -1e300], targets: [1, 0])
    #expect(r.value == 0 && r.gradient == [0, 0])
    // f1 = 1 supplied, both wrong: l = |z| / 2 each, mean 0.5e300; gradient ±(1/2)/2.
    r = try F1WeightedCrossEntropy(f1: 1).valueAndGradient(
      logits: [1e300, -1e300], targets: [0, 1])
    expectClose(r.value, 0.5e300, relative: 1e-15)
    #expect(r.gradient == [0.25, -0.25])
  }

  @Test func allNegativeBatchHasZeroBatchF() throws {
    // Batch F = 0 gives a_neg = 0: nothing to learn unless F is supplied.
    let r = try F1WeightedCrossEntropy().valueAndGradient(logits: [1, 2], targets: [0, 0])
    #expect(r.value == 0 && r.gradient == [0, 0])
    let s = try F1WeightedCrossEntropy(f1: 0.5).valueAndGradient(logits: [1, 2], targets: [0, 0])
    #expect(s.value > 0 && s.gradient.allSatisfy { $0 > 0 })
  }

  @Test func badInputsThrow() {
    expectCommonBadInputsRejected(
      F1WeightedCrossEntropy(), logits: binaryLogits, targets: hardTargets)
    for bad in [-0.1, 1.5, .nan, .infinity] {
      expectError(.invalidParameter(name: "f1", value: bad, requirement: "in [0, 1]")) {
        _ = try F1WeightedCrossEntropy(f1: bad).value(logits: [0], targets: [1])
      }
    }
    expectError(.targetOutOfRange(index: 0, value: .nan)) {
      _ = try F1WeightedCrossEntropy().value(logits: [0], targets: [.nan])
    }
  }

  // Regression: under .sum, F came from the raw weights, whose sums overflow
  // near 1e308 (F was 0). F always comes from the normalised weights.
  // Reference: Tests/References/binary_overflow.py (mpmath, 50 digits).
  @Test func sumReductionTakesFFromNormalisedWeights() throws {
    var loss = F1WeightedCrossEntropy()
    loss.reduction = .sum
    let (z, y, w): ([Double], [Double], [Double]) = ([1, 1], [1, 0], [1e308, 1e308])
    let f = 0.59384548495130938132
    let r = try loss.valueAndGradient(logits: z, targets: y, weights: w)
    expectClose(r.value, 6.1018442999387752471e+307, relative: 1e-15)
    expectClose(
      r.gradient, [-1.8908659697151552438e+307, 2.1706791807717509429e+307], relative: 1e-15)
    // The same F as the explicit one, the mean reduction and SmoothF1Loss.
    var held = F1WeightedCrossEntropy(f1: f)
    held.reduction = .sum
    let h = try held.valueAndGradient(logits: z, targets: y, weights: w)
    expectClose(h.value, r.value, relative: 1e-15)
    expectClose(try SmoothF1Loss().f1(logits: z, targets: y, weights: w), f, relative: 1e-15)
    // Without a gradient buffer (no exp reuse) the value is the same.
    expectClose(try loss.value(logits: z, targets: y, weights: w), r.value, relative: 1e-15)
    // Three samples: the raw TP + FP/2 + FN/2 = 2.1e308 overflows.
    let r3 = try loss.valueAndGradient(
      logits: [1, 1, 1], targets: [1, 1, 0], weights: [1e308, 1e308, 1e308])
    expectClose(r3.value, 8.6598194593134537202e+307, relative: 1e-15)
    expectClose(
      r3.gradient,
      [-1.7516431989597337621e+307, -1.7516431989597337621e+307, 2.5491259086239325388e+307],
      relative: 1e-15)
    // All-zero weights under .sum: F = 0, the loss and gradient are 0.
    let zero = try loss.valueAndGradient(logits: z, targets: y, weights: [0, 0])
    #expect(zero.value == 0 && zero.gradient.allSatisfy { $0 == 0 })
  }
}
