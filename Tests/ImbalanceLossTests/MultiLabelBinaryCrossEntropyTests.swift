import ImbalanceLoss
import Testing

@Suite struct MultiLabelBinaryCrossEntropyTests {
  @Test func valuesAndGradientsMatchMpmath() throws {
    // N = 2, L = 3, a_pos = [1, 4, 0.5], a_neg = [1, 0.25, 2]; per-entry values
    // and gradients (sum reduction) from mpmath at 50 digits:
    //     l = -a_pos[k % 3] y log(p) - a_neg[k % 3] (1 - y) log(1 - p)
    //     g = a_neg[k % 3] (1 - y) p - a_pos[k % 3] y (1 - p)
    var loss = try MultiLabelBinaryCrossEntropy(
      positiveWeights: [1, 4, 0.5], negativeWeights: [1, 0.25, 2])
    loss.reduction = .sum
    let z = [2, -1, 0.5, 0.1, 0.2, -3]
    let y = [1, 0, 0.3, 0, 1, 1]
    let values = [0.1269280110429725, 0.078315421879555709, 1.4348193254791654,
      0.74439666007357089, 2.3925554775263674, 1.524293675786871]
    let gradient = [-0.11920292202211756, 0.06723535534249878, 0.81481196336287458,
      0.52497918747893999, -1.8006640107500884, -0.47628706341121661]
    let v = try loss.perSampleValues(logits: z, targets: y)
    let r = try loss.valueAndGradient(logits: z, targets: y)
    for k in 0..<6 {
      expectClose(v[k], values[k], relative: 1e-15)
      expectClose(r.gradient[k], gradient[k], relative: 1e-15)
    }
    expectClose(r.value, values.reduce(0, +), relative: 1e-15)
  }

  @Test func eachLabelIsBinaryCrossEntropyWithItsWeights() throws {
    // Entry by entry the loss is BinaryCrossEntropy with that label's weights:
    // gradients and Hessians equal bit for bit, for L below, at and above the
    // vector width (so vectors cross row boundaries).
    for labelCount in [1, 3, 8, 11] {
      var rng = SplitMix64(seed: UInt64(50 + labelCount))
      let n = 9
      let pos = rng.uniforms(labelCount, in: 0.1...5)
      let neg = rng.uniforms(labelCount, in: 0.1...2)
      let z = rng.uniforms(n * labelCount, in: -9...9)
      let y = rng.uniforms(n * labelCount, in: 0...1)
      let w = rng.uniforms(n * labelCount, in: 0...2)
      var loss = try MultiLabelBinaryCrossEntropy(positiveWeights: pos, negativeWeights: neg)
      loss.reduction = .sum
      let r = try loss.valueGradientAndHessianDiagonal(logits: z, targets: y, weights: w)
      var total = 0.0
      for k in z.indices {
        var bce = BinaryCrossEntropy(
          positiveWeight: pos[k % labelCount], negativeWeight: neg[k % labelCount])
        bce.reduction = .sum
        let e = try bce.valueGradientAndHessianDiagonal(logits: [z[k]], targets: [y[k]],
          weights: [w[k]])
        #expect(r.gradient[k] == e.gradient[0], "L \(labelCount) [\(k)]")
        #expect(r.hessianDiagonal[k] == e.hessianDiagonal[0], "L \(labelCount) [\(k)]")
        total += e.value
      }
      expectClose(r.value, total, relative: 1e-14, "L \(labelCount)")
    }
  }

  @Test func gradientAndHessianMatchFiniteDifferences() throws {
    for seed: UInt64 in [61, 62] {
      for reduction in [Reduction.mean, .sum] {
        var loss = try MultiLabelBinaryCrossEntropy(
          positiveWeights: [3, 0.5, 1, 7, 2], negativeWeights: [1, 2, 0.3, 1, 1])
        loss.reduction = reduction
        // 4 rows of 5 labels (checkSecondOrder draws 20 logits).
        try checkSecondOrder(loss, seed: seed, count: 20)
        var rng = SplitMix64(seed: seed)
        let z = rng.uniforms(20, in: -6...6)
        let y = rng.uniforms(20, in: 0...1)
        let g = try loss.gradient(logits: z, targets: y)
        let fd = try centralDifferences(at: z) { try loss.value(logits: $0, targets: y) }
        expectClose(g, fd, relative: 1e-7, "seed \(seed)")  // see `centralDifferences`
      }
    }
  }

  @Test func extremeLogitsAndIgnoredEntries() throws {
    // By hand: p = 1 or 0 exactly; a wrong positive at -1e300 costs a_pos 1e300.
    var loss = try MultiLabelBinaryCrossEntropy(positiveWeights: [2, 1])
    loss.reduction = .sum
    let r = try loss.valueGradientAndHessianDiagonal(
      logits: [-1e300, 1e300, 1e300, -1e300], targets: [1, 1, 0, 0])
    #expect(r.value == 2e300 + 1e300)
    #expect(r.gradient == [-2, 0, 1, 0] && r.hessianDiagonal == [0, 0, 0, 0])
    // A missing label (NaN) is skipped and leaves the mean's denominator.
    var masked = try MultiLabelBinaryCrossEntropy(positiveWeights: [2, 1])
    masked.ignoredTarget = .nan
    let m = try masked.valueAndGradient(logits: [0.5, 3, -1, 2], targets: [1, .nan, 0, .nan])
    // The kept entries are both label 0 (a_pos = 2).
    let label0 = try BinaryCrossEntropy(positiveWeight: 2).valueAndGradient(
      logits: [0.5, -1], targets: [1, 0])
    expectClose(m.value, label0.value, relative: 1e-15)
    #expect(m.gradient == [label0.gradient[0], 0, label0.gradient[1], 0])
  }

  @Test func invalidInputThrows() throws {
    #expect(throws: LossError.noClasses) { try MultiLabelBinaryCrossEntropy(positiveWeights: []) }
    #expect(throws: LossError.noClasses) { try MultiLabelBinaryCrossEntropy(labelCount: 0) }
    #expect(throws: LossError.lengthMismatch(
      argument: "negativeWeights", expected: 2, actual: 1)) {
      try MultiLabelBinaryCrossEntropy(positiveWeights: [1, 2], negativeWeights: [1])
    }
    #expect(throws: LossError.invalidClassWeight(index: 1, value: -1)) {
      try MultiLabelBinaryCrossEntropy(positiveWeights: [1, -1])
    }
    #expect(throws: LossError.invalidClassWeight(index: 3, value: .infinity)) {
      try MultiLabelBinaryCrossEntropy(positiveWeights: [1, 1], negativeWeights: [1, .infinity])
    }
    let loss = try MultiLabelBinaryCrossEntropy(labelCount: 2)
    #expect(throws: LossError.logitCountNotMultipleOfClassCount(logitCount: 3, classCount: 2)) {
      try loss.value(logits: [1, 2, 3], targets: [0, 1, 0])
    }
    #expect(throws: LossError.targetOutOfRange(index: 1, value: 1.5)) {
      try loss.value(logits: [1, 2], targets: [0, 1.5])
    }
    #expect(throws: LossError.nonFiniteLogit(index: 0, value: .infinity)) {
      try loss.value(logits: [.infinity, 2], targets: [0, 1])
    }
    #expect(throws: LossError.lengthMismatch(argument: "weights", expected: 2, actual: 1)) {
      try loss.value(logits: [1, 2], targets: [0, 1], weights: [1])
    }
    #expect(throws: LossError.emptyBatch) { try loss.value(logits: [], targets: []) }
    var gradient = [7.0, 7]
    #expect(throws: LossError.invalidWeight(index: 0, value: .nan)) {
      try loss.valueAndGradient(logits: [1, 2], targets: [0, 1], weights: [.nan, 1],
        gradient: &gradient)
    }
    #expect(gradient == [7, 7])
  }

  @Test func resultIsTheSameBitsForAnyThreadCount() throws {
    var rng = SplitMix64(seed: 63)
    let labelCount = 13
    let n = 10_000
    let z = rng.uniforms(n * labelCount, in: -8...8)
    let y = rng.uniforms(n * labelCount, in: 0...1)
    var serial = try MultiLabelBinaryCrossEntropy(positiveWeights: rng.uniforms(13, in: 1...9))
    serial.parallelism = .serial
    var threaded = serial
    threaded.parallelism = .maximumThreads(2)
    let a = try serial.valueGradientAndHessianDiagonal(logits: z, targets: y)
    let b = try threaded.valueGradientAndHessianDiagonal(logits: z, targets: y)
    #expect(a.value == b.value && a.gradient == b.gradient
      && a.hessianDiagonal == b.hessianDiagonal)
  }
}
