#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing

@testable import ImbalanceLoss

/// Logits drawn away from the kink `p = m` (by 1e-3 in p), where finite
/// differences would straddle it.
private func logitsAwayFromKink(
  _ rng: inout SplitMix64, count: Int, margin m: Double, range: ClosedRange<Double> = -8...8
) -> [Double] {
  var out: [Double] = []
  while out.count < count {
    let z = rng.uniforms(1, in: range)[0]
    if abs(1 / (1 + exp(-z)) - m) > 1e-3 { out.append(z) }
  }
  return out
}

@Suite struct AsymmetricLossTests {
  @Test func matchesPyTorchAutograd() throws {
    // Scripts/asymmetric_reference.py: the paper's formula in float64 torch,
    // autograd gradients and Hessian diagonals (no eps clamp, focusing
    // weights not detached; checked there against the authors' forward pass).
    for c in asymmetricCases {
      var loss = AsymmetricLoss(
        positiveFocusing: c.positiveFocusing, negativeFocusing: c.negativeFocusing,
        probabilityMargin: c.probabilityMargin)
      loss.reduction = c.reduction == "sum" ? .sum : .mean
      let r = try loss.valueGradientAndHessianDiagonal(
        logits: c.logits, targets: c.targets, weights: c.weights)
      expectClose(r.value, c.value, relative: 1e-13, c.name)
      expectClose(r.gradient, c.gradient, relative: 1e-12, c.name)
      expectClose(r.hessianDiagonal, c.hessianDiagonal, relative: 1e-11, c.name)
      let terms = try loss.perSampleValues(logits: c.logits, targets: c.targets)
      for k in terms.indices {
        expectClose(terms[k], c.perSample[k], relative: 1e-13, floor: 1e-300, "\(c.name) [\(k)]")
      }
    }
  }

  @Test func withoutFocusingOrMarginIsMultiLabelCrossEntropy() throws {
    // γ+ = γ- = 0, m = 0 is BCE with unit weights, bit for bit (same kernel),
    // and γ+ = γ- = γ, m = 0 is BinaryFocalLoss(gamma: γ).
    var rng = SplitMix64(seed: 151)
    let l = 5
    let z = rng.uniforms(6 * l, in: -9...9)
    let y = rng.uniforms(6 * l, in: 0...1).map { $0 < 0.4 ? 0 : ($0 > 0.8 ? 1 : $0) }
    let w = rng.uniforms(6 * l, in: 0...2)
    for reduction in [Reduction.mean, .sum] {
      var asl = AsymmetricLoss(positiveFocusing: 0, negativeFocusing: 0, probabilityMargin: 0)
      asl.reduction = reduction
      var bce = try MultiLabelBinaryCrossEntropy(labelCount: l)
      bce.reduction = reduction
      for weights in [nil, w] {
        let a = try asl.valueAndGradient(logits: z, targets: y, weights: weights)
        let b = try bce.valueAndGradient(logits: z, targets: y, weights: weights)
        #expect(a.value == b.value && a.gradient == b.gradient)
        let h = try asl.valueGradientAndHessianDiagonal(logits: z, targets: y, weights: weights)
        let hb = try bce.valueGradientAndHessianDiagonal(logits: z, targets: y, weights: weights)
        expectClose(h.hessianDiagonal, hb.hessianDiagonal, relative: 1e-15)
      }
      #expect(
        try asl.perSampleValues(logits: z, targets: y)
          == bce.perSampleValues(logits: z, targets: y))
      for gamma in [0.5, 2, 3.7] {
        var asl = AsymmetricLoss(
          positiveFocusing: gamma, negativeFocusing: gamma, probabilityMargin: 0)
        asl.reduction = reduction
        var focal = BinaryFocalLoss(gamma: gamma)
        focal.reduction = reduction
        let a = try asl.valueGradientAndHessianDiagonal(logits: z, targets: y, weights: w)
        let b = try focal.valueGradientAndHessianDiagonal(logits: z, targets: y, weights: w)
        #expect(a.value == b.value && a.gradient == b.gradient
          && a.hessianDiagonal == b.hessianDiagonal, "γ \(gamma)")
      }
    }
  }

  @Test func generalKernelWithoutMarginIsFocalOnEachSide() throws {
    // m = 0 with γ+ ≠ γ- runs the asymmetric kernel: on hard targets each
    // entry is the focal loss with its side's γ (to rounding: the negative
    // term takes another route to the same formula).
    var rng = SplitMix64(seed: 152)
    let z = rng.uniforms(40, in: -30...30) + [-1e300, 1e300, -745, 745, 0]
    let y = z.indices.map { Double($0 % 2) }
    var asl = AsymmetricLoss(positiveFocusing: 2, negativeFocusing: 3.5, probabilityMargin: 0)
    asl.reduction = .sum
    let a = try asl.valueGradientAndHessianDiagonal(logits: z, targets: y)
    let terms = try asl.perSampleValues(logits: z, targets: y)
    for k in z.indices {
      var focal = BinaryFocalLoss(gamma: y[k] == 1 ? 2 : 3.5)
      focal.reduction = .sum
      let f = try focal.valueGradientAndHessianDiagonal(logits: [z[k]], targets: [y[k]])
      expectClose(terms[k], f.value, relative: 1e-14, floor: 1e-300, "[\(k)] z \(z[k])")
      expectClose(a.gradient[k], f.gradient[0], relative: 1e-14, floor: 1e-300, "[\(k)]")
      expectClose(
        a.hessianDiagonal[k], f.hessianDiagonal[0], relative: 1e-12, floor: 1e-300, "[\(k)]")
    }
  }

  @Test(arguments: [
    (0.0, 4.0, 0.05), (1, 4, 0.05), (0.5, 0.5, 0.2), (3, 1.5, 0.01), (0, 0, 0.3), (2, 2, 0),
    (1, 100, 0.05),
  ])
  func gradientAndHessianMatchFiniteDifferences(gp: Double, gn: Double, m: Double) throws {
    for reduction in [Reduction.mean, .sum] {
      var loss = AsymmetricLoss(positiveFocusing: gp, negativeFocusing: gn, probabilityMargin: m)
      loss.reduction = reduction
      var rng = SplitMix64(seed: 153)
      let z = logitsAwayFromKink(&rng, count: 21, margin: m)
      let y = rng.uniforms(21, in: 0...1).map { $0 < 0.3 ? 0 : ($0 > 0.7 ? 1 : $0) }
      let w = rng.uniforms(21, in: 0...3)
      for weights in [nil, w] {
        try expectGradientMatchesFiniteDifferences(
          loss, logits: z, targets: y, weights: weights, "γ+ \(gp) γ- \(gn) m \(m)")
        let r = try loss.valueGradientAndHessianDiagonal(logits: z, targets: y, weights: weights)
        let first = try loss.valueAndGradient(logits: z, targets: y, weights: weights)
        #expect(r.value == first.value && r.gradient == first.gradient)
        let fd = try hessianByDifferences(loss, logits: z, targets: y, weights: weights)
        expectClose(r.hessianDiagonal, fd, relative: 1e-7, "γ+ \(gp) γ- \(gn) m \(m)")
      }
    }
  }

  @Test func belowTheMarginNegativesCostNothing() throws {
    // p <= m: the negative term, its slope and curvature are exactly 0, and
    // just above it they are small and finite (γ- = 0.5: the curvature grows
    // like (p - m)^(γ- - 1) but stays finite since p - m >= ulp(m)).
    let m = 0.05
    let kink = log(m / (1 - m))
    var loss = AsymmetricLoss(positiveFocusing: 0, negativeFocusing: 0.5, probabilityMargin: m)
    loss.reduction = .sum
    let z = [kink - 1, kink - 1e-9, kink.nextUp, kink + 1e-12, kink + 1e-6, -40]
    let y = [Double](repeating: 0, count: z.count)
    let r = try loss.valueGradientAndHessianDiagonal(logits: z, targets: y)
    let terms = try loss.perSampleValues(logits: z, targets: y)
    #expect(terms[0] == 0 && terms[1] == 0 && terms[5] == 0)
    #expect(r.gradient[0] == 0 && r.hessianDiagonal[0] == 0 && r.gradient[5] == 0)
    for k in z.indices {
      #expect(terms[k].isFinite && terms[k] >= 0 && r.gradient[k] >= 0, "[\(k)]")
      #expect(r.hessianDiagonal[k].isFinite, "[\(k)]")
    }
    // Just above the margin with γ- = 4: the term is about u^5 (u = p - m).
    var paper = AsymmetricLoss()
    paper.reduction = .sum
    let u = 1e-3
    let zu = log((m + u) / (1 - m - u))
    let t = try paper.perSampleValues(logits: [zu], targets: [0])[0]
    expectClose(t, pow(u, 4) * -log1p(-u), relative: 1e-11)
  }

  @Test func extremeLogitsAreFinite() throws {
    // By hand. A positive at -1e300 costs -log p = 1e300 (γ+ = 0), slope -1;
    // a negative at +1e300 has p = 1, u = 1 - m, r = m: value
    // (1 - m)^γ- (-log m), slope p u^γ (γ q A + q / r) = 0 since q = 0.
    var loss = AsymmetricLoss()
    loss.reduction = .sum
    let z = [-1e300, 1e300, 1e300, -1e300]
    let y: [Double] = [1, 1, 0, 0]
    let r = try loss.valueGradientAndHessianDiagonal(logits: z, targets: y)
    let negative = pow(0.95, 4) * -log(0.05)
    expectClose(r.value, 1e300 + negative, relative: 1e-15)
    #expect(r.gradient == [-1, 0, 0, 0] && r.hessianDiagonal == [0, 0, 0, 0])
    // m = 0 through the asymmetric kernel: the negative at +1e300 costs
    // softplus(1e300) = 1e300 with slope 1 (γ- q A = γ- q softplus / p -> 0).
    var noMargin = AsymmetricLoss(
      positiveFocusing: 1, negativeFocusing: 2, probabilityMargin: 0)
    noMargin.reduction = .sum
    let s = try noMargin.valueGradientAndHessianDiagonal(logits: z, targets: y)
    #expect(s.value == 2e300)
    #expect(s.gradient == [-1, 0, 1, 0] && s.hessianDiagonal == [0, 0, 0, 0])
    // Large focusing, non-integer focusing, tiny and large margins: finite everywhere.
    for (gp, gn, m) in [(1000.0, 1000.0, 0.5), (0.3, 7.5, 1e-300), (100, 0.25, 1 - 0x1p-53),
      (0, 4, Double.leastNonzeroMagnitude)]
    {
      let probe = AsymmetricLoss(positiveFocusing: gp, negativeFocusing: gn, probabilityMargin: m)
      let zs = [-1e300, -745, -36, -1, 0, 1, 36, 745, 1e300]
      for target in [0.0, 0.5, 1] {
        let ys = [Double](repeating: target, count: zs.count)
        let e = try probe.valueGradientAndHessianDiagonal(logits: zs, targets: ys)
        #expect(e.value.isFinite, "γ+ \(gp) γ- \(gn) m \(m) y \(target)")
        #expect(e.gradient.allSatisfy(\.isFinite) && e.hessianDiagonal.allSatisfy(\.isFinite),
          "γ+ \(gp) γ- \(gn) m \(m) y \(target): \(e.gradient) \(e.hessianDiagonal)")
      }
    }
  }

  @Test func invalidParametersThrow() throws {
    let z = [0.5, -1.0]
    let y = [1.0, 0]
    let bad: [(AsymmetricLoss, LossError)] = [
      (AsymmetricLoss(positiveFocusing: -1),
       .invalidParameter(name: "positiveFocusing", value: -1, requirement: "in [0, 1000]")),
      (AsymmetricLoss(positiveFocusing: .nan),
       .invalidParameter(name: "positiveFocusing", value: .nan, requirement: "in [0, 1000]")),
      (AsymmetricLoss(negativeFocusing: 1001),
       .invalidParameter(name: "negativeFocusing", value: 1001, requirement: "in [0, 1000]")),
      (AsymmetricLoss(negativeFocusing: .infinity),
       .invalidParameter(
         name: "negativeFocusing", value: .infinity, requirement: "in [0, 1000]")),
      (AsymmetricLoss(probabilityMargin: 1),
       .invalidParameter(name: "probabilityMargin", value: 1, requirement: "in [0, 1)")),
      (AsymmetricLoss(probabilityMargin: -0.01),
       .invalidParameter(name: "probabilityMargin", value: -0.01, requirement: "in [0, 1)")),
      (AsymmetricLoss(probabilityMargin: .nan),
       .invalidParameter(name: "probabilityMargin", value: .nan, requirement: "in [0, 1)")),
    ]
    for (loss, error) in bad {
      expectError(error) { _ = try loss.value(logits: z, targets: y) }
      var gradient = [7.0, 7]
      expectError(error) { _ = try loss.valueAndGradient(logits: z, targets: y, gradient: &gradient) }
      #expect(gradient == [7, 7])
      expectError(error) { _ = try loss.perSampleValues(logits: z, targets: y) }
      expectError(error) { _ = try loss.valueGradientAndHessianDiagonal(logits: z, targets: y) }
    }
    let loss = AsymmetricLoss()
    expectCommonBadInputsRejected(loss, logits: [0.5, -1, 2], targets: [1, 0, 0])
    expectError(.targetOutOfRange(index: 1, value: 1.5)) {
      _ = try loss.value(logits: [1, 2], targets: [0, 1.5])
    }
  }

  @Test func ignoredEntriesAreSkipped() throws {
    var loss = AsymmetricLoss(positiveFocusing: 1, negativeFocusing: 4, probabilityMargin: 0.1)
    loss.ignoredTarget = -1
    let r = try loss.valueGradientAndHessianDiagonal(
      logits: [0.5, 3, -1, 2], targets: [1, -1, 0, -1])
    let kept = try AsymmetricLoss(positiveFocusing: 1, negativeFocusing: 4, probabilityMargin: 0.1)
      .valueGradientAndHessianDiagonal(logits: [0.5, -1], targets: [1, 0])
    expectClose(r.value, kept.value, relative: 1e-15)
    #expect(r.gradient == [kept.gradient[0], 0, kept.gradient[1], 0])
    #expect(r.hessianDiagonal == [kept.hessianDiagonal[0], 0, kept.hessianDiagonal[1], 0])
  }

  @Test func vectorLogIsWithinOneUlp() {
    // Elementary.log against the C library's log (itself < 1 ulp): within 2
    // ulps of it, over normal and subnormal inputs; special values exactly.
    var rng = SplitMix64(seed: 154)
    var inputs: [Double] = [1, 2, 0.5, 1.5, 0.7, 1e-300, Double.leastNonzeroMagnitude, 0x1p-1022, 0x1p-1030,
      .greatestFiniteMagnitude, 1 - 0x1p-53, 1 + 0x1p-52, 0.05, 0.95]
    inputs += rng.uniforms(200, in: -745...709).map { exp($0) }
    inputs += rng.uniforms(200, in: 0.5...2)
    while inputs.count % 8 != 0 { inputs.append(3) }
    for start in stride(from: 0, to: inputs.count, by: 8) {
      var x = Vector()
      for lane in 0..<8 { x[lane] = inputs[start + lane] }
      let r = Elementary.log(x)
      for lane in 0..<8 {
        let e = log(x[lane])
        #expect(abs(r[lane] - e) <= 2 * max(e.ulp, 0.0.nextUp), "log(\(x[lane])) = \(r[lane]) vs \(e)")
      }
    }
    var special = Vector(repeating: 1)
    special[0] = 0
    special[1] = .infinity
    special[2] = -1
    special[3] = .nan
    let s = Elementary.log(special)
    #expect(s[0] == -.infinity && s[1] == .infinity && s[2].isNaN && s[3].isNaN && s[4] == 0)
  }
}
