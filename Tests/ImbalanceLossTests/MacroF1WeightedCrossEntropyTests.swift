import Foundation
import ImbalanceLoss
import Testing

// The batch of Tests/References/softmax_macro_f1.py: K = 3, row 3 ignored.
private let logits: [Double] = [2.0, -1.0, 0.5, 0.3, 0.2, -0.4, -2.0, 3.0, 1.0, 0, 0, 0, 1.5, 0.5, 4.0]
private let labels = [0, 1, 1, -1, 2]
private let weights = [1.0, 2.0, 0.5, 9.0, 1.5]

/// One row's loss from the definition: A_c (-log p_c) + Σ_{k != c} B_k (-log(1 - p_k)).
private func referenceRow(_ a: ArraySlice<Double>, label c: Int, f1: [Double]) -> Double {
  let m = a.max()!
  let p = a.map { exp($0 - m) / a.map { exp($0 - m) }.reduce(0, +) }
  var l = (1 - f1[c] / 2) * -log(p[c])
  for k in p.indices where k != c { l += f1[k] / 2 * -log1p(-p[k]) }
  return l
}

@Suite struct MacroF1WeightedCrossEntropyTests {
  @Test func frozenF1MatchesMpmath() throws {
    // mpmath (Tests/References/softmax_macro_f1.py): F = [0.3, 0.8, 0.5] held,
    // classWeights [1, 0.5, 2], weighted mean; gradient by mpmath.diff with F frozen.
    var loss = try MacroF1WeightedCrossEntropy(classCount: 3, classF1: [0.3, 0.8, 0.5])
    loss.classWeights = [1, 0.5, 2]
    loss.ignoreIndex = -1
    let (value, gradient) = try loss.valueAndGradient(
      logits: logits, targets: labels, weights: weights)
    expectClose(value, 0.25306385463648860284, relative: 1e-15)
    expectClose(
      gradient,
      [
        -0.045100527676028948855, 0.0089166460212646633737, 0.036183881654764285481,
        0.054319050631411160015, -0.083583127797246378466, 0.029264077165835218451,
        0.00020126369861102698631, -0.0049926549477392150188, 0.0047913912491281880325,
        0, 0, 0,
        0.037482882055368967374, 0.017655371039507448494, -0.055138253094876415868,
      ], relative: 1e-15)
  }

  @Test func batchF1IsMacroSmoothF1sAndMatchesMpmath() throws {
    var loss = try MacroF1WeightedCrossEntropy(classCount: 3)
    loss.classWeights = [1, 0.5, 2]
    loss.ignoreIndex = -1
    loss.reduction = .sum
    // mpmath: Σ v l with F_k the batch's macro smooth F1 (weights w, not class weights).
    let value = try loss.value(logits: logits, targets: labels, weights: weights)
    expectClose(value, 1.4944200582139836626, relative: 1e-15)
    // The held F_k are exactly MacroSmoothF1Loss's scores for the same batch.
    var macro = try MacroSmoothF1Loss(classCount: 3)
    macro.ignoreIndex = -1
    let scores = try macro.classF1Scores(logits: logits, targets: labels, weights: weights)
    var frozen = try MacroF1WeightedCrossEntropy(classCount: 3, classF1: scores)
    frozen.classWeights = [1, 0.5, 2]
    frozen.ignoreIndex = -1
    frozen.reduction = .sum
    let a = try loss.valueAndGradient(logits: logits, targets: labels, weights: weights)
    let b = try frozen.valueAndGradient(logits: logits, targets: labels, weights: weights)
    #expect(a.value == b.value)
    #expect(a.gradient == b.gradient)
  }

  @Test(arguments: [0 as UInt64, 1, 2, 3])
  func frozenF1MatchesReferenceAndFiniteDifferences(seed: UInt64) throws {
    var rng = SplitMix64(seed: seed)
    let k = 10
    let n = 12
    let z = rng.uniforms(n * k, in: -6...6)
    var y = rng.classes(n, classCount: k)
    y[0] = -7
    let w = rng.uniforms(n, in: 0...2)
    let f1 = rng.uniforms(k, in: 0...1)
    for reduction in [Reduction.mean, .sum] {
      var loss = try MacroF1WeightedCrossEntropy(classCount: k, classF1: f1)
      loss.reduction = reduction
      loss.ignoreIndex = -7
      loss.classWeights = rng.uniforms(k, in: 0...2)
      var numerator = 0.0
      var denominator = 0.0
      for (i, c) in y.enumerated() where c != -7 {
        let v = w[i] * loss.classWeights![c]
        numerator += v * referenceRow(z[(i * k)..<((i + 1) * k)], label: c, f1: f1)
        denominator += v
      }
      let expected = reduction == .mean ? numerator / denominator : numerator
      let (value, gradient) = try loss.valueAndGradient(logits: z, targets: y, weights: w)
      let note = "seed \(seed) \(reduction)"
      expectClose(value, expected, relative: 1e-13, note)
      let numeric = try centralDifferences(at: z) {
        try loss.value(logits: $0, targets: y, weights: w)
      }
      expectClose(gradient, numeric, relative: 1e-7, note)
    }
  }

  @Test func zeroF1IsCrossEntropy() throws {
    var rng = SplitMix64(seed: 12)
    let z = rng.uniforms(8 * 5, in: -3...3)
    let y = rng.classes(8, classCount: 5)
    let loss = try MacroF1WeightedCrossEntropy(classCount: 5, classF1: [0, 0, 0, 0, 0])
    let ce = try SoftmaxCrossEntropy(classCount: 5)
    let a = try loss.valueAndGradient(logits: z, targets: y)
    let b = try ce.valueAndGradient(logits: z, targets: y)
    expectClose(a.value, b.value, relative: 1e-15, "seed 12")
    expectClose(a.gradient, b.gradient, relative: 1e-15, "seed 12")
  }

  @Test func extremeAndUnderflowingRowsMatchByHandAndMpmath() throws {
    let loss = try MacroF1WeightedCrossEntropy(classCount: 3, classF1: [0.3, 0.8, 0.5])
    // [1e300, -1e300, 0], label 1: l = A_1 2e300 + B_0 1e300 = 0.6 2e300 + 0.15 1e300;
    // gradient (by hand, p one-hot at 0 and p_2 / (1 - p_0) -> 1): [A + B_0, -A, -B_0].
    let wrong = try loss.valueAndGradient(logits: [1e300, -1e300, 0], targets: [1])
    expectClose(wrong.value, 1.35e300, relative: 1e-15)
    expectClose(wrong.gradient, [0.75, -0.6, -0.15], relative: 1e-15)
    // Right and confident: loss and gradient 0.
    let right = try loss.valueAndGradient(logits: [1e300, -1e300, 0], targets: [0])
    #expect(right.value == 0)
    #expect(right.gradient.allSatisfy { $0 == 0 })
    // [800, 0, 1], label 1: 1 - p_0 underflows in double; mpmath (log-space identity
    // -log(1 - p_0) = lse(a) - lse(a without 0), Tests/References/softmax_macro_f1.py).
    let under = try loss.valueAndGradient(logits: [800, 0, 1], targets: [1])
    expectClose(under.value, 599.80301074687226657, relative: 1e-15)
    expectClose(
      under.gradient, [0.75, -0.64034121320549926811, -0.10965878679450073189], relative: 1e-15)
  }

  @Test func lightlyWeightedRowBeyondTheLargestDouble() throws {
    // Row 1: l = 0.75 * 2e308 + 0.25 * 2e308 (> max), times f = 1e-300 / (1 + 1e-300).
    // Reference: Tests/References/overflow_rows.py (mpmath).
    let loss = try MacroF1WeightedCrossEntropy(classCount: 2, classF1: [0.5, 0.5])
    let (value, gradient) = try loss.valueAndGradient(
      logits: [0, 0, 1e308, -1e308], targets: [0, 1], weights: [1, 1e-300])
    expectClose(value, 200000000.6931471877675764, relative: 1e-15)
    let expected = [-0.5, 0.5, 1.0000000000000000251e-300, -1.0000000000000000251e-300]
    for (g, e) in zip(gradient, expected) { expectClose(g, e, relative: 1e-15) }
    // Unweighted, the term truly overflows: +inf, not NaN.
    #expect(try loss.perSampleValues(logits: [1e308, -1e308], targets: [1]) == [.infinity])
  }

  @Test func badInputThrows() throws {
    #expect(throws: LossError.noClasses) { try MacroF1WeightedCrossEntropy(classCount: 0) }
    #expect(throws: LossError.lengthMismatch(argument: "classF1", expected: 3, actual: 2)) {
      try MacroF1WeightedCrossEntropy(classCount: 3, classF1: [0.1, 0.2])
    }
    for f in [-0.1, 1.1, .nan] {
      #expect(throws: LossError.invalidParameter(name: "classF1[1]", value: f, requirement: "in [0, 1]")) {
        try MacroF1WeightedCrossEntropy(classCount: 2, classF1: [0.5, f])
      }
    }
    var loss = try MacroF1WeightedCrossEntropy(classCount: 2)
    var gradient = [4.0, 4.0]
    #expect(throws: LossError.labelOutOfRange(index: 0, label: 2, classCount: 2)) {
      try loss.valueAndGradient(logits: [0, 1], targets: [2], gradient: &gradient)
    }
    loss.classWeights = [1, -1]
    #expect(throws: LossError.invalidClassWeight(index: 1, value: -1)) {
      try loss.valueAndGradient(logits: [0, 1], targets: [1], gradient: &gradient)
    }
    #expect(gradient == [4, 4])
  }

  @Test func allIgnoredBatchGivesZero() throws {
    var loss = try MacroF1WeightedCrossEntropy(classCount: 3)
    loss.ignoreIndex = -1
    let (value, gradient) = try loss.valueAndGradient(
      logits: [1, 2, 3, 4, 5, 6], targets: [-1, -1])
    #expect(value == 0)
    #expect(gradient == [0, 0, 0, 0, 0, 0])
  }
}
