import Testing

@testable import ImbalanceLoss

// Direct tests of the numeric safeguards of the kernels, each also guarded by
// an end-to-end test elsewhere in this file or the suite, so that no safeguard
// rests on a single accuracy-audit row: compensated sums, the two-word
// exponents of the softmax kernel (TwoSum), power-of-two weight scaling, the
// zero-safe weighted products, the split factor of summed softmax rows, and
// exp near the ends of its reduction interval.

@Suite struct CompensatedSumSafeguardTests {
  @Test func scalarSumKeepsASmallTermALargeSumAbsorbs() {
    // 1e16 + 1 rounds to 1e16 (ulp 2); the compensation keeps the 1.
    var s = CompensatedSum()
    var plain = 0.0
    for x in [1e16, 1, -1e16] {
      s.add(x)
      plain += x
    }
    #expect(plain == 0)
    #expect(s.value == 1)
  }

  @Test func scalarSumKeepsASmallSumALargeTermAbsorbs() {
    // The other branch of Neumaier's step: |x| > |sum|.
    var s = CompensatedSum()
    for x in [1, 1e16, -1e16] { s.add(x) }
    #expect(s.value == 1)
    // Ten rounded tenths: the plain sum is 0.9999999999999999, the true sum
    // 1.0000000000000000555 rounds to 1.
    var tenths = CompensatedSum()
    for _ in 0..<10 { tenths.add(0.1) }
    #expect(tenths.value == 1)
  }

  @Test func laneWiseSumKeepsSmallTermsInBothBranches() {
    var s = CompensatedSum4()
    s.add(SIMD4(1e16, 1, 1e300, 3))
    s.add(SIMD4(1, 1e16, 1, 0x1p-60))  // lane 0: |sum| >= |x|; lane 1: |x| > |sum|
    s.add(SIMD4(-1e16, -1e16, -1e300, -3))
    #expect(s.value == SIMD4(1, 1, 1, 0x1p-60))
  }

  @Test func weightTotalOfTheMeanIsCompensated() throws {
    // Scaled by 2^-53: 1e16 + 1 + 1 = 1e16 + 2 exactly, where a plain sum
    // loses both ones (each a tie rounded to the even 1e16).
    let weights = [1e16, 1, 1]
    let n = try weights.withUnsafeBufferPointer { (w) throws(LossError) in
      try Validation.normalizer(weights: w, sampleCount: 3)
    }
    #expect(n.scale == 0x1p-53)
    #expect(n.reciprocal == 1 / ((1e16 + 2) * 0x1p-53))
  }

  @Test func confusionMatrixTotalIsCompensated() throws {
    // Cells 1e16, 1 and 1 in three places: the total is 1e16 + 2.
    let m = try ConfusionMatrix(
      predictions: [1, 1, 2], labels: [0, 1, 2], classCount: 3, weights: [1e16, 1, 1])
    #expect(m.accuracy == 2 / (1e16 + 2))
  }
}

@Suite struct WeightScalingSafeguardTests {
  @Test func normalizerScaleIsAnExactPowerOfTwo() throws {
    let cases: [[Double]] = [
      [3e300, 1e300], [0.75, 0.1], [1.5, 1.5, 1.5], [1e-310, 0, 2e-310], [5e-324, 5e-324],
    ]
    for weights in cases {
      let n = try weights.withUnsafeBufferPointer { (w) throws(LossError) in
        try Validation.normalizer(weights: w, sampleCount: weights.count)
      }
      let largest = weights.max()!
      #expect(n.scale.significand == 1 && n.scale.isNormal, "\(weights)")
      if largest.exponent >= -1000 {
        #expect(largest * n.scale >= 1 && largest * n.scale < 2, "\(weights)")
      } else {
        #expect(n.scale == 0x1p1000, "\(weights): clamped")
      }
      // The factors w_i / W of equal weights are exactly 1/N.
      if Set(weights).count == 1 {
        for w in weights {
          #expect((w * n.scale) * n.reciprocal == 1 / Double(weights.count), "\(weights)")
        }
      }
    }
  }

  @Test func weightsScaledByAPowerOfTwoGiveBitIdenticalResults() throws {
    var rng = SplitMix64(seed: 0x2_0F_2)
    let n = 19
    let z = rng.uniforms(n, in: -4...4)
    let y = rng.uniforms(n, in: 0...1)
    let w = rng.uniforms(n, in: 0.5...2)
    let k = 5
    let zs = rng.uniforms(11 * k, in: -4...4)
    let labels = rng.classes(11, classCount: k)
    let ws = rng.uniforms(11, in: 0.5...2)
    let bce = BinaryCrossEntropy(positiveWeight: 3)
    let softmax = try SoftmaxCrossEntropy(classCount: k)
    var weighted = softmax
    weighted.classWeights = [1, 3, 0.5, 2, 7]
    let reference = try bce.valueAndGradient(logits: z, targets: y, weights: w)
    let softReference = try softmax.valueAndGradient(logits: zs, targets: labels, weights: ws)
    let classReference = try weighted.valueAndGradient(logits: zs, targets: labels, weights: ws)
    for e in [-1000, -300, 1, 500, 1000] {
      let scale = Double(sign: .plus, exponent: e, significand: 1)
      let scaled = try bce.valueAndGradient(logits: z, targets: y, weights: w.map { $0 * scale })
      #expect(scaled.value == reference.value && scaled.gradient == reference.gradient, "2^\(e)")
      let s = try softmax.valueAndGradient(
        logits: zs, targets: labels, weights: ws.map { $0 * scale })
      #expect(s.value == softReference.value && s.gradient == softReference.gradient, "2^\(e)")
      let c = try weighted.valueAndGradient(
        logits: zs, targets: labels, weights: ws.map { $0 * scale })
      #expect(c.value == classReference.value && c.gradient == classReference.gradient, "2^\(e)")
    }
  }

  @Test func subnormalTotalOfWeightsOnDifferentRowsIsRescaled() throws {
    // v_0 = 1 · 2^-1070 and v_1 = 2^-1070 · 1: Σ v = 2^-1069 has an infinite
    // reciprocal unless both scales grow; then each factor is exactly 1/2,
    // the unweighted mean's.
    var loss = try SoftmaxCrossEntropy(classCount: 2)
    let logits = [0.5, -1.25, 2, 0.125]
    let plain = try loss.valueAndGradient(logits: logits, targets: [0, 1])
    loss.classWeights = [0x1p-1070, 1]
    let tiny = try loss.valueAndGradient(logits: logits, targets: [0, 1], weights: [1, 0x1p-1070])
    #expect(tiny.value == plain.value)
    #expect(tiny.gradient == plain.gradient)
  }
}

@Suite struct ZeroSafeProductSafeguardTests {
  @Test func weightedProductIsFiniteWhereTheTrueProductIs() {
    let f = Vector(1e-300, 1e300, 0, 2, 1e-300, 1e300, 0x1p-1074, 1)
    let a = Vector(10, 1e10, 1e308, 3, 1e300, 0, 1, 0)
    let b = Vector(1e308, 0, 1e308, 4, 1e300, 1e308, 1e308, 5)
    let p = BinaryKernels.weightedProduct(f, a, b)
    // (f a) b first: a tiny weight keeps a huge b finite.
    #expect(p[0] == (1e-300 * 10) * 1e308)
    // f a overflows and b = 0: 0, not inf * 0 = NaN.
    #expect(p[1] == 0 && p[1].sign == .plus)
    #expect(p[2] == 0 && p[3] == 24 && p[5] == 0 && p[7] == 0)
    #expect(p[4] == (1e-300 * 1e300) * 1e300)
    #expect(p[6] == 0x1p-1074 * 1e308)
  }

  @Test func weightedSumFallsBackToTheSplitProducts() {
    let f = Vector(1e-300, 1e300, 1e300, 1e-300, 2, 1e300, 0, 1)
    let a1 = Vector(10, 1e10, 1e300, 1e300, 3, 1e10, 1e308, 1)
    let b1 = Vector(1e308, 0, 1e300, 1e300, 4, 0, 1e308, 1)
    let a2 = Vector(10, 1, 0, 1e300, 5, 1e10, 1, 1)
    let b2 = Vector(1e308, 2, 0, 1e300, 6, 0, 1, 1)
    let s = BinaryKernels.weightedSum(f, a1, b1, a2, b2)
    // a b overflows, f tiny: the split products, 2 (1e-300 · 10 · 1e308).
    #expect(s[0] == (1e-300 * 10) * 1e308 * 2)
    #expect(s[1] == 2e300)
    // The true value overflows: +inf, never NaN.
    #expect(s[2] == .infinity)
    #expect(s[3] == 2 * ((1e-300 * 1e300) * 1e300))
    #expect(s[4] == 2 * (3 * 4 + 5 * 6))
    // f a overflows in both terms, both b = 0: 0.
    #expect(s[5] == 0)
    // f = 0 with a b overflowing: 0.
    #expect(s[6] == 0 && s[7] == 2)
    for lane in 0..<8 { #expect(!s[lane].isNaN, "lane \(lane)") }
  }

  @Test func hugeWeightTimesClassWeightOnAZeroSoftplusGivesZero() throws {
    // Sample 0: f a_neg = 1e300 · 1e10 overflows while softplus(-1e300) = 0:
    // its term is 0 (was inf · 0 = NaN). Sample 1: softplus(-1) =
    // log1p(e^-1) = 0.3132616875182228340489954949678556419153 (mpmath).
    var loss = BinaryCrossEntropy(positiveWeight: 1, negativeWeight: 1e10)
    loss.reduction = .sum
    let (value, gradient) = try loss.valueAndGradient(
      logits: [-1e300, 1], targets: [0, 1], weights: [1e300, 1])
    expectUlps(value, 0.3132616875182228340489954949678556419153, 2)
    #expect(gradient[0] == 0)
    #expect(!gradient[1].isNaN && gradient[1] < 0)
  }

  @Test func summedSoftmaxRowWhoseFactorTimesScaleOverflowsIsSplit() throws {
    // f s = 1e307 · 32 overflows: the row is computed with factor 1 and the
    // weight applied afterwards, exactly (powers of two) and zero-safe:
    // p = (1/2, 1/2, 0), gradient = w s (p - onehot) = (-16 w, 16 w, 0).
    var margin = try MarginSoftmaxCrossEntropy.additiveMargin(0, classCount: 3, scale: 32)
    margin.reduction = .sum
    let logits = [0.0, 0, -1e4]
    let (value, gradient) = try margin.valueAndGradient(
      logits: logits, targets: [0], weights: [1e307])
    #expect(gradient == [-1e307 * 16, 1e307 * 16, 0])
    let unit = try margin.value(logits: logits, targets: [0], weights: [1])
    expectClose(value, unit * 1e307, relative: 4e-16)

    // Focal loss: f (γ + 2) = 1e308 · 4 overflows.
    var focal = try SoftmaxFocalLoss(classCount: 2, gamma: 2)
    focal.reduction = .sum
    let big = try focal.valueAndGradient(logits: [0.25, -0.5], targets: [0], weights: [1e308])
    let one = try focal.valueAndGradient(logits: [0.25, -0.5], targets: [0], weights: [1])
    expectClose(big.value, one.value * 1e308, relative: 4e-16)
    for j in 0..<2 {
      #expect(big.gradient[j].isFinite)
      expectClose(big.gradient[j], one.gradient[j] * 1e308, relative: 4e-16, "entry \(j)")
    }
  }
}

@Suite struct SoftmaxExponentSafeguardTests {
  @Test func distantExponentKeepsItsDigitsInTheVectorLoop() throws {
    // K = 9: z_1 sits in the first full vector. mpmath (dps 50), z_1 =
    // mpf(333.3333333333333): log1p(e^(z_1 - 1000) + 7 e^-2000) and
    // e^(z_1 - 1000) / (1 + ...) are both 2.95355728026604448472694099178e-290.
    // Rounding z_1 - 1000 before exp costs 294 ulps.
    let loss = try SoftmaxCrossEntropy(classCount: 9)
    let logits = [1000, 333.3333333333333] + [Double](repeating: -1000, count: 7)
    let (value, gradient) = try loss.valueAndGradient(logits: logits, targets: [0])
    expectUlps(value, 2.95355728026604448472694099178e-290, 2)
    expectUlps(gradient[1], 2.95355728026604448472694099178e-290, 2)
    expectUlps(-gradient[0], 2.95355728026604448472694099178e-290, 2)
  }

  @Test func dekkerProductErrorIsExact() {
    // t = fl(x s) and e = productError(x, t): x s = t + e exactly, as an FMA
    // (one rounding of -t + x s, exact since the error is representable)
    // computes it. Scalar and lane-wise; s not a power of two, so the kernel
    // splits it.
    var rng = SplitMix64(seed: 0xDE_66E2)
    let offsets = [0.0]
    offsets.withUnsafeBufferPointer { o in
      for s in [30.0, 0.1, 3.7, 1 / 3.0] {
        let rule = SoftmaxRule(offsets: o.baseAddress!, scale: s)
        #expect(rule.splitsScale)
        var x = Vector()
        for lane in 0..<8 {
          x[lane] = rng.uniform(-700...700) * (lane == 7 ? 1e-200 : 1)
        }
        let t = x * s
        let lanes = SoftmaxKernel.productError(x, t, rule)
        for lane in 0..<8 {
          let exact = (-t[lane]).addingProduct(x[lane], s)
          #expect(SoftmaxKernel.productError(x[lane], t[lane], rule) == exact, "x \(x[lane]), s \(s)")
          #expect(lanes[lane] == exact, "x \(x[lane]), s \(s), lane \(lane)")
        }
      }
    }
  }

  @Test(arguments: [
    (12, 2.484906649788000310229709479838878840798),
    (13, 2.564949357461536736053487441565318604805),
    (15, 2.708050201102210065996004570148713344173),
  ])
  func overlappingTailLanesCountOnce(classCount k: Int, logK: Double) throws {
    // K = 12, 13, 15: a last partial vector of 4, 5, 7 logits runs as a full
    // vector overlapping the previous one; its repeated lanes must add
    // nothing. Equal logits: the loss is log K (mpmath), the gradient 1/K
    // and 1/K - 1.
    let loss = try SoftmaxCrossEntropy(classCount: k)
    let (value, gradient) = try loss.valueAndGradient(
      logits: [Double](repeating: 0.5, count: k), targets: [k - 1])
    expectUlps(value, logK, 1, "K = \(k)")
    for j in 0..<k {
      let expected = j == k - 1 ? 1 / Double(k) - 1 : 1 / Double(k)
      expectUlps(gradient[j], expected, 2, "K = \(k), entry \(j)")
    }
  }
}

@Suite struct ExpReductionSafeguardTests {
  @Test func expNearTheEndsOfItsReductionInterval() {
    // |r| in [0.30, ln2/2]: where the polynomial's error, and the effect of a
    // wrong coefficient (c5 r^5 for the r^5 term), is largest.
    #expect(expReductionReference.count == 3 * 1024)
    let worst = worstUlpError(expReductionReference, columns: 3, hi: 1) { Elementary.exp($0) }
    #expect(worst.ulps <= 0.51, "exp: \(worst.ulps) ulps at x = \(worst.at)")
  }

  @Test func expNearTheEndsOfItsTableReduction() {
    // The table-driven exp (2026-12-07): x = (128 n + j) ln2/128 + r with
    // every j and |r| in [0.9, 1] ln2/256, where k rounds either way and the
    // degree-5 polynomial's error is largest. (The test above, written for
    // the earlier |r| <= ln2/2 reduction, still checks exp there.)
    #expect(expTableReductionReference.count == 3 * 2048)
    let worst = worstUlpError(expTableReductionReference, columns: 3, hi: 1) {
      Elementary.exp($0)
    }
    #expect(worst.ulps <= 0.51, "exp: \(worst.ulps) ulps at x = \(worst.at)")
    let tiny = worstUlpError(expTableReductionReference, columns: 3, hi: 1, subnormal: true) {
      Elementary.exp($0)
    }
    #expect(tiny.ulps <= 1, "exp: \(tiny.ulps) ulps at x = \(tiny.at)")
  }
}
