import ImbalanceLoss
import Testing

/// Central differences of the gradient: column j's diagonal entry ∂g_j/∂z_j.
private func diagonalByDifferences<L: SoftmaxSecondOrderLoss>(
  _ loss: L, _ z: [Double], _ y: [Int], _ w: [Double]?
) throws -> [Double] {
  let cbrtEpsilon = 6.055454452393343e-06
  var probe = z
  return try z.indices.map { j in
    let h = cbrtEpsilon * max(1, abs(z[j]))
    probe[j] = z[j] + h
    let up = try loss.gradient(logits: probe, targets: y, weights: w)[j]
    probe[j] = z[j] - h
    let down = try loss.gradient(logits: probe, targets: y, weights: w)[j]
    probe[j] = z[j]
    return (up - down) / ((z[j] + h) - (z[j] - h))
  }
}

/// Central differences of the gradient along `v`: (g(z + h v) - g(z - h v)) / 2h = H v.
private func productByDifferences<L: SoftmaxSecondOrderLoss>(
  _ loss: L, _ z: [Double], _ y: [Int], _ w: [Double]?, _ v: [Double]
) throws -> [Double] {
  let h = 6.055454452393343e-06 * max(1, z.map(abs).max()!) / v.map(abs).max()!
  let up = try loss.gradient(logits: zip(z, v).map { $0 + h * $1 }, targets: y, weights: w)
  let down = try loss.gradient(logits: zip(z, v).map { $0 - h * $1 }, targets: y, weights: w)
  return zip(up, down).map { ($0 - $1) / (2 * h) }
}

/// Checks the diagonal and H v of `loss` against differences of its gradient,
/// and the diagonal against H e_j.
private func checkSecondOrder<L: SoftmaxSecondOrderLoss>(
  _ loss: L, _ z: [Double], _ y: [Int], _ w: [Double]?, rng: inout SplitMix64,
  tolerance: Double, _ note: String, sourceLocation: SourceLocation = #_sourceLocation
) throws {
  let (value, gradient, diagonal) = try loss.valueGradientAndHessianDiagonal(
    logits: z, targets: y, weights: w)
  let plain = try loss.valueAndGradient(logits: z, targets: y, weights: w)
  #expect(value == plain.value, sourceLocation: sourceLocation)
  #expect(gradient == plain.gradient, sourceLocation: sourceLocation)
  expectClose(
    diagonal, try diagonalByDifferences(loss, z, y, w), relative: tolerance, note,
    sourceLocation: sourceLocation)
  let v = rng.uniforms(z.count, in: -1...1)
  expectClose(
    try loss.hessianVectorProduct(logits: z, targets: y, weights: w, vector: v),
    try productByDifferences(loss, z, y, w, v), relative: tolerance, note,
    sourceLocation: sourceLocation)
  for j in [0, z.count / 2, z.count - 1] {
    var unit = [Double](repeating: 0, count: z.count)
    unit[j] = 1
    let column = try loss.hessianVectorProduct(logits: z, targets: y, weights: w, vector: unit)
    expectClose(column[j], diagonal[j], relative: 1e-13, floor: 1e-300, "\(note) column \(j)",
      sourceLocation: sourceLocation)
  }
}

@Suite struct SoftmaxSecondOrderTests {
  // Differences of the gradient: the same ε^(2/3) argument as for the gradient
  // tests, relative to the largest Hessian entry; 1e-7 is far below any error
  // in a formula. With scale s the third derivative grows like s³: 1e-5 at s = 8.
  @Test(arguments: [0 as UInt64, 1, 2])
  func crossEntropyLossesMatchDifferencesOfTheGradient(seed: UInt64) throws {
    var rng = SplitMix64(seed: seed)
    let k = 9
    let n = 7
    let z = rng.uniforms(n * k, in: -4...4)
    var y = rng.classes(n, classCount: k)
    y[2] = -1
    let w = rng.uniforms(n, in: 0...2)
    var ce = try SoftmaxCrossEntropy(classCount: k)
    ce.ignoreIndex = -1
    try checkSecondOrder(ce, z, y, w, rng: &rng, tolerance: 1e-7, "CE seed \(seed)")
    var adjusted = try LogitAdjustedCrossEntropy(priors: rng.uniforms(k, in: 0.1...1), tau: 1)
    adjusted.ignoreIndex = -1
    adjusted.labelSmoothing = 0.1
    adjusted.classWeights = rng.uniforms(k, in: 0...2)
    adjusted.reduction = .sum
    try checkSecondOrder(adjusted, z, y, w, rng: &rng, tolerance: 1e-7, "LA seed \(seed)")
    let cosines = rng.uniforms(n * k, in: -1...1)
    var margin = try MarginSoftmaxCrossEntropy(margins: rng.uniforms(k, in: 0...0.5), scale: 8)
    margin.ignoreIndex = -1
    margin.classWeights = rng.uniforms(k, in: 0...2)
    try checkSecondOrder(margin, cosines, y, w, rng: &rng, tolerance: 1e-5, "margin seed \(seed)")
  }

  @Test(arguments: [0.25, 0.5, 1, 2, 5])
  func focalMatchesDifferencesOfTheGradient(gamma: Double) throws {
    var rng = SplitMix64(seed: 77)
    let k = 10
    let n = 8
    var z = rng.uniforms(n * k, in: -5...5)
    z[3 * k] = 14  // a confident row, where q^(gamma - 1) would blow up
    var y = rng.classes(n, classCount: k)
    y[3] = 0
    y[5] = -1
    let w = rng.uniforms(n, in: 0...2)
    var focal = try SoftmaxFocalLoss(classCount: k, gamma: gamma)
    focal.ignoreIndex = -1
    focal.classWeights = rng.uniforms(k, in: 0...2)
    try checkSecondOrder(focal, z, y, w, rng: &rng, tolerance: 1e-7, "seed 77 gamma \(gamma)")
  }

  @Test func diagonalsMatchMpmath() throws {
    // mpmath.diff(f, x, 2) of the row loss at 60 digits (Tests/References/softmax_hessian.py).
    let cases: [(z: [Double], label: Int, gamma: Double, expected: [Double])] = [
      ([1.2, -0.4, 0.3, 2.0], 0, 0,
       [0.19279470759031959631, 0.049886388568219191, 0.094797891229234597163, 0.24352395683774316789]),
      ([1.2, -0.4, 0.3, 2.0], 0, 0.5,
       [0.23978203838616729612, 0.053235642294389979848, 0.10154217098993112165, 0.28042773022961548377]),
      ([1.2, -0.4, 0.3, 2.0], 0, 2,
       [0.44337525684924422949, 0.054316578107763302023, 0.10582083824062340618, 0.40610375614206129026]),
      ([12.0, 0.0, -3.0], 0, 0,
       [6.4500314666764688207e-6, 6.1441349718511259751e-6, 3.0590025383448368735e-7]),
      ([12.0, 0.0, -3.0], 0, 0.5,
       [3.685750139516230679e-8, 3.4554477230951385414e-8, 1.1929742094069951252e-9]),
      ([12.0, 0.0, -3.0], 0, 2,
       [2.4150847022421834579e-15, 2.2278104888765211601e-15, 4.1800788237576550281e-17]),
    ]
    for (z, label, gamma, expected) in cases {
      let loss = try SoftmaxFocalLoss(classCount: z.count, gamma: gamma)
      let diagonal = try loss.valueGradientAndHessianDiagonal(logits: z, targets: [label])
        .hessianDiagonal
      for (got, want) in zip(diagonal, expected) {
        // Each entry to relative accuracy, the small ones of the confident row included.
        expectClose(got, want, relative: 1e-13, "\(z) gamma \(gamma)")
      }
      if gamma == 0 {
        let ce = try SoftmaxCrossEntropy(classCount: z.count)
        let ceDiagonal = try ce.valueGradientAndHessianDiagonal(logits: z, targets: [label])
        #expect(ceDiagonal.hessianDiagonal == diagonal)
      }
    }
  }

  @Test func focalFloorRaisesNegativeEntriesOnly() throws {
    // K = 2, gamma = 2: the label's entry is -0.0154663... at p_t = 0.05 and
    // +0.0045597... at p_t = 0.06 (mpmath, Tests/References/softmax_hessian.py).
    var loss = try SoftmaxFocalLoss(classCount: 2, gamma: 2)
    // p_t = 1 / (1 + e^z1): z1 = log 19 and log(0.94 / 0.06) (Python math.log).
    let z05 = [0, 2.9444389791664403]
    let z06 = [0, 2.751535313041949]
    let exact05 = try loss.valueGradientAndHessianDiagonal(logits: z05, targets: [0])
    let exact06 = try loss.valueGradientAndHessianDiagonal(logits: z06, targets: [0])
    expectClose(exact05.hessianDiagonal[0], -0.015466362035010534084, relative: 1e-12)
    expectClose(exact06.hessianDiagonal[0], 0.0045597166020098556067, relative: 1e-12)
    loss.hessianFloor = 1e-6
    loss.reduction = .sum
    let floored05 = try loss.valueGradientAndHessianDiagonal(
      logits: z05, targets: [0], weights: [3])
    let floored06 = try loss.valueGradientAndHessianDiagonal(
      logits: z06, targets: [0], weights: [3])
    #expect(floored05.hessianDiagonal[0] == 3e-6)  // the floor, then the weight
    #expect(floored06.hessianDiagonal[0] == 3 * exact06.hessianDiagonal[0])
    expectClose(floored05.gradient, exact05.gradient.map { 3 * $0 }, relative: 4e-16)
  }

  @Test func extremeLogitsGiveFiniteSecondDerivatives() throws {
    let z = [1e300, -1e300, 0, -1e300, 1e300, 0]
    let v = [1.0, -2, 0.5, 3, 1, -1]
    let losses: [any SoftmaxSecondOrderLoss] = [
      try SoftmaxCrossEntropy(classCount: 3),
      try SoftmaxFocalLoss(classCount: 3, gamma: 0.5),
      try MarginSoftmaxCrossEntropy(margins: [0.1, 0.2, 0.3], scale: 30),
    ]
    for loss in losses {
      let second = try loss.valueGradientAndHessianDiagonal(logits: z, targets: [0, 2])
      let product = try loss.hessianVectorProduct(logits: z, targets: [0, 2], vector: v)
      // Saturated softmax: p is one-hot, every second derivative is 0.
      #expect(second.hessianDiagonal.allSatisfy { $0 == 0 }, "\(type(of: loss))")
      #expect(product.allSatisfy { $0 == 0 }, "\(type(of: loss))")
    }
  }

  @Test func badInputThrowsAndLeavesBuffersUntouched() throws {
    var loss = try SoftmaxFocalLoss(classCount: 2)
    let z = [0.5, 1.5]
    var gradient = [9.0, 9.0]
    var hessian = [8.0, 8.0]
    var product = [7.0, 7.0]
    func second(_ z: [Double], _ y: [Int], _ hessianCount: Int = 2) throws {
      var h = [Double](repeating: 8, count: hessianCount)
      try z.withUnsafeBufferPointer { zb in
        try y.withUnsafeBufferPointer { yb in
          try gradient.withUnsafeMutableBufferPointer { g in
            try h.withUnsafeMutableBufferPointer { hb in
              _ = try loss.valueGradientAndHessianDiagonal(
                logits: zb, targets: yb, weights: nil, gradient: g, hessianDiagonal: hb)
            }
          }
        }
      }
      hessian = h
    }
    #expect(throws: LossError.lengthMismatch(argument: "hessianDiagonal", expected: 2, actual: 3)) {
      try second(z, [1], 3)
    }
    #expect(throws: LossError.labelOutOfRange(index: 0, label: 7, classCount: 2)) {
      try second(z, [7])
    }
    loss.hessianFloor = .nan
    #expect(throws: LossError.invalidParameter(name: "hessianFloor", value: .nan, requirement: "finite")) {
      try second(z, [1])
    }
    #expect(gradient == [9, 9] && hessian == [8, 8])
    loss.hessianFloor = nil
    func hvp(_ v: [Double], productCount: Int = 2) throws {
      var out = [Double](repeating: 7, count: productCount)
      try z.withUnsafeBufferPointer { zb in
        try [1].withUnsafeBufferPointer { yb in
          try v.withUnsafeBufferPointer { vb in
            try out.withUnsafeMutableBufferPointer { ob in
              _ = try loss.hessianVectorProduct(
                logits: zb, targets: yb, weights: nil, vector: vb, into: ob)
            }
          }
        }
      }
      product = out
    }
    #expect(throws: LossError.lengthMismatch(argument: "vector", expected: 2, actual: 1)) {
      try hvp([1])
    }
    #expect(throws: LossError.lengthMismatch(argument: "product", expected: 2, actual: 3)) {
      try hvp([1, 2], productCount: 3)
    }
    #expect(throws: LossError.invalidParameter(name: "vector[1]", value: .infinity, requirement: "finite")) {
      try hvp([1, .infinity])
    }
    #expect(product == [7, 7])
  }

  @Test func secondOrderIsDeterministicAcrossThreadCounts() throws {
    var rng = SplitMix64(seed: 8)
    let k = 33
    let n = 3000  // 99k logits: above the parallel threshold
    let z = rng.uniforms(n * k, in: -8...8)
    let y = rng.classes(n, classCount: k)
    let w = rng.uniforms(n, in: 0...2)
    let v = rng.uniforms(n * k, in: -1...1)
    var loss = try SoftmaxFocalLoss(classCount: k, gamma: 0.5)
    loss.parallelism = .serial
    let serial = try loss.valueGradientAndHessianDiagonal(logits: z, targets: y, weights: w)
    let serialProduct = try loss.hessianVectorProduct(logits: z, targets: y, weights: w, vector: v)
    loss.parallelism = .maximumThreads(2)
    let parallel = try loss.valueGradientAndHessianDiagonal(logits: z, targets: y, weights: w)
    let parallelProduct = try loss.hessianVectorProduct(
      logits: z, targets: y, weights: w, vector: v)
    #expect(serial.value == parallel.value, "seed 8")
    #expect(serial.hessianDiagonal == parallel.hessianDiagonal, "seed 8")
    #expect(serialProduct == parallelProduct, "seed 8")
  }
}
