import ImbalanceLoss
import Testing

/// `a` (N×K row-major) rearranged class-major: `result[k * N + i] = a[i * K + k]`.
func classMajor(_ a: [Double], classCount k: Int) -> [Double] {
  let n = a.count / k
  return (0..<(n * k)).map { j in a[(j % n) * k + j / n] }
}

@Suite struct GradientBoostingObjectiveTests {
  /// Checks `loss`'s objective in both layouts against the row-major
  /// `valueGradientAndHessianDiagonal`, with the floor applied, bit for bit.
  func checkLayouts<L: SecondOrderLoss>(
    _ loss: L, logits: [Double], targets: [L.Target], weights: [Double]?, floor: Double,
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let k = loss.logitsPerSample
    let exact = try loss.valueGradientAndHessianDiagonal(
      logits: logits, targets: targets, weights: weights)
    let floored = exact.hessianDiagonal.map { max($0, floor) }
    let rows = try loss.gradientBoostingObjective(
      scores: logits, targets: targets, weights: weights, layout: .rowMajor, hessianFloor: floor)
    #expect(rows.value == exact.value, sourceLocation: sourceLocation)
    #expect(rows.gradient == exact.gradient, sourceLocation: sourceLocation)
    #expect(rows.hessian == floored, sourceLocation: sourceLocation)
    let columns = try loss.gradientBoostingObjective(
      scores: classMajor(logits, classCount: k), targets: targets, weights: weights,
      layout: .classMajor, hessianFloor: floor)
    #expect(columns.value == exact.value, sourceLocation: sourceLocation)
    #expect(columns.gradient == classMajor(exact.gradient, classCount: k), sourceLocation: sourceLocation)
    #expect(columns.hessian == classMajor(floored, classCount: k), sourceLocation: sourceLocation)
    #expect(columns.hessian.allSatisfy { $0 >= floor }, sourceLocation: sourceLocation)
  }

  @Test func bothLayoutsMatchTheRowMajorResults() throws {
    var rng = SplitMix64(seed: 16)
    let n = 7
    for k in [2, 3, 5] {
      let z = rng.uniforms(n * k, in: -6...6)
      let labels = rng.classes(n, classCount: k)
      let w = rng.uniforms(n, in: 0...2)
      var ce = try SoftmaxCrossEntropy(classCount: k)
      ce.reduction = .sum
      try checkLayouts(ce, logits: z, targets: labels, weights: w, floor: 1e-6)
      // Focal's Hessian diagonal goes negative: the floor binds.
      var focal = try SoftmaxFocalLoss(classCount: k, gamma: 3)
      focal.reduction = .sum
      try checkLayouts(focal, logits: z, targets: labels, weights: nil, floor: 1e-6)
      let focalHessian = try focal.valueGradientAndHessianDiagonal(logits: z, targets: labels)
      #expect(focalHessian.hessianDiagonal.contains { $0 < 1e-6 }, "k = \(k): the floor never binds")
      try checkLayouts(
        PolyCrossEntropy(classCount: k, epsilon: 2), logits: z, targets: labels, weights: w,
        floor: 0)
      // Targets per logit stay row-major; only the scores are class-major.
      let y = rng.labels(n * k, positiveRate: 0.3)
      try checkLayouts(
        MultiLabelCategoricalCrossEntropy(labelCount: k), logits: z, targets: y, weights: w,
        floor: 1e-3)
    }
    // K = 1: the layouts coincide.
    let z = rng.uniforms(9, in: -4...4)
    let y = rng.labels(9, positiveRate: 0.2)
    var bce = BinaryCrossEntropy(positiveWeight: 4)
    bce.reduction = .sum
    try checkLayouts(bce, logits: z, targets: y, weights: nil, floor: 1e-6)
    try checkLayouts(BinaryFocalLoss(gamma: 2), logits: z, targets: y, weights: nil, floor: 1e-4)
  }

  @Test func classMajorIsLightGBMsLayout() throws {
    // N = 2, K = 3: LightGBM's score[k * N + i].
    var loss = try SoftmaxCrossEntropy(classCount: 3)
    loss.reduction = .sum
    let rows: [Double] = [2, 0.5, -1, 0.1, 0.2, 0.3]
    let lightGBM: [Double] = [2, 0.1, 0.5, 0.2, -1, 0.3]
    let r = try loss.gradientBoostingObjective(scores: rows, targets: [0, 2], layout: .rowMajor)
    let c = try loss.gradientBoostingObjective(
      scores: lightGBM, targets: [0, 2], layout: .classMajor)
    #expect(c.gradient == [r.gradient[0], r.gradient[3], r.gradient[1], r.gradient[4], r.gradient[2], r.gradient[5]])
    #expect(c.hessian == [r.hessian[0], r.hessian[3], r.hessian[1], r.hessian[4], r.hessian[2], r.hessian[5]])
  }

  @Test func float32BuffersHoldTheDoubleResultsRoundedInEitherLayout() throws {
    var loss = try SoftmaxFocalLoss(classCount: 3, gamma: 2)
    loss.reduction = .sum
    let scores: [Float] = [2, 0.1, 0.5, 0.2, -1, 0.3, 7, -2, 0.25]
    let weights: [Float] = [1, 0.5, 2]
    for layout in [ScoreLayout.rowMajor, .classMajor] {
      let float = try loss.gradientBoostingObjective(
        scores: scores, targets: [0, 2, 1], weights: weights, layout: layout, hessianFloor: 1e-6)
      let double = try loss.gradientBoostingObjective(
        scores: scores.map { Double($0) }, targets: [0, 2, 1], weights: weights.map { Double($0) },
        layout: layout, hessianFloor: 1e-6)
      #expect(float.value == Float(double.value))
      #expect(float.gradient == double.gradient.map { Float($0) })
      #expect(float.hessian == double.hessian.map { Float($0) })
    }
    // A binary loss takes Float targets; a bad one throws, buffers untouched.
    var bce = BinaryCrossEntropy()
    bce.reduction = .sum
    var g = [Float](repeating: 7, count: 2)
    var h = g
    let scores2: [Float] = [1, -1]
    let targets: [Float] = [1, 2]
    expectError(.targetOutOfRange(index: 1, value: 2)) {
      _ = try scores2.withUnsafeBufferPointer { s in
        try targets.withUnsafeBufferPointer { t in
          try g.withUnsafeMutableBufferPointer { g in
            try h.withUnsafeMutableBufferPointer { h in
              try bce.gradientBoostingObjective(
                scores: s, targets: t, weights: nil, layout: .rowMajor, gradient: g, hessian: h)
            }
          }
        }
      }
    }
    #expect(g == [7, 7] && h == [7, 7])
  }

  @Test func articleExample() throws {
    // snippet: docc-gradient-boosting
    // LightGBM's training scores for N = 2 samples of K = 3 classes, class-major.
    let scores: [Float] = [2, 0.1, 0.5, 0.2, -1, 0.3]  // score[k * N + i]
    var loss = try SoftmaxFocalLoss(classCount: 3, gamma: 2)
    loss.reduction = .sum  // each sample's own derivatives
    // [Float] in, [Float] out: what LGBM_BoosterUpdateOneIterCustom takes.
    let (value, grad, hess) = try loss.gradientBoostingObjective(
      scores: scores, targets: [0, 2], layout: .classMajor, hessianFloor: 1e-6)
    // end-snippet
    let rows = try loss.valueGradientAndHessianDiagonal(
      logits: [Float](arrayLiteral: 2, 0.5, -1, 0.1, 0.2, 0.3).map { Double($0) }, targets: [0, 2])
    #expect(value == Float(rows.value))
    #expect(grad == classMajor(rows.gradient, classCount: 3).map { Float($0) })
    #expect(
      hess == classMajor(rows.hessianDiagonal.map { max($0, 1e-6) }, classCount: 3).map { Float($0) })
    #expect(hess.allSatisfy { $0 > 0 })
  }

  @Test func invalidInputThrowsAndLeavesTheBuffersAlone() throws {
    let loss = try SoftmaxCrossEntropy(classCount: 3)
    /// The error of one call into buffers of 7s, and whether they still hold 7s.
    func attempt(
      _ scores: [Double], _ layout: ScoreLayout, floor: Double = 0, bufferCount: Int = 6
    ) -> (error: LossError?, untouched: Bool) {
      var g = [Double](repeating: 7, count: bufferCount)
      var h = g
      var error: LossError?
      do {
        try scores.withUnsafeBufferPointer { (s) throws(LossError) in
          try [0, 2].withUnsafeBufferPointer { (t) throws(LossError) in
            try g.withUnsafeMutableBufferPointer { (gb) throws(LossError) in
              try h.withUnsafeMutableBufferPointer { (hb) throws(LossError) in
                _ = try loss.gradientBoostingObjective(
                  scores: s, targets: t, weights: nil, layout: layout, hessianFloor: floor,
                  gradient: gb, hessian: hb)
              }
            }
          }
        }
      } catch let e {
        error = e
      }
      return (error, (g + h).allSatisfy { $0 == 7 })
    }
    let scores: [Double] = [2, 0.1, 0.5, 0.2, -1, 0.3]
    var bad = scores
    bad[3] = .infinity  // class-major: class 1 of sample 1 (row-major index 4)
    let cases: [(ScoreLayout, [Double], Double, Int, LossError)] = [
      (.classMajor, scores, -1, 6,
       .invalidParameter(name: "hessianFloor", value: -1, requirement: "finite and >= 0")),
      (.rowMajor, scores, .nan, 6,
       .invalidParameter(name: "hessianFloor", value: .nan, requirement: "finite and >= 0")),
      (.classMajor, scores, 0, 5, .lengthMismatch(argument: "gradient", expected: 6, actual: 5)),
      // A non-finite score is named where it sits in the caller's layout.
      (.classMajor, bad, 0, 6, .nonFiniteLogit(index: 3, value: .infinity)),
      (.rowMajor, bad, 0, 6, .nonFiniteLogit(index: 3, value: .infinity)),
      (.classMajor, Array(scores.prefix(5)), 0, 5,
       .logitCountNotMultipleOfClassCount(logitCount: 5, classCount: 3)),
    ]
    for (layout, s, floor, count, expected) in cases {
      let (error, untouched) = attempt(s, layout, floor: floor, bufferCount: count)
      #expect(error == expected)
      #expect(untouched)
    }
    #expect(attempt(scores, .classMajor).error == nil)
  }
}
