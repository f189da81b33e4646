import ImbalanceLoss
import Testing

// The batch of Tests/References/softmax_focal.py: K = 4, row 1 is confident and correct.
private let logits: [Double] = [1.2, -0.4, 0.3, 2.0, 30, 0, -5, 1, -3, 4, 0.5, 0]
private let labels = [0, 0, 2]
private let weights = [1.0, 0.5, 2.0]
private let alpha = [0.25, 1.0, 2.0, 0.5]

/// mpmath at 50 digits (Tests/References/softmax_focal.py): L = Σ v l / Σ v with
/// l = (1 - p_t)^gamma (lse - a_c), v = w α_c; gradient by `mpmath.diff` of L
/// (numerical differentiation at 50 digits, independent of our formula).
private let references: [(gamma: Double, value: Double, gradient: [Double])] = [
  (
    0.25, 3.2917201175496940528,
    [
      -0.043807978516269746491, 0.0031209090137365492599, 0.0062847389761809907437,
      0.034402330526352206488, -9.5655429406533411634e-18, 2.5679173580969511444e-18,
      1.7302491056888832756e-20, 6.9803230914995011862e-18, 0.0008094046064849098789,
      0.88761993005609036378, -0.90468666077192611541, 0.016257326109350841749,
    ]
  ),
  (
    0.5, 3.2631163667895880397,
    [
      -0.044925228750903960295, 0.0032005026504658547256, 0.0064450208776420511906,
      0.035279705222796054379, -8.8199150679746680513e-21, 2.3677498643319092562e-21,
      1.5953773092960209819e-23, 6.4362114305497985853e-21, 0.00082409493793269538907,
      0.90372983463003629874, -0.92110631887202819669, 0.016552389304059202561,
    ]
  ),
  (
    1, 3.2075224589663002042,
    [
      -0.04602745159213784178, 0.0032790257258703858809, 0.0066031469333368341899,
      0.03614527893293062171, -6.9430485558205200872e-27, 1.8638957574303379945e-27,
      1.2558830825385879601e-29, 5.0665939675647962131e-27, 0.00085270908485451764676,
      0.9351090569446501976, -0.95308888583808769552, 0.017127119808582980265,
    ]
  ),
  (
    2, 3.1020532185196196547,
    [
      -0.044966383834493642748, 0.003203434565511613333, 0.0064509250295035210126,
      0.035312024239478508403, -3.6302420842933743564e-39, 9.7455645959541251591e-40,
      6.5665097723702670249e-42, 2.6491191149255915735e-39, 0.00090695299684094518014,
      0.99459472947184154723, -1.013718320374327005, 0.018216637905644512594,
    ]
  ),
  (
    5, 2.8204043745260105137,
    [
      -0.03142059189873594315, 0.0022384234971555242877, 0.0045076313778624695853,
      0.024674537023717949277, 0, 0, 0, 0, 0.0010474124693261175621,
      1.1486272444144513135, -1.1707124987102343358, 0.021037841826456904755,
    ]
  ),
]

@Suite struct SoftmaxFocalLossTests {
  @Test func valuesAndGradientsMatchMpmath() throws {
    for (gamma, value, gradient) in references {
      var loss = try SoftmaxFocalLoss(classCount: 4, gamma: gamma)
      loss.classWeights = alpha
      let got = try loss.valueAndGradient(logits: logits, targets: labels, weights: weights)
      expectClose(got.value, value, relative: 1e-15, "gamma \(gamma)")
      expectClose(got.gradient, gradient, relative: 1e-15, "gamma \(gamma)")
    }
  }

  /// mpmath (Tests/References/softmax_focal.py): row [50, 0, 0], label 0, where
  /// q = 1 - p_t ≈ 3.9e-22: value and its three partial derivatives.
  private let confident: [(gamma: Double, value: Double, gradient: [Double])] = [
    (0, 3.857499695927835566e-22,
     [-3.857499695927835566e-22, 1.928749847963917783e-22, 1.928749847963917783e-22]),
    (0.25, 1.7095522370355919023e-27,
     [-2.1369402962944898779e-27, 1.0684701481472449389e-27, 1.0684701481472449389e-27]),
    (0.5, 7.5763294401256921161e-33,
     [-1.1364494160188538174e-32, 5.682247080094269087e-33, 5.682247080094269087e-33]),
    (1, 1.4880303904083343852e-43,
     [-2.9760607808166687704e-43, 1.4880303904083343852e-43, 1.4880303904083343852e-43]),
    (2, 5.7400767785315283359e-65,
     [-1.7220230335594585008e-64, 8.6101151677972925038e-65, 8.6101151677972925038e-65]),
    (5, 3.2948481423436888199e-129,
     [-1.976908885406213292e-128, 9.8845444270310664598e-129, 9.8845444270310664598e-129]),
  ]

  @Test func confidentCorrectRowKeepsRelativeAccuracyForEveryGamma() throws {
    for (gamma, value, gradient) in confident {
      let loss = try SoftmaxFocalLoss(classCount: 3, gamma: gamma)
      let got = try loss.valueAndGradient(logits: [50, 0, 0], targets: [0])
      // Relative accuracy elementwise: q, log q and q^gamma all come from s'.
      expectClose(got.value, value, relative: 1e-14, "gamma \(gamma)")
      for k in 0..<3 {
        expectClose(got.gradient[k], gradient[k], relative: 1e-14, "gamma \(gamma) [\(k)]")
      }
    }
  }

  @Test func pTEqualToOneGivesZerosNotNaN() throws {
    // [800, 0, 0]: every other exp underflows, s' = 0, q = 0 exactly.
    for gamma in [0, 0.25, 0.5, 1, 2, 5] {
      let loss = try SoftmaxFocalLoss(classCount: 3, gamma: gamma)
      let (value, gradient) = try loss.valueAndGradient(logits: [800, 0, 0], targets: [0])
      #expect(value == 0, "gamma \(gamma)")
      #expect(gradient.allSatisfy { $0 == 0 }, "gamma \(gamma): \(gradient)")
    }
  }

  @Test func gammaZeroIsExactlyCrossEntropy() throws {
    var rng = SplitMix64(seed: 31)
    let k = 17
    let z = rng.uniforms(25 * k, in: -40...40)
    let y = rng.classes(25, classCount: k)
    let w = rng.uniforms(25, in: 0...2)
    var focal = try SoftmaxFocalLoss(classCount: k, gamma: 0)
    var ce = try SoftmaxCrossEntropy(classCount: k)
    focal.classWeights = rng.uniforms(k, in: 0...2)
    ce.classWeights = focal.classWeights
    let a = try focal.valueAndGradient(logits: z, targets: y, weights: w)
    let b = try ce.valueAndGradient(logits: z, targets: y, weights: w)
    #expect(a.value == b.value, "seed 31")
    #expect(a.gradient == b.gradient, "seed 31")
  }

  @Test(arguments: [0 as UInt64, 1, 2])
  func matchesReferenceAndFiniteDifferences(seed: UInt64) throws {
    var rng = SplitMix64(seed: seed)
    let k = 10
    let n = 12
    let z = rng.uniforms(n * k, in: -6...6)
    var y = rng.classes(n, classCount: k)
    y[4] = -100
    let w = rng.uniforms(n, in: 0...2)
    for gamma in [0, 0.25, 0.5, 1, 2, 5] {
      for reduction in [Reduction.mean, .sum] {
        var loss = try SoftmaxFocalLoss(classCount: k, gamma: gamma)
        loss.classWeights = rng.uniforms(k, in: 0...2)
        loss.ignoreIndex = -100
        loss.reduction = reduction
        var reference = SoftmaxReference(classCount: k)
        reference.gamma = gamma
        reference.classWeights = loss.classWeights
        reference.ignoreIndex = -100
        reference.reduction = reduction
        let got = try loss.valueAndGradient(logits: z, targets: y, weights: w)
        let expected = reference.evaluate(logits: z, targets: y, weights: w)
        let note = "seed \(seed) gamma \(gamma) \(reduction)"
        expectClose(got.value, expected.value, relative: 1e-13, note)
        expectClose(got.gradient, expected.gradient, relative: 1e-12, note)
        let numeric = try centralDifferences(at: z) {
          try loss.value(logits: $0, targets: y, weights: w)
        }
        expectClose(got.gradient, numeric, relative: 1e-7, note)
      }
    }
  }

  @Test func extremeLogitsGiveFiniteCorrectResults() throws {
    let loss = try SoftmaxFocalLoss(classCount: 3, gamma: 0.5)
    let z = [1e300, -1e300, -1e300, 1e300, -1e300, -1e300]
    // Row 0 right (p_t = 1): l = 0, gradient 0. Row 1 wrong (p_t = 0, q = 1):
    // l = CE = 2e300, gradient (p - onehot) (q + gamma p CE) = p - onehot.
    let (value, gradient) = try loss.valueAndGradient(logits: z, targets: [0, 1])
    expectClose(value, 2e300 / 2, relative: 1e-15)
    #expect(gradient == [0, 0, 0, 0.5, -0.5, 0])
    let terms = try loss.perSampleValues(logits: z, targets: [0, 1])
    #expect(terms == [0, 2e300])
  }

  @Test func badInputThrows() throws {
    #expect(throws: LossError.noClasses) { try SoftmaxFocalLoss(classCount: 0) }
    for gamma in [-0.5, .nan, .infinity] {
      #expect(throws: LossError.invalidParameter(name: "gamma", value: gamma, requirement: "in [0, 1000]")) {
        try SoftmaxFocalLoss(classCount: 2, gamma: gamma)
      }
    }
    var loss = try SoftmaxFocalLoss(classCount: 2)
    var gradient = [7.0, 7.0]
    loss.classWeights = [1]
    #expect(throws: LossError.lengthMismatch(argument: "classWeights", expected: 2, actual: 1)) {
      try loss.valueAndGradient(logits: [0, 1], targets: [1], gradient: &gradient)
    }
    loss.classWeights = [1, -2]
    #expect(throws: LossError.invalidClassWeight(index: 1, value: -2)) {
      try loss.valueAndGradient(logits: [0, 1], targets: [1], gradient: &gradient)
    }
    loss.classWeights = nil
    #expect(throws: LossError.labelOutOfRange(index: 0, label: 5, classCount: 2)) {
      try loss.valueAndGradient(logits: [0, 1], targets: [5], gradient: &gradient)
    }
    #expect(throws: LossError.nonFiniteLogit(index: 0, value: -.infinity)) {
      try loss.valueAndGradient(logits: [-.infinity, 1], targets: [1], gradient: &gradient)
    }
    #expect(throws: LossError.invalidWeight(index: 0, value: .nan)) {
      try loss.valueAndGradient(logits: [0, 1], targets: [1], weights: [.nan], gradient: &gradient)
    }
    #expect(throws: LossError.zeroTotalWeight) {
      try loss.valueAndGradient(logits: [0, 1], targets: [1], weights: [0], gradient: &gradient)
    }
    #expect(throws: LossError.lengthMismatch(argument: "targets", expected: 1, actual: 2)) {
      try loss.valueAndGradient(logits: [0, 1], targets: [1, 0], gradient: &gradient)
    }
    #expect(gradient == [7, 7])
  }
}
