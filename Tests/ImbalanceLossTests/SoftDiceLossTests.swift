import ImbalanceLoss
import Testing

@Suite struct SoftDiceLossTests {
  static let z = [1.5, -2, 0.3, -0.7, 3]
  static let y = [1.0, 0, 0.6, 1, 0]
  static let w = [1.0, 2, 0.5, 1, 3]

  @Test func valuesAndGradientsMatchMpmath() throws {
    // Source: mpmath at 50 digits, L = 1 - (2 Σ w y p + ε) / (Σ w (y + p) + ε)
    // written directly, the gradient by mpmath.diff (see TverskyLossTests for
    // the script).
    let references: [(Double, Double, [Double])] = [
      (0, 0.61312147201153695, [-0.035211566453971467, 0.011889750359969336,
        -0.014545732251984662, -0.052343568776143547, 0.0076738860412307483]),
      (1, 0.53484467864351705, [-0.029225628546039174, 0.012470310193812175,
        -0.011467186255779979, -0.043445204286078686, 0.0080485911334440798]),
    ]
    for (smoothing, value, gradient) in references {
      let r = try SoftDiceLoss(smoothing: smoothing).valueAndGradient(
        logits: Self.z, targets: Self.y, weights: Self.w)
      expectClose(r.value, value, relative: 1e-15)
      for j in Self.z.indices { expectClose(r.gradient[j], gradient[j], relative: 1e-14) }
    }
  }

  @Test func zeroSmoothingIsSmoothF1Exactly() throws {
    for seed: UInt64 in [1, 2, 3] {
      var rng = SplitMix64(seed: seed)
      let z = rng.uniforms(75, in: -6...6)
      let y = rng.uniforms(75, in: 0...1).map { $0 < 0.5 ? 0 : ($0 > 0.8 ? 1 : $0) }
      let w = rng.uniforms(75, in: 0...2)
      for weights in [nil, w] {
        let dice = try SoftDiceLoss(smoothing: 0).valueAndGradient(
          logits: z, targets: y, weights: weights)
        let f1 = try SmoothF1Loss().valueAndGradient(logits: z, targets: y, weights: weights)
        #expect(dice.value == f1.value && dice.gradient == f1.gradient, "seed \(seed)")
      }
      // Also with an ignore mask.
      var dice = SoftDiceLoss(smoothing: 0)
      dice.ignoredTarget = 0.6
      var f1 = SmoothF1Loss()
      f1.ignoredTarget = 0.6
      let masked = y.enumerated().map { $0.offset % 4 == 0 ? 0.6 : $0.element }
      let a = try dice.valueAndGradient(logits: z, targets: masked)
      let b = try f1.valueAndGradient(logits: z, targets: masked)
      #expect(a.value == b.value && a.gradient == b.gradient, "seed \(seed)")
    }
  }

  @Test func diceIsTverskyWithEqualHalfWeights() throws {
    var rng = SplitMix64(seed: 8)
    let z = rng.uniforms(30, in: -5...5)
    let y = rng.labels(30, positiveRate: 0.2)
    let dice = try SoftDiceLoss(smoothing: 3).valueAndGradient(logits: z, targets: y)
    let tversky = try TverskyLoss(alpha: 0.5, beta: 0.5, smoothing: 1.5).valueAndGradient(
      logits: z, targets: y)
    #expect(dice.value == tversky.value && dice.gradient == tversky.gradient)
  }

  @Test func gradientMatchesFiniteDifferences() throws {
    for seed: UInt64 in [4, 5] {
      var rng = SplitMix64(seed: seed)
      let z = rng.uniforms(23, in: -6...6)
      let y = rng.uniforms(23, in: 0...1).map { $0 < 0.4 ? 0 : ($0 > 0.8 ? 1 : $0) }
      let w = rng.uniforms(23, in: 0...2)
      for smoothing in [0.0, 1, 10] {
        for weights in [nil, w] {
          let loss = SoftDiceLoss(smoothing: smoothing)
          let g = try loss.gradient(logits: z, targets: y, weights: weights)
          let fd = try centralDifferences(at: z) {
            try loss.value(logits: $0, targets: y, weights: weights)
          }
          // 1e-7 relative to the largest entry (see `centralDifferences`).
          expectClose(g, fd, relative: 1e-7, "seed \(seed) smoothing \(smoothing)")
        }
      }
    }
  }

  @Test func saturatedLogitsAndDegenerateBatches() throws {
    // By hand: z = ±1e300 gives p = 1, 0, 1 exactly; y = [1, 0, 0]:
    // 2TP = 2, Σ(y + p) = 2 + 0 + 1 = 3; ε = 1: L = 1 - 3/4 = 1/4, gradient 0.
    let r = try SoftDiceLoss().valueAndGradient(
      logits: [1e300, -1e300, 1e300], targets: [1, 0, 0])
    #expect(r.value == 0.25 && r.gradient == [0, 0, 0])
    // All negative and predicted negative: ε = 0 gives S = 0, so loss 1 and
    // gradient 0 (smooth F1's convention); ε = 1 gives ε / ε, loss 0.
    let z = [-1e300, -800.0]
    let y = [0.0, 0]
    let hard = try SoftDiceLoss(smoothing: 0).valueAndGradient(logits: z, targets: y)
    #expect(hard.value == 1 && hard.gradient == [0, 0])
    let smooth = try SoftDiceLoss(smoothing: 1).valueAndGradient(logits: z, targets: y)
    #expect(smooth.value == 0 && smooth.gradient == [0, 0])
    // Every sample ignored: the same two conventions.
    var ignoring = SoftDiceLoss(smoothing: 1)
    ignoring.ignoredTarget = -1
    let none = try ignoring.valueAndGradient(logits: [0.5, 2], targets: [-1, -1])
    #expect(none.value == 0 && none.gradient == [0, 0])
    var ignoringHard = SoftDiceLoss(smoothing: 0)
    ignoringHard.ignoredTarget = -1
    let noneHard = try ignoringHard.valueAndGradient(logits: [0.5, 2], targets: [-1, -1])
    #expect(noneHard.value == 1 && noneHard.gradient == [0, 0])
    // Subnormal weights: ε / W overflows and saturates, the ratio is 1, no NaN.
    let tiny = try SoftDiceLoss(smoothing: 1e10).valueAndGradient(
      logits: [0.5, -1], targets: [1, 0], weights: [.leastNonzeroMagnitude, .leastNonzeroMagnitude])
    #expect(tiny.value.isFinite && tiny.value >= 0 && tiny.value < 1e-300)
    #expect(tiny.gradient.allSatisfy { $0.isFinite })
  }

  @Test func invalidInputThrows() throws {
    let z = [0.5, 1]
    let y = [1.0, 0]
    for bad in [-1.0, .nan, .infinity] {
      #expect(throws: LossError.invalidParameter(
        name: "smoothing", value: bad, requirement: "finite and >= 0")) {
        try SoftDiceLoss(smoothing: bad).value(logits: z, targets: y)
      }
    }
    let loss = SoftDiceLoss()
    #expect(throws: LossError.nonFiniteLogit(index: 0, value: -.infinity)) {
      try loss.value(logits: [-.infinity, 0], targets: y)
    }
    #expect(throws: LossError.targetOutOfRange(index: 1, value: 2)) {
      try loss.value(logits: z, targets: [0, 2])
    }
    #expect(throws: LossError.invalidWeight(index: 0, value: -0.5)) {
      try loss.value(logits: z, targets: y, weights: [-0.5, 1])
    }
    #expect(throws: LossError.zeroTotalWeight) {
      try loss.value(logits: z, targets: y, weights: [0, 0])
    }
    #expect(throws: LossError.lengthMismatch(argument: "targets", expected: 2, actual: 3)) {
      try loss.value(logits: z, targets: [0, 1, 1])
    }
    #expect(throws: LossError.emptyBatch) { try loss.value(logits: [], targets: []) }
    var gradient = [7.0, 7]
    #expect(throws: LossError.targetOutOfRange(index: 0, value: .nan)) {
      try loss.valueAndGradient(logits: z, targets: [.nan, 0], gradient: &gradient)
    }
    #expect(gradient == [7, 7])
  }
}
