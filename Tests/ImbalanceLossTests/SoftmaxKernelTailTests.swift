#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ImbalanceLoss
import Testing

// The softmax kernel handles the last partial vector of a row as an
// overlapping masked vector when K >= 8, and lane by lane when K < 8. These
// tests run every tail length (K = 1...20) against a plain scalar
// log-sum-exp written here independently (libm exp and log, one loop).

/// Scalar reference: row loss `logsumexp(a) - a_c` and gradient
/// `softmax(a) - [k == c]` with `a = z + offsets`, unweighted.
func scalarSoftmaxReference(
  _ z: [Double], _ offsets: [Double], label c: Int
) -> (loss: Double, gradient: [Double]) {
  let a = zip(z, offsets).map { $0 + $1 }
  let m = a.max()!
  let e = a.map { exp($0 - m) }
  let total = e.reduce(0, +)
  var g = e.map { $0 / total }
  g[c] -= 1
  return (m + log(total) - a[c], g)
}

@Suite struct SoftmaxKernelTailTests {
  @Test(arguments: 1...20)
  func everyTailLengthMatchesAScalarReference(classCount k: Int) throws {
    let seed = 0x50F7 + UInt64(k)
    var rng = SplitMix64(seed: seed)
    let rows = 7
    let z = rng.uniforms(rows * k, in: -8...8)
    let c = rng.classes(rows, classCount: k)
    let priors = (0..<k).map { _ in rng.uniform(0.01...1) }
    let loss = try LogitAdjustedCrossEntropy(priors: priors, tau: 0.7)
    var g = [Double](repeating: .nan, count: z.count)
    let value = try loss.valueAndGradient(logits: z, targets: c, weights: nil, gradient: &g)

    let sum = priors.reduce(0, +)
    let offsets = priors.map { 0.7 * log($0 / sum) }
    var expectedValue = 0.0
    for i in 0..<rows {
      let r = scalarSoftmaxReference(Array(z[i * k..<(i + 1) * k]), offsets, label: c[i])
      expectedValue += r.loss / Double(rows)
      // Each entry within 1e-14 relative, or 4e-16 / rows absolute: for a
      // confident, correct row the reference's `e_c / total - 1` cancels
      // (about one ulp of 1), where the kernel uses the exact -s'/(1 + s').
      let expected = r.gradient.map { $0 / Double(rows) }
      for j in 0..<k {
        let actual = g[i * k + j]
        let error = abs(actual - expected[j])
        #expect(
          error <= 1e-14 * abs(expected[j]) + 4e-16 / Double(rows),
          "g[\(i), \(j)] = \(actual) vs \(expected[j]), K = \(k), seed \(seed)")
      }
    }
    expectClose(value, expectedValue, relative: 1e-14, "K = \(k), seed \(seed)")
  }

  // The masked tail with the rest of the row rule: a margin on a label in
  // the tail or in its overlapping lanes, logit scale and label smoothing
  // (whose mean of a_k - m must skip the overlapping lanes), and focal loss,
  // against the straightforward SoftmaxReference (Support/).
  @Test(arguments: 1...20)
  func everyTailLengthWithMarginsSmoothingAndFocal(classCount k: Int) throws {
    let seed = 0x7A11 + UInt64(k)
    var rng = SplitMix64(seed: seed)
    let rows = 9
    let z = rng.uniforms(rows * k, in: -1...1)
    var c = rng.classes(rows, classCount: k)
    // Labels at the last class, the first overlapping lane and class 0.
    c[0] = k - 1
    c[1] = max(0, k - 8)
    c[2] = 0
    let margins = rng.uniforms(k, in: 0...0.6)
    for eps in [0.0, 0.3] {
      var loss = try MarginSoftmaxCrossEntropy(margins: margins, scale: 16)
      loss.labelSmoothing = eps
      var reference = SoftmaxReference(classCount: k)
      reference.scale = 16
      reference.margins = margins
      reference.smoothing = eps
      let got = try loss.valueAndGradient(logits: z, targets: c)
      let expected = reference.evaluate(logits: z, targets: c)
      // As in MarginSoftmaxCrossEntropyTests: s (z - m) and s z - s m round
      // differently, a few ulps of a logit of size 16.
      expectClose(got.value, expected.value, relative: 1e-13, "K = \(k) eps \(eps) seed \(seed)")
      expectClose(
        got.gradient, expected.gradient, relative: 1e-13, "K = \(k) eps \(eps) seed \(seed)")
    }
    let focal = try SoftmaxFocalLoss(classCount: k, gamma: 1.5)
    var reference = SoftmaxReference(classCount: k)
    reference.gamma = 1.5
    let got = try focal.valueAndGradient(logits: z, targets: c)
    let expected = reference.evaluate(logits: z, targets: c)
    expectClose(got.value, expected.value, relative: 1e-13, "focal K = \(k) seed \(seed)")
    expectClose(got.gradient, expected.gradient, relative: 1e-13, "focal K = \(k) seed \(seed)")
  }
}

extension SoftmaxKernelTests {
  /// Logits of ±1e300 (every other e underflows to 0, s' = 0) through the
  /// vector body, the masked vector tail (K = 13) and the scalar tail
  /// (K = 3, 10), by hand: a row whose label holds the maximum costs exactly
  /// 0; a row whose label is at -1e300 costs 2e300 with gradient +1 at the
  /// maximum and -1 at the label (before the 1/N of the mean).
  @Test(arguments: [3, 10, 13])
  func extremeLogitsGiveExactFiniteResults(classCount k: Int) throws {
    var z = [Double](repeating: -1e300, count: 2 * k)
    z[0] = 1e300  // row 0: maximum at class 0
    z[k] = 1e300  // row 1: maximum at class 0
    let loss = try SoftmaxCrossEntropy(classCount: k)
    let (value, g) = try loss.valueAndGradient(logits: z, targets: [0, k - 1])
    #expect(value == 1e300)  // (0 + 2e300) / 2
    var expected = [Double](repeating: 0, count: 2 * k)
    expected[k] = 0.5
    expected[2 * k - 1] = -0.5
    #expect(g == expected, "K = \(k)")
  }
}
