import Foundation
import ImbalanceLoss
import Testing

// Reference: Fixtures/SeesawReference.swift, written by
// Scripts/seesaw_reference.py (PyTorch autograd of mmdetection's
// seesaw_ce_loss formula, float64, several steps with the counts evolving).

private func makeLoss(_ c: SeesawCase) throws -> SeesawLoss {
  var loss = try SeesawLoss(classCount: c.classCount, p: c.p, q: c.q, epsilon: c.epsilon)
  loss.reduction = c.reduction == "sum" ? .sum : .mean
  loss.ignoreIndex = c.ignoreIndex
  return loss
}

/// The seesaw-adjusted logits of one row, written independently of the
/// library (powers and ratios, as mmdetection does), for `counts` already
/// updated with the batch.
private func adjustedRow(
  _ z: ArraySlice<Double>, label c: Int, counts: [Double], p: Double, q: Double, epsilon: Double
) -> [Double] {
  let z = Array(z)
  let m = z.max()!
  let e = z.map { exp($0 - m) }
  let s = e.reduce(0, +)
  let sigma = e.map { $0 / s }
  return z.indices.map { j -> Double in
    if j == c { return z[j] }
    var factor = 1.0
    let ratio = max(counts[j], 1) / max(counts[c], 1)
    if p > 0 && ratio < 1 { factor *= pow(ratio, p) }
    let score = sigma[j] / max(sigma[c], epsilon)
    if q > 0 && score > 1 { factor *= pow(score, q) }
    return z[j] + log(factor)
  }
}

/// Weighted mean of cross-entropy on fixed adjusted rows `z + shift`.
private func crossEntropy(
  _ z: [Double], shifts: [Double], labels: [Int], weights: [Double], classCount k: Int
) -> Double {
  var total = 0.0
  var weightSum = 0.0
  for (i, c) in labels.enumerated() {
    let a = (0..<k).map { z[i * k + $0] + shifts[i * k + $0] }
    let m = a.max()!
    let lse = m + log(a.map { exp($0 - m) }.reduce(0, +))
    total += weights[i] * (lse - a[c])
    weightSum += weights[i]
  }
  return total / weightSum
}

/// The gradient of `crossEntropy` (shifts held): `(w_i / Σ w)(σ(z + shift) - onehot)`.
private func heldGradient(
  _ z: [Double], shifts: [Double], labels: [Int], weights: [Double], classCount k: Int
) -> [Double] {
  let weightSum = weights.reduce(0, +)
  var g = [Double](repeating: 0, count: z.count)
  for (i, c) in labels.enumerated() {
    let a = (0..<k).map { z[i * k + $0] + shifts[i * k + $0] }
    let m = a.max()!
    let e = a.map { exp($0 - m) }
    let s = e.reduce(0, +)
    for j in 0..<k { g[i * k + j] = weights[i] / weightSum * (e[j] / s - (j == c ? 1 : 0)) }
  }
  return g
}

@Suite struct SeesawLossTests {
  @Test func matchesPyTorchOverSeveralSteps() throws {
    for c in seesawCases {
      let loss = try makeLoss(c)
      var state = SeesawLoss.State(classCounts: c.initialCounts)
      for (n, step) in c.steps.enumerated() {
        let r = try loss.valueAndGradient(
          logits: step.logits, targets: step.labels, weights: step.weights, state: &state)
        expectClose(r.value, step.value, relative: 1e-13, "\(c.name) step \(n)")
        expectClose(r.gradient, step.gradient, relative: 1e-13, "\(c.name) step \(n)")
        #expect(state.classCounts == step.counts, "\(c.name) step \(n)")
      }
    }
  }

  @Test func valueAloneIsTheSameBitsAndUpdatesTheState() throws {
    for c in seesawCases {
      let loss = try makeLoss(c)
      var withGradient = SeesawLoss.State(classCounts: c.initialCounts)
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

  @Test func deterministicBits() throws {
    var rng = SplitMix64(seed: 15)
    let k = 7
    let n = 300
    let loss = try SeesawLoss(classCount: k)
    let z = rng.uniforms(n * k, in: -8...8)
    let labels = (0..<n).map { _ in Int(rng.next() % UInt64(k)) }
    let w = rng.uniforms(n, in: 0...3)
    var s1 = SeesawLoss.State(classCounts: [500, 200, 90, 30, 5, 1, 0])
    var s2 = s1
    let a = try loss.valueAndGradient(logits: z, targets: labels, weights: w, state: &s1)
    let b = try loss.valueAndGradient(logits: z, targets: labels, weights: w, state: &s2)
    #expect(a.value.bitPattern == b.value.bitPattern)
    #expect(a.gradient.map(\.bitPattern) == b.gradient.map(\.bitPattern))
    #expect(s1 == s2)
  }

  @Test func codableStateResumesARunBitForBit() throws {
    let c = seesawCases[0]
    let loss = try makeLoss(c)
    // Uninterrupted run.
    var state = loss.makeState()
    var straight: [(Double, [Double])] = []
    for step in c.steps {
      let r = try loss.valueAndGradient(
        logits: step.logits, targets: step.labels, weights: step.weights, state: &state)
      straight.append((r.value, r.gradient))
    }
    // Two steps, a checkpoint through JSON, a new process's state, the rest.
    var first = loss.makeState()
    for step in c.steps.prefix(2) {
      _ = try loss.valueAndGradient(
        logits: step.logits, targets: step.labels, weights: step.weights, state: &first)
    }
    let data = try JSONEncoder().encode(first)
    var resumed = try JSONDecoder().decode(SeesawLoss.State.self, from: data)
    #expect(resumed == first)
    for (n, step) in c.steps.enumerated().dropFirst(2) {
      let r = try loss.valueAndGradient(
        logits: step.logits, targets: step.labels, weights: step.weights, state: &resumed)
      #expect(r.value.bitPattern == straight[n].0.bitPattern)
      #expect(r.gradient.map(\.bitPattern) == straight[n].1.map(\.bitPattern))
    }
    #expect(resumed == state)
    // A restart from a fresh state is a different run (mitigation forgotten).
    var fresh = loss.makeState()
    let last = c.steps[c.steps.count - 1]
    let restarted = try loss.valueAndGradient(
      logits: last.logits, targets: last.labels, state: &fresh)
    #expect(restarted.value != straight[c.steps.count - 1].0)
  }

  @Test func gradientIsExactWithTheFactorsHeldConstant() throws {
    var rng = SplitMix64(seed: 5)
    let k = 5
    let n = 6
    for (p, q, eps) in [(0.8, 2.0, 1e-2), (1.5, 0.5, 0.2), (0.0, 3.0, 1e-3)] {
      let loss = try SeesawLoss(classCount: k, p: p, q: q, epsilon: eps)
      let z = rng.uniforms(n * k, in: -4...4)
      let labels = (0..<n).map { _ in Int(rng.next() % UInt64(k)) }
      let w = rng.uniforms(n, in: 0.1...2)
      var state = SeesawLoss.State(classCounts: [300, 40, 40, 3, 0])
      let before = state
      let r = try loss.valueAndGradient(logits: z, targets: labels, weights: w, state: &state)
      // The factors at z, from the updated counts, then held fixed.
      var shifts = [Double](repeating: 0, count: n * k)
      for i in 0..<n {
        let row = z[(i * k)..<(i * k + k)]
        let a = adjustedRow(
          row, label: labels[i], counts: state.classCounts, p: p, q: q, epsilon: eps)
        for j in 0..<k { shifts[i * k + j] = a[j] - z[i * k + j] }
      }
      expectClose(
        r.value, crossEntropy(z, shifts: shifts, labels: labels, weights: w, classCount: k),
        relative: 1e-13)
      let numeric = centralDifferences(at: z) {
        crossEntropy($0, shifts: shifts, labels: labels, weights: w, classCount: k)
      }
      expectClose(r.gradient, numeric, relative: 1e-7, "p \(p) q \(q)")
      #expect(state.classCounts.reduce(0, +) == before.classCounts.reduce(0, +) + Double(n))
    }
  }

  /// The Hessian diagonal, factors held: central differences of the
  /// independent gradient on the held adjusted rows, and the same
  /// step's value, gradient and state as the first-order call.
  @Test func hessianDiagonalIsExactWithTheFactorsHeldConstant() throws {
    var rng = SplitMix64(seed: 6)
    let k = 5
    let n = 6
    for (p, q, eps) in [(0.8, 2.0, 1e-2), (0.0, 3.0, 1e-3)] {
      let loss = try SeesawLoss(classCount: k, p: p, q: q, epsilon: eps)
      let z = rng.uniforms(n * k, in: -4...4)
      let labels = (0..<n).map { _ in Int(rng.next() % UInt64(k)) }
      let w = rng.uniforms(n, in: 0.1...2)
      let start = SeesawLoss.State(classCounts: [300, 40, 40, 3, 0])
      var state = start
      let r = try loss.valueGradientAndHessianDiagonal(
        logits: z, targets: labels, weights: w, state: &state)
      var firstOrderState = start
      let first = try loss.valueAndGradient(
        logits: z, targets: labels, weights: w, state: &firstOrderState)
      #expect(r.value == first.value && r.gradient == first.gradient)
      #expect(state == firstOrderState)
      var shifts = [Double](repeating: 0, count: n * k)
      for i in 0..<n {
        let row = z[(i * k)..<(i * k + k)]
        let a = adjustedRow(
          row, label: labels[i], counts: state.classCounts, p: p, q: q, epsilon: eps)
        for j in 0..<k { shifts[i * k + j] = a[j] - z[i * k + j] }
      }
      let second = z.indices.map { j in
        centralDifferences(at: [z[j]]) { x in
          var probe = z
          probe[j] = x[0]
          return heldGradient(probe, shifts: shifts, labels: labels, weights: w, classCount: k)[j]
        }[0]
      }
      expectClose(r.hessianDiagonal, second, relative: 1e-7, "p \(p) q \(q)")
    }
    // A certain row: σ̃ (1 - σ̃) is formed without cancellation (not 1 - 1).
    let loss = try SeesawLoss(classCount: 3, p: 0, q: 0)
    var state = loss.makeState()
    let r = try loss.valueGradientAndHessianDiagonal(
      logits: [50, 0, 0], targets: [0], state: &state)
    expectClose(r.hessianDiagonal[0], 3.8574996959278356e-22, relative: 1e-14)
    expectClose(r.hessianDiagonal[1], 1.9287498479639178e-22, relative: 1e-14)
  }

  @Test func withoutFactorsItIsSoftmaxCrossEntropy() throws {
    var rng = SplitMix64(seed: 8)
    let k = 4
    let z = rng.uniforms(5 * k, in: -3...3)
    let labels = [0, 3, 1, 1, 2]
    let loss = try SeesawLoss(classCount: k, p: 0, q: 0)
    var state = loss.makeState()
    let r = try loss.valueAndGradient(logits: z, targets: labels, state: &state)
    let ce = try SoftmaxCrossEntropy(classCount: k).valueAndGradient(logits: z, targets: labels)
    expectClose(r.value, ce.value, relative: 1e-15)
    expectClose(r.gradient, ce.gradient, relative: 1e-15)
    #expect(state.classCounts == [1, 2, 1, 1])
  }

  @Test func extremeLogitsAndCountsStayFinite() throws {
    let loss = try SeesawLoss(classCount: 3, p: 0.8, q: 2, epsilon: 1e-300)
    var state = SeesawLoss.State(classCounts: [1e300, 1, 0])
    var r = try loss.valueAndGradient(
      logits: [1e300, -1e300, 0, -1e300, 1e300, 0, 0, 0, 0], targets: [0, 0, 2], state: &state)
    #expect(r.value.isFinite && r.gradient.allSatisfy(\.isFinite))
    // Row 0 is right and certain: zero loss, zero gradient.
    #expect(Array(r.gradient[0...2]) == [0, 0, 0] as [Double])
    // Row 1 is wrong and certain: the loss is about 2e300, the gradient ±1/3.
    expectClose(r.value, 2e300 / 3, relative: 1e-12)
    let third = 1.0 / 3
    let wrongRow: [Double] = [-third, third, 0]
    #expect(Array(r.gradient[3...5]) == wrongRow)
    #expect(state.classCounts == [1e300, 1, 1])
    // A confident correct row keeps its digits (log1p, no cancellation).
    var s = loss.makeState()
    r = try loss.valueAndGradient(logits: [50, 0, 0], targets: [0], state: &s)
    expectClose(r.value, 3.8574996959278356e-22, relative: 1e-14)
    expectClose(r.gradient[0], -3.8574996959278356e-22, relative: 1e-14)
  }

  @Test func ignoredRowsAreNotCounted() throws {
    var loss = try SeesawLoss(classCount: 3)
    loss.ignoreIndex = -1
    var state = loss.makeState()
    var r = try loss.valueAndGradient(
      logits: [1, 2, 3, 4, 5, 6], targets: [-1, 2], state: &state)
    #expect(state.classCounts == [0, 0, 1])
    #expect(Array(r.gradient[0...2]) == [0, 0, 0] as [Double])
    r = try loss.valueAndGradient(logits: [1, 2, 3], targets: [-1], state: &state)
    #expect(r.value == 0 && r.gradient == [0, 0, 0])
    #expect(state.classCounts == [0, 0, 1])
  }

  @Test func badInputAndStateThrowAndChangeNothing() throws {
    let loss = try SeesawLoss(classCount: 3)
    let z: [Double] = [1, 2, 3, 4, 5, 6]
    let good = SeesawLoss.State(classCounts: [4, 2, 1])
    func expectUntouched(
      _ expected: LossError, logits: [Double] = z, targets: [Int] = [0, 1],
      weights: [Double]? = nil, state start: SeesawLoss.State = good,
      sourceLocation: SourceLocation = #_sourceLocation
    ) {
      var state = start
      var gradient = [Double](repeating: 7, count: logits.count)
      expectError(expected, sourceLocation: sourceLocation) {
        _ = try loss.valueAndGradient(
          logits: logits, targets: targets, weights: weights, gradient: &gradient,
          state: &state)
      }
      #expect(state == start, sourceLocation: sourceLocation)
      #expect(gradient == [Double](repeating: 7, count: logits.count), sourceLocation: sourceLocation)
      // The resizing path validates before it allocates.
      var empty: [Double] = []
      expectError(expected, sourceLocation: sourceLocation) {
        _ = try loss.valueAndGradient(
          logits: logits, targets: targets, weights: weights, gradient: &empty, state: &state)
      }
      #expect(empty.isEmpty && state == start, sourceLocation: sourceLocation)
    }
    expectUntouched(
      .lengthMismatch(argument: "state.classCounts", expected: 3, actual: 2),
      state: .init(classCounts: [1, 2]))
    for bad in [-1, Double.nan, .infinity] {
      expectUntouched(
        .invalidParameter(
          name: "state.classCounts[1]", value: bad, requirement: "finite and >= 0"),
        state: .init(classCounts: [1, bad, 0]))
    }
    expectUntouched(.nonFiniteLogit(index: 4, value: .nan), logits: [1, 2, 3, 4, .nan, 6])
    expectUntouched(.labelOutOfRange(index: 1, label: 3, classCount: 3), targets: [0, 3])
    expectUntouched(.lengthMismatch(argument: "targets", expected: 2, actual: 1), targets: [0])
    expectUntouched(.invalidWeight(index: 0, value: -1), weights: [-1, 1])
    expectUntouched(.zeroTotalWeight, weights: [0, 0])
    expectUntouched(.emptyBatch, logits: [], targets: [])
    expectUntouched(.logitCountNotMultipleOfClassCount(logitCount: 5, classCount: 3), logits: [1, 2, 3, 4, 5])
    // Buffer form with a gradient buffer of the wrong length.
    var state = good
    var short = [Double](repeating: 7, count: 5)
    expectError(.lengthMismatch(argument: "gradient", expected: 6, actual: 5)) {
      try z.withUnsafeBufferPointer { zb in
        try [0, 1].withUnsafeBufferPointer { tb in
          try short.withUnsafeMutableBufferPointer { gb in
            _ = try loss.valueAndGradient(
              logits: zb, targets: tb, weights: nil, gradient: gb, state: &state)
          }
        }
      }
    }
    #expect(state == good && short == [Double](repeating: 7, count: 5))
    // An adjustment beyond the double range.
    let huge = try SeesawLoss(classCount: 3, p: 1e300)
    var s = good
    expectError(
      .invalidParameter(
        name: "adjustment", value: 1e300 * log(6.0) + 2 * -log(1e-2),
        requirement: "p log(max count) + q log(1 / epsilon) < 2^969")
    ) {
      _ = try huge.valueAndGradient(logits: z, targets: [0, 0], state: &s)
    }
    #expect(s == good)
    // Bad hyper-parameters.
    expectError(.noClasses) { _ = try SeesawLoss(classCount: 0) }
    expectError(.invalidParameter(name: "p", value: -1, requirement: "finite and >= 0")) {
      _ = try SeesawLoss(classCount: 2, p: -1)
    }
    expectError(.invalidParameter(name: "q", value: .nan, requirement: "finite and >= 0")) {
      _ = try SeesawLoss(classCount: 2, q: .nan)
    }
    expectError(.invalidParameter(name: "epsilon", value: 0, requirement: "finite and > 0")) {
      _ = try SeesawLoss(classCount: 2, epsilon: 0)
    }
  }
}
