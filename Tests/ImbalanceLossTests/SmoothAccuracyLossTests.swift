import ImbalanceLoss
import Testing

// Reference values: Scripts/core_values.py (mpmath, 50 digits, from SPEC §1).
@Suite struct SmoothAccuracyLossTests {
  @Test func valuesMatchHighPrecisionReference() throws {
    var r = try SmoothAccuracyLoss().valueAndGradient(logits: binaryLogits, targets: hardTargets)
    expectClose(r.value, 0.20327772134195622, relative: 1e-15)
    expectClose(
      r.gradient,
      [-0.026248396350876629, 0.049152983310370463, -0.058750928050398622, 0.011294164932728033],
      relative: 4e-16)
    r = try SmoothAccuracyLoss().valueAndGradient(
      logits: binaryLogits, targets: softTargets, weights: sampleWeights)
    expectClose(r.value, 0.46644949248685903, relative: 1e-15)
    expectClose(
      r.gradient,
      [0.0064611437171388626, -0.048396783567133994, -0.018077208630891884, 0.010425383014825877],
      relative: 4e-16)
  }

  @Test func wrongAndCertainGetsNoGradient() throws {
    // SPEC §1: p(1 - p) vanishes, so a badly wrong sample gets (almost) nothing.
    let r = try SmoothAccuracyLoss().valueAndGradient(
      logits: [-1e300, 1e300, 1e300, -1e300], targets: [1, 0, 1, 0])
    #expect(r.value == 0.5)  // two wrong, two right
    #expect(r.gradient == [0, 0, 0, 0])
    // z = 40, y = 0: l = p ≈ 1, gradient = p (1 - p) / 1 ≈ e^-40 = 4.248354255291589e-18.
    let s = try SmoothAccuracyLoss().valueAndGradient(logits: [40], targets: [0])
    expectClose(s.value, 1, relative: 1e-15)
    expectClose(s.gradient[0], 4.248354255291589e-18, relative: 1e-15)
  }

  @Test func nearPerfectBatchKeepsItsDigits() throws {
    // 1 - ACC = mean(1 - p) = e^-40 / (1 + e^-40): computing 1 - ACC would give 0.
    let r = try SmoothAccuracyLoss().value(logits: [40, 40], targets: [1, 1])
    expectClose(r, 4.248354255291589e-18, relative: 1e-15)
  }

  @Test(arguments: [1, 9, 64, 100])
  func gradientMatchesFiniteDifferences(n: Int) throws {
    for seed in UInt64(1)...4 {
      var rng = SplitMix64(seed: seed &* 31 &+ UInt64(n))
      let z = rng.uniforms(n, in: -5...5)
      let y = seed % 2 == 0 ? rng.uniforms(n, in: 0...1) : rng.labels(n, positiveRate: 0.3)
      let w: [Double]? = seed > 2 ? rng.uniforms(n, in: 0...2) : nil
      try expectGradientMatchesFiniteDifferences(
        SmoothAccuracyLoss(), logits: z, targets: y, weights: w, "seed \(seed), n \(n)")
    }
  }

  @Test func badInputsThrow() {
    expectCommonBadInputsRejected(SmoothAccuracyLoss(), logits: binaryLogits, targets: hardTargets)
    expectError(.targetOutOfRange(index: 0, value: 2)) {
      _ = try SmoothAccuracyLoss().value(logits: [0, 0], targets: [2, 0])
    }
  }
}
