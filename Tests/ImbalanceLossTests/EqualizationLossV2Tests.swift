import Foundation
import ImbalanceLoss
import Testing

// Reference: Fixtures/EqualizationLossV2Reference.swift, written by
// Scripts/eqlv2_reference.py (PyTorch autograd of the authors' EQLv2
// formula, float64, several steps with the statistics evolving).

private func makeLoss(_ c: EQLv2Case) throws -> EqualizationLossV2 {
  var loss = try EqualizationLossV2(
    classCount: c.classCount, gamma: c.gamma, mu: c.mu, alpha: c.alpha)
  loss.reduction = c.reduction == "sum" ? .sum : .mean
  loss.ignoreIndex = c.ignoreIndex
  return loss
}

/// Σ_i w_i Σ_j ω_ij BCE(z_ij, t_ij) / Σ_i w_i with fixed class weights,
/// written independently of the library.
private func weightedBCE(
  _ z: [Double], labels: [Int], weights: [Double], positive: [Double], negative: [Double]
) -> Double {
  let k = positive.count
  var total = 0.0
  for (i, c) in labels.enumerated() {
    for j in 0..<k {
      let x = z[i * k + j]
      let softplus = max(x, 0) + log1p(exp(-abs(x)))
      total += weights[i] * (j == c ? positive[j] * (softplus - x) : negative[j] * softplus)
    }
  }
  return total / weights.reduce(0, +)
}

@Suite struct EqualizationLossV2Tests {
  @Test func matchesPyTorchOverSeveralSteps() throws {
    for c in eqlv2Cases {
      let loss = try makeLoss(c)
      var state = loss.makeState()
      for (n, step) in c.steps.enumerated() {
        let r = try loss.valueAndGradient(
          logits: step.logits, targets: step.labels, weights: step.weights, state: &state)
        expectClose(r.value, step.value, relative: 1e-13, "\(c.name) step \(n)")
        expectClose(r.gradient, step.gradient, relative: 1e-13, "\(c.name) step \(n)")
        expectClose(state.positiveGradients, step.positiveGradients, relative: 1e-13)
        expectClose(state.negativeGradients, step.negativeGradients, relative: 1e-13)
        #expect(state.stepCount == n + 1)
      }
    }
  }

  @Test func valueAloneIsTheSameBitsAndState() throws {
    for c in eqlv2Cases {
      let loss = try makeLoss(c)
      var withGradient = loss.makeState()
      var alone = withGradient
      for step in c.steps {
        let r = try loss.valueAndGradient(
          logits: step.logits, targets: step.labels, weights: step.weights, state: &withGradient)
        let v = try loss.value(
          logits: step.logits, targets: step.labels, weights: step.weights, state: &alone)
        #expect(r.value.bitPattern == v.bitPattern)
        #expect(alone == withGradient)
      }
    }
  }

  @Test func codableStateResumesARunBitForBit() throws {
    let c = eqlv2Cases[0]
    let loss = try makeLoss(c)
    var state = loss.makeState()
    var straight: [(Double, [Double])] = []
    for step in c.steps {
      let r = try loss.valueAndGradient(logits: step.logits, targets: step.labels, state: &state)
      straight.append((r.value, r.gradient))
    }
    var first = loss.makeState()
    for step in c.steps.prefix(2) {
      _ = try loss.valueAndGradient(logits: step.logits, targets: step.labels, state: &first)
    }
    let data = try JSONEncoder().encode(first)
    var resumed = try JSONDecoder().decode(EqualizationLossV2.State.self, from: data)
    #expect(resumed == first)
    for (n, step) in c.steps.enumerated().dropFirst(2) {
      let r = try loss.valueAndGradient(logits: step.logits, targets: step.labels, state: &resumed)
      #expect(r.value.bitPattern == straight[n].0.bitPattern)
      #expect(r.gradient.map(\.bitPattern) == straight[n].1.map(\.bitPattern))
    }
    #expect(resumed == state)
  }

  @Test func gradientIsExactWithTheWeightsHeldConstant() throws {
    var rng = SplitMix64(seed: 21)
    let k = 4
    let n = 5
    let loss = try EqualizationLossV2(classCount: k)
    var state = EqualizationLossV2.State(
      positiveGradients: [3, 0.5, 0.01, 0], negativeGradients: [4, 2, 5, 1], stepCount: 7)
    for _ in 0..<3 {
      let z = rng.uniforms(n * k, in: -4...4)
      let labels = (0..<n).map { _ in Int(rng.next() % UInt64(k + 1)) }
      let w = rng.uniforms(n, in: 0.1...2)
      let (positive, negative) = try loss.classWeights(for: state)
      let r = try loss.valueAndGradient(logits: z, targets: labels, weights: w, state: &state)
      func f(_ x: [Double]) -> Double {
        weightedBCE(x, labels: labels, weights: w, positive: positive, negative: negative)
      }
      expectClose(r.value, f(z), relative: 1e-13)
      expectClose(r.gradient, centralDifferences(at: z, f), relative: 1e-7)
    }
    #expect(state.stepCount == 10)
  }

  /// The Hessian diagonal, weights held: central differences of the
  /// independent held gradient along each logit, and the same step's value,
  /// gradient and state as the first-order call.
  @Test func hessianDiagonalIsExactWithTheWeightsHeldConstant() throws {
    var rng = SplitMix64(seed: 23)
    let k = 4
    let n = 5
    var loss = try EqualizationLossV2(classCount: k)
    loss.ignoreIndex = -1
    let start = EqualizationLossV2.State(
      positiveGradients: [3, 0.5, 0.01, 0], negativeGradients: [4, 2, 5, 1], stepCount: 7)
    let z = rng.uniforms(n * k, in: -4...4)
    let labels = [0, 4, 2, -1, 3]  // a background row (label K) and an ignored row
    let w = rng.uniforms(n, in: 0.1...2)
    let (positive, negative) = try loss.classWeights(for: start)
    var state = start
    let r = try loss.valueGradientAndHessianDiagonal(
      logits: z, targets: labels, weights: w, state: &state)
    var firstOrderState = start
    let first = try loss.valueAndGradient(
      logits: z, targets: labels, weights: w, state: &firstOrderState)
    #expect(r.value == first.value && r.gradient == first.gradient && state == firstOrderState)
    let kept = labels.map { $0 == -1 ? 0.0 : 1.0 }
    let keptWeights = zip(w, kept).map { $0 * $1 }
    // ∂/∂z_j of the held gradient (w_i / Σ w) ω_ij (σ(z_ij) - t_ij).
    let second = z.indices.map { j in
      let i = j / k
      let t = labels[i] == j % k ? 1.0 : 0.0
      let omega = t == 1 ? positive[j % k] : negative[j % k]
      return centralDifferences(at: [z[j]]) { x in
        keptWeights[i] / keptWeights.reduce(0, +) * omega * (1 / (1 + exp(-x[0])) - t)
      }[0]
    }
    expectClose(r.hessianDiagonal, second, relative: 1e-7)
    #expect(Array(r.hessianDiagonal[12..<16]) == [0, 0, 0, 0])
    var short = [Double](repeating: 0, count: 3)
    var g = [Double](repeating: 7, count: z.count)
    var unchanged = start
    #expect(throws: LossError.lengthMismatch(argument: "hessianDiagonal", expected: 20, actual: 3)) {
      try z.withUnsafeBufferPointer { zb in
        try labels.withUnsafeBufferPointer { tb in
          try g.withUnsafeMutableBufferPointer { gb in
            try short.withUnsafeMutableBufferPointer { hb in
              try loss.valueGradientAndHessianDiagonal(
                logits: zb, targets: tb, weights: nil, gradient: gb, hessianDiagonal: hb,
                state: &unchanged)
            }
          }
        }
      }
    }
    #expect(g.allSatisfy { $0 == 7 } && short == [0, 0, 0] && unchanged == start)
  }

  @Test func deterministicBits() throws {
    var rng = SplitMix64(seed: 4)
    let k = 6
    let n = 200
    let loss = try EqualizationLossV2(classCount: k)
    let z = rng.uniforms(n * k, in: -8...8)
    let labels = (0..<n).map { _ in Int(rng.next() % UInt64(k + 1)) }
    var s1 = loss.makeState()
    var s2 = s1
    for _ in 0..<2 {
      let a = try loss.valueAndGradient(logits: z, targets: labels, state: &s1)
      let b = try loss.valueAndGradient(logits: z, targets: labels, state: &s2)
      #expect(a.value.bitPattern == b.value.bitPattern)
      #expect(a.gradient.map(\.bitPattern) == b.gradient.map(\.bitPattern))
      #expect(s1 == s2)
    }
  }

  @Test func mappingFunctionWeights() throws {
    let loss = try EqualizationLossV2(classCount: 2)
    // Step 0: every weight 1.
    var w = try loss.classWeights(for: loss.makeState())
    #expect(w.positive == [1, 1] && w.negative == [1, 1])
    // Ratio μ: f = 1/2, so ω⁻ = 0.5 and ω⁺ = 1 + 4 * 0.5 = 3; ratio 0: f(0) = 1/(1 + e^9.6).
    w = try loss.classWeights(
      for: .init(positiveGradients: [0.8, 0], negativeGradients: [1 - 1e-10, 1], stepCount: 1))
    expectClose(w.negative[0], 0.5, relative: 1e-9)
    expectClose(w.positive[0], 3, relative: 1e-9)
    expectClose(w.negative[1], 1 / (1 + exp(9.6)), relative: 1e-14)
  }

  @Test func extremeLogitsStayFinite() throws {
    let loss = try EqualizationLossV2(classCount: 3)
    var state = EqualizationLossV2.State(
      positiveGradients: [1e300, 0, 1], negativeGradients: [0, 1e300, 1], stepCount: 3)
    let r = try loss.valueAndGradient(
      logits: [1e300, -1e300, 0, -1e300, 1e300, 0], targets: [0, 0], state: &state)
    #expect(r.value.isFinite && r.gradient.allSatisfy(\.isFinite))
    #expect(state.positiveGradients.allSatisfy { $0.isFinite })
    #expect(state.negativeGradients.allSatisfy { $0.isFinite })
  }

  @Test func badInputAndStateThrowAndChangeNothing() throws {
    let loss = try EqualizationLossV2(classCount: 3)
    let z: [Double] = [1, 2, 3, 4, 5, 6]
    let good = EqualizationLossV2.State(
      positiveGradients: [1, 2, 3], negativeGradients: [4, 5, 6], stepCount: 2)
    func expectUntouched(
      _ expected: LossError, logits: [Double] = z, targets: [Int] = [0, 3],
      weights: [Double]? = nil, state start: EqualizationLossV2.State = good,
      sourceLocation: SourceLocation = #_sourceLocation
    ) {
      var state = start
      var gradient = [Double](repeating: 7, count: logits.count)
      expectError(expected, sourceLocation: sourceLocation) {
        try logits.withUnsafeBufferPointer { zb in
          try targets.withUnsafeBufferPointer { tb in
            try gradient.withUnsafeMutableBufferPointer { gb in
              if let weights {
                try weights.withUnsafeBufferPointer { wb in
                  _ = try loss.valueAndGradient(
                    logits: zb, targets: tb, weights: wb, gradient: gb, state: &state)
                }
              } else {
                _ = try loss.valueAndGradient(
                  logits: zb, targets: tb, weights: nil, gradient: gb, state: &state)
              }
            }
          }
        }
      }
      #expect(state == start, sourceLocation: sourceLocation)
      #expect(gradient == [Double](repeating: 7, count: logits.count), sourceLocation: sourceLocation)
    }
    expectUntouched(
      .lengthMismatch(argument: "state.positiveGradients", expected: 3, actual: 2),
      state: .init(positiveGradients: [1, 2], negativeGradients: [1, 2, 3], stepCount: 1))
    for bad in [-1, Double.nan, .infinity] {
      expectUntouched(
        .invalidParameter(
          name: "state.negativeGradients[2]", value: bad, requirement: "finite and >= 0"),
        state: .init(positiveGradients: [1, 2, 3], negativeGradients: [1, 2, bad], stepCount: 1))
    }
    expectUntouched(
      .invalidParameter(name: "state.stepCount", value: -1, requirement: ">= 0"),
      state: .init(positiveGradients: [1, 2, 3], negativeGradients: [1, 2, 3], stepCount: -1))
    expectUntouched(
      .invalidParameter(
        name: "state", value: .greatestFiniteMagnitude, requirement: "statistics that stay finite after this step"),
      state: .init(
        positiveGradients: [1, .greatestFiniteMagnitude, 3], negativeGradients: [1, 2, 3],
        stepCount: 1))
    expectUntouched(.nonFiniteLogit(index: 4, value: .nan), logits: [1, 2, 3, 4, .nan, 6])
    expectUntouched(.labelOutOfRange(index: 1, label: 4, classCount: 4), targets: [0, 4])
    expectUntouched(.labelOutOfRange(index: 0, label: -1, classCount: 4), targets: [-1, 0])
    expectUntouched(.lengthMismatch(argument: "targets", expected: 2, actual: 1), targets: [0])
    expectUntouched(.invalidWeight(index: 1, value: .nan), weights: [1, .nan])
    expectUntouched(.zeroTotalWeight, weights: [0, 0])
    expectUntouched(.emptyBatch, logits: [], targets: [])
    expectError(.noClasses) { _ = try EqualizationLossV2(classCount: 0) }
    expectError(.invalidParameter(name: "gamma", value: -1, requirement: "finite and >= 0")) {
      _ = try EqualizationLossV2(classCount: 2, gamma: -1)
    }
    expectError(.invalidParameter(name: "mu", value: .infinity, requirement: "finite")) {
      _ = try EqualizationLossV2(classCount: 2, mu: .infinity)
    }
  }
}
