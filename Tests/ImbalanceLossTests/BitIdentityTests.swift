#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import ImbalanceLoss
import Testing

// Bit identity: every public loss type, in several option combinations, on a
// fixed set of seeded batches, gives exactly the bits pinned in
// Fixtures/BitIdentityFixture.swift: the value (with the gradient and alone),
// an FNV-1a 64 hash of the gradient's bit patterns (and its first entries,
// to ease debugging), the per-sample values, and every second-order entry
// point (Hessian diagonal, Hessian-vector product) the type has.
//
// The fixture is a regression pin of the code as it was when it was
// recorded, not a correctness reference (the accuracy audit and the property
// tests are that): a refactoring must leave every line unchanged.
//
// To regenerate (only when a change of bits is intended and explained in the
// commit message):
//
//     IMBALANCE_RECORD_BITS=1 swift test --filter BitIdentity
//
// which rewrites the fixture file instead of comparing (the test then fails
// on purpose, so that a recording run is never taken for a passing one).

// MARK: Hashing and records

/// FNV-1a 64 over the little-endian bytes of each bit pattern.
private func fnv1a(_ x: [Double]) -> UInt64 {
  var hash: UInt64 = 0xcbf2_9ce4_8422_2325
  for v in x {
    var bits = v.bitPattern
    for _ in 0..<8 {
      hash = (hash ^ (bits & 0xFF)) &* 0x0000_0100_0000_01B3
      bits >>= 8
    }
  }
  return hash
}

/// Hash, count and the first `head` bit patterns of an array.
private func summary(_ x: [Double], head: Int = 4) -> [UInt64] {
  [fnv1a(x), UInt64(x.count)] + x.prefix(head).map(\.bitPattern)
}

/// One pinned result: a key naming loss, options, batch, weighting and entry
/// point, and its bits.
private struct Record {
  let key: String
  let bits: [UInt64]

  var line: String {
    key + " = " + bits.map { String($0, radix: 16) }.joined(separator: " ")
  }
}

// MARK: Batches

/// A fixed seeded batch of one family.
private struct Batch<Target> {
  let name: String
  let logits: [Double]
  let targets: [Target]
  /// Rows (for the weights: `rows * layout.weights` of them).
  let rows: Int
}

/// Weights with a zero every ninth entry.
private func fixedWeights(_ count: Int, seed: UInt64) -> [Double] {
  var rng = SplitMix64(seed: seed)
  return (0..<count).map { i in i % 9 == 4 ? 0 : rng.uniform(0...3) }
}

/// Ordinary logits in [-8, 8], or large ones: |z| in 30...800 two times in
/// three, with signs mixed, the rest ordinary.
private func logits(_ count: Int, large: Bool, _ rng: inout SplitMix64) -> [Double] {
  (0..<count).map { i in
    guard large, i % 3 != 2 else { return rng.uniform(-8...8) }
    return (rng.uniform(0...1) < 0.5 ? -1 : 1) * rng.uniform(30...800)
  }
}

private func binaryBatches() -> [Batch<Double>] {
  var rng = SplitMix64(seed: 0xB17_0001)
  func make(_ name: String, _ n: Int, large: Bool, soft: Bool) -> Batch<Double> {
    let z = logits(n, large: large, &rng)
    let y = soft ? rng.uniforms(n, in: 0...1) : rng.labels(n, positiveRate: 0.3)
    return Batch(name: name, logits: z, targets: y, rows: n)
  }
  return [
    make("N 37 hard", 37, large: false, soft: false),
    make("N 37 soft", 37, large: false, soft: true),
    make("N 37 large", 37, large: true, soft: false),
    // Above ChunkedReduction.parallelThreshold (2^15 logits): 5 chunks on threads.
    make("N 33771 threaded", 33_771, large: false, soft: false),
  ]
}

private func softmaxBatches(classCount k: Int) -> [Batch<Int>] {
  var rng = SplitMix64(seed: 0xB17_1000 + UInt64(k))
  func make(_ name: String, _ rows: Int, large: Bool) -> Batch<Int> {
    Batch(
      name: "K \(k) " + name, logits: logits(rows * k, large: large, &rng),
      targets: rng.classes(rows, classCount: k), rows: rows)
  }
  var batches = [make("rows 11", 11, large: false)]
  if k == 10 {
    batches.append(make("rows 11 large", 11, large: true))
    batches.append(make("rows 3301 threaded", 3_301, large: false))
  }
  return batches
}

private func multiLabelBatches(labelCount l: Int) -> [Batch<Double>] {
  var rng = SplitMix64(seed: 0xB17_2000 + UInt64(l))
  func make(_ name: String, _ rows: Int, large: Bool) -> Batch<Double> {
    let z = logits(rows * l, large: large, &rng)
    let y = rng.labels(rows * l, positiveRate: 0.3)
    return Batch(name: "L \(l) " + name, logits: z, targets: y, rows: rows)
  }
  var batches = [make("rows 7", 7, large: false)]
  if l == 10 {
    batches.append(make("rows 7 large", 7, large: true))
    batches.append(make("rows 3301 threaded", 3_301, large: false))
  }
  return batches
}

// MARK: Option combinations

/// One option combination of one loss type; `ignores` marks that some targets
/// of each batch are replaced by the ignore marker (-1 for every loss).
private struct Variant<Target: Sendable> {
  let loss: LossCase<Target>
  let ignores: Bool
  /// Soft targets are invalid for MultiLabelCategoricalCrossEntropy.
  var hardTargetsOnly: Bool { loss.hardTargetsOnly }
}

private func v<T>(_ loss: LossCase<T>, ignores: Bool = false) -> Variant<T> {
  Variant(loss: loss, ignores: ignores)
}

/// Sets `reduction` (and more) on a copy.
private func with<L>(_ loss: L, _ change: (inout L) -> Void) -> L {
  var copy = loss
  change(&copy)
  return copy
}

private func binaryVariants() -> [Variant<Double>] {
  [
    v(.secondOrder("BinaryCrossEntropy()", BinaryCrossEntropy())),
    v(.secondOrder(
      "BinaryCrossEntropy(pos 3, neg 0.5, .sum)",
      with(BinaryCrossEntropy(positiveWeight: 3, negativeWeight: 0.5)) { $0.reduction = .sum })),
    v(.secondOrder(
      "BinaryCrossEntropy(ignoredTarget -1)",
      with(BinaryCrossEntropy()) { $0.ignoredTarget = -1 }), ignores: true),
    v(.secondOrder("BinaryFocalLoss(gamma 2)", BinaryFocalLoss(gamma: 2))),
    v(.secondOrder("BinaryFocalLoss(gamma 0)", BinaryFocalLoss(gamma: 0))),
    v(.secondOrder(
      "BinaryFocalLoss(gamma 0.5, alpha 0.25, .sum)",
      with(BinaryFocalLoss(gamma: 0.5, alpha: 0.25)) { $0.reduction = .sum })),
    v(.secondOrder(
      "BinaryFocalLoss(gamma 3, pos 2, neg 0.5, hessianFloor 0, ignoredTarget -1)",
      with(BinaryFocalLoss(gamma: 3, positiveWeight: 2, negativeWeight: 0.5)) {
        $0.hessianFloor = 0
        $0.ignoredTarget = -1
      }), ignores: true),
    v(.secondOrder("SmoothAccuracyLoss()", SmoothAccuracyLoss())),
    v(.secondOrder(
      "SmoothAccuracyLoss(.sum, ignoredTarget -1)",
      with(SmoothAccuracyLoss()) {
        $0.reduction = .sum
        $0.ignoredTarget = -1
      }), ignores: true),
    v(.whole("SmoothF1Loss()", SmoothF1Loss())),
    v(.whole("SmoothF1Loss(ignoredTarget -1)", with(SmoothF1Loss()) { $0.ignoredTarget = -1 }),
      ignores: true),
    v(.secondOrder("F1WeightedCrossEntropy()", F1WeightedCrossEntropy())),
    v(.secondOrder(
      "F1WeightedCrossEntropy(f1 0.3, .sum)",
      with(F1WeightedCrossEntropy(f1: 0.3)) { $0.reduction = .sum })),
    v(.secondOrder(
      "F1WeightedCrossEntropy(ignoredTarget -1)",
      with(F1WeightedCrossEntropy()) { $0.ignoredTarget = -1 }), ignores: true),
    v(.whole("SoftDiceLoss()", SoftDiceLoss())),
    v(.whole("SoftDiceLoss(smoothing 0)", SoftDiceLoss(smoothing: 0))),
    v(.whole(
      "SoftDiceLoss(smoothing 0.5, ignoredTarget -1)",
      with(SoftDiceLoss(smoothing: 0.5)) { $0.ignoredTarget = -1 }), ignores: true),
    v(.whole("TverskyLoss()", TverskyLoss())),
    v(.whole(
      "TverskyLoss(alpha 0.7, beta 0.3, smoothing 0)",
      TverskyLoss(alpha: 0.7, beta: 0.3, smoothing: 0))),
    v(.whole(
      "TverskyLoss(ignoredTarget -1)", with(TverskyLoss()) { $0.ignoredTarget = -1 }),
      ignores: true),
  ]
}

private func softmaxVariants(classCount k: Int) throws -> [Variant<Int>] {
  let priors = (0..<k).map { pow(10, -4 * Double($0) / Double(max(1, k - 1))) }
  let classWeights = (0..<k).map { [1, 2.5, 0.5, 4][$0 % 4] }
  let margins = try MarginSoftmaxCrossEntropy.ldamMargins(
    classCounts: (0..<k).map { 1000 >> min($0, 9) })
  let classF1 = (0..<k).map { 0.1 + 0.8 * Double($0) / Double(max(1, k - 1)) }
  return try [
    v(.softmaxSecondOrder("SoftmaxCrossEntropy()", SoftmaxCrossEntropy(classCount: k))),
    v(.softmaxSecondOrder(
      "SoftmaxCrossEntropy(classWeights)",
      with(SoftmaxCrossEntropy(classCount: k)) { $0.classWeights = classWeights })),
    v(.softmaxSecondOrder(
      "SoftmaxCrossEntropy(labelSmoothing 0.1, .sum)",
      with(SoftmaxCrossEntropy(classCount: k)) {
        $0.labelSmoothing = 0.1
        $0.reduction = .sum
      })),
    v(.softmaxSecondOrder(
      "SoftmaxCrossEntropy(ignoreIndex -1)",
      with(SoftmaxCrossEntropy(classCount: k)) { $0.ignoreIndex = -1 }), ignores: true),
    v(.softmaxSecondOrder(
      "LogitAdjustedCrossEntropy(tau 1)", LogitAdjustedCrossEntropy(priors: priors, tau: 1))),
    v(.softmaxSecondOrder(
      "LogitAdjustedCrossEntropy(tau 0.5, classWeights, labelSmoothing 0.2)",
      with(LogitAdjustedCrossEntropy(priors: priors, tau: 0.5)) {
        $0.classWeights = classWeights
        $0.labelSmoothing = 0.2
      })),
    v(.softmaxSecondOrder(
      "LogitAdjustedCrossEntropy(tau 2, .sum, ignoreIndex -1)",
      with(LogitAdjustedCrossEntropy(priors: priors, tau: 2)) {
        $0.reduction = .sum
        $0.ignoreIndex = -1
      }), ignores: true),
    v(.softmaxSecondOrder(
      "MarginSoftmaxCrossEntropy(ldam, scale 30)",
      MarginSoftmaxCrossEntropy(margins: margins))),
    v(.softmaxSecondOrder(
      "MarginSoftmaxCrossEntropy(additive 0.2, scale 4, priors tau 1, classWeights)",
      with(
        MarginSoftmaxCrossEntropy(
          margins: [Double](repeating: 0.2, count: k), scale: 4, priors: ClassPriors(priors),
          tau: 1)
      ) { $0.classWeights = classWeights })),
    v(.softmaxSecondOrder(
      "MarginSoftmaxCrossEntropy(ldam, scale 16, labelSmoothing 0.1, .sum, ignoreIndex -1)",
      with(MarginSoftmaxCrossEntropy(margins: margins, scale: 16)) {
        $0.labelSmoothing = 0.1
        $0.reduction = .sum
        $0.ignoreIndex = -1
      }), ignores: true),
    v(.softmaxSecondOrder("SoftmaxFocalLoss(gamma 2)", SoftmaxFocalLoss(classCount: k))),
    v(.softmaxSecondOrder(
      "SoftmaxFocalLoss(gamma 0.5, classWeights, .sum)",
      with(SoftmaxFocalLoss(classCount: k, gamma: 0.5)) {
        $0.classWeights = classWeights
        $0.reduction = .sum
      })),
    v(.softmaxSecondOrder(
      "SoftmaxFocalLoss(gamma 3, hessianFloor 0, ignoreIndex -1)",
      with(SoftmaxFocalLoss(classCount: k, gamma: 3)) {
        $0.hessianFloor = 0
        $0.ignoreIndex = -1
      }), ignores: true),
    v(.separable(
      "SoftmaxSmoothAccuracyLoss()", SoftmaxSmoothAccuracyLoss(classCount: k),
      layout: .softmax(k))),
    v(.separable(
      "SoftmaxSmoothAccuracyLoss(classWeights, .sum, ignoreIndex -1)",
      with(SoftmaxSmoothAccuracyLoss(classCount: k)) {
        $0.classWeights = classWeights
        $0.reduction = .sum
        $0.ignoreIndex = -1
      }, layout: .softmax(k)), ignores: true),
    v(.custom(
      "MacroSmoothF1Loss()", MacroSmoothF1Loss(classCount: k), layout: .softmax(k),
      setParallelism: nil)),
    v(.custom(
      "MacroSmoothF1Loss(ignoreIndex -1)",
      with(MacroSmoothF1Loss(classCount: k)) { $0.ignoreIndex = -1 }, layout: .softmax(k),
      setParallelism: nil), ignores: true),
    v(.separable(
      "MacroF1WeightedCrossEntropy()", MacroF1WeightedCrossEntropy(classCount: k),
      layout: .softmax(k))),
    v(.separable(
      "MacroF1WeightedCrossEntropy(classF1, classWeights)",
      with(MacroF1WeightedCrossEntropy(classCount: k, classF1: classF1)) {
        $0.classWeights = classWeights
      }, layout: .softmax(k))),
    v(.separable(
      "MacroF1WeightedCrossEntropy(.sum, ignoreIndex -1)",
      with(MacroF1WeightedCrossEntropy(classCount: k)) {
        $0.reduction = .sum
        $0.ignoreIndex = -1
      }, layout: .softmax(k)), ignores: true),
  ]
}

private func multiLabelVariants(labelCount l: Int) throws -> [Variant<Double>] {
  let positive = (0..<l).map { [1, 4, 9, 0.5][$0 % 4] }
  let negative = (0..<l).map { [1, 0.5, 2][$0 % 3] }
  let rowLayout = RowLayout(logits: l, targets: l, weights: l)
  func categorical(_ name: String, _ loss: MultiLabelCategoricalCrossEntropy) -> LossCase<Double> {
    var sum = loss
    sum.reduction = .sum
    return .custom(
      name, loss, layout: RowLayout(logits: l, targets: l, weights: 1),
      setParallelism: { $0.parallelism = $1 },
      evaluateSum: { [sum] z, t, w in try sum.valueAndGradient(logits: z, targets: t, weights: w) },
      perSampleValues: { loss, z, t in try loss.perSampleValues(logits: z, targets: t) },
      hessianDiagonal: { loss, z, t, w in
        try loss.valueGradientAndHessianDiagonal(logits: z, targets: t, weights: w)
      },
      hardTargetsOnly: true)
  }
  return try [
    v(.secondOrder(
      "MultiLabelBinaryCrossEntropy()", MultiLabelBinaryCrossEntropy(labelCount: l),
      layout: rowLayout)),
    v(.secondOrder(
      "MultiLabelBinaryCrossEntropy(pos, neg, .sum)",
      with(MultiLabelBinaryCrossEntropy(positiveWeights: positive, negativeWeights: negative)) {
        $0.reduction = .sum
      }, layout: rowLayout)),
    v(.secondOrder(
      "MultiLabelBinaryCrossEntropy(pos, ignoredTarget -1)",
      with(MultiLabelBinaryCrossEntropy(positiveWeights: positive)) { $0.ignoredTarget = -1 },
      layout: rowLayout), ignores: true),
    v(categorical("MultiLabelCategoricalCrossEntropy()", MultiLabelCategoricalCrossEntropy(labelCount: l))),
    v(categorical(
      "MultiLabelCategoricalCrossEntropy(.sum)",
      with(MultiLabelCategoricalCrossEntropy(labelCount: l)) { $0.reduction = .sum })),
    v(categorical(
      "MultiLabelCategoricalCrossEntropy(ignoredTarget -1)",
      with(MultiLabelCategoricalCrossEntropy(labelCount: l)) { $0.ignoredTarget = -1 }),
      ignores: true),
  ]
}

// MARK: Running

/// Every record of one variant on one batch, weights nil and given.
private func records<T>(
  _ variant: Variant<T>, _ batch: Batch<T>, marker: T
) throws -> [Record] {
  let loss = variant.loss
  var targets = batch.targets
  if variant.ignores {
    for i in targets.indices where i % 7 == 3 { targets[i] = marker }
  }
  let z = batch.logits
  let prefix = "\(loss.name) | \(batch.name)"
  var out: [Record] = []
  let weightCount = batch.rows * loss.layout.weights
  let given = fixedWeights(weightCount, seed: UInt64(weightCount))
  // A batch above the parallel threshold runs with weights only, and without
  // the value-only and per-sample paths (debug-build kernels are slow; the
  // small batches pin the unweighted and value-only paths, and
  // DeterminismTests shows that threads do not change any bits).
  let threaded = batch.rows > 1_000
  for weights in threaded ? [given] : [nil, given] {
    let key = prefix + (weights == nil ? " | w nil" : " | w given")
    let (value, gradient) = try loss.evaluate(z, targets, weights)
    let valueOnly = threaded ? value : try loss.valueOnly(z, targets, weights)
    out.append(Record(key: key + " | value", bits: [value.bitPattern, valueOnly.bitPattern]))
    out.append(Record(key: key + " | gradient", bits: summary(gradient)))
    if let hessianDiagonal = loss.hessianDiagonal {
      let (v, g, h) = try hessianDiagonal(.automatic, z, targets, weights)
      out.append(
        Record(key: key + " | hessianDiagonal", bits: [v.bitPattern, fnv1a(g)] + summary(h)))
    }
    if let hessianVectorProduct = loss.hessianVectorProduct {
      let vector = z.indices.map { Double(($0 * 5) % 11) / 4 - 1.25 }
      let product = try hessianVectorProduct(.automatic, z, targets, weights, vector)
      out.append(Record(key: key + " | hessianVectorProduct", bits: summary(product)))
    }
  }
  if let perSampleValues = loss.perSampleValues, !threaded {
    let values = try perSampleValues(.automatic, z, targets)
    out.append(Record(key: prefix + " | perSampleValues", bits: summary(values)))
  }
  return out
}

/// The batches a variant runs on: the batches above the parallel threshold
/// only for the first variant of each type (debug-build kernels are slow).
private func batches<T>(
  _ all: [Batch<T>], for variant: Variant<T>, seen: inout Set<Substring>
) -> [Batch<T>] {
  let first = seen.insert(variant.loss.name.prefix { $0 != "(" }).inserted
  return first ? all : all.filter { $0.rows <= 1_000 }
}

/// Every record of every loss, in a fixed order.
private func allRecords() throws -> [Record] {
  var out: [Record] = []
  var seen = Set<Substring>()
  let binary = binaryBatches()
  for variant in binaryVariants() {
    for batch in batches(binary, for: variant, seen: &seen) {
      out += try records(variant, batch, marker: -1)
    }
  }
  for k in [3, 10, 37] {
    seen = []
    let all = softmaxBatches(classCount: k)
    for variant in try softmaxVariants(classCount: k) {
      for batch in batches(all, for: variant, seen: &seen) {
        out += try records(variant, batch, marker: -1)
      }
    }
  }
  for l in [3, 10, 37] {
    seen = []
    let all = multiLabelBatches(labelCount: l)
    for variant in try multiLabelVariants(labelCount: l) {
      for batch in batches(all, for: variant, seen: &seen) {
        // Each batch is drawn with hard labels; the loss that takes soft
        // targets also sees a soft version of the small ones.
        out += try records(variant, batch, marker: -1)
        if !variant.hardTargetsOnly && batch.rows < 100 {
          let soft = Batch(
            name: batch.name + " soft", logits: batch.logits,
            targets: batch.targets.indices.map { batch.targets[$0] * 0.5 + Double($0 % 3) * 0.2 },
            rows: batch.rows)
          out += try records(variant, soft, marker: -1)
        }
      }
    }
  }
  return out
}

private let fixturePath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .appendingPathComponent("Fixtures/BitIdentityFixture.swift").path

private func fixtureText(_ records: [Record]) -> String {
  """
  // GENERATED by BitIdentityTests.swift (IMBALANCE_RECORD_BITS=1 swift test --filter BitIdentity).
  // Do not edit. Regenerate only when a change of bits is intended and explained.
  //
  // One line per result: loss and options | batch | weights | entry point = bits
  // (hexadecimal): value -> bits with the gradient, bits alone; gradient,
  // perSampleValues, hessianVectorProduct -> FNV-1a 64 hash of the bit
  // patterns, count, first entries; hessianDiagonal -> value, gradient hash,
  // then the Hessian's hash, count and first entries.

  let bitIdentityFixture = #\"\"\"
  \(records.map(\.line).joined(separator: "\n"))
  \"\"\"#

  """
}

@Test func everyLossGivesThePinnedBits() throws {
  let current = try allRecords()
  let keys = Set(current.map(\.key))
  #expect(keys.count == current.count, "duplicate keys in the bit-identity records")
  if ProcessInfo.processInfo.environment["IMBALANCE_RECORD_BITS"] == "1" {
    try fixtureText(current).write(toFile: fixturePath, atomically: true, encoding: .utf8)
    Issue.record("recorded \(current.count) results to \(fixturePath); unset IMBALANCE_RECORD_BITS")
    return
  }
  var pinned: [String: String] = [:]
  for line in bitIdentityFixture.split(separator: "\n") {
    guard let range = line.range(of: " = ") else { continue }
    pinned[String(line[..<range.lowerBound])] = String(line[range.upperBound...])
  }
  #expect(pinned.count == current.count, "fixture has \(pinned.count) results, the code \(current.count)")
  var mismatches = 0
  for record in current {
    let bits = record.bits.map { String($0, radix: 16) }.joined(separator: " ")
    guard let expected = pinned[record.key] else {
      Issue.record("not in the fixture: \(record.key)")
      mismatches += 1
      continue
    }
    if bits != expected {
      mismatches += 1
      if mismatches <= 20 {
        Issue.record("bits changed: \(record.key)\n  pinned \(expected)\n  now    \(bits)")
      }
    }
  }
  #expect(mismatches == 0, "\(mismatches) of \(current.count) results differ from the fixture")
}
