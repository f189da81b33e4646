import ImbalanceLoss
import Testing

// Data-parallel training (`DataParallelLoss`): for every loss of `LossTable`
// and random splits of random batches into 1-16 contiguous shards, the
// shards' gradients concatenated are the one-batch gradient and their shares
// add up to the one-batch value, each within 4 ulps (plus 4 ulps of the
// largest entry, as in PropertyTests, for entries that cancel); the
// statistics are merged both with `+` and by summing `scalars` elementwise,
// as an all-reduce does. Bad statistics throw and leave the gradient as it was.

/// `count` rows cut at random into 1...16 contiguous non-empty ranges.
private func randomShards(_ count: Int, _ rng: inout SplitMix64) -> [Range<Int>] {
  let shards = Int.random(in: 1...min(16, count), using: &rng)
  var cuts = Set<Int>()
  while cuts.count < shards - 1 { cuts.insert(Int.random(in: 1..<count, using: &rng)) }
  let bounds = [0] + cuts.sorted() + [count]
  return (0..<shards).map { bounds[$0]..<bounds[$0 + 1] }
}

private func slice<T>(_ x: [T], _ rows: Range<Int>, width: Int) -> [T] {
  Array(x[(rows.lowerBound * width)..<(rows.upperBound * width)])
}

/// The loss of a batch computed shard by shard: statistics of each shard,
/// merged (with `+`, or by an elementwise sum of `scalars` as an all-reduce
/// does), then each shard's share and gradient.
private func sharded<L: DataParallelLoss>(
  _ loss: L, layout: RowLayout, _ z: [Double], _ t: [L.Target], _ w: [Double]?,
  _ shards: [Range<Int>], byScalars: Bool
) throws -> (value: Double, gradient: [Double]) {
  func part(_ r: Range<Int>) -> ([Double], [L.Target], [Double]?) {
    (
      slice(z, r, width: layout.logits), slice(t, r, width: layout.targets),
      w.map { slice($0, r, width: layout.weights) }
    )
  }
  let local = try shards.map { r in
    let (zs, ts, ws) = part(r)
    return try loss.statistics(logits: zs, targets: ts, weights: ws)
  }
  let global: BatchStatistics
  if byScalars {
    var sum = local[0].scalars
    for s in local.dropFirst() {
      #expect(s.scalars.count == sum.count)
      for j in sum.indices { sum[j] += s.scalars[j] }
    }
    global = try BatchStatistics(scalars: sum)
  } else {
    global = local.dropFirst().reduce(local[0], +)
  }
  #expect(global.shardCount == shards.count)
  var value = 0.0
  var gradient: [Double] = []
  for r in shards {
    let (zs, ts, ws) = part(r)
    var g: [Double] = []
    value += try loss.valueAndGradient(
      logits: zs, targets: ts, weights: ws, gradient: &g, statistics: global)
    gradient += g
  }
  return (value, gradient)
}

/// Expects `a` within `ulps` ulps of `b` elementwise, with an absolute floor
/// of `ulps` ulps of the largest `|b|`.
private func expectUlps(
  _ a: [Double], _ b: [Double], _ ulps: Double, _ comment: String,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  let floor = (b.map(abs).max() ?? 0).ulp
  for i in b.indices where !(a[i] == b[i] || abs(a[i] - b[i]) <= ulps * (b[i].ulp + floor)) {
    Issue.record("[\(i)] \(a[i]) vs \(b[i]). \(comment)", sourceLocation: sourceLocation)
    return
  }
}

/// Checks one loss on `seeds` random batches drawn by `draw`.
private func checkShards<T: Sendable>(
  _ loss: LossCase<T>, seeds: Range<UInt64>,
  draw: (inout SplitMix64) -> (z: [Double], t: [T], w: [Double]?, rows: Int)
) throws {
  guard let parallel = loss.dataParallel else {
    Issue.record("\(loss.name) is not a DataParallelLoss")
    return
  }
  for seed in seeds {
    var rng = SplitMix64(seed: seed &* 7919 &+ 13)
    let (z, t, w, rows) = draw(&rng)
    let shards = randomShards(rows, &rng)
    let whole: (value: Double, gradient: [Double])
    do {
      whole = try loss.evaluate(z, t, w)
    } catch {
      // A batch the loss rejects (all weights zero) is rejected shard-wise too.
      #expect(throws: LossError.self) {
        _ = try sharded(parallel, layout: loss.layout, z, t, w, shards, byScalars: false)
      }
      continue
    }
    for byScalars in [false, true] {
      let split = try sharded(parallel, layout: loss.layout, z, t, w, shards, byScalars: byScalars)
      let what = "\(loss.name), seed \(seed), \(shards.count) shards, scalars \(byScalars)"
      #expect(
        split.value == whole.value
          || abs(split.value - whole.value) <= 4 * (whole.value.ulp + abs(whole.value).ulp),
        "value \(split.value) vs \(whole.value). \(what)")
      expectUlps(split.gradient, whole.gradient, 4, what)
    }
  }
}

private extension SplitMix64 {
  /// Moderate logits, a few large ones.
  mutating func shardLogit() -> Double {
    next() % 12 == 0 ? uniform(-60...60) : uniform(-6...6)
  }

  /// Weights in [0, 3] with some zeros, or `nil`.
  mutating func shardWeights(_ count: Int) -> [Double]? {
    uniform(0...1) < 0.25 ? nil : (0..<count).map { _ in uniform(0...1) < 0.1 ? 0 : uniform(0...3) }
  }
}

@Test(arguments: LossTable.doubleTargets)
func shardsOfABatchGiveItsValueAndGradient(_ loss: LossCase<Double>) throws {
  try checkShards(loss, seeds: 0..<25) { rng in
    let n = Int.random(in: 1...48, using: &rng)
    let soft = rng.uniform(0...1) < 0.3 && !loss.hardTargetsOnly
    let t =
      soft
      ? rng.uniforms(n * loss.layout.targets, in: 0...1)
      : rng.labels(n * loss.layout.targets, positiveRate: 0.3)
    return (
      (0..<(n * loss.layout.logits)).map { _ in rng.shardLogit() }, t,
      rng.shardWeights(n * loss.layout.weights), n
    )
  }
}

@Test(arguments: [1, 2, 5])
func shardsOfASoftmaxBatchGiveItsValueAndGradient(classCount k: Int) throws {
  for loss in LossTable.softmax(classCount: k) {
    try checkShards(loss, seeds: 0..<12) { rng in
      let n = Int.random(in: 1...40, using: &rng)
      return (
        (0..<(n * k)).map { _ in rng.shardLogit() }, rng.classes(n, classCount: k),
        rng.shardWeights(n), n
      )
    }
  }
}

@Test func separableSharesAreTheShardsTermsOverTheWholeTotal() throws {
  let loss = BinaryCrossEntropy(positiveWeight: 2)
  let z = [0.5, -1.0, 2.0, 0.25, -3.0]
  let y = [1.0, 0, 1, 0, 1]
  let w = [1.0, 2, 0.5, 0, 3]
  let a = try loss.statistics(logits: Array(z[0..<2]), targets: Array(y[0..<2]), weights: Array(w[0..<2]))
  let b = try loss.statistics(logits: Array(z[2...]), targets: Array(y[2...]), weights: Array(w[2...]))
  let global = a + b
  #expect(global.shardCount == 2 && global.sampleCount == 5)
  let terms = try loss.perSampleValues(logits: z, targets: y)
  let share = try loss.value(
    logits: Array(z[0..<2]), targets: Array(y[0..<2]), weights: Array(w[0..<2]), statistics: global)
  expectClose(share, (terms[0] * w[0] + terms[1] * w[1]) / w.reduce(0, +), relative: 1e-15)
  var sum = loss
  sum.reduction = .sum
  let sumStatistics =
    try sum.statistics(logits: Array(z[0..<2]), targets: Array(y[0..<2]))
    + sum.statistics(logits: Array(z[2...]), targets: Array(y[2...]))
  let sumShare = try sum.value(
    logits: Array(z[0..<2]), targets: Array(y[0..<2]), statistics: sumStatistics)
  expectClose(sumShare, terms[0] + terms[1], relative: 1e-15)
}

@Test func aShardWithoutWeightOrKeptRowsIsValid() throws {
  let loss = try LogitAdjustedCrossEntropy(priors: [0.7, 0.2, 0.1])
  let z = [1.0, 0, -1, 0.5, 2, -2, 0, 0, 3]
  let labels = [0, 2, 1]
  let w = [0.0, 2, 1]
  let first = try loss.statistics(logits: Array(z[0..<3]), targets: [0], weights: [0])
  let rest = try loss.statistics(
    logits: Array(z[3...]), targets: Array(labels[1...]), weights: Array(w[1...]))
  var g: [Double] = []
  let share = try loss.valueAndGradient(
    logits: Array(z[0..<3]), targets: [0], weights: [0], gradient: &g, statistics: first + rest)
  #expect(share == 0 && g == [0, 0, 0])
  // Alone, the zero-weight shard has no mean.
  #expect(throws: LossError.zeroTotalWeight) {
    _ = try loss.valueAndGradient(
      logits: Array(z[0..<3]), targets: [0], weights: [0], gradient: &g, statistics: first)
  }
}

@Test func badStatisticsThrowAndLeaveTheGradientUntouched() throws {
  let loss = BinaryCrossEntropy(positiveWeight: 3)
  let z = [0.5, -1.0, 2.0]
  let y = [1.0, 0, 1]
  let good = try loss.statistics(logits: z, targets: y)
  var g = [7.0, 7, 7]
  func expectThrows(_ statistics: BatchStatistics, _ error: LossError) {
    #expect(throws: error) {
      _ = try loss.valueAndGradient(logits: z, targets: y, gradient: &g, statistics: statistics)
    }
    #expect(g == [7, 7, 7])
  }
  // Another loss, another configuration of the same loss, another length.
  let other = try BinaryCrossEntropy(positiveWeight: 2).statistics(logits: z, targets: y)
  #expect(other.scalars.count == good.scalars.count && other.scalars[1] != good.scalars[1])
  do {
    _ = try loss.valueAndGradient(logits: z, targets: y, gradient: &g, statistics: other)
    Issue.record("statistics of another configuration accepted")
  } catch {
    guard case .invalidParameter(name: "statistics.scalars[1]", _, _) = error else {
      Issue.record("\(error)")
      return
    }
  }
  #expect(g == [7, 7, 7])
  let longer = try BatchStatistics(scalars: good.scalars + [0, 0])
  expectThrows(
    longer,
    .lengthMismatch(
      argument: "statistics.scalars", expected: good.scalars.count, actual: longer.scalars.count))
  // Fewer samples than this shard: statistics that leave it out.
  let part = try loss.statistics(logits: [0.5], targets: [1])
  do {
    _ = try loss.valueAndGradient(logits: z, targets: y, gradient: &g, statistics: part)
    Issue.record("statistics without this shard accepted")
  } catch {
    guard case .invalidParameter(name: "statistics.scalars[2]", _, _) = error else {
      Issue.record("\(error)")
      return
    }
  }
  #expect(g == [7, 7, 7])
  // Merging statistics of different lengths marks the result invalid.
  let mixed = try good + BatchStatistics(scalars: good.scalars + [0, 0])
  #expect(throws: LossError.self) {
    _ = try loss.valueAndGradient(logits: z, targets: y, gradient: &g, statistics: mixed)
  }
  #expect(g == [7, 7, 7])
}

@Test func scalarsAreValidated() throws {
  let good = try BinaryCrossEntropy().statistics(logits: [0.5, 1], targets: [1, 0]).scalars
  #expect(try BatchStatistics(scalars: good).scalars == good)
  func expectInvalid(_ s: [Double], at index: Int) {
    do {
      _ = try BatchStatistics(scalars: s)
      Issue.record("\(s) accepted")
    } catch {
      guard case .invalidParameter(let name, _, _) = error, name == "statistics.scalars[\(index)]" else {
        Issue.record("\(s): \(error), expected index \(index)")
        return
      }
    }
  }
  var s = good
  s[3] = .nan
  expectInvalid(s, at: 3)
  s = good
  s[3] = -1
  expectInvalid(s, at: 3)
  s = good
  s[0] = 0.5
  expectInvalid(s, at: 0)
  s = good
  s[1] += 0.5
  expectInvalid(s, at: 1)
  s = good
  s[2] = 0
  expectInvalid(s, at: 2)
  expectInvalid(Array(good.dropLast()), at: good.count - 1)
  expectInvalid([], at: 0)
  // Summed over 3 workers: valid, three shards.
  let three = try BatchStatistics(scalars: good.map { 3 * $0 })
  #expect(three.shardCount == 3 && three.sampleCount == 6)
}

@Test func fingerprintsAreTheSameInEveryProcess() throws {
  // Pinned: a fingerprint that changed between builds or runs would make
  // workers reject each other's statistics.
  let s = try BinaryCrossEntropy().statistics(logits: [0.5], targets: [1]).scalars
  #expect(s[1] == BinaryCrossEntropyFingerprint.pinned)
}

private enum BinaryCrossEntropyFingerprint {
  static let pinned: Double = 636_475
}

@Test func combinedLossesShardLikeTheirMembers() throws {
  let binary = CombinedLoss<Double>([
    (0.5, BinaryFocalLoss(gamma: 2)), (1, BinaryCrossEntropy(positiveWeight: 4)),
    (0.25, SmoothAccuracyLoss()),
  ])
  try checkShards(
    .custom("CombinedLoss(focal, BCE, accuracy)", binary, layout: .binary, setParallelism: nil),
    seeds: 0..<20
  ) { rng in
    let n = Int.random(in: 1...48, using: &rng)
    return (
      (0..<n).map { _ in rng.shardLogit() }, rng.labels(n, positiveRate: 0.3),
      rng.shardWeights(n), n
    )
  }
  let softmax = try CombinedLoss<Int>([
    (1, SoftmaxCrossEntropy(classCount: 3)),
    (2, LogitAdjustedCrossEntropy(priors: [0.6, 0.3, 0.1])),
  ])
  try checkShards(
    .custom("CombinedLoss(CE, LA)", softmax, layout: .softmax(3), setParallelism: nil),
    seeds: 0..<20
  ) { rng in
    let n = Int.random(in: 1...30, using: &rng)
    return (
      (0..<(3 * n)).map { _ in rng.shardLogit() }, rng.classes(n, classCount: 3),
      rng.shardWeights(n), n
    )
  }
}

/// A loss of the caller's own that is no `DataParallelLoss`.
private struct PlainLoss: Loss {
  var parallelism: Parallelism = .serial
  var logitsPerSample: Int { 1 }
  func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?
  ) throws(LossError) -> Double {
    if let gradient { for i in gradient.indices { gradient[i] = 0 } }
    return 0
  }
}

@Test func combinedStatisticsNeedDataParallelMembersAndTheirOwnStatistics() throws {
  let z = [0.5, -1.0, 2.0]
  let y = [1.0, 0, 1]
  let loss = CombinedLoss<Double>([(1, BinaryCrossEntropy()), (1, PlainLoss())])
  #expect(
    throws: LossError.invalidParameter(
      name: "terms[1]", value: 1, requirement: "a loss that conforms to DataParallelLoss")
  ) { _ = try loss.statistics(logits: z, targets: y) }
  let a = CombinedLoss<Double>([(1, BinaryCrossEntropy()), (0.5, BinaryFocalLoss(gamma: 2))])
  let b = CombinedLoss<Double>([(1, BinaryCrossEntropy()), (0.5, BinaryFocalLoss(gamma: 1))])
  let statistics = try b.statistics(logits: z, targets: y)
  var g = [7.0, 7, 7]
  #expect(throws: LossError.self) {
    _ = try a.valueAndGradient(logits: z, targets: y, gradient: &g, statistics: statistics)
  }
  // A member's own statistics are not the combination's.
  let member = try BinaryCrossEntropy().statistics(logits: z, targets: y)
  #expect(throws: LossError.self) {
    _ = try a.valueAndGradient(logits: z, targets: y, gradient: &g, statistics: member)
  }
  #expect(g == [7, 7, 7])
}

@Test func statisticsRejectWeightsTooSmallToExchangeUnscaled() throws {
  #expect(
    throws: LossError.invalidParameter(
      name: "weights[1]", value: 1e-200,
      requirement: "0 or at least 2^-500 for data-parallel statistics (sums are exchanged unscaled)")
  ) { _ = try SmoothF1Loss().statistics(logits: [1, 2], targets: [1, 0], weights: [1, 1e-200]) }
  var weighted = try SoftmaxCrossEntropy(classCount: 2)
  weighted.classWeights = [1, 1e-160]
  #expect(throws: LossError.self) {
    _ = try weighted.statistics(logits: [1, 2], targets: [0])
  }
  // Zero and 2^-500 are fine.
  _ = try SmoothF1Loss().statistics(logits: [1, 2], targets: [1, 0], weights: [0, 0x1p-500])
}

/// Two shards, each above the parallel threshold: the same bits on one
/// thread and on several, for the statistics, the shares and the gradients.
private func expectShardsSameBitsOnAnyThreadCount<T: Sendable>(
  _ loss: LossCase<T>, layout: RowLayout, _ z: [Double], _ t: [T], _ w: [Double]
) throws {
  guard var parallel = loss.dataParallel else {
    Issue.record("\(loss.name) is not a DataParallelLoss")
    return
  }
  let rows = w.count
  let shards = [0..<(rows / 2), (rows / 2)..<rows]
  var results: [[UInt64]] = []
  for p in [Parallelism.serial, .maximumThreads(2), .automatic] {
    parallel.parallelism = p
    let r = try sharded(parallel, layout: layout, z, t, w, shards, byScalars: true)
    results.append([r.value.bitPattern] + r.gradient.map(\.bitPattern))
  }
  #expect(results[0] == results[1] && results[0] == results[2], "\(loss.name)")
}

@Test(arguments: LossTable.onePerType(LossTable.binary))
func binaryShardsGiveTheSameBitsOnAnyThreadCount(_ loss: LossCase<Double>) throws {
  var rng = SplitMix64(seed: 0xD9_0001)
  let n = 2 * (ChunkedReductionThreshold.logits + 1_003)
  try expectShardsSameBitsOnAnyThreadCount(
    loss, layout: .binary, rng.uniforms(n, in: -30...30), rng.labels(n, positiveRate: 0.2),
    rng.uniforms(n, in: 0...3))
}

@Test(arguments: LossTable.onePerType(LossTable.softmax(classCount: 10)))
func softmaxShardsGiveTheSameBitsOnAnyThreadCount(_ loss: LossCase<Int>) throws {
  var rng = SplitMix64(seed: 0xD9_0002)
  let rows = 2 * (ChunkedReductionThreshold.logits / 10 + 3)
  try expectShardsSameBitsOnAnyThreadCount(
    loss, layout: .softmax(10), rng.uniforms(rows * 10, in: -30...30),
    rng.classes(rows, classCount: 10), rng.uniforms(rows, in: 0...2))
}

/// `ChunkedReduction.parallelThreshold` (internal): batches above it may run
/// on several threads.
private enum ChunkedReductionThreshold {
  static let logits = 1 << 15
}

@Test func hugeClassWeightsWithoutSampleWeightsShardLikeTheWholeBatch() throws {
  // Σ v = 4e300 > 2^900: the normaliser is scaled, and without per-sample
  // weights the class weights must carry the scale (fuzzer: +inf shares).
  var loss = try SoftmaxCrossEntropy(classCount: 3)
  loss.classWeights = [1e300, 0.5, 1e300]
  let z = [1.0, -2, 0.5, 3, 0, -1, 0.25, 0.25, 2, -3, 1, 1]
  let labels = [0, 2, 1, 0]
  let whole = try loss.valueAndGradient(logits: z, targets: labels)
  let cut = 6
  let global =
    try loss.statistics(logits: Array(z[..<cut]), targets: Array(labels[..<2]))
    + loss.statistics(logits: Array(z[cut...]), targets: Array(labels[2...]))
  let a = try loss.valueAndGradient(
    logits: Array(z[..<cut]), targets: Array(labels[..<2]), statistics: global)
  let b = try loss.valueAndGradient(
    logits: Array(z[cut...]), targets: Array(labels[2...]), statistics: global)
  expectClose(a.value + b.value, whole.value, relative: 1e-15)
  expectClose(a.gradient + b.gradient, whole.gradient, relative: 1e-15)
}

@Test(arguments: [0, 1, 2, 3] as [UInt64])
func seesawShardsFollowTheWholeBatchStepByStep(seed: UInt64) throws {
  var loss = try SeesawLoss(classCount: 4)
  if seed == 3 { loss.ignoreIndex = 1 }
  var rng = SplitMix64(seed: 0x5EE5 &+ seed)
  var whole = loss.makeState()
  var shardStates: [SeesawLoss.State] = []
  for _ in 0..<4 {
    let n = Int.random(in: 2...30, using: &rng)
    let z = (0..<(4 * n)).map { _ in rng.shardLogit() }
    let labels = rng.classes(n, classCount: 4)
    let w = rng.shardWeights(n)
    let shards = randomShards(n, &rng)
    if shardStates.count != shards.count {
      shardStates = [SeesawLoss.State](repeating: whole, count: shards.count)
    }
    let one = try loss.valueAndGradient(logits: z, targets: labels, weights: w, state: &whole)
    func part(_ r: Range<Int>) -> ([Double], [Int], [Double]?) {
      (slice(z, r, width: 4), slice(labels, r, width: 1), w.map { slice($0, r, width: 1) })
    }
    let local = try shards.map { r in
      let (zs, ts, ws) = part(r)
      return try loss.statistics(logits: zs, targets: ts, weights: ws, state: shardStates[0])
    }
    let global = local.dropFirst().reduce(local[0], +)
    var value = 0.0
    var gradient: [Double] = []
    for (j, r) in shards.enumerated() {
      let (zs, ts, ws) = part(r)
      let s = try loss.valueAndGradient(
        logits: zs, targets: ts, weights: ws, state: &shardStates[j], statistics: global)
      value += s.value
      gradient += s.gradient
    }
    #expect(shardStates.allSatisfy { $0 == whole })
    expectClose(value, one.value, relative: 1e-14)
    expectUlps(gradient, one.gradient, 4, "seesaw seed \(seed)")
  }
}

@Test func seesawRejectsStatisticsOfAnotherConfiguration() throws {
  let loss = try SeesawLoss(classCount: 3)
  let other = try SeesawLoss(classCount: 3, p: 0.5)
  let z = [1.0, 0, -1, 2, 0.5, 0]
  let labels = [0, 2]
  var state = loss.makeState()
  let statistics = try other.statistics(logits: z, targets: labels, state: state)
  #expect(throws: LossError.self) {
    _ = try loss.valueAndGradient(logits: z, targets: labels, state: &state, statistics: statistics)
  }
  #expect(state == loss.makeState())
}

@Test(arguments: [0, 1, 2, 3] as [UInt64])
func equalizationShardsFollowTheWholeBatchStepByStep(seed: UInt64) throws {
  var loss = try EqualizationLossV2(classCount: 4)
  if seed == 2 { loss.reduction = .sum }
  if seed == 3 { loss.ignoreIndex = 1 }
  var rng = SplitMix64(seed: 0xE912 &+ seed)
  // Every worker holds a copy of the same state, advanced step by step; each
  // step is compared with one batch from that state.
  var copies = [loss.makeState()]
  for step in 0..<5 {
    let n = Int.random(in: 2...30, using: &rng)
    let z = (0..<(4 * n)).map { _ in rng.shardLogit() }
    // Labels 0...4: 4 is a background row.
    let labels = rng.classes(n, classCount: 5)
    let w = rng.shardWeights(n)
    let shards = randomShards(n, &rng)
    copies = [EqualizationLossV2.State](repeating: copies[0], count: shards.count)
    var whole = copies[0]
    let one = try loss.valueAndGradient(logits: z, targets: labels, weights: w, state: &whole)
    func part(_ r: Range<Int>) -> ([Double], [Int], [Double]?) {
      (slice(z, r, width: 4), slice(labels, r, width: 1), w.map { slice($0, r, width: 1) })
    }
    let local = try shards.enumerated().map { j, r in
      let (zs, ts, ws) = part(r)
      return try loss.statistics(logits: zs, targets: ts, weights: ws, state: copies[j])
    }
    // An all-reduce: the elementwise sum of the scalars.
    var summed = local[0].scalars
    for s in local.dropFirst() { for i in summed.indices { summed[i] += s.scalars[i] } }
    let global = try BatchStatistics(scalars: summed)
    var value = 0.0
    var gradient: [Double] = []
    for (j, r) in shards.enumerated() {
      let (zs, ts, ws) = part(r)
      let s = try loss.valueAndGradient(
        logits: zs, targets: ts, weights: ws, state: &copies[j], statistics: global)
      value += s.value
      gradient += s.gradient
    }
    let comment = "eqlv2 seed \(seed) step \(step), \(shards.count) shards"
    #expect(copies.allSatisfy { $0 == copies[0] }, "\(comment)")
    #expect(copies[0].stepCount == whole.stepCount)
    expectUlps(copies[0].positiveGradients, whole.positiveGradients, 4, comment)
    expectUlps(copies[0].negativeGradients, whole.negativeGradients, 4, comment)
    expectClose(value, one.value, relative: 1e-14, comment)
    expectUlps(gradient, one.gradient, 4, comment)
  }
}

@Test func equalizationRejectsStatisticsOfAnotherConfigurationAndRunawayIncrements() throws {
  let loss = try EqualizationLossV2(classCount: 3)
  let other = try EqualizationLossV2(classCount: 3, alpha: 2)
  let z = [1.0, 0, -1, 2, 0.5, 0]
  let labels = [0, 3]
  var state = loss.makeState()
  var gradient = [Double](repeating: 7, count: 6)
  let foreign = try other.statistics(logits: z, targets: labels, state: state)
  #expect(throws: LossError.self) {
    _ = try gradient.withUnsafeMutableBufferPointer { g in
      try z.withUnsafeBufferPointer { zb in
        try labels.withUnsafeBufferPointer { tb in
          try loss.valueAndGradient(
            logits: zb, targets: tb, weights: nil, gradient: g, state: &state,
            statistics: foreign)
        }
      }
    }
  }
  // Increments summed past the double range.
  var scalars = try loss.statistics(logits: z, targets: labels, state: state).scalars
  // Header (3), then (hi, lo) pairs: kept, Σ w, P_0, P_1, P_2, Q_0, …
  scalars[3 + 2 * 2] = 1e308
  let runaway = try BatchStatistics(scalars: scalars)
  var nearFull = state
  nearFull.positiveGradients[0] = 1e308
  #expect(throws: LossError.self) {
    _ = try loss.valueAndGradient(logits: z, targets: labels, state: &nearFull, statistics: runaway)
  }
  #expect(nearFull.positiveGradients == [1e308, 0, 0])
  #expect(nearFull.stepCount == 0)
  #expect(state == loss.makeState())
  #expect(gradient == [Double](repeating: 7, count: 6))
}
