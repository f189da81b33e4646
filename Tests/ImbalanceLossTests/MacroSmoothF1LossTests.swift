import Foundation
import ImbalanceLoss
import Testing

// The batch of Tests/References/softmax_macro_f1.py: K = 3, row 3 ignored.
private let logits: [Double] = [2.0, -1.0, 0.5, 0.3, 0.2, -0.4, -2.0, 3.0, 1.0, 0, 0, 0, 1.5, 0.5, 4.0]
private let labels = [0, 1, 1, -1, 2]
private let weights = [1.0, 2.0, 0.5, 9.0, 1.5]

/// Macro smooth F1 written straight from its definition, with Foundation's exp.
private func referenceMacroF1(
  _ z: [Double], _ y: [Int], _ w: [Double]?, k: Int, ignore: Int?
) -> Double {
  var t = [Double](repeating: 0, count: k)
  var s = [Double](repeating: 0, count: k)
  for (i, c) in y.enumerated() where c != ignore {
    let row = z[(i * k)..<((i + 1) * k)]
    let m = row.max()!
    let total = row.map { exp($0 - m) }.reduce(0, +)
    for j in 0..<k {
      let p = exp(row[i * k + j] - m) / total
      s[j] += (w?[i] ?? 1) * (p + (c == j ? 1 : 0))
      if c == j { t[j] += (w?[i] ?? 1) * p }
    }
  }
  return 1 - zip(t, s).map { $1 == 0 ? 0 : 2 * $0 / $1 }.reduce(0, +) / Double(k)
}

@Suite struct MacroSmoothF1LossTests {
  @Test func valueGradientAndScoresMatchMpmath() throws {
    // mpmath at 40 digits, gradient by mpmath.diff (Tests/References/softmax_macro_f1.py).
    var loss = try MacroSmoothF1Loss(classCount: 3)
    loss.ignoreIndex = -1
    let (value, gradient) = try loss.valueAndGradient(
      logits: logits, targets: labels, weights: weights)
    expectClose(value, 0.3405785746445879598, relative: 1e-15)
    expectClose(
      gradient,
      [
        -0.041123873500329204838, 0.006936547718258435163, 0.034187325782070769675,
        0.059387606271349199073, -0.090270666602969969951, 0.030883060331620770878,
        0.00049240705038486348563, -0.010582094982214815509, 0.010089687931829952023,
        0, 0, 0,
        0.018682794253658291322, 0.0062899220954810610976, -0.024972716349139352419,
      ], relative: 1e-15)
    let scores = try loss.classF1Scores(logits: logits, targets: labels, weights: weights)
    expectClose(scores[0], 0.57508983213536664508, relative: 1e-15)
    expectClose(scores[1], 0.63182974217341826577, relative: 1e-15)
    expectClose(scores[2], 0.77134470175745120974, relative: 1e-15)
  }

  @Test(arguments: [0 as UInt64, 1, 2, 3])
  func matchesReferenceAndFiniteDifferences(seed: UInt64) throws {
    var rng = SplitMix64(seed: seed)
    let k = 11
    let n = 14
    let z = rng.uniforms(n * k, in: -4...4)
    var y = rng.classes(n, classCount: k)
    y[1] = 99
    for w in [nil, rng.uniforms(n, in: 0...2)] as [[Double]?] {
      var loss = try MacroSmoothF1Loss(classCount: k)
      loss.ignoreIndex = 99
      let (value, gradient) = try loss.valueAndGradient(logits: z, targets: y, weights: w)
      let note = "seed \(seed) weights \(w != nil)"
      expectClose(value, referenceMacroF1(z, y, w, k: k, ignore: 99), relative: 1e-13, note)
      let numeric = try centralDifferences(at: z) {
        try loss.value(logits: $0, targets: y, weights: w)
      }
      expectClose(gradient, numeric, relative: 1e-7, note)
    }
  }

  @Test func extremeLogitsGiveFiniteCorrectResults() throws {
    // One-hot probabilities: row 0 right (class 0), row 1 predicts 1 for label 2.
    // T = [1, 0, 0] / 2, S = [2, 1, 1] / 2: F = [1, 0, 0], L = 2/3; saturated, so
    // the gradient is exactly 0.
    let loss = try MacroSmoothF1Loss(classCount: 3)
    let (value, gradient) = try loss.valueAndGradient(
      logits: [1e300, -1e300, 0, -1e300, 1e300, 0], targets: [0, 2])
    expectClose(value, 2.0 / 3, relative: 1e-15)
    #expect(gradient.allSatisfy { $0 == 0 })
  }

  @Test func nearPerfectBatchKeepsItsDigits() throws {
    // Rows [40, 0] (label 0) and [0, 40] (label 1): every 1 - p = q = e^-40 / (1 + e^-40),
    // D_k = 2q / 2, S_k = 1: L = q. mpmath: exp(-40) / (1 + exp(-40)) = 4.2483542552915889e-18.
    let loss = try MacroSmoothF1Loss(classCount: 2)
    let value = try loss.value(logits: [40, 0, 0, 40], targets: [0, 1])
    expectClose(value, 4.2483542552915889e-18, relative: 1e-15)
  }

  @Test func allIgnoredOrAbsentClassesGiveNoNaN() throws {
    var loss = try MacroSmoothF1Loss(classCount: 3)
    loss.ignoreIndex = -1
    let (value, gradient) = try loss.valueAndGradient(
      logits: [1, 2, 3, 4, 5, 6], targets: [-1, -1])
    #expect(value == 1)
    #expect(gradient == [0, 0, 0, 0, 0, 0])
    // Class 2 absent and never predicted (p underflows): S_2 = 0, F_2 = 0, no NaN.
    let absent = try loss.valueAndGradient(logits: [0, 0, -1e300], targets: [0])
    // By hand: p = (1/2, 1/2, 0); F_0 = 2 (1/2) / (3/2) = 2/3, F_1 = 0 (S_1 = 1/2),
    // F_2 = 0 (S_2 = 0); L = 1 - (2/3) / 3 = 7/9. u_0 = -(2 / (3 · 3/2)) (1 - 1/3)
    // = -8/27, u_1 = u_2 = 0, Σ p u = -4/27: gradient (-2/27, 2/27, 0).
    expectClose(absent.value, 7.0 / 9, relative: 1e-15)
    expectClose(absent.gradient[0], -2.0 / 27, relative: 1e-15)
    expectClose(absent.gradient[1], 2.0 / 27, relative: 1e-15)
    #expect(absent.gradient[2] == 0)
  }

  @Test func badInputThrows() throws {
    #expect(throws: LossError.noClasses) { try MacroSmoothF1Loss(classCount: 0) }
    let loss = try MacroSmoothF1Loss(classCount: 2)
    var gradient = [5.0, 5.0]
    #expect(throws: LossError.labelOutOfRange(index: 0, label: -1, classCount: 2)) {
      try loss.valueAndGradient(logits: [0, 1], targets: [-1], gradient: &gradient)
    }
    #expect(throws: LossError.zeroTotalWeight) {
      try loss.valueAndGradient(logits: [0, 1], targets: [1], weights: [0], gradient: &gradient)
    }
    #expect(throws: LossError.nonFiniteLogit(index: 0, value: .nan)) {
      try loss.classF1Scores(logits: [.nan, 1], targets: [1])
    }
    #expect(throws: LossError.lengthMismatch(argument: "weights", expected: 1, actual: 2)) {
      try loss.valueAndGradient(logits: [0, 1], targets: [1], weights: [1, 1], gradient: &gradient)
    }
    #expect(gradient == [5, 5])
  }
}
