import ImbalanceLoss
import Testing

@Suite struct TverskyLossTests {
  static let z = [1.5, -2, 0.3, -0.7, 3]
  static let y = [1.0, 0, 0.6, 1, 0]
  static let w = [1.0, 2, 0.5, 1, 3]

  @Test func valuesAndGradientsMatchMpmath() throws {
    // Source: mpmath at 50 digits, the loss written from raw weighted sums and
    // its gradient by mpmath.diff (numerical differentiation at 50 digits):
    //
    //     from mpmath import mp, mpf, exp, diff; mp.dps = 50
    //     def tversky(z, y, w, a, b, eps):
    //         p = [1/(1+exp(-t)) for t in z]
    //         tp = sum(wi*yi*pi ...); fp = sum(wi*(1-yi)*pi ...); fn = sum(wi*yi*(1-pi) ...)
    //         return 1 - (tp + eps)/(tp + a*fp + b*fn + eps)
    //     # gradient: diff(lambda t: tversky(z with z[j] = t, ...), z[j]) for each j
    let references: [(Double, Double, Double, Double, [Double])] = [
      (0.3, 0.7, 1, 0.41515762467934408, [-0.03097830026562984, 0.0092807257718035446,
        -0.013071636841319164, -0.046050629205652192, 0.0059899686533803188]),
      (0, 1, 0, 0.42533936562218467, [-0.064846283508840372, 0.0, -0.0318858667422712,
        -0.096396901431786544, 0.0]),
      (2, 0.5, 0.25, 0.81471893789775627, [-0.01595321815214442, 0.0091729661532156243,
        -0.0057086738985305457, -0.023715172474339298, 0.0059204184098634882]),
    ]
    for (alpha, beta, smoothing, value, gradient) in references {
      let loss = TverskyLoss(alpha: alpha, beta: beta, smoothing: smoothing)
      let r = try loss.valueAndGradient(logits: Self.z, targets: Self.y, weights: Self.w)
      expectClose(r.value, value, relative: 1e-15, "alpha \(alpha) beta \(beta)")
      for j in Self.z.indices {
        expectClose(r.gradient[j], gradient[j], relative: 1e-14, floor: 1e-300,
          "alpha \(alpha) beta \(beta) [\(j)]")
      }
    }
  }

  @Test func gradientMatchesFiniteDifferences() throws {
    for seed: UInt64 in [6, 7] {
      var rng = SplitMix64(seed: seed)
      let z = rng.uniforms(29, in: -6...6)
      let y = rng.uniforms(29, in: 0...1).map { $0 < 0.4 ? 0 : ($0 > 0.8 ? 1 : $0) }
      let w = rng.uniforms(29, in: 0...2)
      for (alpha, beta, smoothing) in [(0.3, 0.7, 1.0), (0, 1, 0), (1, 0, 0.5), (3, 2, 0)] {
        for weights in [nil, w] {
          let loss = TverskyLoss(alpha: alpha, beta: beta, smoothing: smoothing)
          let g = try loss.gradient(logits: z, targets: y, weights: weights)
          let fd = try centralDifferences(at: z) {
            try loss.value(logits: $0, targets: y, weights: weights)
          }
          // 1e-7 relative to the largest entry (see `centralDifferences`).
          expectClose(g, fd, relative: 1e-7, "seed \(seed) alpha \(alpha) beta \(beta)")
        }
      }
    }
  }

  @Test func saturatedLogitsAndDegenerateBatches() throws {
    // By hand: p = [1, 0, 1], y = [1, 1, 0], w = 1: TP = 1, FN = 1, FP = 1;
    // α = 0.3, β = 0.7, ε = 1: L = 1 - 2 / (1 + 0.3 + 0.7 + 1) = 1/3.
    let r = try TverskyLoss().valueAndGradient(
      logits: [1e300, -1e300, Double.greatestFiniteMagnitude], targets: [1, 1, 0])
    expectClose(r.value, 1.0 / 3, relative: 2e-16)
    #expect(r.gradient == [0, 0, 0])
    // α = 0, ε = 0 and no positives: D = 0, loss 1, gradient 0 (never NaN).
    let empty = try TverskyLoss(alpha: 0, beta: 1, smoothing: 0).valueAndGradient(
      logits: [3, -2], targets: [0, 0])
    #expect(empty.value == 1 && empty.gradient == [0, 0])
  }

  @Test func ignoredSamplesLeaveTheSums() throws {
    var loss = TverskyLoss(alpha: 0.4, beta: 0.9, smoothing: 0.5)
    let full = try loss.valueAndGradient(
      logits: [0.2, -1, 2], targets: [1, 0, 0.5], weights: [1, 2, 3])
    loss.ignoredTarget = .nan
    let masked = try loss.valueAndGradient(
      logits: [0.2, 7, -1, 2], targets: [1, .nan, 0, 0.5], weights: [1, 100, 2, 3])
    #expect(masked.value == full.value)
    #expect(masked.gradient == [full.gradient[0], 0, full.gradient[1], full.gradient[2]])
  }

  @Test func invalidParametersThrow() throws {
    let z = [0.5, 1]
    let y = [1.0, 0]
    #expect(throws: LossError.invalidParameter(
      name: "alpha", value: -0.1, requirement: "finite and >= 0")) {
      try TverskyLoss(alpha: -0.1).value(logits: z, targets: y)
    }
    #expect(throws: LossError.invalidParameter(
      name: "beta", value: .nan, requirement: "finite and >= 0")) {
      try TverskyLoss(beta: .nan).value(logits: z, targets: y)
    }
    #expect(throws: LossError.invalidParameter(
      name: "alpha + beta", value: 0, requirement: "positive")) {
      try TverskyLoss(alpha: 0, beta: 0).value(logits: z, targets: y)
    }
    #expect(throws: LossError.invalidParameter(
      name: "smoothing", value: .infinity, requirement: "finite and >= 0")) {
      try TverskyLoss(smoothing: .infinity).value(logits: z, targets: y)
    }
    #expect(throws: LossError.lengthMismatch(argument: "weights", expected: 2, actual: 3)) {
      try TverskyLoss().value(logits: z, targets: y, weights: [1, 1, 1])
    }
    #expect(throws: LossError.emptyBatch) { try TverskyLoss().value(logits: [], targets: []) }
  }
}
