@testable import ImbalanceLoss
import Testing

// Rows whose adjusted logits overflow in double precision (a_k = -inf, or
// m - a_c, or the label-smoothing mean, beyond the largest double). The rule:
// never NaN; the weighted loss is finite whenever its true value is; +inf only
// for a true overflow. References: Tests/References/overflow_rows.py (mpmath,
// 50 digits, on the exact doubles passed here).

/// Every element within `tolerance` relative error of its own expected value
/// (the tiny entries of a lightly weighted row are checked too).
private func expectEach(
  _ actual: [Double], _ expected: [Double], relative tolerance: Double,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(actual.count == expected.count, sourceLocation: sourceLocation)
  for (a, e) in zip(actual, expected) {
    expectClose(a, e, relative: tolerance, sourceLocation: sourceLocation)
  }
}

@Suite struct SoftmaxKernelTests {
  @Test func rescaledStatisticsAgreeWithTheFastPass() {
    // On ordinary rows the quarter-scale pass must give the same statistics:
    // a_k / 4 has the same roundings as a_k (scaling by 2^-2 is exact), so the
    // maximum and label logit are exact; exp (vector vs libm) and the order of
    // the sums differ by an ulp or so. K = 13: a vector block and a tail.
    let seed: UInt64 = 0x51ab_0001
    var rng = SplitMix64(seed: seed)
    let k = 13
    for trial in 0..<50 {
      let z = rng.uniforms(k, in: -30...30)
      let o = rng.uniforms(k, in: -5...0)
      let margins = rng.uniforms(k, in: 0...1)
      let labels = rng.classes(1, classCount: k)
      var fastExps = [Double](repeating: 0, count: k)
      var slowExps = [Double](repeating: 0, count: k)
      z.withUnsafeBufferPointer { z in
        labels.withUnsafeBufferPointer { c in
          o.withUnsafeBufferPointer { o in
            margins.withUnsafeBufferPointer { m in
              let batch = try! SoftmaxBatch(
                logits: z, labels: c, weights: nil, gradient: nil, classCount: k)
              let rule = SoftmaxRule(
                offsets: o.baseAddress!, scale: 1.5, margins: m.baseAddress!, smoothing: 0.1)
              let fast = SoftmaxKernel.statistics(batch, 0, rule, &fastExps)
              let slow = SoftmaxKernel.rescaledStatistics(batch, 0, rule, &slowExps)
              let note = "seed \(seed), trial \(trial)"
              #expect(fast.unit == 1 && slow.unit == 4, "\(note)")
              // The fast pass carries a_k - m in two words, the quarter pass
              // rounds each a_k / 4 (|a| <= 50.5, ulp 7.1e-15): they agree to
              // a few of those ulps in m - a_c, and exp(4 d) to |4 d| of them
              // (|4 d| <= 101, so 101 * 7.1e-15 = 7.2e-13 relative).
              expectClose(slow.gap * 4, fast.gap, relative: 1e-14, floor: 3, note)
              expectClose(slow.sPrime, fast.sPrime, relative: 1e-12, note)
              expectClose(slow.shiftedMean * 4, fast.shiftedMean, relative: 1e-12, note)
              for j in 0..<k { expectClose(slowExps[j], fastExps[j], relative: 1e-12, note) }
            }
          }
        }
      }
    }
  }

  @Test func lightlyWeightedRowBeyondTheLargestDouble() throws {
    // Row 1: l = 3.4e308 (> max), times f = 1e-300 / (1 + 1e-300): 3.4e8.
    let loss = try SoftmaxCrossEntropy(classCount: 2)
    let (value, gradient) = try loss.valueAndGradient(
      logits: [0, 0, 1.7e308, -1.7e308], targets: [0, 1], weights: [1, 1e-300])
    expectClose(value, 340000000.6931471768461957, relative: 1e-15)
    expectEach(
      gradient, [-0.5, 0.5, 1.0000000000000000251e-300, -1.0000000000000000251e-300],
      relative: 1e-15)
    // Alone, the row's unweighted term truly overflows: +inf, not NaN.
    let terms = try loss.perSampleValues(logits: [1.7e308, -1.7e308, 0, 0], targets: [1, 0])
    #expect(terms[0] == .infinity)
    expectClose(terms[1], 0.6931471805599453094, relative: 1e-15)
  }

  @Test func logitAdjustmentWhoseAdjustedLogitsOverflow() throws {
    // tau log(1/2) = -6.9e307: z + o = -2.4e308 = -inf for every class.
    let loss = try LogitAdjustedCrossEntropy(priors: [0.5, 0.5], tau: 1e308)
    let tie = try loss.valueAndGradient(logits: [-1.75e308, -1.75e308], targets: [0])
    expectClose(tie.value, 0.6931471805599453094, relative: 1e-15)
    expectEach(tie.gradient, [-0.5, 0.5], relative: 1e-15)
    // One class at -inf: l = 1.75e308 + exp(-1.75e308), finite.
    let gap = try loss.valueAndGradient(logits: [0, -1.75e308], targets: [1])
    expectClose(gap.value, 1.750000000000000019213361e308, relative: 1e-15)
    expectEach(gap.gradient, [1, -1], relative: 1e-15)
    let terms = try loss.perSampleValues(
      logits: [-1.75e308, -1.75e308, 0, -1.75e308], targets: [0, 1])
    expectClose(terms[0], 0.6931471805599453094, relative: 1e-15)
    expectClose(terms[1], 1.750000000000000019213361e308, relative: 1e-15)
  }

  @Test func offsetsNearMinusTheLargestDouble() throws {
    // o_1 = 2.4e305 log(1e-300) = -1.66e308: a_1 = -3.36e308, and m - a_1 =
    // 5.06e308; a difference of halves (2.53e308) would overflow too: quarters needed.
    var loss = try LogitAdjustedCrossEntropy(priors: [1, 1e-300], tau: 2.4e305)
    loss.reduction = .sum
    let (value, gradient) = try loss.valueAndGradient(
      logits: [1.7e308, -1.7e308], targets: [1], weights: [1e-300])
    expectClose(value, 505786126.695571283628868, relative: 1e-15)
    expectEach(gradient, [1.0000000000000000251e-300, -1.0000000000000000251e-300], relative: 1e-15)
  }

  @Test func labelSmoothingMeanBeyondTheLargestDouble() throws {
    var loss = try SoftmaxCrossEntropy(classCount: 2)
    loss.labelSmoothing = 0.2
    // eps mean_k (m - a_k) = 0.2 * 3.4e308 / 2: the sum 3.4e308 overflows, the loss doesn't.
    let one = try loss.valueAndGradient(logits: [1.7e308, -1.7e308], targets: [0])
    expectClose(one.value, 3.400000000000000066399506e307, relative: 1e-15)
    expectEach(one.gradient, [0.10000000000000000555, -0.10000000000000000555], relative: 1e-15)
    let (value, gradient) = try loss.valueAndGradient(
      logits: [0, 0, 1.7e308, -1.7e308], targets: [0, 1], weights: [1, 1e-300])
    expectClose(value, 306000000.6931471753301915, relative: 1e-15)
    expectEach(
      gradient,
      [-0.39999999999999999445, 0.39999999999999999445, 9.00000000000000017e-301,
       -9.00000000000000017e-301],
      relative: 1e-15)
  }

  @Test func focalRowBeyondTheLargestDouble() throws {
    // Row 1: q = 1, CE = 2e308 (> max); p CE in the gradient must be 0, not 0 * inf.
    let loss = try SoftmaxFocalLoss(classCount: 2, gamma: 2)
    let z = [0, 0, 1e308, -1e308]
    let (value, gradient) = try loss.valueAndGradient(
      logits: z, targets: [0, 1], weights: [1, 1e-300])
    expectClose(value, 200000000.1732868023476174, relative: 1e-15)
    expectEach(
      gradient,
      [-0.29828679513998632735, 0.29828679513998632735, 1.0000000000000000251e-300,
       -1.0000000000000000251e-300],
      relative: 1e-15)
    let second = try loss.valueGradientAndHessianDiagonal(
      logits: z, targets: [0, 1], weights: [1, 1e-300])
    #expect(second.value == value && second.gradient == gradient)
    // Row 1's entries hold p_c = exp(-2e308): 0 (they were 0 * inf = NaN).
    expectEach(
      second.hessianDiagonal, [0.39914339756999316368, 0.39914339756999316368, 0, 0],
      relative: 1e-14)
    // H v with v = e_0 + e_2: row 0's first column (H_10 = -H_00, rows of H sum
    // to 0 as l is shift-invariant), row 1's zeros.
    let product = try loss.hessianVectorProduct(
      logits: z, targets: [0, 1], weights: [1, 1e-300], vector: [1, 0, 1, 0])
    expectEach(
      product, [0.39914339756999316368, -0.39914339756999316368, 0, 0], relative: 1e-14)
  }
}

/// Eight rows through `crossEntropyGroup` give the bits of eight rows through
/// `crossEntropyRow` (the loss as `run` forms it, and every gradient entry),
/// or the group declines and the rows, run over its partial output, give
/// them: for K = 1 ... 16, plain rows and every kind of exponent (offsets,
/// scales that round, margins, smoothing, alone and together), weights,
/// ties, confident rows, logits from 1e-300 to 1.7e308 (rows that rescale)
/// and rows whose adjusted logits are all -inf.
@Suite struct SoftmaxRowGroupTests {
  @Test func groupsGiveTheBitsOfSingleRows() {
    var rng = SplitMix64(seed: 0x6a0_0001)
    var grouped = 0
    var declined = 0
    for trial in 0..<1200 {
      let k = 1 + trial % 16
      let n = 8 * k
      func pick<T>(_ choices: [T]) -> T { choices[Int(rng.next() % UInt64(choices.count))] }
      let spread = pick([1.0, 30, 1e-300, 1e300, 700, 1.7e308])
      var z = rng.uniforms(n, in: -1...1).map { $0 * spread }
      if rng.next() % 5 == 0 { for r in 0..<8 { z[r * k] = z[r * k + k - 1] } }  // ties
      if rng.next() % 5 == 0 { for r in 0..<8 { z[r * k + r % k] = 40 } }  // confident
      let plain = rng.next() % 3 == 0
      var o = plain ? [Double](repeating: 0, count: k) : rng.uniforms(k, in: -9...0)
      if !plain && rng.next() % 4 == 0 { o = o.map { _ in o[0] } }  // tied offsets: true ties
      let margins = rng.uniforms(k, in: 0...2).map { rng.next() % 4 == 0 ? 0 : $0 }
      let labels = rng.classes(8, classCount: k)
      let weights = rng.uniforms(8, in: 0.1...3)
      var scale = plain ? 1 : pick([1.0, 0.7, 16, 1.1, 1e10])
      if !plain && rng.next() % 16 == 0 {
        // Every s z_k + o_k is -inf.
        scale = 1e300
        z = (0..<n).map { -1e10 + Double($0 % k) * 1e-6 * Double(rng.next() % 2) }
      }
      let smoothing = rng.next() % 3 == 0 ? 0.1 : 0
      let useMargins = !plain && rng.next() % 2 == 0
      let useWeights = rng.next() % 2 == 0
      var rowGradient = [Double](repeating: .nan, count: n)
      var groupGradient = [Double](repeating: .nan, count: n)
      let note = "trial \(trial), K = \(k), spread \(spread), scale \(scale)"
      z.withUnsafeBufferPointer { z in
        labels.withUnsafeBufferPointer { c in
          o.withUnsafeBufferPointer { o in
            margins.withUnsafeBufferPointer { m in
              weights.withUnsafeBufferPointer { w in
                let batch = try! SoftmaxBatch(
                  logits: z, labels: c, weights: useWeights ? w : nil, gradient: nil,
                  classCount: k)
                let rule = SoftmaxRule(
                  offsets: o.baseAddress!, scale: scale,
                  margins: useMargins ? m.baseAddress! : nil, smoothing: smoothing,
                  offsetsAreZero: plain)
                #expect(SoftmaxKernel.groupsRows(rule, classCount: k), "\(note)")
                func rows(_ g: UnsafeMutablePointer<Double>?) -> Vector {
                  var linear = Vector()
                  var sPrime = Vector()
                  var f = Vector()
                  for r in 0..<8 {
                    (linear[r], sPrime[r], f[r]) = SoftmaxKernel.crossEntropyRow(batch, r, rule, g)
                  }
                  return linear + f * Elementary.log1p(sPrime)
                }
                let expected = rows(&rowGradient)
                let valueOnly = SoftmaxKernel.crossEntropyGroup(batch, first: 0, rule, nil)
                let group = SoftmaxKernel.crossEntropyGroup(batch, first: 0, rule, &groupGradient)
                #expect((valueOnly == nil) == (group == nil), "\(note)")
                // What `run` does: the group, or the rows over its partial output.
                let losses: Vector
                if let group {
                  grouped += 1
                  losses = group
                } else {
                  declined += 1
                  losses = rows(&groupGradient)
                }
                for r in 0..<8 {
                  #expect(losses[r].bitPattern == expected[r].bitPattern, "\(note), row \(r)")
                  if let valueOnly {
                    #expect(valueOnly[r].bitPattern == expected[r].bitPattern, "\(note), row \(r)")
                  }
                }
                #expect(
                  groupGradient.map(\.bitPattern) == rowGradient.map(\.bitPattern), "\(note)")
              }
            }
          }
        }
      }
    }
    // Both paths are exercised: most groups take the group path; rows that
    // rescale or whose maximum pass 1 misjudged send theirs row by row.
    #expect(grouped >= 700 && declined >= 50, "\(grouped) grouped, \(declined) declined")
  }

  @Test func batchRowsMatchTheRowsAlone() throws {
    // Through the public API (`run`): 37 rows (four groups and a partial
    // one), some ignored (their groups go row by row), summed: each row's
    // gradient is that of the row in a batch of its own (row by row).
    var rng = SplitMix64(seed: 0x6a0_0002)
    for k in [2, 5, 10, 16] {
      let rows = 37
      let z = rng.uniforms(rows * k, in: -8...8)
      var labels = rng.classes(rows, classCount: k)
      for i in [3, 20] { labels[i] = -100 }
      let priors = rng.uniforms(k, in: 0.01...1)
      var loss = try LogitAdjustedCrossEntropy(priors: priors, tau: 1.3)
      loss.reduction = .sum
      loss.ignoreIndex = -100
      loss.labelSmoothing = 0.05
      let batch = try loss.valueAndGradient(logits: z, targets: labels)
      for i in 0..<rows {
        let row = Array(z[(i * k)..<((i + 1) * k)])
        let alone =
          labels[i] == -100
          ? [Double](repeating: 0, count: k)
          : try loss.valueAndGradient(logits: row, targets: [labels[i]]).gradient
        #expect(
          batch.gradient[(i * k)..<((i + 1) * k)].map(\.bitPattern) == alone.map(\.bitPattern),
          "K = \(k), row \(i)")
      }
    }
  }
}
