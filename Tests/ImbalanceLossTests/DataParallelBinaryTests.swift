import ImbalanceLoss
import Testing

// Data-parallel binary losses of batch sums (smooth F1, soft Dice, Tversky,
// F1-weighted cross-entropy with the batch F): targeted cases next to the
// property test of DataParallelTests.swift.

/// The shares and gradients of `loss` on `z, y, w` cut at `cut`, with the
/// statistics merged by `+`.
private func twoShards<L: DataParallelLoss<Double>>(
  _ loss: L, _ z: [Double], _ y: [Double], _ w: [Double]?, cut: Int
) throws -> (shares: [Double], gradients: [[Double]]) {
  let parts = [0..<cut, cut..<z.count]
  let local = try parts.map { r in
    try loss.statistics(
      logits: Array(z[r]), targets: Array(y[r]), weights: w.map { Array($0[r]) })
  }
  let global = local[0] + local[1]
  var shares: [Double] = []
  var gradients: [[Double]] = []
  for r in parts {
    let (v, g) = try loss.valueAndGradient(
      logits: Array(z[r]), targets: Array(y[r]), weights: w.map { Array($0[r]) },
      statistics: global)
    shares.append(v)
    gradients.append(g)
  }
  return (shares, gradients)
}

/// `a` within 4 ulps of `b` elementwise (plus 4 ulps of the largest `|b|`).
private func expectNear(
  _ a: [Double], _ b: [Double], _ comment: String = "",
  sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(a.count == b.count, sourceLocation: sourceLocation)
  let floor = (b.map(abs).max() ?? 0).ulp
  for i in b.indices where !(a[i] == b[i] || abs(a[i] - b[i]) <= 4 * (b[i].ulp + floor)) {
    Issue.record("[\(i)] \(a[i]) vs \(b[i]) \(comment)", sourceLocation: sourceLocation)
    return
  }
}

@Test func f1WeightedCrossEntropyHoldsTheFOfTheWholeBatch() throws {
  // The first shard has no positive (its own F is 0, so alone its loss and
  // gradient are 0); the second is mostly positive and well predicted.
  let z = [-0.5, 1.5, 0.25, -2, 3, 2.5, 1, 4, -1]
  let y = [0.0, 0, 0, 0, 1, 1, 1, 1, 0]
  let w = [1.0, 2, 0.5, 1, 1, 3, 1, 2, 1]
  for reduction in [Reduction.mean, .sum] {
    var loss = F1WeightedCrossEntropy()
    loss.reduction = reduction
    let whole = try loss.valueAndGradient(logits: z, targets: y, weights: w)
    let own = try loss.valueAndGradient(
      logits: Array(z[0..<4]), targets: Array(y[0..<4]), weights: Array(w[0..<4]))
    #expect(own.value == 0 && own.gradient.allSatisfy { $0 == 0 })
    let split = try twoShards(loss, z, y, w, cut: 4)
    #expect(split.gradients[0].contains { $0 != 0 })
    expectNear(split.gradients[0] + split.gradients[1], whole.gradient, "\(reduction)")
    expectNear([split.shares[0] + split.shares[1]], [whole.value], "\(reduction)")
    // The share is the shard's terms at the whole batch's F.
    let f = try SmoothF1Loss().f1(logits: z, targets: y, weights: w)
    #expect(f > 0.5)
    var fixed = F1WeightedCrossEntropy(f1: f)
    fixed.reduction = reduction
    let terms = try fixed.perSampleValues(logits: Array(z[0..<4]), targets: Array(y[0..<4]))
    let weighted = zip(terms, w).map { $0 * $1 }.reduce(0, +)
    expectClose(
      split.shares[0], reduction == .mean ? weighted / w.reduce(0, +) : weighted,
      relative: 1e-14)
  }
}

@Test func shardsWithoutWeightOrKeptSamplesAreValid() throws {
  let z = [0.5, -1.0, 2.0, 0.25, -3.0, 1.0]
  let y = [1.0, 0, 1, 0, 1, 0]
  // A zero-weight shard: valid statistics, zero gradient, a share of the value.
  let w = [0.0, 0, 1, 2, 0.5, 1]
  let losses: [any DataParallelLoss<Double>] = [
    SmoothF1Loss(), SoftDiceLoss(), TverskyLoss(alpha: 0.3, beta: 0.7, smoothing: 0.5),
    F1WeightedCrossEntropy(),
  ]
  for loss in losses {
    let whole = try loss.valueAndGradient(logits: z, targets: y, weights: w)
    let split = try twoShards(loss, z, y, w, cut: 2)
    #expect(split.gradients[0] == [0, 0], "\(loss)")
    expectNear(split.gradients[0] + split.gradients[1], whole.gradient, "\(loss)")
    expectNear([split.shares[0] + split.shares[1]], [whole.value], "\(loss)")
    // Alone, the zero-weight shard has no normaliser.
    let alone = try loss.statistics(logits: [0.5, -1], targets: [1, 0], weights: [0, 0])
    var g = [7.0, 7]
    #expect(throws: LossError.zeroTotalWeight) {
      _ = try loss.valueAndGradient(
        logits: [0.5, -1], targets: [1, 0], weights: [0, 0], gradient: &g, statistics: alone)
    }
    #expect(g == [7, 7])
  }
  // An all-ignored shard, and a batch whose every sample is ignored.
  var f1 = SmoothF1Loss()
  f1.ignoredTarget = -1
  var dice = SoftDiceLoss()
  dice.ignoredTarget = -1
  var weighted = F1WeightedCrossEntropy()
  weighted.ignoredTarget = -1
  let ignored: [any DataParallelLoss<Double>] = [f1, dice, weighted]
  let yIgnored = [-1.0, -1, 1, 0, 1, -1]
  let allIgnored = [Double](repeating: -1, count: 6)
  for loss in ignored {
    let whole = try loss.valueAndGradient(logits: z, targets: yIgnored, weights: nil)
    let split = try twoShards(loss, z, yIgnored, nil, cut: 2)
    #expect(split.gradients[0] == [0, 0], "\(loss)")
    expectNear(split.gradients[0] + split.gradients[1], whole.gradient, "\(loss)")
    expectNear([split.shares[0] + split.shares[1]], [whole.value], "\(loss)")
    let none = try loss.valueAndGradient(logits: z, targets: allIgnored, weights: w)
    let splitNone = try twoShards(loss, z, allIgnored, w, cut: 3)
    #expect(splitNone.gradients[0] + splitNone.gradients[1] == none.gradient, "\(loss)")
    expectNear([splitNone.shares[0] + splitNone.shares[1]], [none.value], "\(loss)")
  }
  // Under `.sum`, all-zero weights are valid for the whole batch: F = 0.
  var sum = F1WeightedCrossEntropy()
  sum.reduction = .sum
  let zero = [Double](repeating: 0, count: 6)
  let split = try twoShards(sum, z, y, zero, cut: 2)
  #expect(split.shares == [0, 0] && (split.gradients[0] + split.gradients[1]).allSatisfy { $0 == 0 })
}

@Test func statisticsOfAnotherOverlapFormAreRejected() throws {
  let z = [0.5, -1.0, 2.0]
  let y = [1.0, 0, 0.75]
  var semimetric = SmoothF1Loss()
  semimetric.overlap = .semimetric
  let product = try SmoothF1Loss().statistics(logits: z, targets: y)
  let own = try semimetric.statistics(logits: z, targets: y)
  #expect(product.scalars.count == own.scalars.count && product.scalars[1] != own.scalars[1])
  var g = [7.0, 7, 7]
  do {
    _ = try semimetric.valueAndGradient(logits: z, targets: y, gradient: &g, statistics: product)
    Issue.record("statistics of the product form accepted")
  } catch {
    guard case .invalidParameter(name: "statistics.scalars[1]", _, _) = error else {
      Issue.record("\(error)")
      return
    }
  }
  #expect(g == [7, 7, 7])
  // Soft Dice's statistics have the same layout, another fingerprint.
  let dice = try SoftDiceLoss(smoothing: 0).statistics(logits: z, targets: y)
  #expect(throws: LossError.self) {
    _ = try SmoothF1Loss().valueAndGradient(logits: z, targets: y, gradient: &g, statistics: dice)
  }
  #expect(g == [7, 7, 7])
  // F1WeightedCrossEntropy with the batch F needs its five sums, not two.
  let fixed = try F1WeightedCrossEntropy(f1: 0.5).statistics(logits: z, targets: y)
  #expect(throws: LossError.self) {
    _ = try F1WeightedCrossEntropy().valueAndGradient(
      logits: z, targets: y, gradient: &g, statistics: fixed)
  }
  #expect(g == [7, 7, 7])
}

@Test(arguments: [1e-140, 1e300])
func extremeWeightsShardLikeTheWholeBatch(scale: Double) throws {
  // Tiny weights (data-parallel statistics take them down to 2^-500) and huge
  // ones (Σ w beyond 2^900: the shards' kernels run on rescaled weights).
  let z = [0.5, -1.0, 2.0, 0.25, -3.0, 1.0, -0.75]
  let y = [1.0, 0, 1, 0, 0.5, 0, 1]
  let w = [1.0, 2, 0.5, 3, 1, 0.25, 2].map { $0 * scale }
  var tversky = TverskyLoss(alpha: 0.4, beta: 0.6, smoothing: 0)
  tversky.exponent = 0.75
  let losses: [any DataParallelLoss<Double>] = [
    SmoothF1Loss(), SoftDiceLoss(smoothing: 0), tversky, F1WeightedCrossEntropy(),
  ]
  for loss in losses {
    let whole = try loss.valueAndGradient(logits: z, targets: y, weights: w)
    for cut in 1..<z.count {
      let split = try twoShards(loss, z, y, w, cut: cut)
      expectNear(split.gradients[0] + split.gradients[1], whole.gradient, "\(loss) \(cut)")
      expectNear([split.shares[0] + split.shares[1]], [whole.value], "\(loss) \(cut)")
    }
  }
}
