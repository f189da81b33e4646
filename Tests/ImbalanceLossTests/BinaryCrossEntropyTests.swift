import ImbalanceLoss
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Reference values: Scripts/core_values.py (mpmath, 50 digits, from SPEC §2).
let binaryLogits: [Double] = [2, -1, 0.5, -3]
let hardTargets: [Double] = [1, 0, 1, 0]
let softTargets: [Double] = [0.3, 0.9, 1, 0.25]
let sampleWeights: [Double] = [1, 2, 0.5, 3]

@Suite struct BinaryCrossEntropyTests {
  @Test func valuesMatchHighPrecisionReference() throws {
    var r = try BinaryCrossEntropy().valueAndGradient(logits: binaryLogits, targets: hardTargets)
    expectClose(r.value, 0.24071350857876102, relative: 1e-15)
    expectClose(
      r.gradient,
      [-0.029800730505529389, 0.06723535534249878, -0.094385167199536359, 0.011856468294391695],
      relative: 4e-16)

    r = try BinaryCrossEntropy(positiveWeight: 3, negativeWeight: 0.5).valueAndGradient(
      logits: binaryLogits, targets: hardTargets, weights: sampleWeights)
    expectClose(r.value, 0.2273911114273713, relative: 1e-15)
    expectClose(
      r.gradient,
      [-0.055016733240977334, 0.041375603287691557, -0.087124769722648947, 0.01094443227174618],
      relative: 4e-16)

    r = try BinaryCrossEntropy().valueAndGradient(
      logits: binaryLogits, targets: softTargets, weights: sampleWeights)
    expectClose(r.value, 1.0132695281370304, relative: 1e-15)
    expectClose(
      r.gradient,
      [0.089353396611981914, -0.19417187034769381, -0.029041589907549649, -0.093495750841123024],
      relative: 4e-16)
  }

  @Test func confidentSamplesKeepTheirDigits() throws {
    // log1p(e^-40) = 4.248354255291589e-18: forming log(p) from p would give 0.
    let loss = BinaryCrossEntropy()
    var r = try loss.valueAndGradient(logits: [40], targets: [1])
    expectClose(r.value, 4.248354255291589e-18, relative: 1e-15)
    expectClose(r.gradient[0], -4.248354255291589e-18, relative: 1e-15)
    r = try loss.valueAndGradient(logits: [-40], targets: [0])
    expectClose(r.value, 4.248354255291589e-18, relative: 1e-15)
    expectClose(r.gradient[0], 4.248354255291589e-18, relative: 1e-15)
  }

  @Test func extremeLogitsGiveExactFiniteResults() throws {
    let loss = BinaryCrossEntropy()
    // Right and certain: loss 0, gradient 0.
    var r = try loss.valueAndGradient(logits: [1e300, -1e300], targets: [1, 0])
    #expect(r.value == 0 && r.gradient == [0, 0])
    // Wrong and certain: l = |z| = 1e300, gradient ±1 (p - y), mean over N = 2.
    r = try loss.valueAndGradient(logits: [1e300, -1e300], targets: [0, 1])
    expectClose(r.value, 1e300, relative: 1e-15)
    #expect(r.gradient == [0.5, -0.5])
    // Soft target 0.25 at z = 1e300: l = 0.75 * 1e300, gradient p - y = 0.75.
    r = try loss.valueAndGradient(logits: [1e300], targets: [0.25])
    expectClose(r.value, 0.75e300, relative: 1e-15)
    #expect(r.gradient == [0.75])
    // Many huge terms: the weighted mean is formed without overflowing the sum.
    let n = 1000
    r = try loss.valueAndGradient(
      logits: [Double](repeating: 1e300, count: n), targets: [Double](repeating: 0, count: n))
    expectClose(r.value, 1e300, relative: 1e-13)
    #expect(r.value.isFinite)
  }

  @Test(arguments: [1, 7, 8, 33, 64, 65, 200])
  func gradientMatchesFiniteDifferences(n: Int) throws {
    for seed in UInt64(1)...4 {
      var rng = SplitMix64(seed: seed &* 7919 &+ UInt64(n))
      let z = rng.uniforms(n, in: -6...6)
      let soft = seed % 2 == 0
      let y = soft ? rng.uniforms(n, in: 0...1) : rng.labels(n, positiveRate: 0.2)
      let w: [Double]? = seed > 2 ? rng.uniforms(n, in: 0...3) : nil
      let loss = BinaryCrossEntropy(
        positiveWeight: rng.uniform(0.5...4), negativeWeight: rng.uniform(0.5...2))
      try expectGradientMatchesFiniteDifferences(
        loss, logits: z, targets: y, weights: w, "seed \(seed), n \(n)")
    }
  }

  @Test func defaultClassWeightsArePlainCrossEntropy() throws {
    // a_pos = a_neg = 1: gradient (w / W)(p - y), value -mean(y log p + (1-y) log(1-p)).
    var rng = SplitMix64(seed: 11)
    let z = rng.uniforms(50, in: -8...8)
    let y = rng.uniforms(50, in: 0...1)
    let r = try BinaryCrossEntropy().valueAndGradient(logits: z, targets: y)
    for i in 0..<50 {
      let p = 1 / (1 + exp(-z[i]))
      expectClose(r.gradient[i], (p - y[i]) / 50, relative: 1e-13, floor: 1e-17)
    }
  }

  @Test func allNegativeAndSingleSampleBatches() throws {
    let r = try BinaryCrossEntropy().valueAndGradient(logits: [0], targets: [0])
    expectClose(r.value, 0.6931471805599453, relative: 1e-15)  // log 2
    #expect(r.gradient == [0.5])
    let all = try BinaryCrossEntropy().valueAndGradient(
      logits: [-1, -2, 3], targets: [0, 0, 0])
    #expect(all.gradient.allSatisfy { $0 > 0 })
  }

  @Test func badInputsThrow() {
    let loss = BinaryCrossEntropy()
    expectCommonBadInputsRejected(loss, logits: binaryLogits, targets: hardTargets)
    for bad in [-0.1, 1.5, .nan, -.infinity] {
      expectError(.targetOutOfRange(index: 2, value: bad)) {
        _ = try loss.value(logits: binaryLogits, targets: [1, 0, bad, 0])
      }
    }
    for bad in [-1.0, .nan, .infinity] {
      expectError(
        .invalidParameter(name: "positiveWeight", value: bad, requirement: "finite and >= 0")
      ) {
        _ = try BinaryCrossEntropy(positiveWeight: bad).value(
          logits: binaryLogits, targets: hardTargets)
      }
      expectError(
        .invalidParameter(name: "negativeWeight", value: bad, requirement: "finite and >= 0")
      ) {
        _ = try BinaryCrossEntropy(negativeWeight: bad).value(
          logits: binaryLogits, targets: hardTargets)
      }
    }
  }

  // Regression: the weight multiplies the class weight before the softplus,
  // so a tiny weight keeps a huge softplus finite (10 * 1e308 alone
  // overflows; it gave NaN). Reference: Tests/References/binary_overflow.py
  // (mpmath, 50 digits).
  @Test func tinyWeightTimesHugeSoftplusStaysFinite() throws {
    for reduction in [Reduction.mean, .sum] {
      var loss = BinaryCrossEntropy(positiveWeight: 10)
      loss.reduction = reduction
      let r = try loss.valueAndGradient(
        logits: [0, -1e308], targets: [1, 1], weights: [1, 1e-300])
      // Σ w = 1 + 1e-300 = 1 in doubles, so .mean and .sum agree.
      expectClose(r.value, 1000000006.9314718056, relative: 1e-15)
      expectClose(r.gradient, [-5, -1.0e-299], relative: 1e-15)
    }
    // With f = 1 the per-sample value legitimately overflows to +inf.
    let values = try BinaryCrossEntropy(positiveWeight: 10).perSampleValues(
      logits: [0, -1e308], targets: [1, 1])
    #expect(values[1] == .infinity)
  }

  // A sum that overflows is +inf, never NaN (a compensated sum's correction
  // is inf - inf = NaN once the running sum overflows).
  @Test func overflowingSumIsInfinityNotNaN() throws {
    let r = try BinaryCrossEntropy(positiveWeight: 10).valueAndGradient(
      logits: [0, -1e308], targets: [1, 1])
    #expect(r.value == .infinity)
    // f (a_neg (1 - y) p - a_pos y q) = (1/2)(-10 q): q(0) = 1/2, q(-1e308) = 1.
    #expect(r.gradient == [-2.5, -5])
    var sum = BinaryCrossEntropy(positiveWeight: 10)
    sum.reduction = .sum
    #expect(try sum.value(logits: [-1e308, -1e308], targets: [1, 1]) == .infinity)
  }
}
