import ImbalanceLoss
import Testing

/// Central differences of the gradient's own entry, `∂g_j/∂z_j`, for every j.
func hessianByDifferences<L: SecondOrderLoss>(
  _ loss: L, logits z: [Double], targets y: [L.Target], weights w: [Double]?
) throws -> [Double] {
  try z.indices.map { j in
    try centralDifferences(at: [z[j]]) { x in
      var probe = z
      probe[j] = x[0]
      return try loss.gradient(logits: probe, targets: y, weights: w)[j]
    }[0]
  }
}

/// Checks a second-order loss on seeded random batches: the Hessian diagonal
/// against central differences of the gradient (tolerance 1e-7 relative to the
/// largest entry: the differences are good to about ε^(2/3) ≈ 4e-11 of the
/// gradient's scale), and value and gradient against the first-order call, bit for bit.
func checkSecondOrder<L: SecondOrderLoss>(
  _ loss: L, seed: UInt64, count: Int = 21, range: ClosedRange<Double> = -8...8,
  sourceLocation: SourceLocation = #_sourceLocation
) throws where L.Target == Double {
  var rng = SplitMix64(seed: seed)
  let z = rng.uniforms(count, in: range)
  let y = rng.uniforms(count, in: 0...1).map { $0 < 0.3 ? 0 : ($0 > 0.7 ? 1 : $0) }
  let w = rng.uniforms(count, in: 0...3)
  for weights in [nil, w] {
    let r = try loss.valueGradientAndHessianDiagonal(logits: z, targets: y, weights: weights)
    let first = try loss.valueAndGradient(logits: z, targets: y, weights: weights)
    #expect(r.value == first.value, "seed \(seed)", sourceLocation: sourceLocation)
    #expect(r.gradient == first.gradient, "seed \(seed)", sourceLocation: sourceLocation)
    let fd = try hessianByDifferences(loss, logits: z, targets: y, weights: weights)
    expectClose(r.hessianDiagonal, fd, relative: 1e-7, "seed \(seed)",
      sourceLocation: sourceLocation)
  }
}

@Suite struct SecondOrderBinaryLossesTests {
  @Test func hessiansMatchDifferencesOfTheGradient() throws {
    for seed: UInt64 in [1, 2, 3] {
      for reduction in [Reduction.mean, .sum] {
        var bce = BinaryCrossEntropy(positiveWeight: 3, negativeWeight: 0.5)
        bce.reduction = reduction
        try checkSecondOrder(bce, seed: seed)
        var accuracy = SmoothAccuracyLoss()
        accuracy.reduction = reduction
        try checkSecondOrder(accuracy, seed: seed)
        var f1 = F1WeightedCrossEntropy(f1: 0.4)
        f1.reduction = reduction
        try checkSecondOrder(f1, seed: seed)
      }
    }
    // A batch longer than one block (64) and not a multiple of 8 exercises the tail.
    try checkSecondOrder(BinaryCrossEntropy(), seed: 4, count: 77)
  }

  @Test func crossEntropyHessianMatchesMpmath() throws {
    // mpmath (mp.dps = 50): h_i = (w_i/W)(a y_i + b (1 - y_i)) p_i (1 - p_i),
    // a = 3, b = 0.5, z = [2, -1, 0.5, -3], y = [1, 0, 0.3, 0.8], w = [1, 2, 0.5, 1.5].
    let loss = BinaryCrossEntropy(positiveWeight: 3, negativeWeight: 0.5)
    let r = try loss.valueGradientAndHessianDiagonal(
      logits: [2, -1, 0.5, -3], targets: [1, 0, 0.3, 0.8], weights: [1, 2, 0.5, 1.5])
    expectClose(r.value, 2.4120092808322479, relative: 4e-16)
    let g = [-0.071521753213270534, 0.053788284273999024, -0.012192583599768179,
      -0.68443059511682491]
    let h = [0.06299615124210391, 0.039322386648296371, 0.029375464025199311,
      0.033882494798184099]
    for j in 0..<4 {
      expectClose(r.gradient[j], g[j], relative: 4e-15)
      expectClose(r.hessianDiagonal[j], h[j], relative: 4e-15)
    }
  }

  @Test func smoothAccuracyHessianMatchesMpmath() throws {
    // mpmath (mp.dps = 50): h_i = w_i (1 - 2 y_i) p_i (1 - p_i) (1 - 2 p_i), sum reduction.
    var loss = SmoothAccuracyLoss()
    loss.reduction = .sum
    let r = try loss.valueGradientAndHessianDiagonal(
      logits: [2, -1, 0.5, -3], targets: [1, 0, 0.3, 0.8], weights: [1, 2, 0.5, 1.5])
    let h = [0.079962501056153063, 0.18171549534589682, -0.011511358970464148,
      -0.036802417194849131]
    for j in 0..<4 { expectClose(r.hessianDiagonal[j], h[j], relative: 1e-14) }
  }

  @Test func smoothAccuracyHessianKeepsItsDigitsNearZero() throws {
    // mpmath (mp.dps = 50): -p q (q - p) for y = 1, with p = 1/(1+exp(-z)) and
    // q = 1/(1+exp(z)) formed apart. Near z = 0 the factor 1 - 2p = -tanh(z/2)
    // is tiny, and q - p would lose its digits to cancellation; both sides of
    // the series/subtraction switch at |z| = 1/8 are included.
    let z = [1e-10, -1e-3, 0.1, -0.124, 0.126, 0.2, -1.5, 5]
    let h = [1.25e-11, -0.00012499995833334219, 0.012458421721467844, -0.015420816212805328,
      0.015666931416963371, 0.024669480438633143, -0.094730212784752674,
      0.0065590677663225629]
    var loss = SmoothAccuracyLoss()
    loss.reduction = .sum
    let r = try loss.valueGradientAndHessianDiagonal(
      logits: z, targets: [Double](repeating: 1, count: z.count))
    // 8e-16: a few roundings, and at most 3 bits lost just above |z| = 1/8.
    for j in z.indices { expectClose(r.hessianDiagonal[j], h[j], relative: 8e-16, "z \(z[j])") }
  }

  @Test func f1WeightedHessianHoldsTheBatchF1Constant() throws {
    // With f1: nil the Hessian is the one at the batch's F, frozen: equal to the
    // loss given that F explicitly.
    var rng = SplitMix64(seed: 11)
    let z = rng.uniforms(30, in: -4...4)
    let y = rng.labels(30, positiveRate: 0.3)
    let f = try SmoothF1Loss().f1(logits: z, targets: y)
    let batch = try F1WeightedCrossEntropy().valueGradientAndHessianDiagonal(
      logits: z, targets: y)
    let fixed = try F1WeightedCrossEntropy(f1: f).valueGradientAndHessianDiagonal(
      logits: z, targets: y)
    #expect(batch.hessianDiagonal == fixed.hessianDiagonal)
    #expect(batch.value == fixed.value)
    // And it is BCE's Hessian with a_pos = 1 - F/2, a_neg = F/2.
    let bce = try BinaryCrossEntropy(positiveWeight: 1 - f / 2, negativeWeight: f / 2)
      .valueGradientAndHessianDiagonal(logits: z, targets: y)
    #expect(batch.hessianDiagonal == bce.hessianDiagonal)
  }

  @Test func extremeLogitsGiveFiniteExactHessians() throws {
    // mpmath: p(1-p) at |z| = 40 is 4.248354255291589e-18, at |z| = 700 is
    // 9.8596765437597709e-305 (computed as sigmoid(z) sigmoid(-z)).
    var bce = BinaryCrossEntropy()
    bce.reduction = .sum
    let z = [40.0, -40, 700, -700, 1e300, -1e300, Double.greatestFiniteMagnitude]
    let y = [1.0, 0, 0.5, 1, 1, 0, 0]
    let r = try bce.valueGradientAndHessianDiagonal(logits: z, targets: y)
    let h = [4.248354255291589e-18, 4.248354255291589e-18, 9.8596765437597709e-305,
      9.8596765437597709e-305, 0, 0, 0]
    for j in z.indices { expectClose(r.hessianDiagonal[j], h[j], relative: 1e-14) }
    // Gradient p - y: -q(40), p(-40), 1 - 1/2, p(-700) - 1, 0, 0, 1; the value is
    // dominated by softplus(max) = max (the other terms round away).
    let g = [-4.248354255291589e-18, 4.248354255291589e-18, 0.5, -1, 0, 0, 1]
    for j in z.indices { expectClose(r.gradient[j], g[j], relative: 1e-15) }
    #expect(r.value == .greatestFiniteMagnitude)

    var accuracy = SmoothAccuracyLoss()
    accuracy.reduction = .sum
    let a = try accuracy.valueGradientAndHessianDiagonal(logits: z, targets: y)
    // (1 - 2y) p q (q - p): y = 1 at z = 40 gives -(-p q) = +p q, y = 0 at z = -40
    // gives +p q, y = 1/2 gives 0, y = 1 at z = -700 gives -p q (mpmath above).
    let ha = [4.248354255291589e-18, 4.248354255291589e-18, 0, -9.8596765437597709e-305,
      0, 0, 0]
    for j in z.indices { expectClose(a.hessianDiagonal[j], ha[j], relative: 1e-14) }
    #expect(a.hessianDiagonal.allSatisfy { $0.isFinite })
  }

  @Test func badInputThrowsAndLeavesBuffersUntouched() throws {
    let loss = BinaryCrossEntropy()
    var g = [Double](repeating: 7, count: 3)
    var h = [Double](repeating: 7, count: 2)
    let z = [0.5, 1, -1]
    let y = [1.0, 0, 1]
    func call(_ z: [Double], _ y: [Double], _ w: [Double]? = nil) throws(LossError) -> Double {
      try withUnsafeBuffers(z, y, w, &g, &h) { (z, y, w, g, h) throws(LossError) in
        try loss.valueGradientAndHessianDiagonal(
          logits: z, targets: y, weights: w, gradient: g, hessianDiagonal: h)
      }
    }
    #expect(throws: LossError.lengthMismatch(argument: "hessianDiagonal", expected: 3, actual: 2)) {
      try call(z, y)
    }
    h = [7, 7, 7]
    #expect(throws: LossError.nonFiniteLogit(index: 1, value: .nan)) { try call([0, .nan, 1], y) }
    #expect(throws: LossError.targetOutOfRange(index: 2, value: 1.5)) { try call(z, [0, 1, 1.5]) }
    #expect(throws: LossError.invalidWeight(index: 0, value: -1)) { try call(z, y, [-1, 1, 1]) }
    #expect(throws: LossError.zeroTotalWeight) { try call(z, y, [0, 0, 0]) }
    #expect(throws: LossError.lengthMismatch(argument: "targets", expected: 3, actual: 2)) {
      try call(z, [0, 1])
    }
    #expect(g == [7, 7, 7] && h == [7, 7, 7])
    #expect(throws: LossError.emptyBatch) {
      try loss.valueGradientAndHessianDiagonal(logits: [], targets: [])
    }
    #expect(throws: LossError.invalidParameter(
      name: "positiveWeight", value: -1, requirement: "finite and >= 0")) {
      try BinaryCrossEntropy(positiveWeight: -1).valueGradientAndHessianDiagonal(
        logits: z, targets: y)
    }
    #expect(throws: LossError.invalidParameter(name: "f1", value: 2, requirement: "in [0, 1]")) {
      try F1WeightedCrossEntropy(f1: 2).valueGradientAndHessianDiagonal(logits: z, targets: y)
    }
  }
}

/// Runs `body` over the buffers of two inputs, optional weights and two outputs
/// (which may have any count, so that length checks can be exercised).
func withUnsafeBuffers<T, R>(
  _ z: [Double], _ y: [T], _ w: [Double]?, _ g: inout [Double], _ h: inout [Double],
  _ body: (
    UnsafeBufferPointer<Double>, UnsafeBufferPointer<T>, UnsafeBufferPointer<Double>?,
    UnsafeMutableBufferPointer<Double>, UnsafeMutableBufferPointer<Double>
  ) throws(LossError) -> R
) throws(LossError) -> R {
  try z.withUnsafeBufferPointer { (z) throws(LossError) in
    try y.withUnsafeBufferPointer { (y) throws(LossError) in
      try g.withUnsafeMutableBufferPointer { (g) throws(LossError) in
        try h.withUnsafeMutableBufferPointer { (h) throws(LossError) in
          if let w {
            return try w.withUnsafeBufferPointer { (w) throws(LossError) in
              try body(z, y, w, g, h)
            }
          }
          return try body(z, y, nil, g, h)
        }
      }
    }
  }
}
