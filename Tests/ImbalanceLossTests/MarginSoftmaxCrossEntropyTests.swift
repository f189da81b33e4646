import ImbalanceLoss
import Testing

// Cosine-like logits of the mpmath references below.
private let cosines: [Double] = [0.8, 0.1, -0.3, 0.2, 0.7, 0.6, -0.5, 0.3, 0.35, 0.9, -0.9, 0.1]
private let labels = [0, 2, 2, 1]

@Suite struct MarginSoftmaxCrossEntropyTests {
  @Test func ldamMarginsMatchMpmath() throws {
    // mpmath: 0.5 * root(min(n) / n_k, 4) for n = [100, 10, 1] (Tests/References/softmax_margin.py);
    // numpy agrees: 0.5 * (1 / np.array([100, 10, 1])) ** 0.25.
    let margins = try MarginSoftmaxCrossEntropy.ldamMargins(classCounts: [100, 10, 1])
    expectClose(margins[0], 0.1581138830084189666, relative: 2e-16)
    expectClose(margins[1], 0.2811706625951745402, relative: 2e-16)
    #expect(margins[2] == 0.5)
    let scaled = try MarginSoftmaxCrossEntropy.ldamMargins(
      classCounts: [16, 1, 81], largestMargin: 2)
    // (1/16)^(1/4) = 1/2 and (1/81)^(1/4) = 1/3 exactly: margins 1, 2, 2/3.
    #expect(scaled[0] == 1)
    #expect(scaled[1] == 2)
    expectClose(scaled[2], 2.0 / 3, relative: 2e-16)
  }

  @Test func ldamValueAndGradientMatchMpmath() throws {
    // mpmath at 40 digits (Tests/References/softmax_margin.py): a_k = 30 (z_k - m_c [k == c]),
    // l = log Σ exp(a) - a_c, mean over the 4 rows, ∂/∂z_k = 30 (softmax_k - [k == c]) / 4.
    let loss = try MarginSoftmaxCrossEntropy.ldam(classCounts: [100, 10, 1])
    #expect(loss.scale == 30)
    let (value, gradient) = try loss.valueAndGradient(logits: cosines, targets: labels)
    expectClose(value, 23.483780414272262136, relative: 1e-15)
    expectClose(
      gradient,
      [
        -6.5300932202705475716e-7, 6.5300530982376334908e-7, 4.0122032914080824057e-12,
        2.2942666670005650807e-6, 7.4999975915085215954, -7.4999998857751885959,
        2.8313470264415044906e-10, 7.4999897175378142517, -7.4999897178209489543,
        7.4999999997168649092, -7.5, 2.831350908102434593e-10,
      ], relative: 1e-15)
  }

  @Test func ldamWithAdjustmentClassWeightsAndSmoothingMatchesMpmath() throws {
    // mpmath (Tests/References/softmax_margin.py): a_k = 30 (z_k - m_c [k == c]) + log π_k,
    // π = [0.6, 0.3, 0.1], class weights a = [1, 2, 4] with smoothing 0.05 as PyTorch
    // weighs them: t_k = 0.95 a_c [k == c] + 0.05 a_k / 3, l = (Σ t) logsumexp(a) - Σ t a, sum.
    let margins = try MarginSoftmaxCrossEntropy.ldamMargins(classCounts: [100, 10, 1])
    var loss = try MarginSoftmaxCrossEntropy(
      margins: margins, scale: 30, priors: ClassPriors([0.6, 0.3, 0.1]), tau: 1)
    loss.classWeights = [1, 2, 4]
    loss.labelSmoothing = 0.05
    loss.reduction = .sum
    let (value, gradient) = try loss.valueAndGradient(logits: cosines, targets: labels)
    expectClose(value, 257.2584818782328491, relative: 1e-15)
    expectClose(
      gradient,
      [
        2.9999986069190919404, -0.99999860692194506286, -1.9999999999971468775,
        -0.4999281129990278175, 116.49992751649185579, -115.99999940349282797,
        -0.4999999911284378758, 116.49994629525543017, -115.99994630412699229,
        59.9999999996193406, -58.0, -1.9999999996193406001,
      ], relative: 1e-15)
  }

  @Test(arguments: [0 as UInt64, 1, 2, 3])
  func matchesReferenceAndFiniteDifferences(seed: UInt64) throws {
    var rng = SplitMix64(seed: seed)
    let k = 10
    let n = 12
    let z = rng.uniforms(n * k, in: -1...1)
    var y = rng.classes(n, classCount: k)
    y[3] = -1
    let w = rng.uniforms(n, in: 0...2)
    let margins = rng.uniforms(k, in: 0...0.6)
    for scale in [1.0, 16, 30] {
      for eps in [0.0, 0.2] {
        for useClassWeights in [false, true] {
          var loss = try MarginSoftmaxCrossEntropy(margins: margins, scale: scale)
          loss.labelSmoothing = eps
          loss.ignoreIndex = -1
          loss.classWeights = useClassWeights ? rng.uniforms(k, in: 0.2...3) : nil
          var reference = SoftmaxReference(classCount: k)
          reference.scale = scale
          reference.margins = margins
          reference.smoothing = eps
          reference.ignoreIndex = -1
          reference.classWeights = loss.classWeights
          let got = try loss.valueAndGradient(logits: z, targets: y, weights: w)
          let expected = reference.evaluate(logits: z, targets: y, weights: w)
          let note = "seed \(seed) scale \(scale) eps \(eps) classWeights \(useClassWeights)"
          // The reference rounds s (z - m) differently from s z - s m: a few ulps of
          // a logit of size s, relative to a loss of order 1.
          expectClose(got.value, expected.value, relative: 1e-13, note)
          expectClose(got.gradient, expected.gradient, relative: 1e-13, note)
          let numeric = try centralDifferences(at: z) {
            try loss.value(logits: $0, targets: y, weights: w)
          }
          // With s = 30 the third derivative is s^3 larger: the FD truncation error
          // h^2 s^3 ~ 1e-6 relative; still far below a wrong formula's error.
          expectClose(got.gradient, numeric, relative: scale > 1 ? 1e-5 : 1e-7, note)
        }
      }
    }
  }

  @Test func additiveMarginIsOneMarginForEveryClass() throws {
    let am = try MarginSoftmaxCrossEntropy.additiveMargin(0.35, classCount: 3, scale: 30)
    #expect(am.margins == [0.35, 0.35, 0.35])
    // Row [0.9, 0.2, 0.1], label 0, by hand: a = 30 [0.55, 0.2, 0.1] = [16.5, 6, 3];
    // l = log1p(e^-10.5 + e^-13.5) = 2.89069906250518665e-5 for the decimals;
    // the doubles nearest 0.9, 0.2, 0.1 and 0.35 shift the exponents by ~1e-15,
    // so the reference is for them: mpmath (dps 40), z = [mpf(0.9), mpf(0.2),
    // mpf(0.1)], a = 30 [z0 - mpf(0.35), z1, z2], log1p(Σ_{k>0} exp(a_k - a_0))
    // = 2.890699062505183740508e-5.
    let value = try am.value(logits: [0.9, 0.2, 0.1], targets: [0])
    expectClose(value, 2.890699062505183740508e-5, relative: 1e-15)
  }

  @Test func unitScaleAndZeroMarginsAreSoftmaxCrossEntropy() throws {
    var rng = SplitMix64(seed: 21)
    let k = 9
    let z = rng.uniforms(15 * k, in: -20...20)
    let y = rng.classes(15, classCount: k)
    let margin = try MarginSoftmaxCrossEntropy(margins: [Double](repeating: 0, count: k), scale: 1)
    let plain = try SoftmaxCrossEntropy(classCount: k)
    let a = try margin.valueAndGradient(logits: z, targets: y)
    let b = try plain.valueAndGradient(logits: z, targets: y)
    #expect(a.value == b.value, "seed 21")
    #expect(a.gradient == b.gradient, "seed 21")
  }

  @Test func extremeLogitsGiveFiniteCorrectResults() throws {
    // s = 30 and logits ±1e300: a = ±3e301, still finite differences.
    let loss = try MarginSoftmaxCrossEntropy(margins: [0.5, 0.5], scale: 30)
    let (value, gradient) = try loss.valueAndGradient(
      logits: [1e300, -1e300, 1e300, -1e300], targets: [0, 1])
    // Row 0 correct and confident: l = 0; row 1 wrong: l = 30 (2e300 + 0.5) = 6e301.
    expectClose(value, 6e301 / 2, relative: 1e-15)
    #expect(gradient == [0, 0, 15, -15])
    // Beyond the range the scaled logits can represent: a clear error.
    #expect(
      throws: LossError.invalidParameter(
        name: "scale", value: 30,
        requirement: "small enough that |scale * logit| + |offset| + scale * margin < 2^1022")
    ) {
      try loss.value(logits: [1e307, 0], targets: [0])
    }
    // The same check inside the vectorised part of the scan, for a negative logit.
    var wide = [Double](repeating: 0, count: 16)
    wide[5] = -1e307
    #expect(throws: LossError.self) {
      try loss.value(logits: wide, targets: [Int](repeating: 0, count: 8))
    }
    wide[5] = -1e300
    #expect(try loss.value(logits: wide, targets: [Int](repeating: 0, count: 8)).isFinite)
  }

  @Test func badParametersThrow() throws {
    #expect(throws: LossError.noClasses) { try MarginSoftmaxCrossEntropy(margins: []) }
    #expect(throws: LossError.noClasses) {
      try MarginSoftmaxCrossEntropy.additiveMargin(0.3, classCount: 0)
    }
    for s in [0.0, -1, .nan, .infinity] {
      #expect(throws: LossError.invalidParameter(name: "scale", value: s, requirement: "finite and > 0")) {
        try MarginSoftmaxCrossEntropy(margins: [0.1, 0.2], scale: s)
      }
    }
    let requirement = "finite and >= 0, with scale * margin finite"
    for m in [-0.1, .nan, .infinity] {
      #expect(throws: LossError.invalidParameter(name: "margins[1]", value: m, requirement: requirement)) {
        try MarginSoftmaxCrossEntropy(margins: [0.1, m])
      }
    }
    #expect(throws: LossError.invalidParameter(name: "margins[0]", value: 1e307, requirement: requirement)) {
      try MarginSoftmaxCrossEntropy(margins: [1e307], scale: 100)
    }
    #expect(throws: LossError.lengthMismatch(argument: "priors", expected: 2, actual: 3)) {
      try MarginSoftmaxCrossEntropy(margins: [0.1, 0.2], priors: ClassPriors([1, 2, 3]))
    }
    #expect(throws: LossError.invalidParameter(name: "tau", value: -1, requirement: "finite and >= 0")) {
      try MarginSoftmaxCrossEntropy(margins: [0.1, 0.2], tau: -1)
    }
    // A class with no samples has no LDAM margin: an error, not an infinite margin.
    #expect(throws: LossError.invalidClassCount(index: 1, count: 0)) {
      try MarginSoftmaxCrossEntropy.ldam(classCounts: [10, 0, 3])
    }
    #expect(throws: LossError.invalidClassCount(index: 0, count: -2)) {
      try MarginSoftmaxCrossEntropy.ldamMargins(classCounts: [-2])
    }
    #expect(throws: LossError.noClasses) { try MarginSoftmaxCrossEntropy.ldam(classCounts: []) }
    #expect(throws: LossError.invalidParameter(name: "largestMargin", value: -0.5, requirement: "finite and >= 0")) {
      try MarginSoftmaxCrossEntropy.ldam(classCounts: [1, 2], largestMargin: -0.5)
    }
    // Data errors are the shared ones, and leave the gradient untouched.
    let loss = try MarginSoftmaxCrossEntropy(margins: [0.1, 0.2])
    var gradient = [1.0, 2.0]
    #expect(throws: LossError.labelOutOfRange(index: 0, label: 2, classCount: 2)) {
      try loss.valueAndGradient(logits: [0.1, 0.2], targets: [2], gradient: &gradient)
    }
    #expect(throws: LossError.nonFiniteLogit(index: 1, value: .nan)) {
      try loss.valueAndGradient(logits: [0.1, .nan], targets: [1], gradient: &gradient)
    }
    #expect(gradient == [1, 2])
  }
}
