import ImbalanceLoss
import Testing

/// Central differences of the gradient entry j along coordinate j.
private func diagonalByDifferences(
  _ gradient: ([Double]) throws -> [Double], at z: [Double]
) rethrows -> [Double] {
  let cbrtEpsilon = 6.055454452393343e-06
  var probe = z
  return try z.indices.map { j in
    let h = cbrtEpsilon * max(1, abs(z[j]))
    probe[j] = z[j] + h
    let up = try gradient(probe)[j]
    probe[j] = z[j] - h
    let down = try gradient(probe)[j]
    probe[j] = z[j]
    return (up - down) / ((z[j] + h) - (z[j] - h))
  }
}

/// Central differences of the gradient along v: H v.
private func productByDifferences(
  _ gradient: ([Double]) throws -> [Double], at z: [Double], _ v: [Double]
) rethrows -> [Double] {
  let h = 6.055454452393343e-06 * max(1, z.map(abs).max()!) / v.map(abs).max()!
  let up = try gradient(zip(z, v).map { $0 + h * $1 })
  let down = try gradient(zip(z, v).map { $0 - h * $1 })
  return zip(up, down).map { ($0 - $1) / (2 * h) }
}

private func softmaxLoss(_ c: PolySoftmaxCase) throws -> PolyCrossEntropy {
  var loss = try PolyCrossEntropy(classCount: 4, epsilon: c.epsilon)
  loss.labelSmoothing = c.labelSmoothing
  loss.classWeights = c.classWeights
  loss.ignoreIndex = c.ignoreIndex
  return loss
}

@Suite struct PolyCrossEntropyTests {
  /// Tests/References/poly_loss.py: the paper's formula in torch float64, autograd.
  @Test(arguments: polySoftmaxReference.indices)
  func matchesTorchReference(_ index: Int) throws {
    let c = polySoftmaxReference[index]
    let loss = try softmaxLoss(c)
    let (value, gradient, diagonal) = try loss.valueGradientAndHessianDiagonal(
      logits: polySoftmaxLogits, targets: polySoftmaxLabels, weights: polySoftmaxWeights)
    expectClose(value, c.value, relative: 1e-14, c.name)
    expectClose(gradient, c.gradient, relative: 1e-13, c.name)
    expectClose(diagonal, c.hessianDiagonal, relative: 1e-13, c.name)
  }

  @Test(arguments: [-1.0, -0.6, -0.3, 0.5, 2, 7])
  func secondOrderMatchesDifferences(epsilon: Double) throws {
    var rng = SplitMix64(seed: 15)
    let k = 11  // a full vector and a tail
    let n = 6
    let z = rng.uniforms(n * k, in: -4...4)
    var y = rng.classes(n, classCount: k)
    y[3] = -100
    let w = rng.uniforms(n, in: 0.5...2)
    for (smoothing, classWeights) in [(0.0, nil), (0.15, nil), (0.0, rng.uniforms(k, in: 0...3))] {
      var loss = try PolyCrossEntropy(classCount: k, epsilon: epsilon)
      loss.labelSmoothing = smoothing
      loss.classWeights = classWeights
      loss.ignoreIndex = -100
      let note = "epsilon \(epsilon), smoothing \(smoothing), weights \(classWeights != nil)"
      try expectGradientMatchesFiniteDifferences(
        loss, logits: z, targets: y, weights: w, tolerance: 1e-7, note)
      let gradient = { (x: [Double]) in try loss.gradient(logits: x, targets: y, weights: w) }
      let second = try loss.valueGradientAndHessianDiagonal(logits: z, targets: y, weights: w)
      let first = try loss.valueAndGradient(logits: z, targets: y, weights: w)
      #expect(second.value == first.value && second.gradient == first.gradient, "\(note)")
      expectClose(
        second.hessianDiagonal, try diagonalByDifferences(gradient, at: z), relative: 1e-7, note)
      let v = rng.uniforms(z.count, in: -1...1)
      let product = try loss.hessianVectorProduct(logits: z, targets: y, weights: w, vector: v)
      expectClose(product, try productByDifferences(gradient, at: z, v), relative: 1e-7, note)
      for j in [0, 12, z.count - 1] {
        var unit = [Double](repeating: 0, count: z.count)
        unit[j] = 1
        let column = try loss.hessianVectorProduct(
          logits: z, targets: y, weights: w, vector: unit)
        expectClose(
          column[j], second.hessianDiagonal[j], relative: 1e-13, floor: 1e-300,
          "\(note) column \(j)")
      }
    }
  }

  @Test func epsilonZeroIsExactlyCrossEntropy() throws {
    var rng = SplitMix64(seed: 7)
    let k = 13
    let z = rng.uniforms(20 * k, in: -30...30)
    let y = rng.classes(20, classCount: k)
    let w = rng.uniforms(20, in: 0...2)
    for (smoothing, classWeights) in [(0.0, rng.uniforms(k, in: 0...2)), (0.2, nil)] {
      var poly = try PolyCrossEntropy(classCount: k, epsilon: 0)
      var ce = try SoftmaxCrossEntropy(classCount: k)
      (poly.labelSmoothing, ce.labelSmoothing) = (smoothing, smoothing)
      (poly.classWeights, ce.classWeights) = (classWeights, classWeights)
      let a = try poly.valueGradientAndHessianDiagonal(logits: z, targets: y, weights: w)
      let b = try ce.valueGradientAndHessianDiagonal(logits: z, targets: y, weights: w)
      #expect(a.value == b.value && a.gradient == b.gradient)
      #expect(a.hessianDiagonal == b.hessianDiagonal)
    }
  }

  /// mpmath at 60 digits: `-log p + ε (1 - p)` with ε = -1, where it is
  /// about q²/2 and float64 subtraction would keep no digits.
  @Test func confidentRowsKeepTheirDigitsAtEpsilonMinusOne() throws {
    for (z, c, expected) in polyConfidentSoftmax {
      let loss = try PolyCrossEntropy(classCount: z.count, epsilon: -1)
      let value = try loss.value(logits: z, targets: [c])
      expectClose(value, expected, relative: 2e-15, "\(z)")
    }
    // q = 2e-9: the value is q²/2 = 2e-18, not 0 or a negative rounding.
    let loss = try PolyCrossEntropy(classCount: 2, epsilon: -1)
    let value = try loss.value(logits: [20, 0], targets: [0])
    #expect(value > 1.9e-18 && value < 2.2e-18)
  }

  @Test func extremeLogitsStayFinite() throws {
    let z: [Double] = [1e300, -1e300, 0, -1e300, 1e300, 5, 1.7e308, -1.7e308, 0]
    for epsilon in [-1.0, 0.5, 1000] {
      for smoothing in [0.0, 0.3] {
        var loss = try PolyCrossEntropy(classCount: 3, epsilon: epsilon)
        loss.labelSmoothing = smoothing
        loss.reduction = .sum
        for y in [[0, 0, 0], [1, 2, 1], [2, 1, 2]] {
          let r = try loss.valueGradientAndHessianDiagonal(
            logits: z, targets: y, weights: [1e-300, 1, 0.5])
          let hv = try loss.hessianVectorProduct(
            logits: z, targets: y, weights: nil, vector: [1, -1, 2, 0, 3, -4, 1e300, 1, -1])
          let note = "epsilon \(epsilon), smoothing \(smoothing), labels \(y)"
          #expect(r.value.isFinite && r.value >= 0, "\(note): \(r.value)")
          #expect(r.gradient.allSatisfy { $0.isFinite }, "\(note): \(r.gradient)")
          #expect(r.hessianDiagonal.allSatisfy { $0.isFinite }, "\(note): \(r.hessianDiagonal)")
          #expect(hv.allSatisfy { $0.isFinite }, "\(note): \(hv)")
          let terms = try loss.perSampleValues(logits: z, targets: y)
          #expect(terms.allSatisfy { $0 >= 0 }, "\(note): \(terms)")
        }
      }
    }
  }

  @Test func valueIsNonNegativeDownToEpsilonMinusOne() throws {
    var rng = SplitMix64(seed: 3)
    let k = 5
    let z = rng.uniforms(200 * k, in: -40...40)
    let y = rng.classes(200, classCount: k)
    for smoothing in [0.0, 0.1, 1] {
      var loss = try PolyCrossEntropy(classCount: k, epsilon: -1)
      loss.labelSmoothing = smoothing
      let terms = try loss.perSampleValues(logits: z, targets: y)
      #expect(terms.allSatisfy { $0 >= 0 }, "smoothing \(smoothing)")
    }
  }

  @Test func badParametersThrow() throws {
    for epsilon in [Double.nan, .infinity, -.infinity, -1.0000001, 1000.5] {
      expectError(
        .invalidParameter(name: "epsilon", value: epsilon, requirement: "in [-1, 1000]"),
        "\(epsilon)"
      ) { _ = try PolyCrossEntropy(classCount: 3, epsilon: epsilon) }
    }
    expectError(.noClasses) { _ = try PolyCrossEntropy(classCount: 0) }
    var loss = try PolyCrossEntropy(classCount: 3)
    loss.classWeights = [1, 2, 3]
    loss.labelSmoothing = 0.1
    expectError(
      .invalidParameter(
        name: "labelSmoothing", value: 0.1,
        requirement: "0 when classWeights are set (PolyCrossEntropy)")
    ) { _ = try loss.value(logits: [1, 2, 3], targets: [0]) }
    expectCommonBadInputsRejected(
      try PolyCrossEntropy(classCount: 3, epsilon: 2), logits: [1, 2, 3, 0, 0, 1],
      targets: [0, 2])
    expectError(.labelOutOfRange(index: 1, label: 3, classCount: 3)) {
      _ = try PolyCrossEntropy(classCount: 3).value(logits: [1, 2, 3, 0, 0, 1], targets: [0, 3])
    }
  }
}

@Suite struct BinaryPolyLossTests {
  /// Tests/References/poly_loss.py: the paper's sigmoid formula in torch float64.
  @Test(arguments: polyBinaryReference.indices)
  func matchesTorchReference(_ index: Int) throws {
    let c = polyBinaryReference[index]
    let loss = BinaryPolyLoss(
      epsilon: c.epsilon, positiveWeight: c.positiveWeight, negativeWeight: c.negativeWeight)
    let (value, gradient, diagonal) = try loss.valueGradientAndHessianDiagonal(
      logits: polyBinaryLogits, targets: polyBinaryTargets, weights: polyBinaryWeights)
    let note = "epsilon \(c.epsilon)"
    expectClose(value, c.value, relative: 1e-14, note)
    expectClose(gradient, c.gradient, relative: 1e-13, note)
    expectClose(diagonal, c.hessianDiagonal, relative: 1e-13, note)
  }

  @Test(arguments: [-1.0, -0.4, 0.7, 3])
  func secondOrderMatchesDifferences(epsilon: Double) throws {
    var rng = SplitMix64(seed: 8)
    let n = 21
    let z = rng.uniforms(n, in: -6...6)
    let y = rng.uniforms(n, in: 0...1).enumerated().map { $0.offset % 3 == 0 ? $0.element : ($0.element < 0.5 ? 0 : 1) }
    let w = rng.uniforms(n, in: 0.5...2)
    for (aPos, aNeg) in [(1.0, 1.0), (3, 0.5)] {
      let loss = BinaryPolyLoss(epsilon: epsilon, positiveWeight: aPos, negativeWeight: aNeg)
      let note = "epsilon \(epsilon), weights \(aPos), \(aNeg)"
      try expectGradientMatchesFiniteDifferences(
        loss, logits: z, targets: y, weights: w, tolerance: 1e-7, note)
      let second = try loss.valueGradientAndHessianDiagonal(logits: z, targets: y, weights: w)
      let first = try loss.valueAndGradient(logits: z, targets: y, weights: w)
      #expect(second.value == first.value && second.gradient == first.gradient, "\(note)")
      let differences = try diagonalByDifferences(
        { try loss.gradient(logits: $0, targets: y, weights: w) }, at: z)
      expectClose(second.hessianDiagonal, differences, relative: 1e-7, note)
    }
  }

  @Test func confidentSamplesKeepTheirDigitsAtEpsilonMinusOne() throws {
    let loss = BinaryPolyLoss(epsilon: -1)
    for (z, y, expected) in polyConfidentBinary {
      let value = try loss.value(logits: [z], targets: [y])
      expectClose(value, expected, relative: 2e-15, "z \(z), y \(y)")
    }
  }

  @Test func extremeLogitsStayFinite() throws {
    let z: [Double] = [1e300, -1e300, 1.7e308, -1.7e308, 0, 40, -40, 1e300, -1e300]
    let y: [Double] = [0, 1, 1, 0, 0.5, 0, 1, 1, 0]
    for epsilon in [-1.0, 0, 2.5, 1000] {
      var loss = BinaryPolyLoss(epsilon: epsilon, positiveWeight: 2, negativeWeight: 1)
      loss.reduction = .sum
      let r = try loss.valueGradientAndHessianDiagonal(
        logits: z, targets: y, weights: [1e-300, 1, 1, 1, 1, 1, 1, 1, 1])
      #expect(r.value.isFinite && r.value >= 0, "epsilon \(epsilon): \(r.value)")
      #expect(r.gradient.allSatisfy { $0.isFinite }, "epsilon \(epsilon): \(r.gradient)")
      #expect(r.hessianDiagonal.allSatisfy { $0.isFinite }, "epsilon \(epsilon): \(r.hessianDiagonal)")
      let terms = try loss.perSampleValues(logits: z, targets: y)
      #expect(terms.allSatisfy { $0 >= 0 && $0.isFinite }, "epsilon \(epsilon): \(terms)")
    }
  }

  @Test func valueIsNonNegativeDownToEpsilonMinusOne() throws {
    var rng = SplitMix64(seed: 4)
    let z = rng.uniforms(500, in: -45...45)
    let y = rng.uniforms(500, in: 0...1).map { $0 < 0.3 ? 0 : ($0 > 0.7 ? 1 : $0) }
    let terms = try BinaryPolyLoss(epsilon: -1).perSampleValues(logits: z, targets: y)
    #expect(terms.allSatisfy { $0 >= 0 })
  }

  @Test func badParametersThrow() throws {
    for epsilon in [Double.nan, .infinity, -1.5, 1001] {
      expectError(
        .invalidParameter(name: "epsilon", value: epsilon, requirement: "in [-1, 1000]"),
        "\(epsilon)"
      ) { _ = try BinaryPolyLoss(epsilon: epsilon).value(logits: [1], targets: [1]) }
    }
    expectError(
      .invalidParameter(name: "positiveWeight", value: -1, requirement: "finite and >= 0")
    ) { _ = try BinaryPolyLoss(positiveWeight: -1).value(logits: [1], targets: [1]) }
    var floored = BinaryPolyLoss()
    floored.hessianFloor = .nan
    expectError(.invalidParameter(name: "hessianFloor", value: .nan, requirement: "finite")) {
      _ = try floored.valueGradientAndHessianDiagonal(logits: [1], targets: [1])
    }
    expectCommonBadInputsRejected(BinaryPolyLoss(epsilon: 2), logits: [1, -2], targets: [1, 0])
    expectError(.targetOutOfRange(index: 1, value: 1.5)) {
      _ = try BinaryPolyLoss().value(logits: [1, 2], targets: [0, 1.5])
    }
  }
}
