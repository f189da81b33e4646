// libFuzzer target for every loss (issue 7). Built by Scripts/fuzz.sh with the
// library's sources into one module, outside the package's products:
//
//     Scripts/fuzz.sh              # 200k executions (what .ci/run does)
//     Scripts/fuzz.sh -runs=5000000 # longer; any libFuzzer flag works
//
// Each input's bytes become a loss (kind and hyper-parameters), a batch
// (N, K, logits, targets, weights, deliberately wrong lengths now and then)
// and are sent through every entry point. The invariant: each call either
// throws `LossError` (it can throw nothing else: typed throws) and leaves the
// output buffer untouched, or returns a finite value (+inf only when the true
// value overflows the double range) and a finite gradient of the right
// length, the same bits through every entry point. Anything else traps,
// which libFuzzer records as a crash with its input. The second-order entry
// points (`valueGradientAndHessianDiagonal`, the softmax Hessian-vector
// product) are held to the same rule, and their value and gradient must be
// the first-order call's bits. The gradient-boosting objective
// (`gradientBoostingObjective`, family `gradientBoosting`) must give the
// second-order call's bits in its score layout, the Hessian floored.
// The Float32 entry points (value and gradient, and after its success the
// statistics and share of a data-parallel loss; second order; H v; a
// stateful step; each once per input) get the same batch rounded to Float
// (no new bytes decoded) and must match their Double entry point on the
// widened Float inputs: the same `LossError` with the Float buffers
// untouched, or each result that Double's rounded once, bit for bit, and
// never NaN.
//
// Decoding. The first byte selects the loss. Bytes below 0xC0 keep their
// original meaning, `kind = byte % 7` (the seven kinds the fuzzer started
// with), and decode the rest of the input exactly as before, so every file in
// Scripts/Fuzz/corpus/ (all start below 0xC0) still decodes to the same loss
// and batch; the second-order calls added for those kinds read their extra
// bytes (Hessian buffer length, vector) only after the old decoding is done.
// Bytes 0xC0...0xFF select a newer family, `Family(rawValue: byte - 0xC0)`
// (the losses added later, and the old ones with the options they later
// gained: class weights, label smoothing, ignored targets, and the
// gradient-boosting objective of the second-order losses); 64 slots, 21
// taken, a free slot returns at once. A fixed slot per byte, not a modulus of
// the case count, so that adding a family leaves every corpus file's meaning
// alone.

#if canImport(Glibc)
import Glibc
#endif

/// Set FUZZ_VERBOSE=1 to print each input's decoded loss and batch (to replay a crash).
let verbose = getenv("FUZZ_VERBOSE") != nil

/// Reads the fuzzer's bytes as loss inputs; past the end it reads zeros.
struct ByteReader {
  let data: UnsafeBufferPointer<UInt8>
  var position = 0

  mutating func byte() -> UInt8 {
    defer { position += 1 }
    return position < data.count ? data[position] : 0
  }

  mutating func int(below n: Int) -> Int { Int(byte()) % n }

  /// A double: usually a special or boundary value, sometimes raw bits.
  mutating func double() -> Double {
    let specials: [Double] = [
      0, -0.0, 1, -1, 0.5, 0.3, 2, 3, 1e-300, -1e-300, 1e300, -1e300, 745, -745, 710, -710,
      36, -36, 1e-12, 5e-324, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
      .infinity, -.infinity, .nan, 1 - 0x1p-53, 1 + 0x1p-52, 0x1p-1022, 1e17, 20,
    ]
    let b = byte()
    if b < 0xE0 { return specials[Int(b) % specials.count] }
    if b < 0xF0 { return Double(Int8(bitPattern: byte())) / 8 }
    var bits: UInt64 = 0
    for _ in 0..<8 { bits = bits << 8 | UInt64(byte()) }
    return Double(bitPattern: bits)
  }

  /// A count near `n`: usually `n`, sometimes off by one or zero (to hit length checks).
  mutating func count(near n: Int) -> Int {
    switch byte() % 16 {
    case 0: return max(0, n - 1)
    case 1: return n + 1
    case 2: return 0
    default: return n
    }
  }
}

/// Traps (a crash for libFuzzer) unless `condition` holds.
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
  if !condition { fatalError("invariant violated: \(message())") }
}

/// Every entry point of one loss on one batch; checks the invariant.
///
/// `scale` bounds |∂L/∂z| from above (max over samples of the weight factor
/// w_i / W or w_i, times the largest class weight): where it is representable
/// the gradient must be finite; beyond it, ±inf is the honest answer (never NaN).
///
/// Every loss is at least `valueFloor` (0 for all but a smoothed Dice whose
/// numerator smoothing exceeds the denominator's); `valueBound` is a known
/// upper bound on the value (1 for the overlap losses and smooth accuracy),
/// or infinity.
func exercise<L: Loss>(
  _ loss: L, logits: [Double], targets: [L.Target], weights: [Double]?, scale: Double = 1,
  valueBound: Double = .infinity, valueFloor: Double = 0
) where L.Target: LossTarget {
  if verbose {
    fputs("\(loss) logits: \(logits) targets: \(targets) weights: \(weights as Any)\n", stderr)
  }
  let sentinel = -123.25
  // 1. Buffer API with a gradient buffer, which must stay untouched on a throw.
  var gradient = [Double](repeating: sentinel, count: logits.count)
  var bufferValue: Double?
  do {
    bufferValue = try withBuffers(logits, targets, weights) { z, t, w throws(LossError) in
      try gradient.withUnsafeMutableBufferPointer { g throws(LossError) in
        try loss.valueAndGradient(logits: z, targets: t, weights: w, gradient: g)
      }
    }
  } catch {
    require(gradient.allSatisfy { $0 == sentinel }, "gradient written before \(error)")
  }
  if let v = bufferValue {
    // +inf only where the true value exceeds the double range (a term such as
    // softplus(1.7e308) * a_pos, or 745 * 1.7e308 under `.sum`); never NaN.
    require((v.isFinite || v == .infinity) && v >= valueFloor, "value \(v) below \(valueFloor)")
    require(v <= valueBound, "value \(v) above \(valueBound)")
    require(
      gradient.allSatisfy { $0.isFinite || (!$0.isNaN && !(scale < 1e300)) },
      "gradient \(gradient) (bound \(scale))")
  }
  // 2. Value only (buffer and array), 3. array API, 4. reusable inout gradient.
  let valueOnly = try? loss.value(logits: logits, targets: targets, weights: weights)
  let arrays = try? loss.valueAndGradient(logits: logits, targets: targets, weights: weights)
  var reused = [Double](repeating: sentinel, count: logits.count / 2)
  let reusedValue = try? loss.valueAndGradient(
    logits: logits, targets: targets, weights: weights, gradient: &reused)
  if reusedValue == nil {
    require(reused.count == logits.count / 2 && reused.allSatisfy { $0 == sentinel }, "inout")
  }
  let gradientOnly = try? loss.gradient(logits: logits, targets: targets, weights: weights)
  // Every entry point agrees on success and failure, and on the bits.
  let succeeded = bufferValue != nil
  require(
    (valueOnly != nil) == succeeded && (arrays != nil) == succeeded
      && (reusedValue != nil) == succeeded && (gradientOnly != nil) == succeeded,
    "entry points disagree on throwing")
  if let v = bufferValue, let arrays, let valueOnly, let reusedValue, let gradientOnly {
    require(arrays.value == v && valueOnly == v && reusedValue == v, "values differ")
    require(
      arrays.gradient == gradient && reused == gradient && gradientOnly == gradient,
      "gradients differ")
    require(gradient.count == logits.count, "gradient length")
  }
  if let parallel = loss as? any DataParallelLoss<L.Target> {
    exerciseShards(
      parallel, logits: logits, targets: targets, weights: weights,
      whole: bufferValue.map { ($0, gradient) }, scale: scale)
  }
  // 5. The Float32 entry points, on the batch rounded to Float.
  exerciseFloat32(loss, logits: logits, targets: targets, weights: weights)
}

/// The batch in two shards (statistics merged with `+`): the shards'
/// gradients are the batch's and their shares add up to its value, or both
/// throw. Statistics may also throw where a shard's raw sum overflows
/// (`invalidParameter` "statistics.scalars[j]"), which the one-batch path avoids by scaling.
func exerciseShards<L: DataParallelLoss>(
  _ loss: L, logits: [Double], targets: [L.Target], weights: [Double]?,
  whole: (value: Double, gradient: [Double])?, scale: Double
) {
  let k = loss.logitsPerSample
  guard k > 0, logits.count % k == 0 else { return }
  let rows = logits.count / k
  // Shards of whole rows: a multi-label binary loss has L entries per row.
  let granularity = (loss as? MultiLabelBinaryCrossEntropy)?.labelCount ?? 1
  guard let split = ShardSplit(
    logits: logits, targets: targets, weights: weights, rows: rows, granularity: granularity)
  else { return }
  let subnormal =
    hasSubnormal(loss)
    || hasSubnormalBatchF1(loss, logits: logits, targets: targets, weights: weights)
  _ = compareShards(split, whole: whole, scale: scale, subnormal: subnormal) { r in
    let (z, y, w) = split.part(r)
    return try loss.statistics(logits: z, targets: y, weights: w)
  } share: { _, r, global, g in
    let (z, y, w) = split.part(r)
    return try loss.valueAndGradient(
      logits: z, targets: y, weights: w, gradient: &g, statistics: global)
  }
}

/// Whether `loss` is an F1-weighted CE that holds a batch F below 2^-1000
/// (TP of subnormal probabilities, from logits near -710): such an F has a
/// few significant bits, which the shards (raw sums) and the batch (sums
/// in units of w / W) round differently, and the value `F/2 Σ …` inherits
/// their difference (relative 2.5e-6 seen).
func hasSubnormalBatchF1<T>(
  _ loss: some DataParallelLoss, logits: [Double], targets: [T], weights: [Double]?
) -> Bool {
  guard let loss = loss as? F1WeightedCrossEntropy, loss.f1 == nil,
    let targets = targets as? [Double]
  else { return false }
  let f = try? withBuffers(logits, targets, weights) { (z, y, w) throws(LossError) in
    loss.heldF1(try loss.batch(z, y, w, gradient: nil), isMean: true, storingExpIn: nil).f1
  }
  return f.map { $0 != 0 && $0 < 0x1p-1000 } ?? false
}

/// A batch cut into two shards of whole rows.
struct ShardSplit<Target> {
  let logits: [Double], targets: [Target], weights: [Double]?
  let k: Int, t: Int, u: Int
  let shards: [Range<Int>]

  init?(logits: [Double], targets: [Target], weights: [Double]?, rows: Int, granularity: Int) {
    guard rows >= 2, targets.count % rows == 0, (weights?.count ?? rows) % rows == 0,
      logits.count % rows == 0
    else { return nil }
    let cut = rows / granularity / 2 * granularity
    guard cut > 0, rows % granularity == 0 else { return nil }
    (self.logits, self.targets, self.weights) = (logits, targets, weights)
    (k, t, u) = (logits.count / rows, targets.count / rows, (weights?.count ?? rows) / rows)
    shards = [0..<cut, cut..<rows]
  }

  func part(_ r: Range<Int>) -> ([Double], [Target], [Double]?) {
    (
      Array(logits[(r.lowerBound * k)..<(r.upperBound * k)]),
      Array(targets[(r.lowerBound * t)..<(r.upperBound * t)]),
      weights.map { Array($0[(r.lowerBound * u)..<(r.upperBound * u)]) }
    )
  }

  /// Subnormal data (a Tversky alpha of 5e-324 against soft targets of
  /// 5e-324) leave both paths rounding in the subnormal range, each its own
  /// way (the one-batch sums are in units of w / W, the shards' raw).
  var hasSubnormalData: Bool {
    hasSubnormal(targets as Any) || hasSubnormal(weights as Any) || hasSubnormal(logits)
  }
}

/// The two-phase step on `split`'s shards compared with the one batch's
/// `whole` (nil: it threw). Returns whether the shards succeeded (then the
/// batch did too).
func compareShards<T>(
  _ split: ShardSplit<T>, whole: (value: Double, gradient: [Double])?, scale: Double,
  subnormal: Bool,
  statistics: (Range<Int>) throws -> BatchStatistics,
  share: (Int, Range<Int>, BatchStatistics, inout [Double]) throws -> Double
) -> Bool {
  var value = 0.0
  var gradient: [Double] = []
  do {
    let local = try split.shards.map(statistics)
    let global = local[0] + local[1]
    for (j, r) in split.shards.enumerated() {
      var g = [Double](repeating: -123.25, count: r.count * split.k)
      do {
        value += try share(j, r, global, &g)
      } catch {
        require(g.allSatisfy { $0 == -123.25 }, "shard gradient written before \(error)")
        throw error
      }
      gradient += g
    }
  } catch {
    // Documented limits of the statistics: a shard's sum that overflows,
    // a weight below 2^-500.
    if case .invalidParameter(let name, _, let requirement)? = error as? LossError,
      name.hasPrefix("statistics.scalars") || requirement.contains("data-parallel")
    {
      return false
    }
    require(whole == nil, "shards throw \(error) where the batch does not")
    return false
  }
  guard let whole else {
    fatalError("invariant violated: shards succeed where the batch throws")
  }
  require(!value.isNaN && gradient.allSatisfy { !$0.isNaN }, "NaN in shards")
  // Only the finiteness above is compared with subnormal parameters or data.
  if subnormal || split.hasSubnormalData { return true }
  let vBound = 1e-9 * abs(whole.value) + 1e-300
  require(
    value == whole.value || abs(value - whole.value) <= vBound || !whole.value.isFinite,
    "shard value \(value) vs \(whole.value)")
  // Relative to the largest entry, or to `scale`, the bound of |∂L/∂z|
  // before cancellation: an entry that is a difference of two nearly equal
  // terms (F1-weighted CE with soft targets near F/2) moves by the terms'
  // rounding when the batch sums do by an ulp.
  let largest = whole.gradient.reduce(0) { Swift.max($0, abs($1)) }
  let floor = scale.isFinite ? Swift.max(largest, scale) : largest
  if largest.isFinite {
    for j in gradient.indices {
      require(
        gradient[j] == whole.gradient[j]
          || abs(gradient[j] - whole.gradient[j]) <= 1e-9 * floor + 1e-300,
        "shard gradient[\(j)] \(gradient[j]) vs \(whole.gradient[j])")
    }
  }
  return true
}

/// The data-parallel step of a stateful loss on two shards, each with its
/// copy of `start`: as `compareShards`, and the copies advance alike, to
/// the one batch's new state (`close`).
func exerciseStatefulShards<L: StatefulLoss>(
  _ loss: L, start: L.State, logits: [Double], targets: [Int], weights: [Double]?,
  whole: (value: Double, gradient: [Double], state: L.State)?, scale: Double,
  close: (L.State, L.State) -> Bool
) {
  let k = loss.classCount
  guard k > 0, logits.count % k == 0,
    let split = ShardSplit(
      logits: logits, targets: targets, weights: weights, rows: logits.count / k, granularity: 1)
  else { return }
  var copies = [start, start]
  let succeeded = compareShards(
    split, whole: whole.map { ($0.value, $0.gradient) }, scale: scale,
    subnormal: hasSubnormal(loss)
  ) { r in
    let (z, t, w) = split.part(r)
    return try loss.statistics(logits: z, targets: t, weights: w, state: start)
  } share: { j, r, global, g in
    let (z, t, w) = split.part(r)
    let before = copies[j]
    do {
      return try withBuffers(z, t, w) { (z, t, w) throws(LossError) in
        try g.withUnsafeMutableBufferPointer { (g) throws(LossError) in
          try loss.valueAndGradient(
            logits: z, targets: t, weights: w, gradient: g, state: &copies[j],
            statistics: global)
        }
      }
    } catch {
      require(copies[j] == before, "shard state changed by a throwing step")
      throw error
    }
  }
  guard succeeded, let whole else { return }
  require(copies[0] == copies[1], "shard states differ")
  if !hasSubnormal(loss) && !split.hasSubnormalData {
    require(close(copies[0], whole.state), "shard state \(copies[0]) vs \(whole.state)")
  }
}

/// The per-sample entry points of a separable loss.
func exerciseTerms<L: SeparableLoss>(_ loss: L, logits: [Double], targets: [L.Target], extra: Int) {
  if let terms = try? loss.perSampleValues(logits: logits, targets: targets) {
    require(terms.count == targets.count, "terms length")
    // +inf only for a term beyond the double range, e.g. z = [-1.8e308, 1.8e308], c = 0.
    require(terms.allSatisfy { ($0.isFinite || $0 == .infinity) && $0 >= 0 }, "terms \(terms)")
  }
  // A values buffer of the wrong length must throw and stay untouched.
  var values = [Double](repeating: -1, count: targets.count + extra)
  do {
    try withBuffers(logits, targets, nil) { z, t, _ throws(LossError) in
      try values.withUnsafeMutableBufferPointer { v throws(LossError) in
        try loss.perSampleValues(logits: z, targets: t, into: v)
      }
    }
    require(extra == 0, "accepted \(values.count) values for \(targets.count) samples")
  } catch {
    require(values.allSatisfy { $0 == -1 }, "values written before \(error)")
  }
}

/// Whether `x` is finite, or an infinity (never NaN) where `bound` (an upper
/// bound on the true |x|) is not below 1e300: the true value may overflow.
func honest(_ x: Double, bound: Double) -> Bool {
  x.isFinite || (!x.isNaN && !(bound < 1e300))
}

/// The largest magnitude in `values` (0 when empty; NaN and inf count as inf).
func largestMagnitude(_ values: [Double]) -> Double {
  values.reduce(0) { $1.isNaN ? .infinity : max($0, $1.magnitude) }
}

/// The second-order entry points of a separable loss: value and gradient are
/// the first-order call's bits, the Hessian diagonal is finite (within
/// `hessianBound`), and a throw leaves both buffers untouched.
///
/// `hessianCount` is the length of the Hessian buffer (sometimes wrong);
/// `mayThrowAlone` allows a throw the first-order call does not share (an
/// option only the second-order call reads, e.g. a non-finite hessianFloor).
func exerciseSecondOrder<L: SecondOrderLoss>(
  _ loss: L, logits: [Double], targets: [L.Target], weights: [Double]?,
  hessianCount: Int, scale: Double, hessianBound: Double, mayThrowAlone: Bool = false
) where L.Target: LossTarget {
  let sentinel = -123.25
  let first = try? loss.valueAndGradient(logits: logits, targets: targets, weights: weights)
  var gradient = [Double](repeating: sentinel, count: logits.count)
  var hessian = [Double](repeating: sentinel, count: hessianCount)
  var value: Double?
  do {
    value = try withBuffers(logits, targets, weights) { z, t, w throws(LossError) in
      try gradient.withUnsafeMutableBufferPointer { g throws(LossError) in
        try hessian.withUnsafeMutableBufferPointer { h throws(LossError) in
          try loss.valueGradientAndHessianDiagonal(
            logits: z, targets: t, weights: w, gradient: g, hessianDiagonal: h)
        }
      }
    }
  } catch {
    require(
      gradient.allSatisfy { $0 == sentinel } && hessian.allSatisfy { $0 == sentinel },
      "second order: buffers written before \(error)")
    require(
      first == nil || hessianCount != logits.count || mayThrowAlone,
      "second order threw \(error) where first order did not")
  }
  let arrays = try? loss.valueGradientAndHessianDiagonal(
    logits: logits, targets: targets, weights: weights)
  if let value {
    require(hessianCount == logits.count, "accepted a Hessian of \(hessianCount)")
    guard let first else { fatalError("second order succeeded where first order threw") }
    require(
      value.bitPattern == first.value.bitPattern && gradient == first.gradient,
      "second order: value \(value) / gradient differ from first order \(first.value)")
    require(gradient.allSatisfy { honest($0, bound: scale) }, "gradient \(gradient)")
    require(hessian.allSatisfy { honest($0, bound: hessianBound) },
      "Hessian \(hessian) (bound \(hessianBound))")
  }
  if hessianCount == logits.count {
    require((arrays != nil) == (value != nil), "second order: entry points disagree on throwing")
    if let value, let arrays {
      require(
        arrays.value.bitPattern == value.bitPattern && arrays.gradient == gradient
          && arrays.hessianDiagonal.elementsEqual(hessian) { $0.bitPattern == $1.bitPattern },
        "second order: array entry point differs")
    }
  }
  exerciseFloat32SecondOrder(
    loss, logits: logits, targets: targets, weights: weights, hessianCount: hessianCount)
}

/// The Hessian-vector product of a softmax loss: the first-order value's
/// bits, a finite product (within `bound`, which includes max |v|), or a throw
/// that leaves `product` untouched.
func exerciseProduct<L: SoftmaxSecondOrderLoss>(
  _ loss: L, logits: [Double], targets: [Int], weights: [Double]?, vector: [Double],
  productCount: Int, bound: Double
) {
  if verbose { fputs("vector: \(vector), product count \(productCount)\n", stderr) }
  let sentinel = -123.25
  let first = try? loss.value(logits: logits, targets: targets, weights: weights)
  var product = [Double](repeating: sentinel, count: productCount)
  var value: Double?
  do {
    value = try withBuffers(logits, targets, weights) { z, t, w throws(LossError) in
      try vector.withUnsafeBufferPointer { v throws(LossError) in
        try product.withUnsafeMutableBufferPointer { out throws(LossError) in
          try loss.hessianVectorProduct(logits: z, targets: t, weights: w, vector: v, into: out)
        }
      }
    }
  } catch {
    require(product.allSatisfy { $0 == sentinel }, "product written before \(error)")
    require(
      first == nil || productCount != logits.count || vector.count != logits.count
        || !vector.allSatisfy(\.isFinite),
      "HVP threw \(error) where the loss did not")
  }
  if let value {
    require(
      productCount == logits.count && vector.count == logits.count
        && vector.allSatisfy(\.isFinite), "HVP accepted a bad vector or product")
    require(first?.bitPattern == value.bitPattern, "HVP value \(value) != \(first as Any)")
    require(product.allSatisfy { honest($0, bound: bound) }, "H v \(product) (bound \(bound))")
    let arrays = try? loss.hessianVectorProduct(
      logits: logits, targets: targets, weights: weights, vector: vector)
    require(arrays == product, "HVP: array entry point differs")
  }
  exerciseFloat32Product(
    loss, logits: logits, targets: targets, weights: weights, vector: vector,
    productCount: productCount)
}

/// The first seven loss kinds (first byte below 0xC0, `kind = byte % 7`) and
/// the dispatch to the newer families (0xC0 and up). ADDING A LOSS: a case in
/// `Family` (not here: that would change what corpus files decode to).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  var r = ByteReader(data: UnsafeBufferPointer(start: bytes, count: size))
  let selector = r.byte()
  if selector >= 0xC0 {
    // 64 slots, one byte value each; a slot with no family yet does nothing.
    guard let family = Family(rawValue: Int(selector - 0xC0)) else { return 0 }
    fuzzFamily(family, &r)
    return 0
  }
  let kind = Int(selector) % 7
  let n = r.int(below: 24)
  let k = r.int(below: 13)  // softmax class count; 0 is invalid
  let parallelism: Parallelism =
    r.byte() % 2 == 0 ? .automatic : .maximumThreads(Int(Int8(bitPattern: r.byte())))
  let hasWeights = r.byte() % 3 != 0
  let reduction: Reduction = r.byte() % 2 == 0 ? .mean : .sum
  let extra = r.int(below: 4) == 0 ? 1 : 0
  let binary = kind < 4
  let logitCount = r.count(near: binary ? n : n * k)
  let logits = (0..<logitCount).map { _ in r.double() }
  let weights: [Double]? = hasWeights ? (0..<r.count(near: n)).map { _ in r.double() } : nil
  // The largest weight factor: w_i / W <= 1 for the mean, w_i itself for the sum.
  let factor = reduction == .sum ? max(1, weights?.map(\.magnitude).max() ?? 1) : 1
  if binary {
    let targets = (0..<r.count(near: n)).map { _ in r.double() }
    switch kind {
    case 0:
      var loss = BinaryCrossEntropy(positiveWeight: r.double(), negativeWeight: r.double())
      loss.parallelism = parallelism
      loss.reduction = reduction
      let classWeight = max(1, loss.positiveWeight.magnitude, loss.negativeWeight.magnitude)
      exercise(
        loss, logits: logits, targets: targets, weights: weights, scale: factor * classWeight)
      exerciseTerms(loss, logits: logits, targets: targets, extra: extra)
      exerciseSecondOrder(
        loss, logits: logits, targets: targets, weights: weights,
        hessianCount: r.count(near: logits.count), scale: factor * classWeight,
        hessianBound: factor * classWeight)
    case 1:
      var loss = SmoothAccuracyLoss()
      loss.parallelism = parallelism
      loss.reduction = reduction
      exercise(loss, logits: logits, targets: targets, weights: weights, scale: factor)
      exerciseTerms(loss, logits: logits, targets: targets, extra: extra)
      exerciseSecondOrder(
        loss, logits: logits, targets: targets, weights: weights,
        hessianCount: r.count(near: logits.count), scale: factor, hessianBound: factor)
    case 2:
      var loss = SmoothF1Loss()
      loss.parallelism = parallelism
      exercise(loss, logits: logits, targets: targets, weights: weights)
      if let f = try? loss.f1(logits: logits, targets: targets, weights: weights) {
        require(f >= 0 && f <= 1, "F = \(f)")
      }
    default:
      var loss = F1WeightedCrossEntropy(f1: r.byte() % 2 == 0 ? nil : r.double())
      loss.parallelism = parallelism
      loss.reduction = reduction
      exercise(loss, logits: logits, targets: targets, weights: weights, scale: factor)
      exerciseTerms(loss, logits: logits, targets: targets, extra: extra)
      exerciseSecondOrder(
        loss, logits: logits, targets: targets, weights: weights,
        hessianCount: r.count(near: logits.count), scale: factor, hessianBound: factor)
    }
  } else {
    let targets = (0..<r.count(near: n)).map { _ in Int(Int8(bitPattern: r.byte())) % (k + 2) }
    let priors = (0..<r.count(near: k)).map { _ in r.double() }
    let tau = r.double()
    // The second-order entry points, decoding their extra bytes (Hessian length,
    // vector) after everything the loss and batch read.
    func secondOrder<L: SoftmaxSecondOrderLoss>(_ loss: L, _ r: inout ByteReader) {
      let hessianCount = r.count(near: logits.count)
      let vector = (0..<r.count(near: logits.count)).map { _ in r.double() }
      exerciseSecondOrder(
        loss, logits: logits, targets: targets, weights: weights, hessianCount: hessianCount,
        scale: factor, hessianBound: factor)
      exerciseProduct(
        loss, logits: logits, targets: targets, weights: weights, vector: vector,
        productCount: hessianCount, bound: 2 * factor * largestMagnitude(vector))
    }
    switch kind {
    case 4:
      guard var loss = try? SoftmaxCrossEntropy(classCount: k) else {
        require(k <= 0, "SoftmaxCrossEntropy(classCount: \(k)) threw")
        return 0
      }
      loss.parallelism = parallelism
      loss.reduction = reduction
      exercise(loss, logits: logits, targets: targets, weights: weights, scale: factor)
      exerciseTerms(loss, logits: logits, targets: targets, extra: extra)
      secondOrder(loss, &r)
    case 5:
      guard var loss = try? LogitAdjustedCrossEntropy(priors: priors, tau: tau) else { return 0 }
      loss.parallelism = parallelism
      loss.reduction = reduction
      exercise(loss, logits: logits, targets: targets, weights: weights, scale: factor)
      exerciseTerms(loss, logits: logits, targets: targets, extra: extra)
      secondOrder(loss, &r)
    default:
      // ClassPriors: every initialiser and the post-hoc adjustment.
      let counts = priors.map { $0.isFinite ? Int(max(-5, min(1e6, $0))) : 0 }
      _ = try? ClassPriors(counts: counts)
      _ = try? ClassPriors(labels: targets, classCount: k)
      guard let p = try? ClassPriors(priors) else { return 0 }
      // π_k may underflow to 0 next to a prior 1e308 times larger; log π_k stays finite.
      require(p.probabilities.allSatisfy { $0 >= 0 && $0 <= 1 }, "priors \(p.probabilities)")
      require(p.logProbabilities.allSatisfy(\.isFinite), "log priors \(p.logProbabilities)")
      if let adjusted = try? p.adjustedLogits(logits: logits, tau: tau) {
        require(adjusted.count == logits.count, "adjusted length")
        require(adjusted.allSatisfy(\.isFinite), "adjusted logits \(adjusted)")
      }
      if let classes = try? p.predictions(logits: logits, tau: tau) {
        require(classes.allSatisfy { (0..<p.classCount).contains($0) }, "classes \(classes)")
      }
    }
  }
  return 0
}

/// The loss families selected by a first byte 0xC0...0xFF (see the header).
/// ADDING A LOSS: a case here, at the end (raw values up to 63, so that corpus
/// files keep their meaning), and its branch in `fuzzFamily`.
enum Family: Int, CaseIterable {
  case binaryFocal, softDice, tversky, binaryWithIgnoredTarget
  case multiLabelBinary, multiLabelCategorical
  case marginSoftmax, softmaxFocal, softmaxSmoothAccuracy, macroSmoothF1, macroF1Weighted
  case softmaxWithOptions
  case softOverlapSemimetric
  case asymmetric
  case polyCrossEntropy, binaryPoly
  case seesaw, equalizationV2
  case softmaxDice
  case combined
  case gradientBoosting
}

/// A class count: usually small, sometimes 0 or negative (invalid), or huge.
func classCount(_ r: inout ByteReader) -> Int {
  let b = r.byte()
  switch b % 16 {
  case 0: return Int.max
  case 1: return 1 << 62
  case 2: return 0
  case 3: return -1
  default: return Int(b >> 2)
  }
}

/// Per-class weights: none, raw doubles, or from a `ClassWeights` helper on
/// decoded counts (whose results are checked here).
func classWeights(_ r: inout ByteReader, k: Int) -> [Double]? {
  switch r.byte() % 4 {
  case 0: return nil
  case 1: return (0..<r.count(near: k)).map { _ in r.double() }
  case 2:
    let counts = (0..<r.count(near: k)).map { _ in classCount(&r) }
    guard let a = try? ClassWeights.balanced(classCounts: counts) else { return nil }
    require(a.count == counts.count && a.allSatisfy { $0 > 0 && $0.isFinite }, "balanced \(a)")
    return a
  default:
    let counts = (0..<r.count(near: k)).map { _ in classCount(&r) }
    let beta = r.double()
    guard let a = try? ClassWeights.effectiveNumber(classCounts: counts, beta: beta) else {
      return nil
    }
    require(a.count == counts.count && a.allSatisfy { $0 > 0 && $0.isFinite }, "effective \(a)")
    let sum = a.reduce(0, +)
    require((sum - Double(a.count)).magnitude <= 1e-12 * Double(a.count), "Σ a = \(sum)")
    return a
  }
}

/// A per-sample or per-class weight factor bound: 1 for the mean (v_i / Σ v),
/// the largest |w| times the largest class weight for the sum.
func weightFactor(_ reduction: Reduction, _ weights: [Double]?, _ classWeights: [Double]?)
  -> Double
{
  reduction == .mean
    ? 1 : max(1, largestMagnitude(weights ?? [])) * max(1, largestMagnitude(classWeights ?? []))
}

/// A stateful loss's step (`call`): on a throw the state and the gradient
/// array are untouched; otherwise the value is >= 0 and not NaN, the gradient
/// has no NaN (finite where `scale` is), and the same step from the same state
/// gives the same bits and the same new state.
@discardableResult
func exerciseStateful<S: Equatable>(
  _ start: S, scale: Double,
  _ call: (inout S, inout [Double]) throws(LossError) -> Double,
  secondOrder: (inout S) throws(LossError) -> (
    value: Double, gradient: [Double], hessianDiagonal: [Double]
  )
) -> (value: Double, gradient: [Double], state: S)? {
  let sentinel = -123.25
  var state = start
  var gradient = [Double](repeating: sentinel, count: 3)
  let value: Double
  do {
    value = try call(&state, &gradient)
  } catch {
    require(state == start, "state changed by a throwing step")
    require(gradient.allSatisfy { $0 == sentinel }, "gradient written by a throwing step")
    return nil
  }
  require(!value.isNaN && value >= 0, "stateful value \(value)")
  require(!gradient.contains { $0.isNaN }, "NaN in stateful gradient")
  if scale < 0x1p1000 {
    require(gradient.allSatisfy(\.isFinite), "non-finite stateful gradient (scale \(scale))")
  }
  var again = start
  var second: [Double] = []
  let repeated = try? call(&again, &second)
  require(repeated?.bitPattern == value.bitPattern, "stateful value not deterministic")
  require(second.map(\.bitPattern) == gradient.map(\.bitPattern), "stateful gradient not deterministic")
  require(again == state, "stateful state not deterministic")
  // The second-order step: the same value, gradient and state, and a
  // Hessian diagonal in [0, scale / 4] (up to the rounding of p (1 - p)).
  var third = start
  guard let full = try? secondOrder(&third) else { fatalError("stateful second order threw alone") }
  require(full.value.bitPattern == value.bitPattern, "stateful second-order value differs")
  require(full.gradient.map(\.bitPattern) == gradient.map(\.bitPattern), "second-order gradient differs")
  require(third == state, "stateful second-order state differs")
  require(full.hessianDiagonal.allSatisfy { $0 >= 0 }, "stateful Hessian negative or NaN")
  if scale < 0x1p1000 {
    let top = largestMagnitude(full.hessianDiagonal)
    require(top <= scale / 4 * (1 + 0x1p-48), "stateful Hessian \(top) above scale / 4 = \(scale / 4)")
  }
  return (value, gradient, state)
}

/// Whether `a` is `b` to 1e-9 of `b`'s largest magnitude.
func closeTo(_ a: [Double], _ b: [Double]) -> Bool {
  let floor = 1e-9 * (b.map(abs).max() ?? 0) + 1e-300
  return a.count == b.count && zip(a, b).allSatisfy { $0 == $1 || abs($0 - $1) <= floor }
}

/// The newer families: the losses and options the first seven kinds do not
/// reach. `r` is positioned after the selector byte.
func fuzzFamily(_ family: Family, _ r: inout ByteReader) {
  let n = r.int(below: 24)
  let k = r.int(below: 13)  // class or label count; 0 is invalid
  let parallelism: Parallelism =
    r.byte() % 2 == 0 ? .automatic : .maximumThreads(Int(Int8(bitPattern: r.byte())))
  let hasWeights = r.byte() % 3 != 0
  let reduction: Reduction = r.byte() % 2 == 0 ? .mean : .sum
  let extra = r.int(below: 4) == 0 ? 1 : 0
  switch family {
  case .binaryFocal, .softDice, .tversky, .binaryWithIgnoredTarget, .softOverlapSemimetric,
    .binaryPoly:
    let logits = (0..<r.count(near: n)).map { _ in r.double() }
    let weights: [Double]? = hasWeights ? (0..<r.count(near: n)).map { _ in r.double() } : nil
    let targets = (0..<r.count(near: n)).map { _ in r.double() }
    let ignored: Double? = r.byte() % 3 == 0 ? r.double() : nil
    let hessianCount = r.count(near: logits.count)
    let factor = weightFactor(reduction, weights, nil)
    switch family {
    case .binaryFocal:
      let gammas: [Double] = [0, 0.5, 2, 0x1p-30, 1 - 0x1p-53, 1000]
      let b = r.byte()
      let gamma = b % 2 == 0 ? gammas[Int(b / 2) % gammas.count] : r.double()
      var loss =
        r.byte() % 2 == 0
        ? BinaryFocalLoss(gamma: gamma, alpha: r.byte() % 3 == 0 ? nil : r.double())
        : BinaryFocalLoss(gamma: gamma, positiveWeight: r.double(), negativeWeight: r.double())
      loss.hessianFloor = r.byte() % 2 == 0 ? nil : r.double()
      loss.reduction = reduction
      loss.parallelism = parallelism
      loss.ignoredTarget = ignored
      // Drawn last, so that older corpus entries keep their meaning.
      if r.byte() % 2 == 1 { loss.softTargetFocusing = .blendedProbability }
      let smoothingDraw = r.byte()
      loss.labelSmoothing =
        smoothingDraw % 3 == 0 ? 0 : smoothingDraw % 3 == 1 ? r.double() : 0.1
      // |∂l/∂z| <= a (1 + γ p |log p|) <= a (1 + γ); |∂²l/∂z²| <= a (γ + 1)².
      // The blended form: |∂l/∂z| <= a (1 + (3/e) γ), |∂²l/∂z²| <= 3 a (γ + 1)²
      // (ce r <= 3/e, r <= 2): twice and thrice the bounds cover both.
      let a = max(1, loss.positiveWeight.magnitude, loss.negativeWeight.magnitude)
      let g = 3 * max(1, gamma.magnitude + 1)
      exercise(loss, logits: logits, targets: targets, weights: weights, scale: factor * a * g)
      exerciseTerms(loss, logits: logits, targets: targets, extra: extra)
      exerciseSecondOrder(
        loss, logits: logits, targets: targets, weights: weights, hessianCount: hessianCount,
        scale: factor * a * g,
        hessianBound: factor * max(a * g * g, (loss.hessianFloor ?? 0).magnitude))
    case .binaryPoly:
      let epsilons: [Double] = [-1, -0.5, 0, 1, 2, 1000, -1 + 0x1p-53]
      let b = r.byte()
      let epsilon = b % 2 == 0 ? epsilons[Int(b / 2) % epsilons.count] : r.double()
      // Every term is >= 0 only for class weights >= -ε (see BinaryPolyLoss):
      // a valid weight below that is raised to it.
      func weight(_ a: Double) -> Double {
        a >= 0 && a.isFinite && epsilon < 0 && a < -epsilon ? -epsilon : a
      }
      var loss = BinaryPolyLoss(
        epsilon: epsilon, positiveWeight: weight(r.double()), negativeWeight: weight(r.double()))
      loss.hessianFloor = r.byte() % 2 == 0 ? nil : r.double()
      loss.reduction = reduction
      loss.parallelism = parallelism
      loss.ignoredTarget = ignored
      // |∂l/∂z| <= a + |ε|, |∂²l/∂z²| <= (a + |ε|) / 4.
      let a =
        max(1, loss.positiveWeight.magnitude, loss.negativeWeight.magnitude)
        + epsilon.magnitude
      exercise(loss, logits: logits, targets: targets, weights: weights, scale: factor * a)
      exerciseTerms(loss, logits: logits, targets: targets, extra: extra)
      exerciseSecondOrder(
        loss, logits: logits, targets: targets, weights: weights, hessianCount: hessianCount,
        scale: factor * a, hessianBound: factor * max(a, (loss.hessianFloor ?? 0).magnitude))
    case .softDice:
      var loss = SoftDiceLoss(smoothing: r.byte() % 2 == 0 ? 1 : r.double())
      loss.parallelism = parallelism
      loss.ignoredTarget = ignored
      // A ratio of sums: |∂L/∂z_i| <= 2 whatever the weights' scale.
      exercise(loss, logits: logits, targets: targets, weights: weights, scale: 4, valueBound: 1)
    case .tversky:
      var loss = TverskyLoss(alpha: r.double(), beta: r.double(), smoothing: r.double())
      loss.parallelism = parallelism
      loss.ignoredTarget = ignored
      // Focal Tversky: (1 - I)^γ, the gradient times γ (1 - I)^(γ-1), unbounded for γ < 1.
      let exponents: [Double] = [1, 0.75, 2, 4.0 / 3]
      let b = r.byte()
      loss.exponent = b % 2 == 0 ? exponents[Int(b / 2) % exponents.count] : r.double()
      let gamma = loss.exponent
      // w_i p(1-p) y <= min(TP, FN), w_i p(1-p)(1-y) <= FP: |∂L/∂z_i| <= 3 for any α, β.
      exercise(
        loss, logits: logits, targets: targets, weights: weights,
        scale: gamma >= 1 ? 4 * gamma : .infinity, valueBound: 1)
    case .softOverlapSemimetric:
      // Smooth F1, soft Dice or Tversky with the semimetric overlap. Its
      // gradient is not bounded by 3: |∂L/∂z_i| <= 2 + 2α + β (w p min(p, y)
      // <= TP, w (p - y)+ <= FP, but w p can exceed FP near p = y).
      let which = r.byte() % 3
      let alpha = r.double()
      let beta = r.double()
      let smoothing = r.byte() % 2 == 0 ? 1 : r.double()
      let bound = 4 * max(1, alpha.magnitude + beta.magnitude)
      switch which {
      case 0:
        var loss = SmoothF1Loss()
        loss.overlap = .semimetric
        loss.parallelism = parallelism
        loss.ignoredTarget = ignored
        exercise(loss, logits: logits, targets: targets, weights: weights, scale: 4, valueBound: 1)
        requireSemimetricIsProductOnHardLabels(loss, logits, targets, weights)
      case 1:
        var loss = SoftDiceLoss(smoothing: smoothing)
        loss.overlap = .semimetric
        loss.parallelism = parallelism
        loss.ignoredTarget = ignored
        exercise(loss, logits: logits, targets: targets, weights: weights, scale: 4, valueBound: 1)
        requireSemimetricIsProductOnHardLabels(loss, logits, targets, weights)
      default:
        var loss = TverskyLoss(alpha: alpha, beta: beta, smoothing: smoothing)
        loss.overlap = .semimetric
        loss.parallelism = parallelism
        loss.ignoredTarget = ignored
        exercise(
          loss, logits: logits, targets: targets, weights: weights, scale: bound, valueBound: 1)
        requireSemimetricIsProductOnHardLabels(loss, logits, targets, weights)
      }
    default:
      switch r.byte() % 4 {
      case 0:
        var loss = BinaryCrossEntropy(positiveWeight: r.double(), negativeWeight: r.double())
        loss.ignoredTarget = ignored
        loss.reduction = reduction
        loss.parallelism = parallelism
        let a = max(1, loss.positiveWeight.magnitude, loss.negativeWeight.magnitude)
        exercise(loss, logits: logits, targets: targets, weights: weights, scale: factor * a)
        exerciseTerms(loss, logits: logits, targets: targets, extra: extra)
        exerciseSecondOrder(
          loss, logits: logits, targets: targets, weights: weights, hessianCount: hessianCount,
          scale: factor * a, hessianBound: factor * a)
      case 1:
        var loss = SmoothAccuracyLoss()
        loss.ignoredTarget = ignored
        loss.reduction = reduction
        loss.parallelism = parallelism
        exercise(
          loss, logits: logits, targets: targets, weights: weights, scale: factor,
          valueBound: reduction == .mean ? 1 : .infinity)
        exerciseTerms(loss, logits: logits, targets: targets, extra: extra)
        exerciseSecondOrder(
          loss, logits: logits, targets: targets, weights: weights, hessianCount: hessianCount,
          scale: factor, hessianBound: factor)
      case 2:
        var loss = SmoothF1Loss()
        loss.ignoredTarget = ignored
        loss.parallelism = parallelism
        exercise(loss, logits: logits, targets: targets, weights: weights, valueBound: 1)
        if let f = try? loss.f1(logits: logits, targets: targets, weights: weights) {
          require(f >= 0 && f <= 1, "F = \(f)")
        }
      default:
        var loss = F1WeightedCrossEntropy(f1: r.byte() % 2 == 0 ? nil : r.double())
        loss.ignoredTarget = ignored
        loss.reduction = reduction
        loss.parallelism = parallelism
        exercise(loss, logits: logits, targets: targets, weights: weights, scale: factor)
        exerciseTerms(loss, logits: logits, targets: targets, extra: extra)
        exerciseSecondOrder(
          loss, logits: logits, targets: targets, weights: weights, hessianCount: hessianCount,
          scale: factor, hessianBound: factor)
      }
    }
  case .multiLabelBinary:
    // N×L entries, each one term with its own weight.
    let logits = (0..<r.count(near: n * k)).map { _ in r.double() }
    let weights: [Double]? =
      hasWeights ? (0..<r.count(near: n * k)).map { _ in r.double() } : nil
    let targets = (0..<r.count(near: n * k)).map { _ in r.double() }
    let positive = (0..<r.count(near: k)).map { _ in r.double() }
    let negative: [Double]? =
      r.byte() % 2 == 0 ? nil : (0..<r.count(near: k)).map { _ in r.double() }
    guard var loss = try? MultiLabelBinaryCrossEntropy(
      positiveWeights: positive, negativeWeights: negative)
    else {
      let valid = !positive.isEmpty && (negative == nil || negative!.count == positive.count)
        && (positive + (negative ?? [])).allSatisfy { $0 >= 0 && $0.isFinite }
      require(!valid, "MultiLabelBinaryCrossEntropy(\(positive), \(negative as Any)) threw")
      return
    }
    loss.ignoredTarget = r.byte() % 3 == 0 ? r.double() : nil
    loss.reduction = reduction
    loss.parallelism = parallelism
    let a = max(1, largestMagnitude(positive), largestMagnitude(negative ?? []))
    let factor = weightFactor(reduction, weights, nil)
    exercise(loss, logits: logits, targets: targets, weights: weights, scale: factor * a)
    exerciseTerms(loss, logits: logits, targets: targets, extra: extra)
    exerciseSecondOrder(
      loss, logits: logits, targets: targets, weights: weights,
      hessianCount: r.count(near: logits.count), scale: factor * a, hessianBound: factor * a)
  case .asymmetric:
    // AsymmetricLoss: entry-wise over an N×L batch.
    let logits = (0..<r.count(near: n * k)).map { _ in r.double() }
    let weights: [Double]? =
      hasWeights ? (0..<r.count(near: n * k)).map { _ in r.double() } : nil
    let targets = (0..<r.count(near: n * k)).map { _ in r.double() }
    let gammas: [Double] = [0, 4, 1, 0.5, 0x1p-30, 1 - 0x1p-53, 2.5, 1000]
    let margins: [Double] = [0.05, 0, 0.2, 1e-300, 1 - 0x1p-53, 0x1p-1074, 0.5, 1e-12]
    func pick(_ list: [Double]) -> Double {
      let b = r.byte()
      return b % 2 == 0 ? list[Int(b / 2) % list.count] : r.double()
    }
    let (gp, gn, m) = (pick(gammas), pick(gammas), pick(margins))
    var loss = AsymmetricLoss(positiveFocusing: gp, negativeFocusing: gn, probabilityMargin: m)
    loss.ignoredTarget = r.byte() % 3 == 0 ? r.double() : nil
    loss.reduction = reduction
    loss.parallelism = parallelism
    if verbose { print("AsymmetricLoss(\(gp), \(gn), \(m))") }
    // |∂l/∂z| <= 1 + 1.25 γ on either side (q A <= max(1.22, 3/e)); the
    // curvature is at most 4 (γ + 2)², times p u^(γ-1) <= p / u <= 2^53 for γ- < 1.
    let g = max(1, gp.magnitude, gn.magnitude)
    let factor = weightFactor(reduction, weights, nil)
    let slopeBound = factor * (2 + 2 * g)
    let curvatureBound = factor * 4 * (g + 2) * (g + 2) * (gn < 1 && m > 0 ? 0x1p54 : 1)
    exercise(loss, logits: logits, targets: targets, weights: weights, scale: slopeBound)
    exerciseTerms(loss, logits: logits, targets: targets, extra: extra)
    exerciseSecondOrder(
      loss, logits: logits, targets: targets, weights: weights,
      hessianCount: r.count(near: logits.count), scale: slopeBound,
      hessianBound: curvatureBound)
  case .multiLabelCategorical:
    let logits = (0..<r.count(near: n * k)).map { _ in r.double() }
    let weights: [Double]? = hasWeights ? (0..<r.count(near: n)).map { _ in r.double() } : nil
    // Hard labels, now and then something else (invalid, or the ignored marker).
    let targets = (0..<r.count(near: n * k)).map { _ in
      let b = r.byte()
      return b % 8 == 0 ? r.double() : Double(b % 2)
    }
    guard var loss = try? MultiLabelCategoricalCrossEntropy(labelCount: k) else {
      require(k <= 0, "MultiLabelCategoricalCrossEntropy(labelCount: \(k)) threw")
      return
    }
    loss.ignoredTarget = r.byte() % 3 == 0 ? r.double() : nil
    loss.reduction = reduction
    loss.parallelism = parallelism
    // |∂l_i/∂s_ij| <= 1 and g (1 - g) <= 1/4, times w_i / W or w_i.
    let factor = weightFactor(reduction, weights, nil)
    exercise(loss, logits: logits, targets: targets, weights: weights, scale: factor)
    exerciseMultiLabelCategorical(
      loss, logits: logits, targets: targets, weights: weights,
      hessianCount: r.count(near: logits.count), extra: extra, scale: factor)
  case .seesaw, .equalizationV2:
    let logits = (0..<r.count(near: n * k)).map { _ in r.double() }
    let weights: [Double]? = hasWeights ? (0..<r.count(near: n)).map { _ in r.double() } : nil
    // Labels in range, now and then anything (invalid, background, ignored).
    let targets = (0..<r.count(near: n)).map { _ in
      let b = r.byte()
      return b % 8 == 0 ? Int(Int8(bitPattern: r.byte())) : Int(b) % max(k, 1)
    }
    let ignoreIndex: Int? = r.byte() % 3 == 0 ? Int(Int8(bitPattern: r.byte())) : nil
    let statistics = (0..<r.count(near: k)).map { _ in r.double() }
    let more = (0..<r.count(near: k)).map { _ in r.double() }
    let factor = weightFactor(reduction, weights, nil)
    if family == .seesaw {
      guard var loss = try? SeesawLoss(
        classCount: k, p: r.byte() % 2 == 0 ? 0.8 : r.double(),
        q: r.byte() % 2 == 0 ? 2 : r.double(), epsilon: r.byte() % 2 == 0 ? 1e-2 : r.double())
      else { return }
      loss.reduction = reduction
      loss.ignoreIndex = ignoreIndex
      let start = r.byte() % 2 == 0 ? loss.makeState() : SeesawLoss.State(classCounts: statistics)
      exerciseFloat32Stateful(
        loss, start: start, logits: logits, targets: targets, weights: weights)
      let whole = exerciseStateful(start, scale: factor) {
        (state: inout SeesawLoss.State, g) throws(LossError) in
        try loss.valueAndGradient(
          logits: logits, targets: targets, weights: weights, gradient: &g, state: &state)
      } secondOrder: { (state: inout SeesawLoss.State) throws(LossError) in
        try loss.valueGradientAndHessianDiagonal(
          logits: logits, targets: targets, weights: weights, state: &state)
      }
      exerciseStatefulShards(
        loss, start: start, logits: logits, targets: targets, weights: weights, whole: whole,
        scale: factor
      ) { closeTo($0.classCounts, $1.classCounts) }
    } else {
      guard var loss = try? EqualizationLossV2(
        classCount: k, gamma: r.byte() % 2 == 0 ? 12 : r.double(),
        mu: r.byte() % 2 == 0 ? 0.8 : r.double(), alpha: r.byte() % 2 == 0 ? 4 : r.double())
      else { return }
      loss.reduction = reduction
      loss.ignoreIndex = ignoreIndex
      let start =
        r.byte() % 2 == 0
        ? loss.makeState()
        : EqualizationLossV2.State(
          positiveGradients: statistics, negativeGradients: more, stepCount: Int(r.byte()))
      // |∂l/∂z_ij| <= max(ω⁺, ω⁻) <= 1 + α per entry.
      let bound = factor * max(1, 1 + loss.alpha)
      exerciseFloat32Stateful(
        loss, start: start, logits: logits, targets: targets, weights: weights)
      let whole = exerciseStateful(start, scale: bound) {
        (state: inout EqualizationLossV2.State, g) throws(LossError) in
        try loss.valueAndGradient(
          logits: logits, targets: targets, weights: weights, gradient: &g, state: &state)
      } secondOrder: { (state: inout EqualizationLossV2.State) throws(LossError) in
        try loss.valueGradientAndHessianDiagonal(
          logits: logits, targets: targets, weights: weights, state: &state)
      }
      exerciseStatefulShards(
        loss, start: start, logits: logits, targets: targets, weights: weights, whole: whole,
        scale: bound
      ) {
        $0.stepCount == $1.stepCount && closeTo($0.positiveGradients, $1.positiveGradients)
          && closeTo($0.negativeGradients, $1.negativeGradients)
      }
    }
  case .combined:
    fuzzCombined(&r, n: n, k: k, hasWeights: hasWeights, reduction: reduction)
  case .gradientBoosting:
    fuzzGradientBoosting(
      &r, n: n, k: k, parallelism: parallelism, hasWeights: hasWeights, reduction: reduction)
  default:
    fuzzSoftmaxFamily(
      family, &r, n: n, k: k, parallelism: parallelism, hasWeights: hasWeights,
      reduction: reduction, extra: extra)
  }
}

/// `CombinedLoss` of two or three decoded members of one target type (binary
/// or softmax) with decoded member weights: a throw leaves the gradient
/// buffer untouched and comes from a member or a bad member weight; a
/// success has no NaN, and its value and gradient are the weighted sums of
/// the members' own calls (to a few ulps of the sum of magnitudes).
func fuzzCombined(_ r: inout ByteReader, n: Int, k: Int, hasWeights: Bool, reduction: Reduction) {
  let memberCount = 2 + r.int(below: 2)
  let lambdas = (0..<memberCount).map { _ in r.byte() % 2 == 0 ? [0.5, 1, 0, 3][r.int(below: 4)] : r.double() }
  let kinds = (0..<memberCount).map { _ in r.int(below: 8) }
  if r.byte() % 2 == 0 {
    let logits = (0..<r.count(near: n)).map { _ in r.double() }
    let weights: [Double]? = hasWeights ? (0..<r.count(near: n)).map { _ in r.double() } : nil
    let targets = (0..<r.count(near: n)).map { _ in r.double() }
    let members: [any Loss<Double>] = kinds.map { kind in
      switch kind % 5 {
      case 0:
        var l = BinaryCrossEntropy(positiveWeight: 3)
        l.reduction = reduction
        return l
      case 1: return SoftDiceLoss()
      case 2: return TverskyLoss(alpha: 0.3, beta: 0.7)
      case 3: return SmoothF1Loss()
      default: return BinaryFocalLoss(gamma: 2)
      }
    }
    exerciseCombined(Array(zip(lambdas, members)), logits: logits, targets: targets, weights: weights)
  } else {
    let logits = (0..<r.count(near: n * k)).map { _ in r.double() }
    let weights: [Double]? = hasWeights ? (0..<r.count(near: n)).map { _ in r.double() } : nil
    let targets = (0..<r.count(near: n)).map { _ in Int(Int8(bitPattern: r.byte())) % (k + 2) }
    let ignore: Int? = r.byte() % 3 == 0 ? -1 : nil
    var members: [any Loss<Int>] = []
    for kind in kinds {
      switch kind % 6 {
      case 0:
        guard var l = try? SoftmaxCrossEntropy(classCount: k) else { return }
        l.ignoreIndex = ignore
        l.reduction = reduction
        members.append(l)
      case 1:
        guard var l = try? SoftmaxDiceLoss(classCount: k) else { return }
        l.ignoreIndex = ignore
        l.includeBackground = k == 1 || kind != 7  // kind 7: without the background
        members.append(l)
      case 2:
        guard var l = try? GeneralizedDiceLoss(classCount: k) else { return }
        l.ignoreIndex = ignore
        members.append(l)
      case 3:
        guard var l = try? MacroSmoothF1Loss(classCount: k) else { return }
        l.ignoreIndex = ignore
        members.append(l)
      case 4:
        guard var l = try? SoftmaxFocalLoss(classCount: k, gamma: 2) else { return }
        l.ignoreIndex = ignore
        members.append(l)
      default:
        guard var l = try? PolyCrossEntropy(classCount: k, epsilon: 1) else { return }
        l.ignoreIndex = ignore
        members.append(l)
      }
    }
    exerciseCombined(Array(zip(lambdas, members)), logits: logits, targets: targets, weights: weights)
  }
}

func exerciseCombined<T: LossTarget>(
  _ terms: [(weight: Double, loss: any Loss<T>)], logits: [Double], targets: [T],
  weights: [Double]?
) {
  let combined = CombinedLoss<T>(terms)
  if verbose {
    fputs("CombinedLoss \(terms) logits: \(logits) targets: \(targets) weights: \(weights as Any)\n", stderr)
  }
  let sentinel = -123.25
  var gradient = [Double](repeating: sentinel, count: logits.count)
  let value: Double
  do {
    value = try combined.valueAndGradient(
      logits: logits, targets: targets, weights: weights, gradient: &gradient)
  } catch {
    require(gradient.allSatisfy { $0 == sentinel }, "combined gradient written before \(error)")
    let badWeight = terms.contains { !($0.weight >= 0 && $0.weight.isFinite) }
    let memberThrows = terms.contains {
      (try? $0.loss.value(logits: logits, targets: targets, weights: weights)) == nil
    }
    require(badWeight || memberThrows, "combined threw \(error), no member or weight did")
    exerciseFloat32(combined, logits: logits, targets: targets, weights: weights)
    return
  }
  exerciseFloat32(combined, logits: logits, targets: targets, weights: weights)
  require(!value.isNaN && gradient.allSatisfy { !$0.isNaN }, "combined \(value) \(gradient)")
  let valueOnly = try? combined.value(logits: logits, targets: targets, weights: weights)
  require(valueOnly.map { $0.bitPattern == value.bitPattern } ?? false, "value-only call differs")
  // The members' own calls, weighted and summed in order; with a weight
  // above 2^64 in units of 2^e (e the largest weight's exponent), where
  // opposite terms that overflow when weighted still have their finite sum,
  // as CombinedLoss gives them. (Scaling smaller weights too made a
  // subnormal weight lose digits here that CombinedLoss keeps:
  // regression-combined-subnormal-weight.)
  let largest = terms.reduce(0) { max($0, $1.weight) }
  let down =
    largest > 0x1p64 ? Double(sign: .plus, exponent: -largest.exponent, significand: 1) : 1
  var sum = 0.0
  var magnitude = 0.0
  var sums = [Double](repeating: 0, count: logits.count)
  var magnitudes = sums
  var valueKnown = true
  var entryKnown = [Bool](repeating: true, count: logits.count)
  for (lambda, loss) in terms {
    guard let (v, g) = try? loss.valueAndGradient(logits: logits, targets: targets, weights: weights)
    else { return require(false, "a member threw where the combination did not") }
    guard lambda != 0 else { continue }
    let scaled = lambda * down
    // A member term that overflowed (inf) has no known weighted value: a
    // tiny weight may bring the true product back into range. Such sums are
    // not compared (NaN is ruled out above).
    if v.isInfinite { valueKnown = false } else { sum += scaled * v; magnitude += abs(scaled * v) }
    for j in g.indices {
      if g[j].isInfinite { entryKnown[j] = false; continue }
      sums[j] += scaled * g[j]
      magnitudes[j] += abs(scaled * g[j])
    }
  }
  /// `a` (unscaled) against the scaled sum `b` of magnitude `m`; equal
  /// infinities where the sum overflows once scaled back.
  func close(_ a: Double, _ b: Double, _ m: Double) -> Bool {
    a == b / down || abs(a * down - b) <= 8 * Double(terms.count) * m.ulp
  }
  require(!valueKnown || close(value, sum, magnitude), "value \(value) vs Σ λ L \(sum / down)")
  for j in gradient.indices where entryKnown[j] {
    require(
      close(gradient[j], sums[j], magnitudes[j]),
      "[\(j)] \(gradient[j]) vs Σ λ g \(sums[j] / down)")
  }
}

/// The entry points `MultiLabelCategoricalCrossEntropy` has beyond `Loss`
/// (second order and per-sample values without the protocols).
func exerciseMultiLabelCategorical(
  _ loss: MultiLabelCategoricalCrossEntropy, logits: [Double], targets: [Double],
  weights: [Double]?, hessianCount: Int, extra: Int, scale: Double
) {
  let sentinel = -123.25
  let first = try? loss.valueAndGradient(logits: logits, targets: targets, weights: weights)
  var gradient = [Double](repeating: sentinel, count: logits.count)
  var hessian = [Double](repeating: sentinel, count: hessianCount)
  var value: Double?
  do {
    value = try withBuffers(logits, targets, weights) { z, t, w throws(LossError) in
      try gradient.withUnsafeMutableBufferPointer { g throws(LossError) in
        try hessian.withUnsafeMutableBufferPointer { h throws(LossError) in
          try loss.valueGradientAndHessianDiagonal(
            logits: z, targets: t, weights: w, gradient: g, hessianDiagonal: h)
        }
      }
    }
  } catch {
    require(
      gradient.allSatisfy { $0 == sentinel } && hessian.allSatisfy { $0 == sentinel },
      "second order: buffers written before \(error)")
    require(first == nil || hessianCount != logits.count, "second order threw alone: \(error)")
  }
  if let value {
    guard let first, hessianCount == logits.count else { fatalError("second order accepted") }
    require(
      value.bitPattern == first.value.bitPattern && gradient == first.gradient,
      "second order: value or gradient differ from first order")
    require(hessian.allSatisfy { honest($0, bound: scale) && $0 >= 0 }, "Hessian \(hessian)")
    let arrays = try? loss.valueGradientAndHessianDiagonal(
      logits: logits, targets: targets, weights: weights)
    require(
      arrays?.value.bitPattern == value.bitPattern && arrays?.gradient == gradient
        && arrays?.hessianDiagonal == hessian, "second order: array entry point differs")
  }
  let rows = logits.count / loss.labelCount
  if let terms = try? loss.perSampleValues(logits: logits, targets: targets) {
    require(terms.count == rows, "terms length")
    require(terms.allSatisfy { ($0.isFinite || $0 == .infinity) && $0 >= 0 }, "terms \(terms)")
  }
  var values = [Double](repeating: -1, count: rows + extra)
  do {
    try withBuffers(logits, targets, nil) { z, t, _ throws(LossError) in
      try values.withUnsafeMutableBufferPointer { v throws(LossError) in
        try loss.perSampleValues(logits: z, targets: t, into: v)
      }
    }
    require(extra == 0, "accepted \(values.count) values for \(rows) rows")
  } catch {
    require(values.allSatisfy { $0 == -1 }, "values written before \(error)")
  }
}

/// The softmax families: K logits per row, Int labels, the shared options.
func fuzzSoftmaxFamily(
  _ family: Family, _ r: inout ByteReader, n: Int, k: Int, parallelism: Parallelism,
  hasWeights: Bool, reduction: Reduction, extra: Int
) {
  let logits = (0..<r.count(near: n * k)).map { _ in r.double() }
  let weights: [Double]? = hasWeights ? (0..<r.count(near: n)).map { _ in r.double() } : nil
  let targets = (0..<r.count(near: n)).map { _ in Int(Int8(bitPattern: r.byte())) % (k + 2) }
  let alpha = classWeights(&r, k: k)
  let smoothing = r.byte() % 2 == 0 ? 0 : r.double()
  let ignore: Int? = r.byte() % 3 == 0 ? Int(Int8(bitPattern: r.byte())) % (k + 2) : nil
  let hessianCount = r.count(near: logits.count)
  let vector = (0..<r.count(near: logits.count)).map { _ in r.double() }
  var factor = weightFactor(reduction, weights, alpha)
  // With class weights and label smoothing together (PyTorch's convention) a
  // row's smoothing terms weigh a_k, not a_{c_i}, while the mean still divides
  // by Σ_i w_i a_{c_i}: the factor is bounded by max w · max a / Σ v instead.
  if smoothing > 0, let alpha, reduction == .mean, family != .softmaxFocal,
    family != .softmaxSmoothAccuracy, family != .macroSmoothF1, family != .macroF1Weighted
  {
    var total = 0.0
    for (i, c) in targets.enumerated() where c != ignore && c >= 0 && c < alpha.count {
      total += (weights.map { i < $0.count ? $0[i] : 1 } ?? 1) * alpha[c]
    }
    let bound =
      max(1, largestMagnitude(weights ?? [])) * max(1, largestMagnitude(alpha)) / total
    factor = bound.isNaN ? .infinity : max(1, bound)
  }
  let v = largestMagnitude(vector)
  switch family {
  case .marginSoftmax:
    let scale = r.byte() % 2 == 0 ? 1 : r.double()
    let loss: MarginSoftmaxCrossEntropy?
    switch r.byte() % 3 {
    case 0:
      let counts = (0..<r.count(near: k)).map { _ in classCount(&r) }
      let largest = r.double()
      if let margins = try? MarginSoftmaxCrossEntropy.ldamMargins(
        classCounts: counts, largestMargin: largest)
      {
        require(
          margins.count == counts.count && margins.allSatisfy { $0 >= 0 && $0 <= largest },
          "LDAM margins \(margins) for largest \(largest)")
      }
      loss = try? .ldam(classCounts: counts, largestMargin: largest, scale: scale)
    case 1:
      loss = try? .additiveMargin(r.double(), classCount: k, scale: scale)
    default:
      let margins = (0..<r.count(near: k)).map { _ in r.double() }
      let priors = r.byte() % 2 == 0 ? nil : try? ClassPriors((0..<k).map { _ in r.double() })
      loss = try? MarginSoftmaxCrossEntropy(
        margins: margins, scale: scale, priors: priors, tau: r.double())
    }
    guard var loss else { return }
    loss.classWeights = alpha
    loss.labelSmoothing = smoothing
    loss.ignoreIndex = ignore
    loss.reduction = reduction
    loss.parallelism = parallelism
    // |∂L/∂z| <= f s |p - t| <= f s; the Hessian f s² p(1-p); |H v| <= 2 f s² max|v|.
    let s = loss.scale
    exercise(loss, logits: logits, targets: targets, weights: weights, scale: factor * s)
    exerciseTerms(loss, logits: logits, targets: targets, extra: extra)
    exerciseSecondOrder(
      loss, logits: logits, targets: targets, weights: weights, hessianCount: hessianCount,
      scale: factor * s, hessianBound: factor * s * s)
    exerciseProduct(
      loss, logits: logits, targets: targets, weights: weights, vector: vector,
      productCount: hessianCount, bound: 2 * factor * s * s * v)
  case .softmaxFocal:
    let gammas: [Double] = [0, 0.5, 2, 0x1p-30, 1 - 0x1p-53, 1000]
    let b = r.byte()
    let gamma = b % 2 == 0 ? gammas[Int(b / 2) % gammas.count] : r.double()
    guard var loss = try? SoftmaxFocalLoss(classCount: k, gamma: gamma) else {
      require(k <= 0 || !(gamma >= 0 && gamma <= 1000), "SoftmaxFocalLoss(\(k), \(gamma))")
      return
    }
    loss.classWeights = alpha
    loss.ignoreIndex = ignore
    loss.hessianFloor = r.byte() % 2 == 0 ? nil : r.double()
    loss.reduction = reduction
    loss.parallelism = parallelism
    // |∂l/∂z| <= q^γ (q + γ p CE) <= 1 + γ; the Hessian and H v are bounded by
    // 4 (γ + 2)² (times max |v|), see SoftmaxSecondOrderLoss's formulas.
    let g = gamma + 2
    exercise(loss, logits: logits, targets: targets, weights: weights, scale: factor * g)
    exerciseTerms(loss, logits: logits, targets: targets, extra: extra)
    exerciseSecondOrder(
      loss, logits: logits, targets: targets, weights: weights, hessianCount: hessianCount,
      scale: factor * g,
      hessianBound: factor * max(4 * g * g, (loss.hessianFloor ?? 0).magnitude),
      mayThrowAlone: !(loss.hessianFloor ?? 0).isFinite)
    exerciseProduct(
      loss, logits: logits, targets: targets, weights: weights, vector: vector,
      productCount: hessianCount, bound: 4 * factor * g * g * v)
  case .softmaxSmoothAccuracy:
    guard var loss = try? SoftmaxSmoothAccuracyLoss(classCount: k) else { return }
    loss.classWeights = alpha
    loss.ignoreIndex = ignore
    loss.reduction = reduction
    loss.parallelism = parallelism
    exercise(
      loss, logits: logits, targets: targets, weights: weights, scale: factor,
      valueBound: reduction == .mean ? 1 : .infinity)
    exerciseTerms(loss, logits: logits, targets: targets, extra: extra)
  case .macroSmoothF1:
    guard var loss = try? MacroSmoothF1Loss(classCount: k) else { return }
    loss.ignoreIndex = ignore
    // A ratio of sums: |∂L/∂z| <= 4 whatever the weights' scale.
    exercise(loss, logits: logits, targets: targets, weights: weights, scale: 4, valueBound: 1)
    if let f = try? loss.classF1Scores(logits: logits, targets: targets, weights: weights) {
      require(f.count == k && f.allSatisfy { $0 >= 0 && $0 <= 1 }, "F_k = \(f)")
    }
    // The generalised Dice loss on the same batch: |∂L/∂z| <= 6 (f ω_k p_ik <= D).
    guard var dice = try? GeneralizedDiceLoss(classCount: k) else { return }
    dice.ignoreIndex = ignore
    let kinds: [GeneralizedDiceLoss.Weighting] = [.square, .simple, .uniform]
    dice.weighting = kinds[Int(r.byte()) % 3]
    dice.smoothing = r.byte() % 2 == 0 ? 1e-5 : r.double()
    exercise(dice, logits: logits, targets: targets, weights: weights, scale: 8, valueBound: 1)
  case .softmaxDice:
    guard var loss = try? SoftmaxDiceLoss(classCount: k) else { return }
    loss.ignoreIndex = ignore
    loss.includeBackground = r.byte() % 4 != 0
    let smoothings: [Double] = [1e-5, 0, 1, 0.25]
    for numerator in [true, false] {
      let b = r.byte()
      let x = b % 2 == 0 ? smoothings[Int(b / 2) % smoothings.count] : r.double()
      if numerator { loss.numeratorSmoothing = x } else { loss.denominatorSmoothing = x }
    }
    // F_k <= C = max(1, ε_nr / ε_dr): L in [1 - C, 1]; |u_ik| p_ik <= (C + 2) / K'
    // (f_i p_ik <= S_k), so |∂L/∂z| <= 4 (C + 2).
    let ratio = loss.denominatorSmoothing > 0
      ? loss.numeratorSmoothing / loss.denominatorSmoothing : 0
    let c = max(1, ratio.isNaN ? 1 : ratio)
    exercise(
      loss, logits: logits, targets: targets, weights: weights, scale: 4 * (c + 2),
      valueBound: 1, valueFloor: 1 - c * (1 + 0x1p-40))
  case .polyCrossEntropy:
    let epsilons: [Double] = [-1, -0.5, 0, 1, 2, 1000, -1 + 0x1p-53]
    let b = r.byte()
    let epsilon = b % 2 == 0 ? epsilons[Int(b / 2) % epsilons.count] : r.double()
    guard var loss = try? PolyCrossEntropy(classCount: k, epsilon: epsilon) else {
      require(k <= 0 || !(epsilon >= -1 && epsilon <= 1000), "PolyCrossEntropy(\(k), \(epsilon))")
      return
    }
    loss.classWeights = alpha
    loss.labelSmoothing = smoothing
    loss.ignoreIndex = ignore
    loss.hessianFloor = r.byte() % 2 == 0 ? nil : r.double()
    loss.reduction = reduction
    loss.parallelism = parallelism
    // |∂l/∂z_k| <= 1 + |ε|; the diagonal <= 1/4 + |ε|, |H v| <= 2 (1 + 2|ε|) max|v|.
    let g = 2 + epsilon.magnitude
    exercise(loss, logits: logits, targets: targets, weights: weights, scale: factor * g)
    exerciseTerms(loss, logits: logits, targets: targets, extra: extra)
    exerciseSecondOrder(
      loss, logits: logits, targets: targets, weights: weights, hessianCount: hessianCount,
      scale: factor * g,
      hessianBound: factor * max(g, (loss.hessianFloor ?? 0).magnitude),
      mayThrowAlone: !(loss.hessianFloor ?? 0).isFinite)
    exerciseProduct(
      loss, logits: logits, targets: targets, weights: weights, vector: vector,
      productCount: hessianCount, bound: 4 * factor * g * g * v)
  case .macroF1Weighted:
    let f1: [Double]? = r.byte() % 2 == 0 ? nil : (0..<r.count(near: k)).map { _ in r.double() }
    guard var loss = try? MacroF1WeightedCrossEntropy(classCount: k, classF1: f1) else { return }
    loss.classWeights = alpha
    loss.ignoreIndex = ignore
    loss.reduction = reduction
    loss.parallelism = parallelism
    // |∂l/∂z_j| <= A + B_j + Σ_k B_k p_j r_k <= 2 + K/2 (p_j r_k <= 1 for j != k).
    exercise(
      loss, logits: logits, targets: targets, weights: weights, scale: factor * Double(2 + k))
    exerciseTerms(loss, logits: logits, targets: targets, extra: extra)
  default:
    // SoftmaxCrossEntropy or LogitAdjustedCrossEntropy with every option.
    let priors = (0..<r.count(near: k)).map { _ in r.double() }
    let tau = r.double()
    let loss: any SoftmaxSecondOrderLoss
    if r.byte() % 2 == 0 {
      guard var l = try? SoftmaxCrossEntropy(classCount: k) else { return }
      l.classWeights = alpha
      l.labelSmoothing = smoothing
      l.ignoreIndex = ignore
      l.reduction = reduction
      l.parallelism = parallelism
      loss = l
    } else {
      guard var l = try? LogitAdjustedCrossEntropy(priors: priors, tau: tau) else { return }
      l.classWeights = alpha
      l.labelSmoothing = smoothing
      l.ignoreIndex = ignore
      l.reduction = reduction
      l.parallelism = parallelism
      loss = l
    }
    exerciseSoftmax(
      loss, logits: logits, targets: targets, weights: weights, extra: extra,
      hessianCount: hessianCount, vector: vector, factor: factor)
  }
}

/// On hard 0/1 targets (ignored ones aside) the semimetric overlap gives the
/// product form's bits, value and gradient, or the same error.
func requireSemimetricIsProductOnHardLabels<L: Loss>(
  _ semimetric: L, _ logits: [Double], _ targets: [Double], _ weights: [Double]?
) where L.Target == Double {
  guard let overlap = semimetric as? any OverlapSwitchable else { return }
  let ignored = overlap.ignoredMarker
  let hard = targets.allSatisfy { t in
    (t == 0 || t == 1) || ignored.map { $0 == t || ($0.isNaN && t.isNaN) } == true
  }
  guard hard else { return }
  let product = overlap.withProductOverlap()
  let a = try? semimetric.valueAndGradient(logits: logits, targets: targets, weights: weights)
  let b = try? product.valueAndGradientOfDoubles(logits, targets, weights)
  require((a == nil) == (b == nil), "semimetric and product disagree on failure")
  if let a, let b {
    require(
      a.value.bitPattern == b.value.bitPattern
        && a.gradient.elementsEqual(b.gradient) { $0.bitPattern == $1.bitPattern },
      "semimetric \(a) vs product \(b) on hard labels")
  }
}

/// The soft overlap losses, for switching a semimetric one back to the product form.
protocol OverlapSwitchable {
  var ignoredMarker: Double? { get }
  func withProductOverlap() -> any OverlapSwitchable
  func valueAndGradientOfDoubles(_ z: [Double], _ t: [Double], _ w: [Double]?) throws -> (
    value: Double, gradient: [Double]
  )
}

extension OverlapSwitchable where Self: Loss, Self.Target == Double {
  func valueAndGradientOfDoubles(_ z: [Double], _ t: [Double], _ w: [Double]?) throws -> (
    value: Double, gradient: [Double]
  ) {
    try valueAndGradient(logits: z, targets: t, weights: w)
  }
}

extension SmoothF1Loss: OverlapSwitchable {
  var ignoredMarker: Double? { ignoredTarget }
  func withProductOverlap() -> any OverlapSwitchable {
    var l = self
    l.overlap = .product
    return l
  }
}

extension SoftDiceLoss: OverlapSwitchable {
  var ignoredMarker: Double? { ignoredTarget }
  func withProductOverlap() -> any OverlapSwitchable {
    var l = self
    l.overlap = .product
    return l
  }
}

extension TverskyLoss: OverlapSwitchable {
  var ignoredMarker: Double? { ignoredTarget }
  func withProductOverlap() -> any OverlapSwitchable {
    var l = self
    l.overlap = .product
    return l
  }
}

/// Cross-entropy (plain or logit-adjusted) through every entry point:
/// |∂L/∂z| <= f, the Hessian diagonal f p(1-p), |H v| <= 2 f max|v|.
func exerciseSoftmax<L: SoftmaxSecondOrderLoss>(
  _ loss: L, logits: [Double], targets: [Int], weights: [Double]?, extra: Int,
  hessianCount: Int, vector: [Double], factor: Double
) {
  exercise(loss, logits: logits, targets: targets, weights: weights, scale: factor)
  exerciseTerms(loss, logits: logits, targets: targets, extra: extra)
  exerciseSecondOrder(
    loss, logits: logits, targets: targets, weights: weights, hessianCount: hessianCount,
    scale: factor, hessianBound: factor)
  exerciseProduct(
    loss, logits: logits, targets: targets, weights: weights, vector: vector,
    productCount: hessianCount, bound: 2 * factor * largestMagnitude(vector))
}

/// Whether `x` holds (in a stored property, an array or an optional) a
/// nonzero number below 2^-1000 in magnitude.
func hasSubnormal(_ x: Any) -> Bool {
  func tiny(_ d: Double) -> Bool { d != 0 && d.magnitude < 0x1p-1000 }
  switch x {
  case let d as Double: return tiny(d)
  case let a as [Double]: return a.contains(where: tiny)
  case is Int, is [Int], is String, is Bool: return false
  default: return Mirror(reflecting: x).children.contains { hasSubnormal($0.value) }
  }
}

/// The gradient-boosting family (`Family.gradientBoosting`): one decoded
/// second-order loss (binary, multi-label, multi-label categorical or
/// softmax), its batch with the scores in a decoded `ScoreLayout`, a decoded
/// `hessianFloor` (sometimes invalid) and gradient and Hessian buffers of
/// decoded lengths (sometimes wrong), through `gradientBoostingObjective`.
func fuzzGradientBoosting(
  _ r: inout ByteReader, n: Int, k: Int, parallelism: Parallelism, hasWeights: Bool,
  reduction: Reduction
) {
  let kind = r.int(below: 12)
  let layout: ScoreLayout = r.byte() % 2 == 0 ? .rowMajor : .classMajor
  let floors: [Double] = [0, 1e-6, 1e-16, 1]
  let b = r.byte()
  let floor = b % 2 == 0 ? floors[Int(b / 2) % floors.count] : r.double()
  // The buffers' lengths, as offsets from the scores' count (decoded here,
  // applied once the scores are known).
  let gradientCode = r.byte()
  let hessianCode = r.byte()
  func counts(_ m: Int) -> (Int, Int) {
    func near(_ code: UInt8) -> Int {
      switch code % 16 {
      case 0: return max(0, m - 1)
      case 1: return m + 1
      case 2: return 0
      default: return m
      }
    }
    return (near(gradientCode), near(hessianCode))
  }
  func run<L: SecondOrderLoss>(_ loss: L, _ scores: [Double], _ targets: [L.Target], _ weights: [Double]?)
  where L.Target: LossTarget {
    let (g, h) = counts(scores.count)
    exerciseGradientBoosting(
      loss, scores: scores, targets: targets, weights: weights, layout: layout,
      hessianFloor: floor, gradientCount: g, hessianCount: h)
    // The Float buffers: the Double objective on the widened inputs, rounded once.
    let b = Float32Batch(scores, targets, weights)
    checkFloat32("gradientBoostingObjective", outputs: [g, h]) { out throws(LossError) in
      try b.float { s, t, w throws(LossError) in
        try loss.gradientBoostingObjective(
          scores: s, targets: t, weights: w, layout: layout, hessianFloor: floor,
          gradient: out[0], hessian: out[1])
      }
    } double: { out throws(LossError) in
      try b.wide { s, t, w throws(LossError) in
        try loss.gradientBoostingObjective(
          scores: s, targets: t, weights: w, layout: layout, hessianFloor: floor,
          gradient: out[0], hessian: out[1])
      }
    }
  }
  switch kind {
  case 0...4:
    // Binary losses: K = 1, both layouts the same.
    let scores = (0..<r.count(near: n)).map { _ in r.double() }
    let weights: [Double]? = hasWeights ? (0..<r.count(near: n)).map { _ in r.double() } : nil
    let targets = (0..<r.count(near: n)).map { _ in r.double() }
    let ignored: Double? = r.byte() % 3 == 0 ? r.double() : nil
    switch kind {
    case 0:
      var loss = BinaryCrossEntropy(positiveWeight: r.double(), negativeWeight: r.double())
      loss.ignoredTarget = ignored
      loss.reduction = reduction
      loss.parallelism = parallelism
      run(loss, scores, targets, weights)
    case 1:
      let gammas: [Double] = [0, 0.5, 2, 0x1p-30, 1 - 0x1p-53, 1000]
      var loss = BinaryFocalLoss(
        gamma: gammas[r.int(below: gammas.count)], alpha: r.byte() % 3 == 0 ? nil : r.double())
      loss.hessianFloor = r.byte() % 2 == 0 ? nil : r.double()
      loss.ignoredTarget = ignored
      loss.reduction = reduction
      loss.parallelism = parallelism
      run(loss, scores, targets, weights)
    case 2:
      let epsilons: [Double] = [-1, -0.5, 0, 1, 2, 1000]
      var loss = BinaryPolyLoss(
        epsilon: epsilons[r.int(below: epsilons.count)], positiveWeight: r.double(),
        negativeWeight: r.double())
      loss.hessianFloor = r.byte() % 2 == 0 ? nil : r.double()
      loss.ignoredTarget = ignored
      loss.reduction = reduction
      loss.parallelism = parallelism
      run(loss, scores, targets, weights)
    case 3:
      var loss = SmoothAccuracyLoss()
      loss.ignoredTarget = ignored
      loss.reduction = reduction
      loss.parallelism = parallelism
      run(loss, scores, targets, weights)
    default:
      var loss = F1WeightedCrossEntropy(f1: r.byte() % 2 == 0 ? nil : r.double())
      loss.ignoredTarget = ignored
      loss.reduction = reduction
      loss.parallelism = parallelism
      run(loss, scores, targets, weights)
    }
  case 5, 6:
    // One logit per label (K = 1): N×L entries, row-major whatever the layout.
    let scores = (0..<r.count(near: n * k)).map { _ in r.double() }
    let weights: [Double]? =
      hasWeights ? (0..<r.count(near: n * k)).map { _ in r.double() } : nil
    let targets = (0..<r.count(near: n * k)).map { _ in r.double() }
    let ignored: Double? = r.byte() % 3 == 0 ? r.double() : nil
    if kind == 5 {
      let positive = (0..<r.count(near: k)).map { _ in r.double() }
      guard var loss = try? MultiLabelBinaryCrossEntropy(positiveWeights: positive) else { return }
      loss.ignoredTarget = ignored
      loss.reduction = reduction
      loss.parallelism = parallelism
      run(loss, scores, targets, weights)
    } else {
      let gammas: [Double] = [0, 4, 1, 0.5, 2.5]
      let margins: [Double] = [0.05, 0, 0.2, 1e-300]
      var loss = AsymmetricLoss(
        positiveFocusing: gammas[r.int(below: gammas.count)],
        negativeFocusing: gammas[r.int(below: gammas.count)],
        probabilityMargin: margins[r.int(below: margins.count)])
      loss.ignoredTarget = ignored
      loss.reduction = reduction
      loss.parallelism = parallelism
      run(loss, scores, targets, weights)
    }
  case 7:
    // K = L logits per row; the targets stay row-major whatever the layout.
    let scores = (0..<r.count(near: n * k)).map { _ in r.double() }
    let weights: [Double]? = hasWeights ? (0..<r.count(near: n)).map { _ in r.double() } : nil
    let targets = (0..<r.count(near: n * k)).map { _ in
      let b = r.byte()
      return b % 8 == 0 ? r.double() : Double(b % 2)
    }
    guard var loss = try? MultiLabelCategoricalCrossEntropy(labelCount: k) else { return }
    loss.ignoredTarget = r.byte() % 3 == 0 ? r.double() : nil
    loss.reduction = reduction
    loss.parallelism = parallelism
    run(loss, scores, targets, weights)
  default:
    // Softmax losses: K = classCount (or the priors' count), Int labels.
    let scores = (0..<r.count(near: n * k)).map { _ in r.double() }
    let weights: [Double]? = hasWeights ? (0..<r.count(near: n)).map { _ in r.double() } : nil
    let targets = (0..<r.count(near: n)).map { _ in Int(Int8(bitPattern: r.byte())) % (k + 2) }
    let alpha = classWeights(&r, k: k)
    let smoothing = r.byte() % 2 == 0 ? 0 : r.double()
    let ignore: Int? = r.byte() % 3 == 0 ? Int(Int8(bitPattern: r.byte())) % (k + 2) : nil
    switch kind {
    case 8:
      guard var loss = try? SoftmaxCrossEntropy(classCount: k) else { return }
      loss.classWeights = alpha
      loss.labelSmoothing = smoothing
      loss.ignoreIndex = ignore
      loss.reduction = reduction
      loss.parallelism = parallelism
      run(loss, scores, targets, weights)
    case 9:
      let priors = (0..<r.count(near: k)).map { _ in r.double() }
      guard var loss = try? LogitAdjustedCrossEntropy(priors: priors, tau: r.double()) else {
        return
      }
      loss.classWeights = alpha
      loss.labelSmoothing = smoothing
      loss.ignoreIndex = ignore
      loss.reduction = reduction
      loss.parallelism = parallelism
      run(loss, scores, targets, weights)
    case 10:
      let gammas: [Double] = [0, 0.5, 2, 0x1p-30, 1 - 0x1p-53, 1000]
      guard var loss = try? SoftmaxFocalLoss(classCount: k, gamma: gammas[r.int(below: 6)])
      else { return }
      loss.classWeights = alpha
      loss.ignoreIndex = ignore
      loss.hessianFloor = r.byte() % 2 == 0 ? nil : r.double()
      loss.reduction = reduction
      loss.parallelism = parallelism
      run(loss, scores, targets, weights)
    default:
      if r.byte() % 2 == 0 {
        let epsilons: [Double] = [-1, -0.5, 0, 1, 2, 1000]
        guard var loss = try? PolyCrossEntropy(classCount: k, epsilon: epsilons[r.int(below: 6)])
        else { return }
        loss.classWeights = alpha
        loss.labelSmoothing = smoothing
        loss.ignoreIndex = ignore
        loss.hessianFloor = r.byte() % 2 == 0 ? nil : r.double()
        loss.reduction = reduction
        loss.parallelism = parallelism
        run(loss, scores, targets, weights)
      } else {
        let scale = r.byte() % 2 == 0 ? 1 : r.double()
        guard var loss = try? MarginSoftmaxCrossEntropy.additiveMargin(
          r.double(), classCount: k, scale: scale)
        else { return }
        loss.classWeights = alpha
        loss.labelSmoothing = smoothing
        loss.ignoreIndex = ignore
        loss.reduction = reduction
        loss.parallelism = parallelism
        run(loss, scores, targets, weights)
      }
    }
  }
}

/// `gradientBoostingObjective` against the row-major second-order call
/// (`valueGradientAndHessianDiagonal` on the scores rearranged row-major):
///
/// - it throws exactly when that call throws (the same error, a non-finite
///   score named by its index in `layout`), or for its own documented
///   reasons, checked first in this order: a `hessianFloor` not finite and
///   `>= 0`, a `gradient` or `hessian` buffer not of the scores' length,
///   and (`.classMajor`, K > 1) a score count not a multiple of K; a throw
///   leaves both buffers untouched (sentinel);
/// - on success the value and gradient are that call's bits, permuted to
///   `layout`, and each Hessian entry is `max(h_j, hessianFloor)` (equal as
///   numbers: a floor of -0.0 is accepted and `Swift.max` may then write
///   -0.0 for a Hessian +0.0), never below the floor; nothing is NaN;
/// - the array entry point (when the lengths are right) gives the same bits
///   or the same error.
///
/// The `Float` buffers are checked by the caller (`checkFloat32`).
func exerciseGradientBoosting<L: SecondOrderLoss>(
  _ loss: L, scores: [Double], targets: [L.Target], weights: [Double]?, layout: ScoreLayout,
  hessianFloor: Double, gradientCount: Int, hessianCount: Int
) {
  if verbose {
    fputs(
      "GBDT \(loss) scores: \(scores) targets: \(targets) weights: \(weights as Any) "
        + "layout: \(layout) floor: \(hessianFloor) buffers: \(gradientCount), \(hessianCount)\n",
      stderr)
  }
  let k = loss.logitsPerSample
  let m = scores.count
  let transposed = layout == .classMajor && k > 1
  // The expected outcome: a documented error of the objective's own, else the loss's.
  // (A bad floor is matched by name and value only, not the requirement's text.)
  let badFloor = !(hessianFloor >= 0 && hessianFloor.isFinite)
  var expected: LossError?
  if badFloor {
    expected = .invalidParameter(name: "hessianFloor", value: hessianFloor, requirement: "")
  } else if gradientCount != m {
    expected = .lengthMismatch(argument: "gradient", expected: m, actual: gradientCount)
  } else if hessianCount != m {
    expected = .lengthMismatch(argument: "hessian", expected: m, actual: hessianCount)
  } else if transposed && m % k != 0 {
    expected = .logitCountNotMultipleOfClassCount(logitCount: m, classCount: k)
  }
  // Row-major logits: logits[i K + c] = scores[c N + i].
  let n = k > 0 ? m / k : 0
  let logits =
    transposed && m % k == 0
    ? (0..<m).map { j in scores[(j % k) * n + j / k] } : scores
  var plain: (value: Double, gradient: [Double], hessianDiagonal: [Double])?
  do {
    plain = try loss.valueGradientAndHessianDiagonal(
      logits: logits, targets: targets, weights: weights)
  } catch {
    if transposed && m % k != 0 {
      // Not a whole number of rows: the loss must refuse the scores too.
    } else if case .nonFiniteLogit(let j, let bad) = error, transposed {
      expected = expected ?? .nonFiniteLogit(index: (j % k) * n + j / k, value: bad)
    } else {
      expected = expected ?? error
    }
  }
  if transposed && m % k != 0 {
    require(plain == nil, "the loss accepted \(m) logits for K = \(k)")
  }
  let sentinel = -123.25
  var gradient = [Double](repeating: sentinel, count: gradientCount)
  var hessian = [Double](repeating: sentinel, count: hessianCount)
  var value: Double?
  do {
    value = try withBuffers(scores, targets, weights) { s, t, w throws(LossError) in
      try gradient.withUnsafeMutableBufferPointer { g throws(LossError) in
        try hessian.withUnsafeMutableBufferPointer { h throws(LossError) in
          try loss.gradientBoostingObjective(
            scores: s, targets: t, weights: w, layout: layout, hessianFloor: hessianFloor,
            gradient: g, hessian: h)
        }
      }
    }
  } catch {
    require(
      gradient.allSatisfy { $0 == sentinel } && hessian.allSatisfy { $0 == sentinel },
      "GBDT: buffers written before \(error)")
    guard let expected else { fatalError("GBDT threw \(error) where the second-order call did not") }
    if badFloor {
      guard case .invalidParameter(let name, let v, _) = error, name == "hessianFloor",
        v.bitPattern == hessianFloor.bitPattern || (v.isNaN && hessianFloor.isNaN)
      else { fatalError("GBDT threw \(error), expected the hessianFloor \(hessianFloor) error") }
    } else {
      require(error == expected, "GBDT threw \(error), expected \(expected)")
    }
    if case .nonFiniteLogit(let j, let bad) = error {
      require(
        j >= 0 && j < m && !scores[j].isFinite
          && (scores[j].bitPattern == bad.bitPattern || (scores[j].isNaN && bad.isNaN)),
        "GBDT named score \(j) (\(bad)) as non-finite")
    }
  }
  if let value {
    if let expected { fatalError("GBDT succeeded where it should throw \(expected)") }
    guard let plain else { fatalError("GBDT succeeded where the second-order call threw") }
    require(value.bitPattern == plain.value.bitPattern, "GBDT value \(value) vs \(plain.value)")
    require(!value.isNaN, "GBDT value NaN")
    // Position j in `layout` holds row-major entry p(j).
    func p(_ j: Int) -> Int { transposed ? (j % n) * k + j / n : j }
    for j in 0..<m {
      let g = plain.gradient[p(j)]
      let h = Swift.max(plain.hessianDiagonal[p(j)], hessianFloor)
      require(
        gradient[j].bitPattern == g.bitPattern,
        "GBDT gradient[\(j)] = \(gradient[j]), second order \(g) (\(layout), K \(k))")
      require(
        hessian[j] == h && (h == 0 || hessian[j].bitPattern == h.bitPattern),
        "GBDT hessian[\(j)] = \(hessian[j]), expected \(h) (floor \(hessianFloor), \(layout), K \(k))")
      require(
        !gradient[j].isNaN && !hessian[j].isNaN && hessian[j] >= hessianFloor,
        "GBDT: NaN or Hessian below the floor at \(j): \(gradient[j]), \(hessian[j])")
    }
  }
  if gradientCount == m && hessianCount == m {
    let arrays = try? loss.gradientBoostingObjective(
      scores: scores, targets: targets, weights: weights, layout: layout,
      hessianFloor: hessianFloor)
    require((arrays != nil) == (value != nil), "GBDT: array entry point disagrees on throwing")
    if let value, let arrays {
      require(
        arrays.value.bitPattern == value.bitPattern
          && arrays.gradient.elementsEqual(gradient) { $0.bitPattern == $1.bitPattern }
          && arrays.hessian.elementsEqual(hessian) { $0.bitPattern == $1.bitPattern },
        "GBDT: array entry point differs")
    }
  }
}

// MARK: - Float32 entry points

/// A decoded batch rounded to Float32 (`Float(x)`: a huge finite double may
/// become ±inf, a tiny one 0), and those Float inputs widened back to
/// Double: the inputs of the Double oracle.
struct Float32Batch<T: LossTarget> {
  let logits: [Float], targets: [T.Float32Target], weights: [Float]?
  let wideLogits: [Double], wideTargets: [T], wideWeights: [Double]?

  init(_ logits: [Double], _ targets: [T], _ weights: [Double]?) {
    self.logits = logits.map { Float($0) }
    self.targets = targets.map(\.float32)
    self.weights = weights?.map { Float($0) }
    wideLogits = self.logits.map { Double($0) }
    wideTargets = self.targets.map(T.init(float32:))
    wideWeights = self.weights?.map { Double($0) }
  }

  /// `body` on the Float buffers.
  func float<R>(
    _ body: (UnsafeBufferPointer<Float>, UnsafeBufferPointer<T.Float32Target>, UnsafeBufferPointer<Float>?)
      throws(LossError) -> R
  ) throws(LossError) -> R {
    try withBuffers(logits, targets, weights, body)
  }

  /// `body` on the widened Double buffers.
  func wide<R>(
    _ body: (UnsafeBufferPointer<Double>, UnsafeBufferPointer<T>, UnsafeBufferPointer<Double>?)
      throws(LossError) -> R
  ) throws(LossError) -> R {
    try withBuffers(wideLogits, wideTargets, wideWeights, body)
  }
}

/// One Float32 entry point against its oracle, the Double entry point on
/// the widened inputs: output buffers of `counts` (the Float ones filled
/// with a sentinel, the Double ones with zeros, as the bridge fills its
/// copies). Either both throw the same `LossError` and the Float buffers
/// keep the sentinel, or both succeed, nothing Float is NaN, and the value
/// and every output entry are the Double ones rounded once (`Float(x)`, bit
/// for bit). Returns whether they succeeded.
@discardableResult
func checkFloat32(
  _ what: String, outputs counts: [Int],
  float: ([UnsafeMutableBufferPointer<Float>]) throws(LossError) -> Float,
  double: ([UnsafeMutableBufferPointer<Double>]) throws(LossError) -> Double
) -> Bool {
  let sentinel: Float = -123.25
  let f = counts.map { UnsafeMutableBufferPointer<Float>.allocate(capacity: $0) }
  let d = counts.map { UnsafeMutableBufferPointer<Double>.allocate(capacity: $0) }
  defer {
    for b in f { b.deallocate() }
    for b in d { b.deallocate() }
  }
  for b in f { b.initialize(repeating: sentinel) }
  for b in d { b.initialize(repeating: 0) }
  var fValue: Float?
  var fError: LossError?
  do { fValue = try float(f) } catch { fError = error }
  var dValue: Double?
  var dError: LossError?
  do { dValue = try double(d) } catch { dError = error }
  switch (fValue, dValue) {
  case (nil, nil):
    require(fError == dError, "Float32 \(what) threw \(fError!), Double on the widened inputs \(dError!)")
    require(
      f.allSatisfy { $0.allSatisfy { $0.bitPattern == sentinel.bitPattern } },
      "Float32 \(what): buffers written before \(fError!)")
    return false
  case (let fv?, let dv?):
    require(
      !fv.isNaN && fv.bitPattern == Float(dv).bitPattern,
      "Float32 \(what) value \(fv), Double on the widened inputs \(dv) (Float: \(Float(dv)))")
    for (b, (fb, db)) in zip(f, d).enumerated() {
      for j in fb.indices {
        require(
          !fb[j].isNaN && fb[j].bitPattern == Float(db[j]).bitPattern,
          "Float32 \(what) output \(b)[\(j)] = \(fb[j]), Double \(db[j]) (Float: \(Float(db[j])))")
      }
    }
    return true
  case (nil, _?):
    fatalError("invariant violated: Float32 \(what) threw \(fError!), the Double call did not")
  case (_?, nil):
    fatalError("invariant violated: Float32 \(what) succeeded, the Double call threw \(dError!)")
  }
}

/// The Float32 value-and-gradient buffer entry point against the Double one
/// on the widened inputs; when it succeeds and the loss is data-parallel,
/// the Float32 statistics and share of the whole batch as one shard too
/// (only then, to keep the cost down: most fuzzed batches throw, and a
/// throwing batch's statistics take the same validation).
func exerciseFloat32<L: Loss>(
  _ loss: L, logits: [Double], targets: [L.Target], weights: [Double]?
) where L.Target: LossTarget {
  let b = Float32Batch(logits, targets, weights)
  let succeeded = checkFloat32("valueAndGradient", outputs: [logits.count]) { out throws(LossError) in
    try b.float { z, t, w throws(LossError) in
      try loss.valueAndGradient(logits: z, targets: t, weights: w, gradient: out[0])
    }
  } double: { out throws(LossError) in
    try b.wide { z, t, w throws(LossError) in
      try loss.valueAndGradient(logits: z, targets: t, weights: w, gradient: out[0])
    }
  }
  if succeeded, let parallel = loss as? any DataParallelLoss<L.Target> {
    exerciseFloat32Statistics(parallel, b)
  }
}

/// The Float32 `statistics` (Double statistics: the same bits, or the same
/// error) and the Float32 share with those statistics.
func exerciseFloat32Statistics<P: DataParallelLoss>(_ loss: P, _ b: Float32Batch<P.Target>)
where P.Target: LossTarget {
  var fs: BatchStatistics?
  var fError: LossError?
  do { fs = try b.float { z, t, w throws(LossError) in try loss.statistics(logits: z, targets: t, weights: w) } }
  catch { fError = error }
  var ds: BatchStatistics?
  var dError: LossError?
  do { ds = try b.wide { z, t, w throws(LossError) in try loss.statistics(logits: z, targets: t, weights: w) } }
  catch { dError = error }
  require((fs == nil) == (ds == nil), "Float32 statistics: \(fError as Any) vs \(dError as Any)")
  guard let fs, let ds else {
    return require(fError == dError, "Float32 statistics threw \(fError!), Double \(dError!)")
  }
  require(
    fs.scalars.map(\.bitPattern) == ds.scalars.map(\.bitPattern),
    "Float32 statistics \(fs) vs Double \(ds)")
  checkFloat32("share", outputs: [b.logits.count]) { out throws(LossError) in
    try b.float { z, t, w throws(LossError) in
      try loss.valueAndGradient(logits: z, targets: t, weights: w, gradient: out[0], statistics: fs)
    }
  } double: { out throws(LossError) in
    try b.wide { z, t, w throws(LossError) in
      try loss.valueAndGradient(logits: z, targets: t, weights: w, gradient: out[0], statistics: ds)
    }
  }
}

/// The Float32 `valueGradientAndHessianDiagonal` (a Hessian buffer of
/// `hessianCount`, sometimes wrong) against the Double one.
func exerciseFloat32SecondOrder<L: SecondOrderLoss>(
  _ loss: L, logits: [Double], targets: [L.Target], weights: [Double]?, hessianCount: Int
) where L.Target: LossTarget {
  let b = Float32Batch(logits, targets, weights)
  checkFloat32("second order", outputs: [logits.count, hessianCount]) { out throws(LossError) in
    try b.float { z, t, w throws(LossError) in
      try loss.valueGradientAndHessianDiagonal(
        logits: z, targets: t, weights: w, gradient: out[0], hessianDiagonal: out[1])
    }
  } double: { out throws(LossError) in
    try b.wide { z, t, w throws(LossError) in
      try loss.valueGradientAndHessianDiagonal(
        logits: z, targets: t, weights: w, gradient: out[0], hessianDiagonal: out[1])
    }
  }
}

/// The Float32 Hessian-vector product (the vector rounded too) against the Double one.
func exerciseFloat32Product<L: SoftmaxSecondOrderLoss>(
  _ loss: L, logits: [Double], targets: [Int], weights: [Double]?, vector: [Double],
  productCount: Int
) {
  let b = Float32Batch(logits, targets, weights)
  let vf = vector.map { Float($0) }
  let vd = vf.map { Double($0) }
  checkFloat32("H v", outputs: [productCount]) { out throws(LossError) in
    try b.float { z, t, w throws(LossError) in
      try vf.withUnsafeBufferPointer { v throws(LossError) in
        try loss.hessianVectorProduct(logits: z, targets: t, weights: w, vector: v, into: out[0])
      }
    }
  } double: { out throws(LossError) in
    try b.wide { z, t, w throws(LossError) in
      try vd.withUnsafeBufferPointer { v throws(LossError) in
        try loss.hessianVectorProduct(logits: z, targets: t, weights: w, vector: v, into: out[0])
      }
    }
  }
}

/// The Float32 step of a stateful loss from `start` against the Double
/// step on the widened inputs: as `checkFloat32`, and the Float step's new
/// state is the Double step's (or `start` after a throw).
func exerciseFloat32Stateful<L: StatefulLoss>(
  _ loss: L, start: L.State, logits: [Double], targets: [Int], weights: [Double]?
) {
  let b = Float32Batch(logits, targets, weights)
  var fState = start
  var dState = start
  let succeeded = checkFloat32("stateful step", outputs: [logits.count]) { out throws(LossError) in
    try b.float { z, t, w throws(LossError) in
      try loss.valueAndGradient(logits: z, targets: t, weights: w, gradient: out[0], state: &fState)
    }
  } double: { out throws(LossError) in
    try b.wide { z, t, w throws(LossError) in
      try loss.valueAndGradient(logits: z, targets: t, weights: w, gradient: out[0], state: &dState)
    }
  }
  require(
    succeeded ? fState == dState : fState == start,
    "Float32 stateful step: state \(fState), Double \(dState) (succeeded: \(succeeded))")
}
