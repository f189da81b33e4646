import ImbalanceLoss
import Testing

// Class weights, label smoothing and an ignored label, alone and combined with
// per-sample weights and both reductions, in the softmax cross-entropy losses.

/// The 4-row batch of the mpmath references below (row 2 is ignored).
private let logits: [Double] = [1.5, -0.3, 0.2, -1.0, 2.0, 0.5, 0.1, 0.1, -2.5, 3.0, -1.0, 0.0]
private let labels = [0, 2, -100, 1]
private let weights = [0.5, 2.0, 7.0, 1.0]
private let classWeights = [1.0, 3.0, 0.25]

private func configured<L: SoftmaxOptionsSettable>(_ loss: L, reduction: Reduction) -> L {
  var loss = loss
  loss.classWeights = classWeights
  loss.labelSmoothing = 0.1
  loss.ignoreIndex = -100
  loss.reduction = reduction
  return loss
}

/// The two losses under test share these settable options.
protocol SoftmaxOptionsSettable: SeparableLoss where Target == Int {
  var classWeights: [Double]? { get set }
  var labelSmoothing: Double { get set }
  var ignoreIndex: Int? { get set }
}
extension SoftmaxCrossEntropy: SoftmaxOptionsSettable {}
extension LogitAdjustedCrossEntropy: SoftmaxOptionsSettable {}

@Suite struct SoftmaxLossOptionsTests {
  // Reference values: mpmath at 40 digits, Tests/References/softmax_options.py:
  //   for each row not ignored: a = z + offsets, t = 0.9 onehot(c) + 0.1/3,
  //   l = log Σ exp(a) - Σ t a, v = w classWeights[c];
  //   mean = Σ v l / Σ v, sum = Σ v l, ∂/∂a_k = v (softmax(a)_k - t_k) (/ Σ v for mean).
  @Test func mpmathValuesPlainCrossEntropy() throws {
    let base = try SoftmaxCrossEntropy(classCount: 3)
    let mean = try configured(base, reduction: .mean)
      .valueAndGradient(logits: logits, targets: labels, weights: weights)
    expectClose(mean.value, 3.2003854448629773839, relative: 4e-16)
    expectClose(
      mean.gradient,
      [
        -0.029730143730014225769, 0.010203843920612439585, 0.019526299809401786184,
        0.00072240499216926482764, 0.094032962656992815595, -0.094755367649162080422,
        0, 0, 0,
        0.67717966390737928917, -0.68713913084085970739, 0.0099594669334804182167,
      ], relative: 1e-15)
    let sum = try configured(base, reduction: .sum)
      .valueAndGradient(logits: logits, targets: labels, weights: weights)
    expectClose(sum.value, 12.801541779451909535, relative: 4e-16)
    expectClose(
      sum.gradient,
      [
        -0.11892057492005690307, 0.04081537568244975834, 0.078105199237607144735,
        0.0028896199686770593105, 0.37613185062797126238, -0.37902147059664832169,
        0, 0, 0,
        2.7087186556295171567, -2.7485565233634388296, 0.039837867733921672867,
      ], relative: 1e-15)
  }

  @Test func mpmathValuesLogitAdjusted() throws {
    let base = try LogitAdjustedCrossEntropy(priors: [0.6, 0.3, 0.1], tau: 1)
    let mean = try configured(base, reduction: .mean)
      .valueAndGradient(logits: logits, targets: labels, weights: weights)
    expectClose(mean.value, 3.7891401157853029964, relative: 4e-16)
    expectClose(
      mean.gradient,
      [
        -0.0058580787223101121298, 0.0049916015296363513133, 0.00086647719267376081647,
        0.0064357934107940941163, 0.10231138501456397859, -0.10874717842535807271,
        0, 0, 0,
        0.71213285640813855633, -0.69324947039450369452, -0.018883386013634861814,
      ], relative: 1e-15)
    let sum = try configured(base, reduction: .sum)
      .valueAndGradient(logits: logits, targets: labels, weights: weights)
    expectClose(sum.value, 15.156560463141211986, relative: 4e-16)
    expectClose(
      sum.gradient,
      [
        -0.023432314889240448519, 0.019966406118545405253, 0.0034659087706950432659,
        0.025743173643176376465, 0.40924554005825591437, -0.43498871370143229084,
        0, 0, 0,
        2.8485314256325542253, -2.7729978815780147781, -0.075533544054539447256,
      ], relative: 1e-15)
  }

  /// Every combination of per-sample weights, class weights, smoothing, ignored
  /// label and reduction, against the reference and finite differences.
  @Test(arguments: [0 as UInt64, 1, 2])
  func combinationsMatchReference(seed: UInt64) throws {
    var rng = SplitMix64(seed: seed)
    let k = 11  // one full SIMD block and a tail of 3
    let n = 9
    let z = rng.uniforms(n * k, in: -4...4)
    var y = rng.classes(n, classCount: k)
    y[2] = -1
    y[5] = 4  // also ignored when ignoreIndex == 4
    y[7] = 4
    let priors = rng.uniforms(k, in: 0.05...1)
    for useWeights in [false, true] {
      for useClassWeights in [false, true] {
        for eps in [0.0, 0.15, 1.0] {
          for ignore in [nil, -1, 4] as [Int?] {
            for reduction in [Reduction.mean, .sum] {
              for adjusted in [false, true] {
                var labels = y
                if ignore != -1 { labels[2] = 3 }
                let w = useWeights ? rng.uniforms(n, in: 0...3) : nil
                var cw = useClassWeights ? rng.uniforms(k, in: 0.1...5) : nil
                if useClassWeights { cw![0] = 0 }  // a zero class weight is allowed
                var reference = SoftmaxReference(classCount: k)
                reference.smoothing = eps
                reference.classWeights = cw
                reference.ignoreIndex = ignore
                reference.reduction = reduction
                let got: (value: Double, gradient: [Double])
                let valueOf: ([Double]) throws -> Double
                if adjusted {
                  var loss = try LogitAdjustedCrossEntropy(priors: priors, tau: 0.7)
                  loss.classWeights = cw
                  loss.labelSmoothing = eps
                  loss.ignoreIndex = ignore
                  loss.reduction = reduction
                  reference.offsets = try ClassPriors(priors).logProbabilities.map { 0.7 * $0 }
                  got = try loss.valueAndGradient(logits: z, targets: labels, weights: w)
                  valueOf = { try loss.value(logits: $0, targets: labels, weights: w) }
                } else {
                  var loss = try SoftmaxCrossEntropy(classCount: k)
                  loss.classWeights = cw
                  loss.labelSmoothing = eps
                  loss.ignoreIndex = ignore
                  loss.reduction = reduction
                  got = try loss.valueAndGradient(logits: z, targets: labels, weights: w)
                  valueOf = { try loss.value(logits: $0, targets: labels, weights: w) }
                }
                let expected = reference.evaluate(logits: z, targets: labels, weights: w)
                let note =
                  "seed \(seed) weights \(useWeights) classWeights \(useClassWeights) eps \(eps) ignore \(String(describing: ignore)) \(reduction) adjusted \(adjusted)"
                expectClose(got.value, expected.value, relative: 1e-13, note)
                expectClose(got.gradient, expected.gradient, relative: 1e-13, note)
                // Central differences: error ~ ε^(2/3) relative to the scale; 1e-7 is
                // far above that and far below any error in a formula.
                expectClose(got.gradient, try centralDifferences(at: z, valueOf), relative: 1e-7, note)
              }
            }
          }
        }
      }
    }
  }

  @Test func ignoredRowsHaveZeroGradientAndTermAndAreNotValidatedAsLabels() throws {
    var loss = try SoftmaxCrossEntropy(classCount: 3)
    loss.ignoreIndex = -100
    let z = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    let (value, gradient) = try loss.valueAndGradient(logits: z, targets: [-100, 1])
    // Only row 1: log(e^4 + e^5 + e^6) - 5 = 1 + log(e^-2 + e^-1 + 1) - ... by hand:
    // log1p(e^-1 + e^-2) + 1 = 1.4076059644443801 (6 - 5 + log(1 + e^-1 + e^-2)).
    expectClose(value, 1.4076059644443801, relative: 1e-15)
    #expect(gradient[0..<3] == [0, 0, 0])
    let terms = try loss.perSampleValues(logits: z, targets: [-100, 1])
    #expect(terms[0] == 0)
    expectClose(terms[1], 1.4076059644443801, relative: 1e-15)
    // An ignore index inside 0..<K skips that class's rows.
    loss.ignoreIndex = 0
    let onlyRowOne = try loss.value(logits: z, targets: [0, 1])
    #expect(onlyRowOne == value)
  }

  @Test func allIgnoredBatchGivesZeroLossAndZeroGradient() throws {
    for reduction in [Reduction.mean, .sum] {
      var loss = try LogitAdjustedCrossEntropy(priors: [1, 2, 3])
      loss.ignoreIndex = -1
      loss.labelSmoothing = 0.2
      loss.classWeights = [1, 2, 3]
      loss.reduction = reduction
      var gradient = [Double](repeating: .nan, count: 6)
      let value = try loss.valueAndGradient(
        logits: [1, 2, 3, 4, 5, 6], targets: [-1, -1], weights: [0, 2], gradient: &gradient)
      #expect(value == 0)
      #expect(gradient == [0, 0, 0, 0, 0, 0])
    }
  }

  @Test func extremeLogitsWithSmoothingStayFinite() throws {
    // K = 100 rows of ±1e300: Σ_k (m - a_k) would overflow, its mean does not.
    let k = 100
    var z = [Double](repeating: -1e300, count: 2 * k)
    z[3] = 1e300  // row 0: label 3 is the maximum
    z[k + 7] = 1e300  // row 1: label 2, the maximum is class 7
    var loss = try SoftmaxCrossEntropy(classCount: k)
    loss.labelSmoothing = 0.1
    loss.classWeights = [Double](repeating: 1, count: k)
    loss.classWeights![2] = 3
    loss.reduction = .sum
    let (value, gradient) = try loss.valueAndGradient(logits: z, targets: [3, 2])
    // By hand: p is one-hot at the maximum. Row 0: l = eps (K-1)/K 2e300;
    // row 1: l = (1 - eps) 2e300 + eps (K-1)/K 2e300 = (0.9 + 0.099) 2e300, weight 3.
    let row0 = 0.1 * 0.99 * 2e300
    let row1 = (0.9 + 0.099) * 2e300
    expectClose(value, row0 + 3 * row1, relative: 1e-14)
    // Gradients: p - t, so -eps/K off the maximum, 1 - t at it, times v.
    expectClose(gradient[0], -0.001, relative: 1e-14)
    expectClose(gradient[3], 0.099, relative: 1e-14)
    expectClose(gradient[k + 2], 3 * -(0.9 + 0.001), relative: 1e-14)
    expectClose(gradient[k + 7], 3 * 0.999, relative: 1e-14)
    #expect(gradient.allSatisfy { $0.isFinite })
  }

  @Test func confidentRowKeepsItsDigitsWithSmoothingAndWeights() throws {
    // Row [40, 0, 0], label 0: l = log1p(2 e^-40), gradient entry -s'/(1 + s'),
    // times v / Σ v = 1. mpmath (dps 30): log1p(2*exp(-40)) =
    // 8.49670851058317795456e-18, 2*exp(-40)/(1+2*exp(-40)) = 8.49670851058317791846e-18.
    var loss = try SoftmaxCrossEntropy(classCount: 3)
    loss.classWeights = [2, 1, 1]
    let (value, gradient) = try loss.valueAndGradient(logits: [40, 0, 0], targets: [0])
    expectClose(value, 8.49670851058317795456e-18, relative: 1e-15)
    expectClose(gradient[0], -8.49670851058317791846e-18, relative: 1e-15)
  }

  @Test func badOptionsThrowAndLeaveTheGradientUntouched() throws {
    let z = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    func expectError(
      _ expected: LossError, targets: [Int] = [0, 1], weights: [Double]? = nil,
      _ configure: (inout SoftmaxCrossEntropy) -> Void,
      sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
      var loss = try SoftmaxCrossEntropy(classCount: 3)
      configure(&loss)
      var gradient = [Double](repeating: 42, count: 6)
      #expect(throws: expected, sourceLocation: sourceLocation) {
        try loss.valueAndGradient(logits: z, targets: targets, weights: weights, gradient: &gradient)
      }
      #expect(gradient == [Double](repeating: 42, count: 6), sourceLocation: sourceLocation)
      if weights == nil {
        #expect(throws: expected, sourceLocation: sourceLocation) {
          try loss.perSampleValues(logits: z, targets: targets)
        }
      }
    }
    try expectError(.lengthMismatch(argument: "classWeights", expected: 3, actual: 2)) {
      $0.classWeights = [1, 2]
    }
    try expectError(.invalidClassWeight(index: 1, value: -1)) { $0.classWeights = [1, -1, 2] }
    try expectError(.invalidClassWeight(index: 2, value: .nan)) { $0.classWeights = [1, 1, .nan] }
    try expectError(.invalidClassWeight(index: 0, value: .infinity)) {
      $0.classWeights = [.infinity, 1, 1]
    }
    for eps in [-0.1, 1.5, Double.nan, .infinity] {
      try expectError(.invalidParameter(name: "labelSmoothing", value: eps, requirement: "in [0, 1]")) {
        $0.labelSmoothing = eps
      }
    }
    // A label that is not the ignore index is still checked.
    try expectError(.labelOutOfRange(index: 1, label: -1, classCount: 3), targets: [-100, -1]) {
      $0.ignoreIndex = -100
    }
    try expectError(.labelOutOfRange(index: 0, label: 3, classCount: 3), targets: [3, 7]) {
      $0.ignoreIndex = 7
    }
    // The weight of an ignored row is still data and still checked.
    try expectError(.invalidWeight(index: 0, value: -1), targets: [5, 1], weights: [-1, 1]) {
      $0.ignoreIndex = 5
    }
  }

  @Test func zeroTotalWeightOfRowsNotIgnoredThrowsForTheMean() throws {
    var loss = try SoftmaxCrossEntropy(classCount: 3)
    loss.classWeights = [0, 0, 1]
    loss.ignoreIndex = 2
    #expect(throws: LossError.zeroTotalWeight) {
      try loss.value(logits: [1, 2, 3, 4, 5, 6], targets: [0, 2])
    }
    #expect(throws: LossError.zeroTotalWeight) {
      try loss.value(logits: [1, 2, 3, 4, 5, 6], targets: [2, 1], weights: [1, 0])
    }
    loss.reduction = .sum
    #expect(try loss.value(logits: [1, 2, 3, 4, 5, 6], targets: [0, 2]) == 0)
  }

  @Test func unitClassWeightsAndZeroSmoothingChangeNothing() throws {
    var rng = SplitMix64(seed: 9)
    let k = 13
    let z = rng.uniforms(20 * k, in: -30...30)
    let y = rng.classes(20, classCount: k)
    let w = rng.uniforms(20, in: 0...2)
    let plain = try SoftmaxCrossEntropy(classCount: k)
    var options = plain
    options.classWeights = [Double](repeating: 1, count: k)
    options.ignoreIndex = -5
    let a = try plain.valueAndGradient(logits: z, targets: y, weights: w)
    let b = try options.valueAndGradient(logits: z, targets: y, weights: w)
    expectClose(b.value, a.value, relative: 4e-16, "seed 9")
    expectClose(b.gradient, a.gradient, relative: 4e-16, "seed 9")
  }

  @Test func optionsAreDeterministicAcrossThreadCounts() throws {
    var rng = SplitMix64(seed: 4)
    let k = 37
    let n = 4000  // 148k logits: above the parallel threshold
    let z = rng.uniforms(n * k, in: -10...10)
    var y = rng.classes(n, classCount: k)
    for i in stride(from: 0, to: n, by: 7) { y[i] = -100 }
    let w = rng.uniforms(n, in: 0...2)
    var loss = try SoftmaxCrossEntropy(classCount: k)
    loss.classWeights = rng.uniforms(k, in: 0.5...2)
    loss.labelSmoothing = 0.05
    loss.ignoreIndex = -100
    loss.parallelism = .serial
    let serial = try loss.valueAndGradient(logits: z, targets: y, weights: w)
    loss.parallelism = .maximumThreads(2)
    let parallel = try loss.valueAndGradient(logits: z, targets: y, weights: w)
    #expect(serial.value == parallel.value, "seed 4")
    #expect(serial.gradient == parallel.gradient, "seed 4")
  }
}
