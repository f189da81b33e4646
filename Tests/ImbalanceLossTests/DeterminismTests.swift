import Testing

@testable import ImbalanceLoss

// Same input, same bits, whatever the thread count: chunk boundaries depend
// only on the batch size and chunk results are added in chunk order
// (ChunkedReduction). Batches here are just above the parallel threshold and
// not a multiple of the chunk or vector size, so several chunks run on
// several threads and every tail path is taken. (Sizes are kept small:
// debug-build SIMD code is slow.)

/// The settings every loss is run with; `.serial` is the reference.
let threadSettings: [Parallelism] = [.serial, .maximumThreads(2), .automatic]

/// Runs `make(parallelism)` on the inputs for every setting and expects the
/// value and every gradient entry to have the bits of the serial run. The
/// gradient buffer starts as NaN each time, so a kernel that read it before
/// writing it (the fused passes reuse it as scratch) would show.
func expectSameBits<L: Loss>(
  _ make: (Parallelism) -> L, logits: [Double], targets: [L.Target], weights: [Double]?,
  seed: UInt64, sourceLocation: SourceLocation = #_sourceLocation
) throws {
  var reference: (value: Double, gradient: [Double])?
  for parallelism in threadSettings {
    let loss = make(parallelism)
    var gradient = [Double](repeating: .nan, count: logits.count)
    let value = try loss.valueAndGradient(
      logits: logits, targets: targets, weights: weights, gradient: &gradient)
    guard let reference else {
      // The value-only path (no scratch buffer, exp recomputed) agrees too.
      let valueOnly = try loss.value(logits: logits, targets: targets, weights: weights)
      #expect(
        value.bitPattern == valueOnly.bitPattern,
        "\(L.self): value \(value) with gradient, \(valueOnly) without; seed \(seed)",
        sourceLocation: sourceLocation)
      let allFinite = gradient.allSatisfy { $0.isFinite }
      #expect(allFinite, "\(L.self): seed \(seed)", sourceLocation: sourceLocation)
      reference = (value, gradient)
      continue
    }
    #expect(
      value.bitPattern == reference.value.bitPattern,
      "\(L.self) \(parallelism): value \(value) vs serial \(reference.value); seed \(seed)",
      sourceLocation: sourceLocation)
    if let i = gradient.indices.first(where: {
      gradient[$0].bitPattern != reference.gradient[$0].bitPattern
    }) {
      let message =
        "\(L.self) \(parallelism): gradient[\(i)] = \(gradient[i]) "
        + "vs serial \(reference.gradient[i]); seed \(seed)"
      Issue.record("\(message)", sourceLocation: sourceLocation)
    }
  }
}

@Suite struct DeterminismTests {
  /// Above the threshold, not a multiple of 8 or of a chunk.
  static let sampleCount = ChunkedReduction.parallelThreshold + 1_003

  @Test(arguments: [false, true])
  func binaryLossesGiveTheSameBitsOnAnyThreadCount(weighted: Bool) throws {
    let seed: UInt64 = weighted ? 0xD0_0002 : 0xD0_0001
    var rng = SplitMix64(seed: seed)
    let n = Self.sampleCount
    // Logits wide enough to reach exp's underflow and the tails of log1p.
    let z = rng.uniforms(n, in: -40...40) + [800, -800, 0, -0.0]
    let y = rng.labels(n, positiveRate: 0.2) + [0, 1, 1, 0]
    let w: [Double]? = weighted ? rng.uniforms(n + 4, in: 0...3) : nil

    try expectSameBits(
      { p in var l = BinaryCrossEntropy(positiveWeight: 3); l.parallelism = p; return l },
      logits: z, targets: y, weights: w, seed: seed)
    try expectSameBits({ p in var l = SmoothAccuracyLoss(); l.parallelism = p; return l },
      logits: z, targets: y, weights: w, seed: seed)
    try expectSameBits({ p in var l = SmoothF1Loss(); l.parallelism = p; return l },
      logits: z, targets: y, weights: w, seed: seed)
    try expectSameBits({ p in var l = F1WeightedCrossEntropy(); l.parallelism = p; return l },
      logits: z, targets: y, weights: w, seed: seed)
    try expectSameBits(
      { p in var l = F1WeightedCrossEntropy(f1: 0.3); l.parallelism = p; return l },
      logits: z, targets: y, weights: w, seed: seed)
  }

  @Test(arguments: [10, 1000])
  func softmaxLossGivesTheSameBitsOnAnyThreadCount(classCount k: Int) throws {
    let seed = 0xD0_1000 + UInt64(k)
    var rng = SplitMix64(seed: seed)
    let rows = ChunkedReduction.parallelThreshold / k + 3
    let z = rng.uniforms(rows * k, in: -30...30)
    let c = rng.classes(rows, classCount: k)
    let w = rng.uniforms(rows, in: 0...2)
    let priors = (0..<k).map { 1 / Double($0 + 1) }
    let loss = try LogitAdjustedCrossEntropy(priors: priors, tau: 1)
    try expectSameBits({ p in var l = loss; l.parallelism = p; return l },
      logits: z, targets: c, weights: nil, seed: seed)
    try expectSameBits({ p in var l = loss; l.parallelism = p; return l },
      logits: z, targets: c, weights: w, seed: seed)
  }
}
