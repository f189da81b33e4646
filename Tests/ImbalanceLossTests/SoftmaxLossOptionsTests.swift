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
extension MarginSoftmaxCrossEntropy: SoftmaxOptionsSettable {}

@Suite struct SoftmaxLossOptionsTests {
  // Reference values: mpmath at 40 digits, Tests/References/softmax_options.py:
  //   for each row not ignored (PyTorch's convention): a = z + offsets,
  //   t_k = 0.9 a_c [k == c] + 0.1 a_k / 3 with a_k the class weights, A = Σ t,
  //   l = A log Σ exp(a) - Σ t a; mean = Σ w l / Σ w a_c, sum = Σ w l,
  //   ∂/∂z_k = w (A softmax(a)_k - t_k) (/ Σ w a_c for mean).
  @Test func mpmathValuesPlainCrossEntropy() throws {
    let base = try SoftmaxCrossEntropy(classCount: 3)
    let mean = try configured(base, reduction: .mean)
      .valueAndGradient(logits: logits, targets: labels, weights: weights)
    expectClose(mean.value, 3.1934328634065838998, relative: 4e-16)
    expectClose(
      mean.gradient,
      [
        -0.026107788607653707398, 0.0024692818617490690121, 0.023638506745904638386,
        -0.009496028233707300475, 0.094026123008033907317, -0.084530094774326606842,
        0, 0, 0,
        0.65678684831226760447, -0.6878178989353698895, 0.031031050623102285033,
      ], relative: 1e-15)
    let sum = try configured(base, reduction: .sum)
      .valueAndGradient(logits: logits, targets: labels, weights: weights)
    expectClose(sum.value, 12.773731453626335599, relative: 4e-16)
    expectClose(
      sum.gradient,
      [
        -0.10443115443061482959, 0.0098771274469962760483, 0.094554026983618553543,
        -0.0379841129348292019, 0.37610449203213562927, -0.33812037909730642737,
        0, 0, 0,
        2.6271473932490704179, -2.751271595741479558, 0.12412420249240914013,
      ], relative: 1e-15)
  }

  @Test func mpmathValuesLogitAdjusted() throws {
    let base = try LogitAdjustedCrossEntropy(priors: [0.6, 0.3, 0.1], tau: 1)
    let mean = try configured(base, reduction: .mean)
      .valueAndGradient(logits: logits, targets: labels, weights: weights)
    expectClose(mean.value, 3.7285769612112674982, relative: 4e-16)
    expectClose(
      mean.gradient,
      [
        -0.0012410542246285890241, -0.0029601372955176896042, 0.0042011915201462786283,
        -0.001116391886390884185, 0.10616780913247161305, -0.10505141724608072886,
        0, 0, 0,
        0.68989528898659791031, -0.69360574834590488842, 0.003710459359306978115,
      ], relative: 1e-15)
    let sum = try configured(base, reduction: .sum)
      .valueAndGradient(logits: logits, targets: labels, weights: weights)
    expectClose(sum.value, 14.914307844845069993, relative: 4e-16)
    expectClose(
      sum.gradient,
      [
        -0.0049642168985143560963, -0.011840549182070758417, 0.016804766080585114513,
        -0.00446556754556353674, 0.42467123652988645219, -0.42020566898432291545,
        0, 0, 0,
        2.7595811559463916412, -2.7744229933836195537, 0.01484183743722791246,
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
    // By hand, PyTorch's convention: t_j = 0.9 a_c [j == c] + 0.001 a_j, Σ a = 102,
    // A = Σ t, p one-hot at the maximum, l = Σ_j t_j (m - a_j) = 2e300 Σ_{j != max} t_j.
    // Row 0 (label 3, a_c = 1): l = 0.001 · 101 · 2e300; row 1 (label 2, a_c = 3,
    // maximum 7): l = (0.9 · 3 + 0.001 · 101) 2e300. No sample weights.
    let row0 = 0.101 * 2e300
    let row1 = 2.801 * 2e300
    expectClose(value, row0 + row1, relative: 1e-14)
    // Gradients: A p - t, so -0.001 a_j off the maximum, A - t_max at it.
    expectClose(gradient[0], -0.001, relative: 1e-14)
    expectClose(gradient[3], 1.002 - 0.901, relative: 1e-14)
    expectClose(gradient[k + 2], -2.703, relative: 1e-14)
    expectClose(gradient[k + 7], 2.802 - 0.001, relative: 1e-14)
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
