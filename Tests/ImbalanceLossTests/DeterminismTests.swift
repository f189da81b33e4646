import Testing

@testable import ImbalanceLoss

// Same input, same bits, whatever the thread count: chunk boundaries depend
// only on the batch size and chunk results are added in chunk order
// (ChunkedReduction). Batches here are just above the parallel threshold and
// not a multiple of the chunk or vector size, so several chunks run on
// several threads and every tail path is taken. (Sizes are kept small:
// debug-build SIMD code is slow.) Every loss of `LossTable` and every entry
// point it has (value and gradient, value alone, per-sample values, Hessian
// diagonal, Hessian-vector product) is checked. MacroSmoothF1Loss has no
// `parallelism` (always serial): for it the settings are the same call, and
// the test still pins that the call is repeatable.

/// The settings every loss is run with; `.serial` is the reference. Value
/// and gradient run with all of them, the other entry points with the first
/// and the last only: debug-build kernels are slow, and above the threshold
/// every setting but `.serial` takes the same chunked path. (The value-only
/// path and unweighted batches are pinned on small batches by the property
/// and bit-identity tests.)
let threadSettings: [Parallelism] = [.serial, .maximumThreads(2), .automatic]

private func bits(_ x: [Double]) -> [UInt64] { x.map(\.bitPattern) }


/// Expects every entry point of `loss` to give the bits of its `.serial` run
/// under every other setting: value and gradient, per-sample values, Hessian diagonal (whose value and gradient are also
/// those of `valueAndGradient`) and Hessian-vector product.
func expectSameBits<T>(
  _ loss: LossCase<T>, logits: [Double], targets: [T], weights: [Double],
  seed: UInt64, sourceLocation: SourceLocation = #_sourceLocation
) throws {
  let loc = sourceLocation
  func expectSame(_ a: [UInt64], _ b: [UInt64], _ what: String, _ p: Parallelism) {
    if let i = a.indices.first(where: { a[$0] != b[$0] }) ?? (a.count == b.count ? nil : 0) {
      Issue.record(
        "\(loss) \(p): \(what)[\(i)] differs from .serial; seed \(seed)", sourceLocation: loc)
    }
  }
  let (value, gradient) = try loss.bufferValueAndGradient(.serial, logits, targets, weights)
  let reference = [value.bitPattern] + bits(gradient)
  let allFinite = gradient.allSatisfy { $0.isFinite }
  #expect(allFinite, "\(loss): seed \(seed)", sourceLocation: loc)
  for p in threadSettings.dropFirst() {
    let (v, g) = try loss.bufferValueAndGradient(p, logits, targets, weights)
    expectSame([v.bitPattern] + bits(g), reference, "value and gradient", p)
  }
  let last = threadSettings.last!
  if let perSampleValues = loss.perSampleValues {
    let a = try perSampleValues(.serial, logits, targets)
    let b = try perSampleValues(last, logits, targets)
    expectSame(bits(b), bits(a), "per-sample values", last)
  }
  if let hessianDiagonal = loss.hessianDiagonal {
    let (va, ga, ha) = try hessianDiagonal(.serial, logits, targets, weights)
    expectSame([va.bitPattern] + bits(ga), reference, "value and gradient with the Hessian", .serial)
    let (vb, gb, hb) = try hessianDiagonal(last, logits, targets, weights)
    expectSame([vb.bitPattern] + bits(gb) + bits(hb), reference + bits(ha), "Hessian diagonal", last)
  }
  if let hessianVectorProduct = loss.hessianVectorProduct {
    let vector = (0..<logits.count).map { Double(($0 * 7) % 13) / 6 - 1 }
    let a = try hessianVectorProduct(.serial, logits, targets, weights, vector)
    let b = try hessianVectorProduct(last, logits, targets, weights, vector)
    expectSame(bits(b), bits(a), "Hessian-vector product", last)
  }
}

@Suite struct DeterminismTests {
  /// Above the threshold, not a multiple of 8 or of a chunk.
  static let sampleCount = ChunkedReduction.parallelThreshold + 1_003

  // One case per loss type (`LossTable.onePerType`), weighted: debug-build
  // kernels are slow and these batches are above the parallel threshold.

  @Test(arguments: LossTable.onePerType(LossTable.binary))
  func binaryLossesGiveTheSameBitsOnAnyThreadCount(loss: LossCase<Double>) throws {
    let seed: UInt64 = 0xD0_0002
    var rng = SplitMix64(seed: seed)
    let n = Self.sampleCount
    // Logits wide enough to reach exp's underflow and the tails of log1p.
    let z = rng.uniforms(n, in: -40...40) + [800, -800, 0, -0.0]
    let y = rng.labels(n, positiveRate: 0.2) + [0, 1, 1, 0]
    let w = rng.uniforms(n + 4, in: 0...3)
    try expectSameBits(loss, logits: z, targets: y, weights: w, seed: seed)
  }

  @Test(arguments: LossTable.onePerType(LossTable.softmax(classCount: 10)))
  func softmaxLossesGiveTheSameBitsOnAnyThreadCount(loss: LossCase<Int>) throws {
    let k = loss.layout.logits
    let seed = 0xD0_1000 + UInt64(k)
    var rng = SplitMix64(seed: seed)
    let rows = ChunkedReduction.parallelThreshold / k + 3
    let z = rng.uniforms(rows * k, in: -30...30)
    let c = rng.classes(rows, classCount: k)
    let w = rng.uniforms(rows, in: 0...2)
    try expectSameBits(loss, logits: z, targets: c, weights: w, seed: seed)
  }

  /// Wide rows: one chunk holds 8 rows of 1000 classes.
  @Test func wideSoftmaxRowsGiveTheSameBitsOnAnyThreadCount() throws {
    let k = 1000
    let seed = 0xD0_1000 + UInt64(k)
    var rng = SplitMix64(seed: seed)
    let rows = ChunkedReduction.parallelThreshold / k + 3
    let z = rng.uniforms(rows * k, in: -30...30)
    let c = rng.classes(rows, classCount: k)
    let w = rng.uniforms(rows, in: 0...2)
    let priors = (0..<k).map { 1 / Double($0 + 1) }
    let loss = LossCase<Int>.softmaxSecondOrder(
      "LogitAdjustedCrossEntropy(K: 1000)", try LogitAdjustedCrossEntropy(priors: priors, tau: 1))
    try expectSameBits(loss, logits: z, targets: c, weights: w, seed: seed)
  }

  @Test(arguments: LossTable.multiLabel(labelCount: 10))
  func multiLabelLossesGiveTheSameBitsOnAnyThreadCount(loss: LossCase<Double>) throws {
    let l = loss.layout.logits
    let seed = 0xD0_2000 + UInt64(l)
    var rng = SplitMix64(seed: seed)
    let rows = ChunkedReduction.parallelThreshold / l + 3
    let z = rng.uniforms(rows * l, in: -30...30)
    let y = rng.labels(rows * l, positiveRate: 0.2)
    let w = rng.uniforms(rows * loss.layout.weights, in: 0...2)
    try expectSameBits(loss, logits: z, targets: y, weights: w, seed: seed)
  }
}
