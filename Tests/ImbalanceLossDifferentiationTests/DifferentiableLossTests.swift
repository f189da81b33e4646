#if canImport(_Differentiation)
import _Differentiation
import ImbalanceLoss
import ImbalanceLossDifferentiation
import Testing

/// A linear layer `z_i = W x_i + b` from `D` inputs to `K` outputs, for a batch
/// of `N` rows: `x` is N×D and the result N×K, both row-major. Written with
/// plain loops, so that Swift's automatic differentiation (not a hand-written
/// derivative) takes the gradient through it.
struct Linear: Differentiable {
  /// `W`, K×D row-major.
  var weight: [Double]
  /// `b`, K entries.
  var bias: [Double]

  @differentiable(reverse)
  func callAsFunction(_ x: [Double]) -> [Double] {
    let k = withoutDerivative(at: bias.count)
    let d = withoutDerivative(at: weight.count) / k
    let n = withoutDerivative(at: x.count) / d
    var z: [Double] = []
    for i in 0..<n {
      for c in 0..<k {
        var s = bias[c]
        for j in 0..<d {
          s = s + weight[c * d + j] * x[i * d + j]
        }
        z.append(s)
      }
    }
    return z
  }

  /// The parameters as one vector: `W` then `b`.
  var flattened: [Double] { weight + bias }

  /// The layer with parameters `p` (laid out as ``flattened``).
  func with(_ p: [Double]) -> Linear {
    Linear(weight: Array(p[..<weight.count]), bias: Array(p[weight.count...]))
  }
}

/// A fixed batch and layer: N rows of D inputs feeding K outputs.
struct Fixture {
  var x: [Double]
  var layer: Linear

  /// A given batch and layer.
  init(x: [Double], layer: Linear) {
    self.x = x
    self.layer = layer
  }

  /// Seeded values in [-1, 1): x (N×D), W (K×D) and b (K).
  init(rows n: Int, inputs d: Int, outputs k: Int, seed: UInt64) {
    var state = seed
    func next() -> Double {
      // SplitMix64, the 53 high bits as a double in [-1, 1).
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      z ^= z >> 31
      return Double(z >> 11) * 0x1p-52 - 1
    }
    x = (0..<(n * d)).map { _ in next() }
    layer = Linear(
      weight: (0..<(k * d)).map { _ in next() }, bias: (0..<k).map { _ in next() })
  }

  /// `∂L/∂W` and `∂L/∂b` by the chain rule from the logits' gradient `g`
  /// (N×K): `∂L/∂W_cj = Σ_i g_ic x_ij`, `∂L/∂b_c = Σ_i g_ic`; as one vector.
  func chainRule(_ g: [Double]) -> [Double] {
    let k = layer.bias.count
    let d = layer.weight.count / k
    let n = x.count / d
    var dw = [Double](repeating: 0, count: k * d)
    var db = [Double](repeating: 0, count: k)
    for i in 0..<n {
      for c in 0..<k {
        db[c] += g[i * k + c]
        for j in 0..<d { dw[c * d + j] += g[i * k + c] * x[i * d + j] }
      }
    }
    return dw + db
  }
}

/// The central difference `(f(p + h e_j) - f(p - h e_j)) / 2h` for every j,
/// with `h = 1e-5 max(1, |p_j|)` (error about 1e-10 relative for these smooth,
/// O(1) losses).
func numericGradient(at p: [Double], _ f: ([Double]) throws -> Double) rethrows -> [Double] {
  var q = p
  var result: [Double] = []
  for j in p.indices {
    let h = 1e-5 * max(1, abs(p[j]))
    q[j] = p[j] + h
    let up = try f(q)
    q[j] = p[j] - h
    let down = try f(q)
    q[j] = p[j]
    result.append((up - down) / ((p[j] + h) - (p[j] - h)))
  }
  return result
}

/// Expects `a` and `b` to agree within `tolerance` relative to their largest entry.
func expectAgree(
  _ a: [Double], _ b: [Double], tolerance: Double, _ what: String,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(a.count == b.count, "\(what): lengths", sourceLocation: sourceLocation)
  let scale = max(b.map(abs).max() ?? 0, .leastNormalMagnitude)
  let worst = zip(a, b).map { abs($0 - $1) / scale }.max() ?? 0
  #expect(worst <= tolerance, "\(what): error \(worst)\n\(a)\n\(b)", sourceLocation: sourceLocation)
}

/// Checks `valueWithGradient` through `fixture.layer` and `f` against the
/// chain rule with the loss's own gradient (to rounding) and against central
/// differences of the loss's value.
func checkThroughLinearLayer<L: Loss>(
  _ loss: L, targets: [L.Target], weights: [Double]? = nil, fixture: Fixture,
  sourceLocation: SourceLocation = #_sourceLocation
) throws {
  let f = try loss.differentiable(targets: targets, weights: weights)
  let x = fixture.x
  let (value, tangent) = valueWithGradient(at: fixture.layer) { m in f(m(x)) }
  let automatic = tangent.weight.base + tangent.bias.base

  let logits = fixture.layer(x)
  #expect(f.logitCount == logits.count, sourceLocation: sourceLocation)
  let (expected, g) = try loss.valueAndGradient(logits: logits, targets: targets, weights: weights)
  #expect(value == expected, "value", sourceLocation: sourceLocation)
  #expect(f(logits) == expected, "value-only call", sourceLocation: sourceLocation)
  expectAgree(
    automatic, fixture.chainRule(g), tolerance: 1e-14, "chain rule",
    sourceLocation: sourceLocation)

  let numeric = try numericGradient(at: fixture.layer.flattened) { p in
    try loss.value(logits: fixture.layer.with(p)(x), targets: targets, weights: weights)
  }
  expectAgree(automatic, numeric, tolerance: 1e-7, "finite differences", sourceLocation: sourceLocation)
}

@Suite struct DifferentiableLossTests {
  @Test func binaryCrossEntropyThroughALinearLayer() throws {
    let fixture = Fixture(rows: 6, inputs: 3, outputs: 1, seed: 1)
    try checkThroughLinearLayer(
      BinaryCrossEntropy(positiveWeight: 3), targets: [1, 0, 0, 1, 0.3, 0],
      weights: [1, 2, 0.5, 1, 1, 3], fixture: fixture)
    var focal = BinaryFocalLoss(gamma: 2)
    focal.reduction = .sum
    try checkThroughLinearLayer(focal, targets: [1, 0, 0, 1, 1, 0], fixture: fixture)
  }

  @Test func softmaxLossesWithIntLabelsThroughALinearLayer() throws {
    let fixture = Fixture(rows: 5, inputs: 4, outputs: 3, seed: 2)
    let labels = [0, 2, 1, 0, 2]
    try checkThroughLinearLayer(
      SoftmaxCrossEntropy(classCount: 3), targets: labels, fixture: fixture)
    try checkThroughLinearLayer(
      LogitAdjustedCrossEntropy(priors: [0.7, 0.2, 0.1]), targets: labels,
      weights: [1, 0.5, 2, 1, 1], fixture: fixture)
  }

  @Test func batchStatisticLossThroughALinearLayer() throws {
    // Every logit's gradient depends on the whole batch.
    let fixture = Fixture(rows: 8, inputs: 2, outputs: 1, seed: 3)
    let y: [Double] = [1, 0, 0, 1, 0, 0, 1, 0]
    try checkThroughLinearLayer(SmoothF1Loss(), targets: y, fixture: fixture)
    try checkThroughLinearLayer(SoftDiceLoss(), targets: y, weights: [1, 1, 2, 1, 1, 1, 1, 3], fixture: fixture)
  }

  @Test func multiLabelLossesThroughALinearLayer() throws {
    // 4 rows of 3 labels: one target per logit, either per entry (binary
    // cross-entropy) or per row of L logits (categorical).
    let fixture = Fixture(rows: 4, inputs: 3, outputs: 3, seed: 4)
    let y: [Double] = [1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1]
    try checkThroughLinearLayer(
      MultiLabelBinaryCrossEntropy(positiveWeights: [1, 4, 2]), targets: y, fixture: fixture)
    try checkThroughLinearLayer(
      MultiLabelCategoricalCrossEntropy(labelCount: 3), targets: y,
      weights: [1, 2, 1, 0.5], fixture: fixture)
    try checkThroughLinearLayer(AsymmetricLoss(), targets: y, fixture: fixture)
  }

  @Test func combinedLossThroughALinearLayer() throws {
    let fixture = Fixture(rows: 6, inputs: 3, outputs: 1, seed: 5)
    let loss = CombinedLoss<Double>([(0.5, SoftDiceLoss()), (1, BinaryCrossEntropy())])
    try checkThroughLinearLayer(loss, targets: [1, 0, 0, 1, 0, 0], fixture: fixture)
  }

  @Test func float32LogitsGetTheRoundedExactGradient() throws {
    // Float targets for a binary loss, Int labels for a softmax one.
    let bce = try BinaryCrossEntropy(positiveWeight: 3)
      .differentiable(targets: [1, 0, 1] as [Float], weights: [1, 0.5, 2] as [Float])
    let zb: [Float] = [0.5, -1.25, 3]
    let (value, g) = valueWithGradient(at: zb, of: bce.callAsFunction)
    let exact = try BinaryCrossEntropy(positiveWeight: 3).valueAndGradient(
      logits: zb.map { Double($0) }, targets: [1, 0, 1], weights: [1, 0.5, 2])
    #expect(value == Float(exact.value))
    #expect(g.base == exact.gradient.map { Float($0) })

    let ce = try SoftmaxCrossEntropy(classCount: 3).differentiable(targets: [0, 2])
    let zs: [Float] = [2, 0.5, -1, 0.1, 0.2, 0.3]
    let gs = gradient(at: zs) { z in 2 * ce(z) }
    let exactSoftmax = try SoftmaxCrossEntropy(classCount: 3).valueAndGradient(
      logits: zs.map { Double($0) }, targets: [0, 2])
    #expect(gs.base == exactSoftmax.gradient.map { 2 * Float($0) })
    // The Double call of the same function agrees to Float's precision.
    #expect(abs(ce(zs) - Float(ce(zs.map { Double($0) }))) == 0)

    // A stateful loss's factory with Float weights.
    let seesaw = try SeesawLoss(classCount: 3)
    var state = seesaw.makeState()
    let step = try seesaw.differentiable(targets: [0, 2], weights: [1, 2] as [Float], state: &state)
    var reference = seesaw.makeState()
    let exactStep = try seesaw.valueAndGradient(
      logits: zs.map { Double($0) }, targets: [0, 2], weights: [1, 2], state: &reference)
    #expect(gradient(at: zs, of: step.callAsFunction).base == exactStep.gradient.map { Float($0) })
    #expect(state == reference)
    let eql = try EqualizationLossV2(classCount: 3)
    let eqlStep = try eql.differentiable(
      targets: [0, 3], weights: [0.5, 1] as [Float], state: eql.makeState())
    var eqlState = eql.makeState()
    let exactEQL = try eql.valueAndGradient(
      logits: zs.map { Double($0) }, targets: [0, 3], weights: [0.5, 1], state: &eqlState)
    #expect(eqlStep(zs) == Float(exactEQL.value))
  }

  @Test func pullbackScalesTheGradientByTheCotangent() throws {
    let z = [2.0, 0.5, -1.0, 0.1, 0.2, 0.3]
    let loss = try SoftmaxCrossEntropy(classCount: 3)
    let f = try loss.differentiable(targets: [0, 2])
    let (value, pullback) = valueWithPullback(at: z, of: f.callAsFunction)
    let (expected, g) = try loss.valueAndGradient(logits: z, targets: [0, 2])
    #expect(value == expected)
    #expect(Array(pullback(1).base) == g)
    #expect(Array(pullback(-2.5).base) == g.map { -2.5 * $0 })
    #expect(Array(gradient(at: z, of: f.callAsFunction).base) == g)
  }

  @Test func badTargetsAndWeightsThrowAtTheFactory() throws {
    let bce = BinaryCrossEntropy()
    #expect(throws: LossError.targetOutOfRange(index: 1, value: 1.5)) {
      try bce.differentiable(targets: [1, 1.5, 0])
    }
    #expect(throws: LossError.invalidWeight(index: 2, value: -1)) {
      try bce.differentiable(targets: [1, 0, 0], weights: [1, 1, -1])
    }
    #expect(throws: LossError.lengthMismatch(argument: "weights", expected: 3, actual: 2)) {
      try bce.differentiable(targets: [1, 0, 0], weights: [1, 1])
    }
    #expect(throws: LossError.zeroTotalWeight) {
      try bce.differentiable(targets: [1, 0], weights: [0, 0])
    }
    #expect(throws: LossError.emptyBatch) { try bce.differentiable(targets: []) }
    let softmax = try SoftmaxCrossEntropy(classCount: 3)
    #expect(throws: LossError.labelOutOfRange(index: 1, label: 3, classCount: 3)) {
      try softmax.differentiable(targets: [0, 3])
    }
    // One target per logit, but not a whole number of rows: the error of the
    // per-sample reading (3 labels per row want 7 × 3 targets).
    let multiLabel = try MultiLabelCategoricalCrossEntropy(labelCount: 3)
    #expect(throws: LossError.lengthMismatch(argument: "targets", expected: 21, actual: 7)) {
      try multiLabel.differentiable(targets: [1, 0, 0, 1, 0, 1, 0])
    }
    #expect(throws: LossError.targetNotBinary(index: 4, value: 0.5)) {
      try multiLabel.differentiable(targets: [1, 0, 0, 1, 0.5, 1])
    }
  }

  @Test func logitFailuresThrowFromTheCheckedCall() throws {
    let f = try BinaryCrossEntropy().differentiable(targets: [1, 0, 1])
    #expect(f.logitCount == 3)
    #expect(throws: LossError.nonFiniteLogit(index: 1, value: .nan)) {
      try f.valueAndGradient(logits: [0, .nan, 1])
    }
    #expect(throws: LossError.lengthMismatch(argument: "logits", expected: 3, actual: 2)) {
      try f.valueAndGradient(logits: [0, 1])
    }
    let r = try f.valueAndGradient(logits: [0.5, -1, 2])
    let expected = try BinaryCrossEntropy().valueAndGradient(
      logits: [0.5, -1, 2], targets: [1, 0, 1])
    #expect(r.value == expected.value && r.gradient == expected.gradient)
  }

  @Test func aNonFiniteLogitStopsTheDifferentiableCall() async {
    await #expect(processExitsWith: .failure) {
      let f = try! BinaryCrossEntropy().differentiable(targets: [1, 0])
      _ = gradient(at: [0.0, Double.infinity], of: f.callAsFunction)
    }
    await #expect(processExitsWith: .failure) {
      let f = try! BinaryCrossEntropy().differentiable(targets: [1, 0])
      _ = f([0.0, 1, 2])
    }
  }

  @Test func seesawFactoryTakesTheStepAndFreezesIt() throws {
    let loss = try SeesawLoss(classCount: 3)
    var state = SeesawLoss.State(classCounts: [40, 5, 1])
    let start = state
    let labels = [0, 2, 1, 0]
    let f = try loss.differentiable(targets: labels, state: &state)
    let fixture = Fixture(rows: 4, inputs: 2, outputs: 3, seed: 6)
    let logits = fixture.layer(fixture.x)

    var stepped = start
    let (value, g) = try loss.valueAndGradient(logits: logits, targets: labels, state: &stepped)
    #expect(state == stepped)  // the factory took the step
    let (automaticValue, tangent) = valueWithGradient(at: fixture.layer) { m in f(m(fixture.x)) }
    #expect(automaticValue == value)
    expectAgree(tangent.weight.base + tangent.bias.base, fixture.chainRule(g), tolerance: 1e-14, "chain rule")
    #expect(f(logits) == value)  // calls repeat the same step
    #expect(state == stepped)

    var untouched = start
    #expect(throws: LossError.labelOutOfRange(index: 0, label: 5, classCount: 3)) {
      try loss.differentiable(targets: [5], state: &untouched)
    }
    #expect(untouched == start)
  }

  @Test func equalizationFactoryHoldsTheState() throws {
    let loss = try EqualizationLossV2(classCount: 3)
    let state = EqualizationLossV2.State(
      positiveGradients: [3, 0.5, 0.1], negativeGradients: [2, 4, 6], stepCount: 10)
    let labels = [0, 3, 1, 2]
    let f = try loss.differentiable(targets: labels, weights: [1, 2, 1, 1], state: state)
    let fixture = Fixture(rows: 4, inputs: 2, outputs: 3, seed: 7)
    let logits = fixture.layer(fixture.x)
    var stepped = state
    let (value, g) = try loss.valueAndGradient(
      logits: logits, targets: labels, weights: [1, 2, 1, 1], state: &stepped)
    let (automaticValue, tangent) = valueWithGradient(at: fixture.layer) { m in f(m(fixture.x)) }
    #expect(automaticValue == value)
    expectAgree(tangent.weight.base + tangent.bias.base, fixture.chainRule(g), tolerance: 1e-14, "chain rule")
    // Advancing the state afterwards, as documented, gives the step's state.
    var advanced = state
    _ = try loss.value(logits: logits, targets: labels, weights: [1, 2, 1, 1], state: &advanced)
    #expect(advanced == stepped)
    #expect(throws: LossError.invalidWeight(index: 0, value: -1)) {
      try loss.differentiable(targets: [0], weights: [-1], state: state)
    }
  }

  @Test func articleExampleTrainsTheModel() throws {
    // snippet: docc-differentiable-swift
    // A linear model, one logit per sample: z_i = w · x_i + b.
    struct Model: Differentiable {
      var w: [Double]
      var b: Double

      @differentiable(reverse, wrt: self)
      func callAsFunction(_ x: [[Double]]) -> [Double] {
        var z: [Double] = []
        for row in withoutDerivative(at: x) {
          var s = b
          for j in withoutDerivative(at: row.indices) { s += w[j] * row[j] }
          z.append(s)
        }
        return z
      }
    }

    let x: [[Double]] = [[1, 2], [0.5, -1], [-2, 0.3], [1.5, 0.5]]
    // Targets and weights are checked here: a bad one throws a LossError.
    let loss = try BinaryCrossEntropy(positiveWeight: 3)
      .differentiable(targets: [1, 0, 0, 1])
    var model = Model(w: [0.1, -0.2], b: 0)
    for _ in 0..<200 {
      let (value, 𝛁model) = valueWithGradient(at: model) { m in loss(m(x)) }
      model.w = zip(model.w, 𝛁model.w.base).map { $0 - 0.5 * $1 }
      model.b -= 0.5 * 𝛁model.b
      _ = value
    }
    // end-snippet
    let start = loss(Model(w: [0.1, -0.2], b: 0)(x))
    let end = loss(model(x))
    #expect(end < start / 4, "\(start) -> \(end)")
    // The model's gradient is the chain rule through the loss's gradient.
    let (_, g) = try BinaryCrossEntropy(positiveWeight: 3).valueAndGradient(
      logits: model(x), targets: [1, 0, 0, 1])
    let tangent = gradient(at: model) { m in loss(m(x)) }
    for j in 0..<2 {
      let expected = (0..<4).reduce(0.0) { $0 + g[$1] * x[$1][j] }
      #expect(abs(tangent.w.base[j] - expected) <= 1e-15 * max(1, abs(expected)))
    }
    #expect(abs(tangent.b - g.reduce(0, +)) <= 1e-15)
  }

  @Test func readmeQuickStart() throws {
    let model = Linear(weight: [0.5, -1, 0.2, 0.3, 0.1, -0.4], bias: [0, 0.1, -0.1])
    let x: [Double] = [1, 2, -1, 0.5]  // two rows of two inputs
    // snippet: readme-differentiable
    let loss = try SoftmaxCrossEntropy(classCount: 3).differentiable(targets: [0, 2])
    let (value, 𝛁model) = valueWithGradient(at: model) { m in loss(m(x)) }
    // end-snippet
    let (expected, g) = try SoftmaxCrossEntropy(classCount: 3).valueAndGradient(
      logits: model(x), targets: [0, 2])
    #expect(value == expected)
    let fixture = Fixture(x: x, layer: model)
    expectAgree(𝛁model.weight.base + 𝛁model.bias.base, fixture.chainRule(g), tolerance: 1e-14, "chain rule")
  }
}
#endif
