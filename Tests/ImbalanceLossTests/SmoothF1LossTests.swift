import ImbalanceLoss
import Testing

// Reference values: Scripts/core_values.py (mpmath, 50 digits, from SPEC §3).
@Suite struct SmoothF1LossTests {
  @Test func valuesMatchHighPrecisionReference() throws {
    let loss = SmoothF1Loss()
    var r = try loss.valueAndGradient(logits: binaryLogits, targets: hardTargets)
    expectClose(r.value, 0.21287722258461425, relative: 1e-15)
    expectClose(
      r.gradient,
      [-0.033339495754290983, 0.040516486169835669, -0.074622704187850448, 0.0093097070915769294],
      relative: 4e-16)
    expectClose(
      try loss.f1(logits: binaryLogits, targets: hardTargets), 0.78712277741538575,
      relative: 1e-15)

    r = try loss.valueAndGradient(
      logits: binaryLogits, targets: softTargets, weights: sampleWeights)
    expectClose(r.value, 0.58058464425926601, relative: 1e-15)
    expectClose(
      r.gradient,
      [-0.0036307065454015146, -0.10395621804104145, -0.035563954738501061,
        -0.0020913909688022314],
      relative: 4e-16)
    expectClose(
      try loss.f1(logits: binaryLogits, targets: softTargets, weights: sampleWeights),
      0.41941535574073399, relative: 1e-15)
  }

  @Test func gradientUsesHalfF() throws {
    // SPEC §3: the factor is (y - F/2), not the early (y - F). For one positive
    // sample at z = 0: p = 1/2, T = 1/2, S = 3/2, F = 2/3, and
    // dL/dz = -(2/S)(1 - 1/3)(1/4) = -(4/3)(2/3)(1/4) = -2/9.
    let r = try SmoothF1Loss().valueAndGradient(logits: [0], targets: [1])
    expectClose(r.value, 1.0 / 3, relative: 1e-15)
    expectClose(r.gradient[0], -2.0 / 9, relative: 1e-15)
  }

  @Test func noPositivesAndNonePredictedGivesNoNaN() throws {
    // S = 0: F is defined as 0 (its value on every all-negative batch), loss 1, gradient 0.
    let r = try SmoothF1Loss().valueAndGradient(logits: [-1e300, -1e300], targets: [0, 0])
    #expect(r.value == 1)
    #expect(r.gradient == [0, 0])
    // Any all-negative batch: F = 0 exactly, so the gradient (y - F/2) p (1 - p) is 0.
    let s = try SmoothF1Loss().valueAndGradient(logits: [-1, 2, 0.5], targets: [0, 0, 0])
    #expect(s.value == 1)
    #expect(s.gradient == [0, 0, 0])
  }

  @Test func perfectAndExtremeBatches() throws {
    let r = try SmoothF1Loss().valueAndGradient(
      logits: [1e300, -1e300, 1e300], targets: [1, 0, 1])
    #expect(r.value == 0)
    #expect(r.gradient == [0, 0, 0])
    // All wrong and certain: T = 0, S = 2, F = 0, loss 1, gradient 0 (saturated).
    let w = try SmoothF1Loss().valueAndGradient(logits: [-1e300, 1e300], targets: [1, 0])
    #expect(w.value == 1)
    #expect(w.gradient.allSatisfy { $0 == 0 })
    // Near-perfect: 1 - F = U / S keeps its digits. Two positives at z = 40:
    // U = 2(1 - p), S = 2 + 2p, 1 - F = (1 - p)/(1 + p) ≈ e^-40 / 2.
    let n = try SmoothF1Loss().value(logits: [40, 40], targets: [1, 1])
    expectClose(n, 2.1241771276457945e-18, relative: 1e-15)
  }

  @Test(arguments: [1, 5, 64, 130])
  func gradientMatchesFiniteDifferences(n: Int) throws {
    for seed in UInt64(1)...4 {
      var rng = SplitMix64(seed: seed &* 101 &+ UInt64(n))
      let z = rng.uniforms(n, in: -4...4)
      var y = seed % 2 == 0 ? rng.uniforms(n, in: 0...1) : rng.labels(n, positiveRate: 0.25)
      y[0] = 1  // at least one positive so F is not identically 0
      let w: [Double]? = seed > 2 ? rng.uniforms(n, in: 0.1...2) : nil
      try expectGradientMatchesFiniteDifferences(
        SmoothF1Loss(), logits: z, targets: y, weights: w, "seed \(seed), n \(n)")
    }
  }

  @Test func badInputsThrow() {
    expectCommonBadInputsRejected(SmoothF1Loss(), logits: binaryLogits, targets: hardTargets)
    expectError(.targetOutOfRange(index: 1, value: -0.5)) {
      _ = try SmoothF1Loss().f1(logits: [0, 0], targets: [0, -0.5])
    }
  }
}
