import ImbalanceLoss
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Reference values: Scripts/core_values.py (mpmath, 50 digits, from SPEC §5).
let softmaxLogits: [Double] = [2, 0.5, -1, 0.1, 0.2, 0.3]
let skewedPriors: [Double] = [0.7, 0.2, 0.1]

@Suite struct LogitAdjustedCrossEntropyTests {
  @Test func valuesMatchHighPrecisionReference() throws {
    var r = try LogitAdjustedCrossEntropy(priors: skewedPriors, tau: 1).valueAndGradient(
      logits: softmaxLogits, targets: [0, 2])
    expectClose(r.value, 1.1066596198492198, relative: 1e-15)
    expectClose(
      r.gradient,
      [-0.033087263389958697, 0.029766375341468615, 0.0033208880484900823, 0.3355143493360243,
        0.10594305756664215, -0.44145740690266645],
      relative: 1e-15)

    r = try LogitAdjustedCrossEntropy(priors: skewedPriors, tau: 0.5).valueAndGradient(
      logits: softmaxLogits, targets: [1, 2], weights: [2, 0.5])
    expectClose(r.value, 2.1029749666556623, relative: 1e-15)
    expectClose(
      r.gradient,
      [0.70293468082686127, -0.71616232503745321, 0.013227644210591938, 0.097447577337567434,
        0.057566055561951282, -0.15501363289951872],
      relative: 1e-15)

    r = try SoftmaxCrossEntropy(classCount: 3).valueAndGradient(
      logits: softmaxLogits, targets: [0, 2])
    expectClose(r.value, 0.62162707244320059, relative: 1e-15)
    expectClose(
      r.gradient,
      [-0.10720148270536207, 0.087645196070018345, 0.019556286635343726, 0.15030480267786364,
        0.16611249676667362, -0.31641729944453727],
      relative: 1e-15)
  }

  @Test func confidentCorrectRowKeepsItsDigits() throws {
    // Row [50, 0, 0], label 0: l = log1p(2 e^-50), gradient -2e^-50/(1 + 2e^-50), e^-50/(...).
    let r = try SoftmaxCrossEntropy(classCount: 3).valueAndGradient(
      logits: [50, 0, 0], targets: [0])
    expectClose(r.value, 3.8574996959278356e-22, relative: 1e-15)
    expectClose(r.gradient[0], -3.8574996959278356e-22, relative: 1e-15)
    expectClose(r.gradient[1], 1.9287498479639178e-22, relative: 1e-15)
    expectClose(r.gradient[2], 1.9287498479639178e-22, relative: 1e-15)
  }

  @Test func tiesAtTheMaximum() throws {
    // Row [3, 3, 3], label 1: l = log 3, gradient [1/3, -2/3, 1/3].
    let r = try SoftmaxCrossEntropy(classCount: 3).valueAndGradient(
      logits: [3, 3, 3], targets: [1])
    expectClose(r.value, log(3.0), relative: 1e-15)
    expectClose(r.gradient, [1.0 / 3, -2.0 / 3, 1.0 / 3], relative: 1e-15)
  }

  @Test func extremeLogitsGiveExactFiniteResults() throws {
    let loss = try LogitAdjustedCrossEntropy(priors: skewedPriors, tau: 1)
    // Right and certain: 0, 0.
    var r = try loss.valueAndGradient(logits: [1e300, -1e300, 0], targets: [0])
    #expect(r.value == 0 && r.gradient == [0, 0, 0])
    // Wrong and certain: l = 2e300 - tau log(0.2/0.7) ≈ 2e300; gradient [1, -1, 0].
    r = try loss.valueAndGradient(logits: [1e300, -1e300, 0], targets: [1])
    expectClose(r.value, 2e300, relative: 1e-15)
    #expect(r.gradient == [1, -1, 0])
    // Many rows at 2e300 each: the mean is formed without overflow.
    let rows = 300
    let z = (0..<rows).flatMap { _ -> [Double] in [1e300, -1e300, 0] }
    r = try loss.valueAndGradient(logits: z, targets: [Int](repeating: 1, count: rows))
    expectClose(r.value, 2e300, relative: 1e-13)
  }

  @Test func adjustmentIsAPerClassMargin() throws {
    // a = z + tau log pi: the loss equals plain CE on adjusted logits.
    var rng = SplitMix64(seed: 3)
    let k = 7
    let priors = (0..<k).map { pow(0.5, Double($0)) }
    let z = rng.uniforms(5 * k, in: -3...3)
    let c = rng.classes(5, classCount: k)
    let p = try ClassPriors(priors)
    let shifted = z.indices.map { z[$0] + 2 * p.logProbabilities[$0 % k] }
    let a = try LogitAdjustedCrossEntropy(priors: priors, tau: 2).valueAndGradient(
      logits: z, targets: c)
    let b = try SoftmaxCrossEntropy(classCount: k).valueAndGradient(logits: shifted, targets: c)
    expectClose(a.value, b.value, relative: 1e-14)
    expectClose(a.gradient, b.gradient, relative: 1e-14)
  }

  @Test func tauZeroIsPlainSoftmaxCrossEntropy() throws {
    var rng = SplitMix64(seed: 4)
    let z = rng.uniforms(40, in: -5...5)
    let c = rng.classes(8, classCount: 5)
    let a = try LogitAdjustedCrossEntropy(priors: [0.5, 0.3, 0.1, 0.07, 0.03], tau: 0)
      .valueAndGradient(logits: z, targets: c)
    let b = try SoftmaxCrossEntropy(classCount: 5).valueAndGradient(logits: z, targets: c)
    #expect(a.value == b.value && a.gradient == b.gradient)
  }

  @Test(arguments: [2, 3, 8, 10, 17, 50])
  func gradientMatchesFiniteDifferences(classCount k: Int) throws {
    for (t, tau) in [0.0, 0.5, 1, 2].enumerated() {
      let seed = UInt64(k * 10 + t)
      var rng = SplitMix64(seed: seed)
      let n = 1 + Int(rng.next() % 6)
      // Skewed priors: geometric with ratio 100 from head to tail.
      let priors = (0..<k).map { pow(100, -Double($0) / Double(max(1, k - 1))) }
      let z = rng.uniforms(n * k, in: -4...4)
      let c = rng.classes(n, classCount: k)
      let w: [Double]? = t % 2 == 1 ? rng.uniforms(n, in: 0.1...3) : nil
      let loss = try LogitAdjustedCrossEntropy(priors: priors, tau: tau)
      try expectGradientMatchesFiniteDifferences(
        loss, logits: z, targets: c, weights: w, "seed \(seed), K \(k), tau \(tau)")
      // Each gradient row sums to 0 (softmax minus one-hot, scaled).
      let g = try loss.gradient(logits: z, targets: c, weights: w)
      for i in 0..<n {
        let row = g[(i * k)..<((i + 1) * k)]
        #expect(abs(row.reduce(0, +)) <= 1e-15, "seed \(seed), row \(i)")
      }
    }
  }

  @Test func badInputsThrow() throws {
    let loss = try LogitAdjustedCrossEntropy(priors: skewedPriors)
    expectCommonBadInputsRejected(loss, logits: softmaxLogits, targets: [0, 2])
    expectError(.labelOutOfRange(index: 1, label: 3, classCount: 3)) {
      _ = try loss.value(logits: softmaxLogits, targets: [0, 3])
    }
    expectError(.labelOutOfRange(index: 0, label: -1, classCount: 3)) {
      _ = try loss.value(logits: softmaxLogits, targets: [-1, 0])
    }
    expectError(.logitCountNotMultipleOfClassCount(logitCount: 5, classCount: 3)) {
      _ = try loss.value(logits: [1, 2, 3, 4, 5], targets: [0])
    }
    expectError(.noClasses) { _ = try LogitAdjustedCrossEntropy(priors: []) }
    for bad in [0.0, -0.1, .nan, .infinity] {
      expectError(.invalidPrior(index: 1, value: bad)) {
        _ = try LogitAdjustedCrossEntropy(priors: [0.5, bad, 0.5])
      }
    }
    for bad in [-1.0, .nan, .infinity] {
      expectError(.invalidParameter(name: "tau", value: bad, requirement: "finite and >= 0")) {
        _ = try LogitAdjustedCrossEntropy(priors: skewedPriors, tau: bad)
      }
    }
    expectError(.noClasses) { _ = try SoftmaxCrossEntropy(classCount: 0) }
    expectCommonBadInputsRejected(
      try SoftmaxCrossEntropy(classCount: 3), logits: softmaxLogits, targets: [0, 2])
  }
}
