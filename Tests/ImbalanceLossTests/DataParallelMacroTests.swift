import ImbalanceLoss
import Testing

// Data-parallel training of the softmax losses of batch statistics (macro
// smooth F1, soft and generalised Dice, macro-F1-weighted cross-entropy):
// targeted splits next to the property test in DataParallelTests.swift.

/// Rows `range` of a row-major batch with `width` entries a row.
private func rows<T>(_ x: [T], _ range: Range<Int>, width: Int = 1) -> [T] {
  Array(x[(range.lowerBound * width)..<(range.upperBound * width)])
}

/// The shards' shares summed and their gradients concatenated, with the
/// statistics of every shard merged.
private func sharded<L: DataParallelLoss<Int>>(
  _ loss: L, _ z: [Double], _ c: [Int], _ w: [Double]?, _ shards: [Range<Int>]
) throws -> (value: Double, gradient: [Double]) {
  let k = loss.logitsPerSample
  let global = try shards.map { r in
    try loss.statistics(logits: rows(z, r, width: k), targets: rows(c, r), weights: w.map { rows($0, r) })
  }.dropFirst().reduce(
    loss.statistics(
      logits: rows(z, shards[0], width: k), targets: rows(c, shards[0]),
      weights: w.map { rows($0, shards[0]) }), +)
  var value = 0.0
  var gradient: [Double] = []
  for r in shards {
    let part = try loss.valueAndGradient(
      logits: rows(z, r, width: k), targets: rows(c, r), weights: w.map { rows($0, r) },
      statistics: global)
    value += part.value
    gradient += part.gradient
  }
  return (value, gradient)
}

private let logits: [Double] = [
  2.0, 0.5, -1.0, 0.1, 0.2, 0.3, -0.5, 1.5, 0.0, 3.0, -2.0, 0.25,
  0.7, -0.3, 1.1, -1.2, 0.4, 2.2,
]
private let labels = [0, 1, 1, 0, 2, 2]
private let weights: [Double] = [1, 0.5, 2, 1.5, 0.25, 3]

@Test func aShardThatLacksAClassGetsTheWholeBatchsGradient() throws {
  // The first shard has no sample of class 2, the second none of class 1.
  let shards = [0..<3, 3..<6]
  var dice = try SoftmaxDiceLoss(classCount: 3)
  dice.includeBackground = false
  var generalized = try GeneralizedDiceLoss(classCount: 3)
  generalized.smoothing = 0.1
  var simple = try GeneralizedDiceLoss(classCount: 3)
  simple.weighting = .simple
  var uniform = try GeneralizedDiceLoss(classCount: 3)
  uniform.weighting = .uniform
  let losses: [any DataParallelLoss<Int>] = [
    try MacroSmoothF1Loss(classCount: 3), dice, generalized,
    try GeneralizedDiceLoss(classCount: 3), simple, uniform,
  ]
  for loss in losses {
    for w in [nil, weights] {
      let whole = try loss.valueAndGradient(logits: logits, targets: labels, weights: w)
      let split = try sharded(loss, logits, labels, w, shards)
      expectClose(split.value, whole.value, relative: 1e-15, "\(loss)")
      expectClose(split.gradient, whole.gradient, relative: 1e-15, "\(loss)")
      // Alone, the first shard's absent class 2 has another F_2 (and ω_2).
      let alone = try loss.valueAndGradient(
        logits: rows(logits, shards[0], width: 3), targets: rows(labels, shards[0]),
        weights: w.map { rows($0, shards[0]) })
      #expect(alone.gradient != rows(whole.gradient, shards[0], width: 3), "\(loss)")
    }
  }
}

@Test func macroF1WeightedCrossEntropyHoldsTheWholeBatchsF() throws {
  let batchF = try MacroF1WeightedCrossEntropy(classCount: 3)
  let f1 = try MacroSmoothF1Loss(classCount: 3)
  let shards = [0..<2, 2..<6]
  for w in [nil, weights] {
    let whole = try batchF.valueAndGradient(logits: logits, targets: labels, weights: w)
    let split = try sharded(batchF, logits, labels, w, shards)
    expectClose(split.value, whole.value, relative: 1e-15)
    expectClose(split.gradient, whole.gradient, relative: 1e-15)
    // Each shard holds the F of the whole batch: the loss with that F supplied
    // gives the same shares; with the shard's own F it would not.
    let scores = try f1.classF1Scores(logits: logits, targets: labels, weights: w)
    let fixed = try MacroF1WeightedCrossEntropy(classCount: 3, classF1: scores)
    let fixedSplit = try sharded(fixed, logits, labels, w, shards)
    expectClose(fixedSplit.gradient, split.gradient, relative: 1e-15)
    let first = shards[0]
    let ownScores = try f1.classF1Scores(
      logits: rows(logits, first, width: 3), targets: rows(labels, first),
      weights: w.map { rows($0, first) })
    #expect(ownScores != scores)
    let own = try MacroF1WeightedCrossEntropy(classCount: 3, classF1: ownScores)
    let ownSplit = try sharded(own, logits, labels, w, shards)
    #expect(rows(ownSplit.gradient, first, width: 3) != rows(split.gradient, first, width: 3))
  }
}

@Test func macroF1WeightedCrossEntropyWithOptionsIsShardedExactly() throws {
  let c = [0, -1, 1, 0, 2, -1]
  for reduction in [Reduction.mean, .sum] {
    for classF1 in [nil, [0.2, 0.9, 0.5]] {
      var loss = try MacroF1WeightedCrossEntropy(classCount: 3, classF1: classF1)
      loss.classWeights = [2, 0.5, 1]
      loss.ignoreIndex = -1
      loss.reduction = reduction
      for w in [nil, weights] {
        let whole = try loss.valueAndGradient(logits: logits, targets: c, weights: w)
        for shards in [[0..<6], [0..<1, 1..<2, 2..<6], [0..<4, 4..<5, 5..<6]] {
          let split = try sharded(loss, logits, c, w, shards)
          expectClose(split.value, whole.value, relative: 1e-15, "\(reduction) \(shards)")
          expectClose(split.gradient, whole.gradient, relative: 1e-15, "\(reduction) \(shards)")
        }
      }
    }
  }
}

@Test func aZeroWeightShardOfAMacroLossIsValid() throws {
  let loss = try MacroSmoothF1Loss(classCount: 3)
  let w: [Double] = [0, 0, 1, 1.5, 0.25, 3]
  let shards = [0..<2, 2..<6]
  let whole = try loss.valueAndGradient(logits: logits, targets: labels, weights: w)
  let split = try sharded(loss, logits, labels, w, shards)
  expectClose(split.value, whole.value, relative: 1e-15)
  expectClose(split.gradient, whole.gradient, relative: 1e-15)
  #expect(rows(split.gradient, shards[0], width: 3).allSatisfy { $0 == 0 })
  // Alone, the zero-weight shard has no normaliser.
  let zs = rows(logits, shards[0], width: 3)
  let alone = try loss.statistics(logits: zs, targets: [0, 1], weights: [0, 0])
  var g = [Double](repeating: 7, count: 6)
  #expect(throws: LossError.zeroTotalWeight) {
    _ = try loss.valueAndGradient(
      logits: zs, targets: [0, 1], weights: [0, 0], gradient: &g, statistics: alone)
  }
  #expect(g.allSatisfy { $0 == 7 })
}

@Test func anIgnoredShardOfAMacroLossIsValid() throws {
  var loss = try SoftmaxDiceLoss(classCount: 3)
  loss.ignoreIndex = -1
  let c = [-1, -1, 1, 0, 2, 2]
  let shards = [0..<2, 2..<6]
  let whole = try loss.valueAndGradient(logits: logits, targets: c, weights: weights)
  let split = try sharded(loss, logits, c, weights, shards)
  expectClose(split.value, whole.value, relative: 1e-15)
  expectClose(split.gradient, whole.gradient, relative: 1e-15)
  #expect(rows(split.gradient, shards[0], width: 3).allSatisfy { $0 == 0 })
}

@Test func macroStatisticsOfAnotherLossThrowAndLeaveTheGradientUntouched() throws {
  let f1 = try MacroSmoothF1Loss(classCount: 3)
  let dice = try SoftmaxDiceLoss(classCount: 3)
  let statistics = try f1.statistics(logits: logits, targets: labels)
  #expect(statistics.scalars.count == 3 + 2 * (2 + 4 * 3))
  var g = [Double](repeating: 7, count: logits.count)
  #expect(throws: LossError.self) {
    _ = try dice.valueAndGradient(
      logits: logits, targets: labels, gradient: &g, statistics: statistics)
  }
  // A label out of range is found before the statistics are used.
  #expect(throws: LossError.self) {
    _ = try f1.valueAndGradient(
      logits: logits, targets: [0, 1, 1, 0, 2, 3], gradient: &g, statistics: statistics)
  }
  #expect(g.allSatisfy { $0 == 7 })
  let fixed = try MacroF1WeightedCrossEntropy(classCount: 3, classF1: [0.5, 0.5, 0.5])
  #expect(try fixed.statistics(logits: logits, targets: labels).scalars.count == 3 + 2 * 2)
}
