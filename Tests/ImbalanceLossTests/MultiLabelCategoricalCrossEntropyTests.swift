import ImbalanceLoss
import Testing

@Suite struct MultiLabelCategoricalCrossEntropyTests {
  /// Rows of L = 5 logits and labels; per-row value and gradient from mpmath at
  /// 50 digits, the loss written directly and differentiated by mpmath.diff:
  ///
  ///     su = lambda s, y: log(1 + sum(exp(sj) for sj, yj in zip(s, y) if yj == 0))
  ///                     + log(1 + sum(exp(-sj) for sj, yj in zip(s, y) if yj == 1))
  static let rows: [(s: [Double], y: [Double], value: Double, gradient: [Double])] = [
    ([2, -1, 0.5, 3, -4], [1, 0, 0, 1, 0], 1.2800298821591914,
      [-0.11419519938459448, 0.12121567735442905, 0.54325097635296996,
        -0.042010066134066051, 0.0060349732157018964]),
    ([-30, 25, 0, 1e-3, 7], [1, 0, 1, 0, 0], 55.000000015257957,
      [-0.99999999999981285, 0.99999998474223071, -9.3576229688384233e-14,
        1.3901838543005105e-11, 1.5229979512337111e-8]),
    ([40, -40, 45, -50, 0.25], [1, 0, 1, 0, 1], 0.57593941987884357,
      [-2.3883249297631161e-18, 4.248354255291589e-18, -1.6092406793338397e-20,
        1.9287498479639178e-22, -0.43782349911420189]),
    ([0.3, -0.2, 1.1, 2, -1], [0, 0, 0, 0, 0], 2.6340226141576909,
      [0.096905149977245555, 0.05877594454525043, 0.2156663774560609,
        0.53045369296287642, 0.026409734277528637]),
  ]

  @Test func valuesAndGradientsMatchMpmath() throws {
    var loss = try MultiLabelCategoricalCrossEntropy(labelCount: 5)
    loss.reduction = .sum
    let z = Self.rows.flatMap(\.s)
    let y = Self.rows.flatMap(\.y)
    let w = [1.0, 0.5, 2, 3]
    let values = try loss.perSampleValues(logits: z, targets: y)
    let r = try loss.valueAndGradient(logits: z, targets: y, weights: w)
    for (i, row) in Self.rows.enumerated() {
      // Relative 1e-14: a few roundings in the exp, log1p and sums of a row.
      expectClose(values[i], row.value, relative: 1e-14, "row \(i)")
      for j in 0..<5 {
        expectClose(r.gradient[i * 5 + j], w[i] * row.gradient[j], relative: 1e-14,
          "row \(i) label \(j)")
      }
    }
    let expected = zip(w, Self.rows).map { $0 * $1.value }.reduce(0, +)
    expectClose(r.value, expected, relative: 1e-15)
    // The weighted mean divides by Σ w = 6.5.
    loss.reduction = .mean
    expectClose(try loss.value(logits: z, targets: y, weights: w), expected / 6.5, relative: 1e-15)
  }

  @Test func hessianDiagonalMatchesMpmath() throws {
    // mpmath at 60 digits, mpmath.diff(f, s_j, 2) of the directly written row
    // loss (see `rows`), for the same four rows. Row 1's first entry has
    // g = 1 - 1.87e-13: its curvature g (1 - g) needs 1 - g without cancellation.
    let hessians: [[Double]] = [
      [0.10115465582210719, 0.10652243691793601, 0.24812935304451483, 0.040245220477477448,
        0.0059985523139876571],
      [1.8715245937673344e-13, 1.5257769061733657e-8, 9.3576229688375477e-14,
        1.3901838542811844e-11, 1.5229979280384835e-8],
      [2.3883249297631161e-18, 4.248354255291589e-18, 1.6092406793338397e-20,
        1.9287498479639178e-22, 0.24613408273759835],
      [0.087514541885133101, 0.055321332888064076, 0.16915439109104077, 0.24907257258492285,
        0.025712260212918966],
    ]
    var loss = try MultiLabelCategoricalCrossEntropy(labelCount: 5)
    loss.reduction = .sum
    let z = Self.rows.flatMap(\.s)
    let y = Self.rows.flatMap(\.y)
    let w = [1.0, 0.5, 2, 3]
    let r = try loss.valueGradientAndHessianDiagonal(logits: z, targets: y, weights: w)
    let first = try loss.valueAndGradient(logits: z, targets: y, weights: w)
    #expect(r.value == first.value && r.gradient == first.gradient)
    for i in 0..<4 {
      for j in 0..<5 {
        // 1e-13: mpmath.diff's second differences at 60 digits are good to
        // far more; this is the kernel's few roundings, with room.
        expectClose(r.hessianDiagonal[i * 5 + j], w[i] * hessians[i][j], relative: 1e-13,
          "row \(i) label \(j)")
      }
    }
  }

  @Test func hessianMatchesDifferencesOfTheGradient() throws {
    for seed: UInt64 in [44, 45] {
      for labelCount in [3, 8, 13] {
        var rng = SplitMix64(seed: seed)
        let z = rng.uniforms(4 * labelCount, in: -5...5)
        let y = rng.labels(4 * labelCount, positiveRate: 0.3)
        let w = rng.uniforms(4, in: 0...2)
        for reduction in [Reduction.mean, .sum] {
          var loss = try MultiLabelCategoricalCrossEntropy(labelCount: labelCount)
          loss.reduction = reduction
          let h = try loss.valueGradientAndHessianDiagonal(logits: z, targets: y, weights: w)
          let fd = try z.indices.map { j in
            try centralDifferences(at: [z[j]]) { x in
              var probe = z
              probe[j] = x[0]
              return try loss.gradient(logits: probe, targets: y, weights: w)[j]
            }[0]
          }
          // 1e-7 relative to the largest entry (see `centralDifferences`).
          expectClose(h.hessianDiagonal, fd, relative: 1e-7, "seed \(seed) L \(labelCount)")
        }
      }
    }
  }

  @Test func hessianAtExtremesAndSkippedEntries() throws {
    var loss = try MultiLabelCategoricalCrossEntropy(labelCount: 4)
    loss.ignoredTarget = -1
    // Ties at 1e300 split the slope 1/2, 1/2: curvature 1/4 each (by hand); a
    // saturated positive (slope -1) has curvature 0; a skipped entry 0.
    loss.reduction = .sum
    let r = try loss.valueGradientAndHessianDiagonal(
      logits: [1e300, 1e300, -1e300, 7], targets: [0, 0, 1, -1])
    #expect(r.hessianDiagonal == [0.25, 0.25, 0, 0])
    #expect(r.gradient == [0.5, 0.5, -1, 0])
    var h = [Double](repeating: 7, count: 3)
    var g = [Double](repeating: 7, count: 4)
    #expect(throws: LossError.lengthMismatch(argument: "hessianDiagonal", expected: 4, actual: 3)) {
      try withUnsafeBuffers([1.0, 2, 3, 4], [0.0, 1, 1, 0], nil, &g, &h) {
        (z, y, w, g, h) throws(LossError) in
        try loss.valueGradientAndHessianDiagonal(
          logits: z, targets: y, weights: w, gradient: g, hessianDiagonal: h)
      }
    }
    #expect(g == [7, 7, 7, 7] && h == [7, 7, 7])
  }

  @Test func gradientMatchesFiniteDifferences() throws {
    for seed: UInt64 in [41, 42] {
      for labelCount in [3, 8, 13] {
        var rng = SplitMix64(seed: seed)
        let n = 5
        let z = rng.uniforms(n * labelCount, in: -5...5)
        let y = rng.labels(n * labelCount, positiveRate: 0.3)
        let w = rng.uniforms(n, in: 0...2)
        for reduction in [Reduction.mean, .sum] {
          var loss = try MultiLabelCategoricalCrossEntropy(labelCount: labelCount)
          loss.reduction = reduction
          let g = try loss.gradient(logits: z, targets: y, weights: w)
          let fd = try centralDifferences(at: z) {
            try loss.value(logits: $0, targets: y, weights: w)
          }
          // 1e-7 relative to the largest entry (see `centralDifferences`).
          expectClose(g, fd, relative: 1e-7, "seed \(seed) L \(labelCount)")
        }
      }
    }
  }

  @Test func extremeLogitsAndEmptySets() throws {
    // By hand: positives at +1e300 and negatives at -1e300 cost exactly 0;
    // one positive at -1e300 costs log(1 + e^1e300) = 1e300 and has slope -1.
    var loss = try MultiLabelCategoricalCrossEntropy(labelCount: 3)
    loss.reduction = .sum
    let perfect = try loss.valueAndGradient(
      logits: [1e300, -1e300, 1e300], targets: [1, 0, 1])
    #expect(perfect.value == 0 && perfect.gradient == [0, 0, 0])
    let wrong = try loss.valueAndGradient(logits: [-1e300, -1e300, 2], targets: [1, 0, 0])
    // Negatives {-1e300, 2}: log(1 + e^2) = 2.1269280110429727 (mpmath).
    expectClose(wrong.value, 1e300, relative: 1e-16)
    #expect(wrong.gradient[0] == -1 && wrong.gradient[1] == 0)
    expectClose(wrong.gradient[2], 0.88079707797788244, relative: 1e-15)  // sigmoid(2)
    // Ties at the maximum: two negatives at 1e300 give log(1 + 2 e^1e300) = 1e300 + log 2.
    let ties = try loss.valueAndGradient(logits: [1e300, 1e300, 5], targets: [0, 0, 1])
    #expect(ties.value == 1e300)
    #expect(ties.gradient[0] == 0.5 && ties.gradient[1] == 0.5)
    // No positive label: only the negative term; no label at all (all ignored): 0.
    loss.ignoredTarget = -1
    let none = try loss.valueAndGradient(logits: [3, -2, 0.5], targets: [-1, -1, -1])
    #expect(none.value == 0 && none.gradient == [0, 0, 0])
  }

  @Test func ignoredEntriesLeaveBothSets() throws {
    var loss = try MultiLabelCategoricalCrossEntropy(labelCount: 4)
    loss.ignoredTarget = .nan
    let masked = try loss.valueAndGradient(
      logits: [2, -1, 9, 0.5, 1, 1, -3, 0], targets: [1, 0, .nan, 0, 1, .nan, 1, 0],
      weights: [1, 3])
    var plain = try MultiLabelCategoricalCrossEntropy(labelCount: 3)
    plain.reduction = .sum
    let row0 = try plain.valueAndGradient(logits: [2, -1, 0.5], targets: [1, 0, 0])
    let row1 = try plain.valueAndGradient(logits: [1, -3, 0], targets: [1, 1, 0])
    expectClose(masked.value, (row0.value + 3 * row1.value) / 4, relative: 1e-15)
    #expect(masked.gradient[2] == 0 && masked.gradient[5] == 0)
    expectClose(masked.gradient[0], row0.gradient[0] / 4, relative: 1e-15)
    expectClose(masked.gradient[7], 3 * row1.gradient[2] / 4, relative: 1e-15)
  }

  @Test func invalidInputThrows() throws {
    #expect(throws: LossError.noClasses) { try MultiLabelCategoricalCrossEntropy(labelCount: 0) }
    let loss = try MultiLabelCategoricalCrossEntropy(labelCount: 2)
    #expect(throws: LossError.logitCountNotMultipleOfClassCount(logitCount: 3, classCount: 2)) {
      try loss.value(logits: [1, 2, 3], targets: [0, 1, 0])
    }
    #expect(throws: LossError.lengthMismatch(argument: "targets", expected: 4, actual: 2)) {
      try loss.value(logits: [1, 2, 3, 4], targets: [0, 1])
    }
    #expect(throws: LossError.lengthMismatch(argument: "weights", expected: 2, actual: 4)) {
      try loss.value(logits: [1, 2, 3, 4], targets: [0, 1, 1, 0], weights: [1, 1, 1, 1])
    }
    #expect(throws: LossError.emptyBatch) { try loss.value(logits: [], targets: []) }
    #expect(throws: LossError.nonFiniteLogit(index: 3, value: .nan)) {
      try loss.value(logits: [1, 2, 3, .nan], targets: [0, 1, 1, 0])
    }
    #expect(throws: LossError.targetNotBinary(index: 2, value: 0.5)) {
      try loss.value(logits: [1, 2, 3, 4], targets: [0, 1, 0.5, 0])
    }
    #expect(throws: LossError.targetNotBinary(index: 0, value: .nan)) {
      try loss.value(logits: [1, 2, 3, 4], targets: [.nan, 1, 1, 0])
    }
    #expect(throws: LossError.invalidWeight(index: 1, value: -2)) {
      try loss.value(logits: [1, 2, 3, 4], targets: [0, 1, 1, 0], weights: [1, -2])
    }
    #expect(throws: LossError.zeroTotalWeight) {
      try loss.value(logits: [1, 2, 3, 4], targets: [0, 1, 1, 0], weights: [0, 0])
    }
    var marked = loss
    for marker in [0.0, 1] {
      marked.ignoredTarget = marker
      #expect(
        throws: LossError.invalidParameter(
          name: "ignoredTarget", value: marker, requirement: "not 0 or 1 (those are labels)")
      ) {
        try marked.value(logits: [1, 2, 3, 4], targets: [0, 1, 1, 0])
      }
    }
    var gradient = [7.0, 7, 7, 7]
    #expect(throws: LossError.targetNotBinary(index: 3, value: 2)) {
      try loss.valueAndGradient(logits: [1, 2, 3, 4], targets: [0, 1, 1, 2], gradient: &gradient)
    }
    #expect(gradient == [7, 7, 7, 7])
    var values = [7.0]
    #expect(throws: LossError.lengthMismatch(argument: "values", expected: 2, actual: 1)) {
      try [1.0, 2, 3, 4].withUnsafeBufferPointer { z in
        try [0.0, 1, 1, 0].withUnsafeBufferPointer { y in
          try values.withUnsafeMutableBufferPointer { v in
            try loss.perSampleValues(logits: z, targets: y, into: v)
          }
        }
      }
    }
  }

  @Test func resultIsTheSameBitsForAnyThreadCount() throws {
    var rng = SplitMix64(seed: 43)
    let labelCount = 37
    let n = 3000
    let z = rng.uniforms(n * labelCount, in: -8...8)
    let y = rng.labels(n * labelCount, positiveRate: 0.1)
    var serial = try MultiLabelCategoricalCrossEntropy(labelCount: labelCount)
    serial.parallelism = .serial
    var threaded = serial
    threaded.parallelism = .maximumThreads(2)
    let a = try serial.valueAndGradient(logits: z, targets: y)
    let b = try threaded.valueAndGradient(logits: z, targets: y)
    #expect(a.value == b.value && a.gradient == b.gradient)
  }
}
