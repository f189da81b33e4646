import ImbalanceLoss
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Identities every loss must satisfy, on seeded random batches, for every loss
// of `LossTable` (add a loss there and it is tested here).
//
// Tolerances, when a property is not bit-exact: every value is a sum of N
// non-negative terms (loss terms, or the smooth-F1 sums T, S, U), whose
// rounding error is at most N ulps whatever the order, and smooth F1 divides
// two such sums: hence `2N + 4` ulps for a value. A gradient entry is a
// product of a few correctly rounded factors, so it moves by a few ulps when
// the normaliser `1 / Σ w` (or smooth F1's S and F) moves by one; `y - F/2`
// can cancel for soft targets, so an absolute floor of a few ulps of the
// largest entry is allowed too.

private let seedCount: UInt64 = 150

/// The losses the table held before it covered its first 16 types keep their 150
/// seeds per test; the others run 50 each, which keeps the suite's time
/// within budget (debug-build kernels are slow, and the softmax tests run
/// every loss for 7 class counts).
private func seeds<T>(_ loss: LossCase<T>) -> Range<UInt64> {
  let first = [
    "BinaryCrossEntropy()", "BinaryCrossEntropy(3, 0.5)", "SmoothAccuracyLoss()", "SmoothF1Loss()",
    "F1WeightedCrossEntropy()", "F1WeightedCrossEntropy(f1: 0.3)", "SoftmaxCrossEntropy(K:",
    "LogitAdjustedCrossEntropy(K:",
  ]
  return first.contains { loss.name.hasPrefix($0) } ? 0..<seedCount : 0..<(seedCount / 3)
}

/// Expects `|a - b| <= ulps * (ulp(b) + floor)`.
private func expectNear(
  _ a: Double, _ b: Double, ulps: Double, floor: Double = 0,
  _ comment: @autoclosure () -> String,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  let bound = ulps * (b.ulp + floor)
  #expect(
    abs(a - b) <= bound, "\(a) vs \(b): |difference| \(abs(a - b)) > \(bound). \(comment())",
    sourceLocation: sourceLocation)
}

/// Expects `expectNear` for every element, with the floor `ulp(max |b|)`.
private func expectNear(
  _ a: [Double], _ b: [Double], ulps: Double, _ comment: @autoclosure () -> String,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  guard a.count == b.count else {
    Issue.record("\(a.count) vs \(b.count) elements. \(comment())", sourceLocation: sourceLocation)
    return
  }
  let floor = (b.map(abs).max() ?? 0).ulp
  for i in a.indices where !(abs(a[i] - b[i]) <= ulps * (b[i].ulp + floor)) {
    Issue.record(
      "[\(i)] \(a[i]) vs \(b[i]) beyond \(ulps) ulps (+ \(ulps) ulps of max |b|). \(comment())",
      sourceLocation: sourceLocation)
    return
  }
}

/// A random batch of a loss with `Double` targets (binary or multi-label):
/// `count` rows of `layout` (see `RowLayout`); mostly moderate logits, some
/// extreme (±1e300, ±1e-300, beyond the exp underflow), hard or soft targets
/// (hard only for a loss that takes nothing else), weights with zeros. For
/// the binary layout the random stream is the one these tests always drew.
private struct BinaryBatchSample {
  var logits: [Double]
  var targets: [Double]
  var weights: [Double]?
  let layout: RowLayout
  /// The number of rows.
  let count: Int

  init(_ rng: inout SplitMix64, layout: RowLayout = .binary, hardTargetsOnly: Bool = false) {
    self.layout = layout
    let n = Int.random(in: 1...40, using: &rng)
    count = n
    logits = (0..<(n * layout.logits)).map { _ in rng.mixedLogit() }
    let soft = rng.uniform(0...1) < 0.3 && !hardTargetsOnly
    targets =
      soft
      ? rng.uniforms(n * layout.targets, in: 0...1)
      : rng.labels(n * layout.targets, positiveRate: 0.3)
    if rng.uniform(0...1) < 0.8 {
      let m = n * layout.weights
      var w = (0..<m).map { _ in rng.uniform(0...1) < 0.15 ? 0 : rng.uniform(0...3) }
      w[Int.random(in: 0..<m, using: &rng)] = rng.uniform(0.5...3)
      weights = w
    }
  }

  init(_ rng: inout SplitMix64, for loss: LossCase<Double>) {
    self.init(&rng, layout: loss.layout, hardTargetsOnly: loss.hardTargetsOnly)
  }

  /// How many terms a value sums (for the ulp bounds): logits or weights.
  var terms: Int { count * max(layout.logits, layout.weights) }

  /// The weights, all ones for `nil`.
  var weightsOrOnes: [Double] {
    weights ?? [Double](repeating: 1, count: count * layout.weights)
  }
}

/// Rows `order` of `x`, each `width` elements long.
private func rows(_ x: [Double], _ order: [Int], width: Int) -> [Double] {
  order.flatMap { x[($0 * width)..<($0 * width + width)] }
}

/// A random softmax batch with `k` classes.
private struct SoftmaxBatchSample {
  var logits: [Double]
  var labels: [Int]
  var weights: [Double]?

  init(_ rng: inout SplitMix64, classCount k: Int, dyadic: Bool = false) {
    let n = Int.random(in: 1...20, using: &rng)
    // Dyadic logits (multiples of 2^-20 in [-8, 8]) stay exact under the
    // shifts of the shift-invariance test.
    logits = (0..<(n * k)).map { _ in
      dyadic ? Double(Int.random(in: -(8 << 20)...(8 << 20), using: &rng)) / 1_048_576
        : rng.mixedLogit()
    }
    labels = rng.classes(n, classCount: k)
    if rng.uniform(0...1) < 0.8 {
      var w = (0..<n).map { _ in rng.uniform(0...1) < 0.15 ? 0 : rng.uniform(0...3) }
      w[Int.random(in: 0..<n, using: &rng)] = rng.uniform(0.5...3)
      weights = w
    }
  }

  var count: Int { labels.count }
}

extension SplitMix64 {
  /// A logit from [-8, 8] three times in four, otherwise an extreme one.
  fileprivate mutating func mixedLogit() -> Double {
    let sign: Double = uniform(0...1) < 0.5 ? -1 : 1
    switch next() % 16 {
    case 0: return sign * 1e300
    case 1: return sign * 1e-300
    case 2: return sign * uniform(30...800)
    case 3: return sign * uniform(0...1e-8)
    default: return uniform(-8...8)
    }
  }
}

private let classCounts = [1, 2, 3, 7, 8, 9, 20]

// MARK: Permutation

/// Binary and multi-label losses: rows (of L entries for multi-label) move
/// with their logits, targets and weights. Every loss is symmetric in its
/// samples, the batch-ratio ones (smooth F1, Dice, Tversky) included.
@Test(arguments: LossTable.doubleTargets)
func permutingSamplesPermutesTheGradient(loss: LossCase<Double>) throws {
  for seed in seeds(loss) {
    var rng = SplitMix64(seed: 0x5045_524D ^ seed)
    let b = BinaryBatchSample(&rng, for: loss)
    let order = Array(0..<b.count).shuffled(using: &rng)
    let (v, g) = try loss.evaluate(b.logits, b.targets, b.weights)
    let (vp, gp) = try loss.evaluate(
      rows(b.logits, order, width: b.layout.logits), rows(b.targets, order, width: b.layout.targets),
      b.weights.map { rows($0, order, width: b.layout.weights) })
    let why = "seed \(seed), \(loss)"
    expectNear(vp, v, ulps: Double(2 * b.terms + 4), why)
    expectNear(gp, rows(g, order, width: b.layout.logits), ulps: 8, why)
  }
}

@Test(arguments: classCounts)
func permutingSoftmaxRowsPermutesTheGradient(classCount k: Int) throws {
  for loss in LossTable.softmax(classCount: k) {
    for seed in seeds(loss) {
      var rng = SplitMix64(seed: 0x5045_524E ^ seed)
      let b = SoftmaxBatchSample(&rng, classCount: k)
      let order = Array(0..<b.count).shuffled(using: &rng)
      let (v, g) = try loss.evaluate(b.logits, b.labels, b.weights)
      let rows = { (x: [Double]) in order.flatMap { x[($0 * k)..<($0 * k + k)] } }
      let (vp, gp) = try loss.evaluate(
        rows(b.logits), order.map { b.labels[$0] }, b.weights.map { w in order.map { w[$0] } })
      let why = "seed \(seed), \(loss)"
      expectNear(vp, v, ulps: Double(2 * b.count + 4), why)
      expectNear(gp, rows(g), ulps: 8, why)
    }
  }
}

// MARK: Weights

/// Scaling every weight by c > 0 changes nothing: bit for bit when c is a
/// power of two (the normaliser rescales by a power of two exactly), to a few
/// ulps otherwise (each w c rounds once).
///
/// Not for SoftDiceLoss and TverskyLoss (`weightScaleInvariant` false): their
/// smoothing constant is added to raw weighted sums, so the scale matters.
@Test(arguments: LossTable.doubleTargets.filter(\.weightScaleInvariant))
func scalingAllWeightsChangesNothing(loss: LossCase<Double>) throws {
  for seed in seeds(loss) {
    var rng = SplitMix64(seed: 0x5343_414C ^ seed)
    let b = BinaryBatchSample(&rng, for: loss)
    let w = b.weightsOrOnes
    let (v, g) = try loss.evaluate(b.logits, b.targets, w)
    for c in [0x1p300, 0x1p-300, 0.5, 3.7, 1e-200, 1e200] {
      let (vc, gc) = try loss.evaluate(b.logits, b.targets, w.map { $0 * c })
      let why = "seed \(seed), c \(c), \(loss)"
      if c.significandBitPattern == 0 {
        #expect(vc == v && gc == g, "not bit-identical. \(why)")
      } else {
        expectNear(vc, v, ulps: Double(2 * b.terms + 4), why)
        expectNear(gc, g, ulps: 8, why)
      }
    }
  }
}

@Test(arguments: classCounts)
func scalingAllSoftmaxWeightsChangesNothing(classCount k: Int) throws {
  for loss in LossTable.softmax(classCount: k) where loss.weightScaleInvariant {
    for seed in seeds(loss) {
      var rng = SplitMix64(seed: 0x5343_414D ^ seed)
      let b = SoftmaxBatchSample(&rng, classCount: k)
      let w = b.weights ?? [Double](repeating: 1, count: b.count)
      let (v, g) = try loss.evaluate(b.logits, b.labels, w)
      for c in [0x1p300, 0x1p-300, 3.7, 1e-200] {
        let (vc, gc) = try loss.evaluate(b.logits, b.labels, w.map { $0 * c })
        let why = "seed \(seed), c \(c), \(loss)"
        if c.significandBitPattern == 0 {
          #expect(vc == v && gc == g, "not bit-identical. \(why)")
        } else {
          expectNear(vc, v, ulps: Double(2 * b.count + 4), why)
          expectNear(gc, g, ulps: 8, why)
        }
      }
    }
  }
}

/// Appending a copy of sample j is the same as doubling w_j: the value agrees,
/// and the two copies' gradients add up to the doubled sample's.
/// (For a multi-label row, every one of its L weights doubles.) Holds for
/// the batch-ratio losses too, whose sums are linear in the weights.
@Test(arguments: LossTable.doubleTargets)
func duplicatingASampleEqualsDoublingItsWeight(loss: LossCase<Double>) throws {
  for seed in seeds(loss) {
    var rng = SplitMix64(seed: 0x4455_504C ^ seed)
    let b = BinaryBatchSample(&rng, for: loss)
    let (rl, rt, rw) = (b.layout.logits, b.layout.targets, b.layout.weights)
    let w = b.weightsOrOnes
    let j = Int.random(in: 0..<b.count, using: &rng)
    var doubled = w
    for e in (j * rw)..<(j * rw + rw) { doubled[e] *= 2 }
    let (vw, gw) = try loss.evaluate(b.logits, b.targets, doubled)
    let (vd, gd) = try loss.evaluate(
      b.logits + rows(b.logits, [j], width: rl), b.targets + rows(b.targets, [j], width: rt),
      w + rows(w, [j], width: rw))
    var folded = Array(gd.prefix(b.count * rl))
    for c in 0..<rl { folded[j * rl + c] += gd[b.count * rl + c] }
    let why = "seed \(seed), j \(j), \(loss)"
    expectNear(vd, vw, ulps: Double(2 * b.terms + 6), why)
    expectNear(folded, gw, ulps: 8, why)
  }
}

@Test(arguments: classCounts)
func duplicatingASoftmaxRowEqualsDoublingItsWeight(classCount k: Int) throws {
  for loss in LossTable.softmax(classCount: k) {
    for seed in seeds(loss) {
      var rng = SplitMix64(seed: 0x4455_504D ^ seed)
      let b = SoftmaxBatchSample(&rng, classCount: k)
      let w = b.weights ?? [Double](repeating: 1, count: b.count)
      let j = Int.random(in: 0..<b.count, using: &rng)
      var doubled = w
      doubled[j] *= 2
      let (vw, gw) = try loss.evaluate(b.logits, b.labels, doubled)
      let (vd, gd) = try loss.evaluate(
        b.logits + b.logits[(j * k)..<(j * k + k)], b.labels + [b.labels[j]], w + [w[j]])
      var folded = Array(gd.prefix(b.count * k))
      for c in 0..<k { folded[j * k + c] += gd[b.count * k + c] }
      let why = "seed \(seed), j \(j), \(loss)"
      expectNear(vd, vw, ulps: Double(2 * b.count + 6), why)
      expectNear(folded, gw, ulps: 8, why)
    }
  }
}

// MARK: Reductions and per-sample values

/// `.sum` is `.mean` times Σ w, for the value and for every gradient entry.
@Test(arguments: LossTable.doubleTargets.filter { $0.evaluateSum != nil })
func sumReductionIsMeanTimesTotalWeight(loss: LossCase<Double>) throws {
  for seed in seeds(loss) {
    var rng = SplitMix64(seed: 0x5355_4D31 ^ seed)
    let b = BinaryBatchSample(&rng, for: loss)
    try checkSumIsMeanTimesTotalWeight(
      loss, b.logits, b.targets, b.weights, sampleCount: b.count * b.layout.weights,
      "seed \(seed), \(loss)")
  }
}

@Test(arguments: classCounts)
func softmaxSumReductionIsMeanTimesTotalWeight(classCount k: Int) throws {
  for loss in LossTable.softmax(classCount: k) where loss.evaluateSum != nil {
    for seed in seeds(loss) {
      var rng = SplitMix64(seed: 0x5355_4D32 ^ seed)
      let b = SoftmaxBatchSample(&rng, classCount: k)
      try checkSumIsMeanTimesTotalWeight(
        loss, b.logits, b.labels, b.weights, sampleCount: b.count, "seed \(seed), \(loss)")
    }
  }
}

private func checkSumIsMeanTimesTotalWeight<T>(
  _ loss: LossCase<T>, _ z: [Double], _ t: [T], _ w: [Double]?, sampleCount n: Int,
  _ why: String, sourceLocation: SourceLocation = #_sourceLocation
) throws {
  let total = w.map { $0.reduce(0, +) } ?? Double(n)  // N - 1 ulps at most: all terms >= 0
  let (vm, gm) = try loss.evaluate(z, t, w)
  let evaluateSum = try #require(loss.evaluateSum)
  let (vs, gs) = try evaluateSum(z, t, w)
  expectNear(vs, vm * total, ulps: Double(3 * n + 6), why, sourceLocation: sourceLocation)
  expectNear(gs, gm.map { $0 * total }, ulps: Double(n + 8), why, sourceLocation: sourceLocation)
}

/// The weighted mean of the per-sample terms is the value (the unweighted one
/// for a loss whose terms use an unweighted batch statistic).
@Test(arguments: LossTable.doubleTargets.filter { $0.perSampleValues != nil })
func perSampleValuesAverageToTheValue(loss: LossCase<Double>) throws {
  for seed in seeds(loss) {
    var rng = SplitMix64(seed: 0x5045_5253 ^ seed)
    let b = BinaryBatchSample(&rng, for: loss)
    let w = loss.perSampleUsesUnweightedBatch ? nil : b.weights
    try checkPerSampleValues(loss, b.logits, b.targets, w, "seed \(seed), \(loss)")
  }
}

@Test(arguments: classCounts)
func softmaxPerSampleValuesAverageToTheValue(classCount k: Int) throws {
  for loss in LossTable.softmax(classCount: k) where loss.perSampleValues != nil {
    for seed in seeds(loss) {
      var rng = SplitMix64(seed: 0x5045_5254 ^ seed)
      let b = SoftmaxBatchSample(&rng, classCount: k)
      let w = loss.perSampleUsesUnweightedBatch ? nil : b.weights
      try checkPerSampleValues(loss, b.logits, b.labels, w, "seed \(seed), \(loss)")
    }
  }
}

private func checkPerSampleValues<T>(
  _ loss: LossCase<T>, _ z: [Double], _ t: [T], _ w: [Double]?, _ why: String,
  sourceLocation: SourceLocation = #_sourceLocation
) throws {
  let perSampleValues = try #require(loss.perSampleValues)
  let terms = try perSampleValues(.automatic, z, t)
  // One term per weight: per entry (N·L) for MultiLabelBinaryCrossEntropy,
  // per row (N) for MultiLabelCategoricalCrossEntropy and the softmax losses.
  let count = z.count / loss.layout.logits * loss.layout.weights
  #expect(terms.count == count && terms.allSatisfy { $0.isFinite && $0 >= 0 }, "\(why)")
  let weights = w ?? [Double](repeating: 1, count: count)
  // Both sums have non-negative terms: N ulps each, plus the division.
  let mean = zip(weights, terms).map { $0 * $1 }.reduce(0, +) / weights.reduce(0, +)
  let value = try loss.evaluate(z, t, w).0
  expectNear(value, mean, ulps: Double(3 * z.count + 6), why, sourceLocation: sourceLocation)
}

// MARK: Softmax identities

/// Adding one constant to every logit of a row changes nothing. With dyadic
/// logits and shifts every `z + c` is exact, so plain softmax cross-entropy
/// is bit-identical. Logit adjustment rounds `z + c + tau log π` once more:
/// each exponent `a_k - m` moves by up to 2 ulps of max |a| (about 70 here,
/// ulp 1.4e-14), which moves each softmax entry by that much relative, 64 ulps.
@Test(arguments: classCounts)
func shiftingASoftmaxRowChangesNothing(classCount k: Int) throws {
  for loss in LossTable.softmax(classCount: k) {
    for seed in seeds(loss) {
      var rng = SplitMix64(seed: 0x5348_4946 ^ seed)
      let b = SoftmaxBatchSample(&rng, classCount: k, dyadic: true)
      let shifts = (0..<b.count).map { _ in
        Double(Int.random(in: -(48 << 20)...(48 << 20), using: &rng)) / 1_048_576
      }
      let shifted = b.logits.indices.map { b.logits[$0] + shifts[$0 / k] }
      let (v, g) = try loss.evaluate(b.logits, b.labels, b.weights)
      let (vs, gs) = try loss.evaluate(shifted, b.labels, b.weights)
      let why = "seed \(seed), \(loss)"
      if loss.name.hasPrefix("SoftmaxCrossEntropy") {
        #expect(vs == v && gs == g, "not bit-identical. \(why)")
      } else {
        // The value is (m - a_c) + log1p(s'): m - a_c moves by 2 ulps of 70 too.
        expectNear(vs, v, ulps: 64, floor: 70.0.ulp, why)
        expectNear(gs, g, ulps: 64, why)
      }
    }
  }
}

/// Uniform priors add the same `tau log(1/K)` to every logit: logit
/// adjustment is plain softmax cross-entropy for every tau (to the rounding of
/// that shift, as in the shift test: |tau log(1/K)| <= 30 here).
@Test(arguments: classCounts)
func uniformPriorsMakeLogitAdjustmentPlainSoftmax(classCount k: Int) throws {
  let plain = LossCase<Int>.separable("SoftmaxCrossEntropy", try SoftmaxCrossEntropy(classCount: k))
  for tau in [0, 0.25, 1, 2, 10] {
    let adjusted = LossCase<Int>.separable(
      "LogitAdjustedCrossEntropy(uniform, tau: \(tau))",
      try LogitAdjustedCrossEntropy(priors: .uniform(classCount: k), tau: tau))
    for seed in 0..<seedCount {
      var rng = SplitMix64(seed: 0x554E_4946 ^ seed)
      let b = SoftmaxBatchSample(&rng, classCount: k, dyadic: true)
      let (v, g) = try plain.evaluate(b.logits, b.labels, b.weights)
      let (va, ga) = try adjusted.evaluate(b.logits, b.labels, b.weights)
      let why = "seed \(seed), K \(k), tau \(tau)"
      expectNear(va, v, ulps: 64, floor: 40.0.ulp, why)
      expectNear(ga, g, ulps: 64, why)
    }
  }
}

/// Σ_k softmax_k = 1 up to K roundings, so each row of the gradient sums to 0
/// within K ulps of the row's total magnitude (plus K half-ulps of the
/// smallest subnormal, for rows whose entries underflow). Every softmax loss
/// is a function of the softmax (shift-invariant), so its rows sum to 0.
///
/// The batch-ratio losses (MacroSmoothF1Loss, GeneralizedDiceLoss,
/// SoftmaxDiceLoss, one row pass) get 64 times the bound: their row is
/// `p_ij (d_j - Σ_k p_ik d_k)` with `d` from the class statistics, and the
/// rounding is relative to `Σ_j p_ij |d_j - d_M|` (M the row's maximum),
/// which can exceed `Σ_j |g_ij|` by orders of magnitude (seen: 2e-14
/// relative for K = 3, seed 101). Generalised Dice failed here by up to
/// 5e14 bounds until the row pass formed `d_j - d_M` (exact 0 for the many
/// classes that share one weight) instead of `d_j - Σ p d`, whose rounding
/// noise of `d_M` was all a row got when its label's `p_c` was below an ulp.
@Test(arguments: classCounts)
func softmaxGradientRowsSumToZero(classCount k: Int) throws {
  for loss in LossTable.softmax(classCount: k) {
    let ratios = ["MacroSmoothF1Loss", "GeneralizedDiceLoss", "SoftmaxDiceLoss"]
    let slack: Double = ratios.contains { loss.name.hasPrefix($0) } ? 64 : 1
    for seed in seeds(loss) {
      var rng = SplitMix64(seed: 0x524F_5753 ^ seed)
      let b = SoftmaxBatchSample(&rng, classCount: k)
      let g = try loss.evaluate(b.logits, b.labels, b.weights).1
      for i in 0..<b.count {
        let row = g[(i * k)..<(i * k + k)]
        let magnitude = row.map(abs).reduce(0, +)
        let sum = row.reduce(0, +)
        #expect(
          abs(sum)
            <= slack * Double(2 * k + 2) * magnitude * Double.ulpOfOne
            + Double(k) * Double.leastNonzeroMagnitude,
          "row \(i) sums to \(sum) (Σ|g| \(magnitude)). seed \(seed), \(loss)")
      }
    }
  }
}

// MARK: Binary identities

/// The BCE gradient is `(w / W)(p - y)`: its sign is the sign of `p - y`
/// (zero for a zero weight). Checked where the test's own `p` is clearly
/// away from `y`, so the rounding of `p` cannot decide the sign.
@Test func binaryCrossEntropyGradientHasTheSignOfPMinusY() throws {
  let loss = BinaryCrossEntropy()
  for seed in 0..<seedCount {
    var rng = SplitMix64(seed: 0x5349_474E ^ seed)
    let b = BinaryBatchSample(&rng)
    let g = try loss.gradient(logits: b.logits, targets: b.targets, weights: b.weights)
    for i in 0..<b.count {
      let p = 1 / (1 + exp(-b.logits[i]))
      let w = b.weights?[i] ?? 1
      let why = "i \(i), z \(b.logits[i]), y \(b.targets[i]), w \(w), g \(g[i]). seed \(seed)"
      if w == 0 {
        #expect(g[i] == 0, "\(why)")
      } else if p - b.targets[i] > 1e-12 {
        #expect(g[i] > 0, "\(why)")
      } else if p - b.targets[i] < -1e-12 {
        #expect(g[i] < 0, "\(why)")
      }
    }
  }
}

/// Every loss gives a finite value and finite gradient on every random batch.
/// The value-only path (no gradient buffer) gives the bits of the value
/// returned with the gradient.
@Test(arguments: LossTable.doubleTargets)
func randomBatchesGiveFiniteResults(loss: LossCase<Double>) throws {
  for seed in seeds(loss) {
    var rng = SplitMix64(seed: 0x4649_4E49 ^ seed)
    let b = BinaryBatchSample(&rng, for: loss)
    let (v, g) = try loss.evaluate(b.logits, b.targets, b.weights)
    #expect(v.isFinite && g.allSatisfy(\.isFinite), "seed \(seed), \(loss)")
    let valueOnly = try loss.valueOnly(b.logits, b.targets, b.weights)
    #expect(valueOnly.bitPattern == v.bitPattern, "\(valueOnly) vs \(v). seed \(seed), \(loss)")
  }
}

@Test(arguments: classCounts)
func randomSoftmaxBatchesGiveFiniteResults(classCount k: Int) throws {
  for loss in LossTable.softmax(classCount: k) {
    for seed in seeds(loss) {
      var rng = SplitMix64(seed: 0x4649_4E4A ^ seed)
      let b = SoftmaxBatchSample(&rng, classCount: k)
      let (v, g) = try loss.evaluate(b.logits, b.labels, b.weights)
      #expect(v.isFinite && g.allSatisfy(\.isFinite), "seed \(seed), \(loss)")
      let valueOnly = try loss.valueOnly(b.logits, b.labels, b.weights)
      #expect(
        valueOnly.bitPattern == v.bitPattern, "\(valueOnly) vs \(v). seed \(seed), \(loss)")
    }
  }
}

// MARK: Every family: weights of one, derivatives

/// A small batch with moderate logits for the derivative checks: `rows` rows
/// of `loss.layout`, logits in [-4, 4], weights in [0.5, 2] (or nil).
private func moderateBatch<T>(
  _ loss: LossCase<T>, _ rng: inout SplitMix64, rows n: Int,
  targets: (inout SplitMix64, Int) -> [T]
) -> (logits: [Double], targets: [T], weights: [Double]?) {
  let z = rng.uniforms(n * loss.layout.logits, in: -4...4)
  let t = targets(&rng, n * loss.layout.targets)
  let w: [Double]? =
    rng.uniform(0...1) < 0.7 ? rng.uniforms(n * loss.layout.weights, in: 0.5...2) : nil
  return (z, t, w)
}

private func doubleTargets(_ loss: LossCase<Double>) -> (inout SplitMix64, Int) -> [Double] {
  { rng, m in
    loss.hardTargetsOnly || rng.uniform(0...1) < 0.5
      ? rng.labels(m, positiveRate: 0.4) : rng.uniforms(m, in: 0...1)
  }
}

private func classTargets(_ k: Int) -> (inout SplitMix64, Int) -> [Int] {
  { rng, m in rng.classes(m, classCount: k) }
}

/// Weights of all ones are no weights, bit for bit.
private func checkUnitWeights<T>(
  _ loss: LossCase<T>, _ z: [Double], _ t: [T], _ why: String,
  sourceLocation: SourceLocation = #_sourceLocation
) throws {
  let ones = [Double](repeating: 1, count: z.count / loss.layout.logits * loss.layout.weights)
  let (v, g) = try loss.evaluate(z, t, nil)
  let (v1, g1) = try loss.evaluate(z, t, ones)
  #expect(
    v.bitPattern == v1.bitPattern && g.elementsEqual(g1) { $0.bitPattern == $1.bitPattern },
    "nil weights \(v), all-ones weights \(v1). \(why)", sourceLocation: sourceLocation)
}

@Test(arguments: LossTable.doubleTargets)
func unitWeightsAreNoWeights(loss: LossCase<Double>) throws {
  for seed in 0..<(seedCount / 3) {
    var rng = SplitMix64(seed: 0x4F4E_4553 ^ seed)
    let b = BinaryBatchSample(&rng, for: loss)
    try checkUnitWeights(loss, b.logits, b.targets, "seed \(seed), \(loss)")
  }
}

@Test(arguments: [3, 8])
func softmaxUnitWeightsAreNoWeights(classCount k: Int) throws {
  for loss in LossTable.softmax(classCount: k) {
    for seed in 0..<(seedCount / 3) {
      var rng = SplitMix64(seed: 0x4F4E_4554 ^ seed)
      let b = SoftmaxBatchSample(&rng, classCount: k)
      try checkUnitWeights(loss, b.logits, b.labels, "seed \(seed), \(loss)")
    }
  }
}

/// The gradient is the derivative of the value (central differences, see
/// `centralDifferences`); the Hessian diagonal is the derivative of the
/// gradient, entry by entry; the Hessian-vector product is the directional
/// derivative of the gradient along the vector. The second-order entry
/// points return the value and gradient of `valueAndGradient` bit for bit.
///
/// Not for F1WeightedCrossEntropy() and MacroF1WeightedCrossEntropy() with
/// the batch F (`gradientIsDerivative` false): F is held constant by design.
/// Their second-order entry points (F1WeightedCrossEntropy has a Hessian
/// diagonal) are still checked to return the first-order bits.
private func checkDerivatives<T>(
  _ loss: LossCase<T>, _ z: [Double], _ t: [T], _ w: [Double]?, _ rng: inout SplitMix64,
  _ why: String, sourceLocation: SourceLocation = #_sourceLocation
) throws {
  let loc = sourceLocation
  let (v, g) = try loss.evaluate(z, t, w)
  if loss.gradientIsDerivative {
    let numeric = try centralDifferences(at: z) { try loss.valueOnly($0, t, w) }
    expectClose(g, numeric, relative: 1e-7, "gradient. \(why)", sourceLocation: loc)
  }
  if let hessianDiagonal = loss.hessianDiagonal {
    let (vh, gh, h) = try hessianDiagonal(.automatic, z, t, w)
    #expect(
      vh.bitPattern == v.bitPattern && gh.elementsEqual(g) { $0.bitPattern == $1.bitPattern },
      "value/gradient with the Hessian differ from valueAndGradient's. \(why)",
      sourceLocation: loc)
    if loss.gradientIsDerivative {
      let numeric = try z.indices.map { j in
        try centralDifferences(at: [z[j]]) { x in
          var probe = z
          probe[j] = x[0]
          return try loss.evaluate(probe, t, w).1[j]
        }[0]
      }
      expectClose(h, numeric, relative: 1e-6, "Hessian diagonal. \(why)", sourceLocation: loc)
    }
  }
  if let hessianVectorProduct = loss.hessianVectorProduct {
    let vector = rng.uniforms(z.count, in: -1...1)
    let product = try hessianVectorProduct(.automatic, z, t, w, vector)
    // d/dh g(z + h v) at h = 0, by central differences in h.
    let h = 6.055454452393343e-06
    let up = try loss.evaluate(zip(z, vector).map { $0 + h * $1 }, t, w).1
    let down = try loss.evaluate(zip(z, vector).map { $0 - h * $1 }, t, w).1
    let numeric = zip(up, down).map { ($0 - $1) / (2 * h) }
    expectClose(product, numeric, relative: 1e-6, "Hessian-vector product. \(why)", sourceLocation: loc)
  }
}

@Test(arguments: LossTable.doubleTargets)
func derivativesMatchFiniteDifferences(loss: LossCase<Double>) throws {
  for seed in 0..<UInt64(12) {
    var rng = SplitMix64(seed: 0x4644_4231 ^ seed)
    let rows = Int.random(in: 1...(loss.layout.logits == 1 ? 12 : 3), using: &rng)
    let b = moderateBatch(loss, &rng, rows: rows, targets: doubleTargets(loss))
    try checkDerivatives(loss, b.logits, b.targets, b.weights, &rng, "seed \(seed), \(loss)")
  }
}

@Test(arguments: [1, 3, 7])
func softmaxDerivativesMatchFiniteDifferences(classCount k: Int) throws {
  for loss in LossTable.softmax(classCount: k) {
    for seed in 0..<UInt64(8) {
      var rng = SplitMix64(seed: 0x4644_4232 ^ seed)
      let b = moderateBatch(
        loss, &rng, rows: Int.random(in: 1...4, using: &rng), targets: classTargets(k))
      try checkDerivatives(loss, b.logits, b.targets, b.weights, &rng, "seed \(seed), \(loss)")
    }
  }
}
