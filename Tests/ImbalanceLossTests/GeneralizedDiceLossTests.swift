import ImbalanceLoss
import Testing

// GeneralizedDiceLoss against MONAI (Fixtures/PyTorchReference.swift, written
// by Scripts/pytorch_reference.py), finite differences, weights and extremes.

private func weighting(_ name: String) -> GeneralizedDiceLoss.Weighting {
  switch name {
  case "simple": return .simple
  case "uniform": return .uniform
  default: return .square
  }
}

@Test func generalizedDiceMatchesMonai() throws {
  #expect(monaiGeneralizedDiceCases.count == 18)
  for c in monaiGeneralizedDiceCases {
    var loss = try GeneralizedDiceLoss(classCount: c.classCount)
    loss.weighting = weighting(c.weighting)
    loss.smoothing = c.smoothing
    let (value, gradient) = try loss.valueAndGradient(logits: c.logits, targets: c.labels)
    let name = "K \(c.classCount) \(c.weighting) ε \(c.smoothing)"
    // MONAI forms the class weights in float32 (`w_func(ground_o.float())`):
    // its ratio carries their rounding, about 1e-8 relative.
    let tolerance = c.weighting == "uniform" ? 1e-13 : 2e-7
    expectClose(value, c.value, relative: tolerance, floor: 1e-300, name)
    expectClose(gradient, c.gradient, relative: tolerance, name)
  }
}

@Test func generalizedDiceGradientMatchesFiniteDifferences() throws {
  var rng = SplitMix64(seed: 15)
  let k = 4
  let n = 7
  let z = rng.uniforms(n * k, in: -3...3)
  let y = [0, 1, 1, 2, 0, 0, 1]  // class 3 absent
  let w = rng.uniforms(n, in: 0.2...2)
  for kind in [GeneralizedDiceLoss.Weighting.square, .simple, .uniform] {
    var loss = try GeneralizedDiceLoss(classCount: k)
    loss.weighting = kind
    loss.smoothing = 0.01
    let (_, gradient) = try loss.valueAndGradient(logits: z, targets: y, weights: w)
    var slopes: [Double] = []
    for j in z.indices {
      var up = z
      var down = z
      let h = 1e-6
      up[j] += h
      down[j] -= h
      let slope =
        (try loss.value(logits: up, targets: y, weights: w)
          - loss.value(logits: down, targets: y, weights: w)) / (2 * h)
      slopes.append(slope)
    }
    // Relative to the largest entry: central differences are good to ~1e-10 absolute.
    expectClose(gradient, slopes, relative: 1e-6, "\(kind)")
  }
}

@Test func generalizedDiceIntegerWeightsAreRepeatedRowsAndScaleFree() throws {
  let z: [Double] = [1, 0, -1, 0.5, 2, 0, -1, 0, 3]
  let y = [0, 1, 2]
  var loss = try GeneralizedDiceLoss(classCount: 3)
  loss.smoothing = 0
  let weighted = try loss.valueAndGradient(logits: z, targets: y, weights: [2, 1, 3])
  let rows: [Double] = [1, 0, -1, 1, 0, -1, 0.5, 2, 0, -1, 0, 3, -1, 0, 3, -1, 0, 3]
  let repeated = try loss.valueAndGradient(logits: rows, targets: [0, 0, 1, 2, 2, 2])
  expectClose(weighted.value, repeated.value, relative: 1e-15)
  // With ε = 0 the ratio does not depend on the weights' scale.
  let scaled = try loss.valueAndGradient(logits: z, targets: y, weights: [2e-300, 1e-300, 3e-300])
  expectClose(scaled.value, weighted.value, relative: 1e-15)
  expectClose(scaled.gradient, weighted.gradient, relative: 1e-14)
}

@Test func generalizedDiceExtremesAndBadInput() throws {
  var loss = try GeneralizedDiceLoss(classCount: 3)
  // Saturated logits, perfect and wrong rows: finite, in [0, 1].
  let z: [Double] = [1e300, -1e300, 0, -1e300, 1e300, 5, 0, 0, -1e300]
  for labels in [[0, 1, 2], [2, 2, 0], [1, 1, 1]] {
    let (value, gradient) = try loss.valueAndGradient(logits: z, targets: labels)
    #expect(value >= 0 && value <= 1, "\(labels)")
    #expect(gradient.allSatisfy { $0.isFinite }, "\(labels)")
  }
  // Every row ignored: ε > 0 gives 0 (ε/ε), ε = 0 gives 1; gradient 0 either way.
  loss.ignoreIndex = -1
  let (v1, g1) = try loss.valueAndGradient(logits: [0, 1, 2], targets: [-1])
  #expect(v1 == 0 && g1 == [0, 0, 0])
  loss.smoothing = 0
  let (v0, g0) = try loss.valueAndGradient(logits: [0, 1, 2], targets: [-1])
  #expect(v0 == 1 && g0 == [0, 0, 0])
  for bad in [-1, Double.nan, .infinity] {
    loss.smoothing = bad
    var g = [-7.0, -7, -7]
    #expect(throws: LossError.invalidParameter(name: "smoothing", value: bad, requirement: "finite and >= 0")) {
      try loss.valueAndGradient(logits: [0, 1, 2], targets: [0], gradient: &g)
    }
    #expect(g == [-7, -7, -7])
  }
  loss.smoothing = 0
  #expect(throws: LossError.labelOutOfRange(index: 0, label: 3, classCount: 3)) {
    try loss.value(logits: [0, 1, 2], targets: [3])
  }
}

/// Regression (PropertyTests' row sums): a row whose label has p_c below an
/// ulp and whose wrong classes share one weight has the exact gradient
/// `p_j p_c (u_M - u_c)` (j != c), `-p_c (1 - p_c) (u_M - u_c)` at the label.
/// Formed as `u_j - Σ p u` it was rounding noise of u_M, of either sign.
@Test func generalizedDiceKeepsTheDigitsOfAConfidentlyWrongRow() throws {
  var loss = try GeneralizedDiceLoss(classCount: 3)
  loss.weighting = .uniform
  for weighting in [GeneralizedDiceLoss.Weighting.uniform, .square] {
    loss.weighting = weighting
    // Row 0: label 0 at p_0 ≈ 2e-18, classes 1 and 2 tied (class 2 absent
    // under .square gets the largest weight, as class 1 has the smallest volume).
    let g = try loss.gradient(logits: [-40, 0, 0, 0, 1, 2, 3, 0, 1], targets: [0, 1, 0])
    #expect(g[0] < 0, "\(weighting) \(g)")
    if weighting == .uniform {
      #expect(g[1] == g[2], "\(weighting) \(g)")
      expectClose(g[1], -g[0] / 2, relative: 1e-14, "\(weighting)")
    }
    let row: Double = g[0] + g[1] + g[2]
    let magnitude: Double = abs(g[0]) + abs(g[1]) + abs(g[2])
    let bound: Double = 8 * magnitude * Double.ulpOfOne
    #expect(abs(row) <= bound, "\(weighting) \(g)")
  }
}
