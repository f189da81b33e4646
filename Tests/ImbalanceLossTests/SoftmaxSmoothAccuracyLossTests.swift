import ImbalanceLoss
import Testing

@Suite struct SoftmaxSmoothAccuracyLossTests {
  @Test func valueAndGradientMatchMpmath() throws {
    // Tests/References/softmax_smooth_accuracy.py (mpmath, 40 digits; gradient by mpmath.diff).
    var loss = try SoftmaxSmoothAccuracyLoss(classCount: 4)
    loss.classWeights = [0.25, 1, 2, 0.5]
    let (value, gradient) = try loss.valueAndGradient(
      logits: [1.2, -0.4, 0.3, 2.0, 30, 0, -5, 1, -3, 4, 0.5, 0], targets: [0, 0, 2],
      weights: [1, 0.5, 2])
    expectClose(value, 0.93021562897793573553, relative: 1e-15)
    expectClose(
      gradient,
      [
        -0.01101684043373254836, 0.00078484691092888307553, 0.00158048759183287824,
        0.0086515059309707870449, -9.9592373171961636948e-15, 2.6736065625239002771e-15,
        1.8014619314693125128e-17, 7.2676161353575702926e-15, 0.0000228605745496718245,
        0.025069664071895850515, -0.02555169156064824006, 0.0004591669142027177209,
      ], relative: 1e-15)
  }

  @Test func confidentRowKeepsItsDigits() throws {
    // 1 - p for [40, 0, 0], label 0: mpmath 2e^-40 / (1 + 2e^-40) = 8.4967085105831779185e-18.
    let loss = try SoftmaxSmoothAccuracyLoss(classCount: 3)
    let value = try loss.value(logits: [40, 0, 0], targets: [0])
    expectClose(value, 8.4967085105831779185e-18, relative: 1e-15)
  }

  @Test(arguments: [0 as UInt64, 1, 2])
  func matchesReferenceAndFiniteDifferences(seed: UInt64) throws {
    var rng = SplitMix64(seed: seed)
    let k = 12
    let n = 10
    let z = rng.uniforms(n * k, in: -5...5)
    var y = rng.classes(n, classCount: k)
    y[6] = -3
    let w = rng.uniforms(n, in: 0...2)
    for reduction in [Reduction.mean, .sum] {
      for useClassWeights in [false, true] {
        var loss = try SoftmaxSmoothAccuracyLoss(classCount: k)
        loss.reduction = reduction
        loss.ignoreIndex = -3
        loss.classWeights = useClassWeights ? rng.uniforms(k, in: 0...3) : nil
        var reference = SoftmaxReference(classCount: k)
        reference.accuracy = true
        reference.reduction = reduction
        reference.ignoreIndex = -3
        reference.classWeights = loss.classWeights
        let got = try loss.valueAndGradient(logits: z, targets: y, weights: w)
        let expected = reference.evaluate(logits: z, targets: y, weights: w)
        let note = "seed \(seed) \(reduction) classWeights \(useClassWeights)"
        expectClose(got.value, expected.value, relative: 1e-14, note)
        expectClose(got.gradient, expected.gradient, relative: 1e-13, note)
        let numeric = try centralDifferences(at: z) {
          try loss.value(logits: $0, targets: y, weights: w)
        }
        expectClose(got.gradient, numeric, relative: 1e-7, note)
      }
    }
  }

  @Test func extremeLogitsGiveFiniteCorrectResults() throws {
    let loss = try SoftmaxSmoothAccuracyLoss(classCount: 3)
    // Right row: 1 - p = 0; wrong row: 1 - p = 1; p (1 - p) = 0 so the gradient is 0.
    let (value, gradient) = try loss.valueAndGradient(
      logits: [1e300, -1e300, 0, -1e300, 1e300, 0], targets: [0, 2])
    #expect(value == 0.5)
    #expect(gradient.allSatisfy { $0 == 0 })
  }

  @Test func badInputThrows() throws {
    #expect(throws: LossError.noClasses) { try SoftmaxSmoothAccuracyLoss(classCount: -1) }
    var loss = try SoftmaxSmoothAccuracyLoss(classCount: 2)
    var gradient = [3.0, 3.0]
    #expect(throws: LossError.labelOutOfRange(index: 0, label: 2, classCount: 2)) {
      try loss.valueAndGradient(logits: [0, 1], targets: [2], gradient: &gradient)
    }
    loss.classWeights = [1, .nan]
    #expect(throws: LossError.invalidClassWeight(index: 1, value: .nan)) {
      try loss.valueAndGradient(logits: [0, 1], targets: [1], gradient: &gradient)
    }
    loss.classWeights = nil
    #expect(throws: LossError.nonFiniteLogit(index: 1, value: .infinity)) {
      try loss.valueAndGradient(logits: [0, .infinity], targets: [1], gradient: &gradient)
    }
    #expect(throws: LossError.logitCountNotMultipleOfClassCount(logitCount: 3, classCount: 2)) {
      try loss.value(logits: [0, 1, 2], targets: [1])
    }
    #expect(throws: LossError.emptyBatch) { try loss.value(logits: [], targets: []) }
    #expect(gradient == [3, 3])
  }
}
