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
// which libFuzzer records as a crash with its input.

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
func exercise<L: Loss>(
  _ loss: L, logits: [Double], targets: [L.Target], weights: [Double]?, scale: Double = 1
) {
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
    require(v.isFinite || v == .infinity, "value \(v)")
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

/// The loss kinds. ADDING A LOSS: one case in `fuzzOne`'s switch.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  var r = ByteReader(data: UnsafeBufferPointer(start: bytes, count: size))
  let kind = r.int(below: 7)
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
    case 1:
      var loss = SmoothAccuracyLoss()
      loss.parallelism = parallelism
      loss.reduction = reduction
      exercise(loss, logits: logits, targets: targets, weights: weights, scale: factor)
      exerciseTerms(loss, logits: logits, targets: targets, extra: extra)
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
    }
  } else {
    let targets = (0..<r.count(near: n)).map { _ in Int(Int8(bitPattern: r.byte())) % (k + 2) }
    let priors = (0..<r.count(near: k)).map { _ in r.double() }
    let tau = r.double()
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
    case 5:
      guard var loss = try? LogitAdjustedCrossEntropy(priors: priors, tau: tau) else { return 0 }
      loss.parallelism = parallelism
      loss.reduction = reduction
      exercise(loss, logits: logits, targets: targets, weights: weights, scale: factor)
      exerciseTerms(loss, logits: logits, targets: targets, extra: extra)
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
