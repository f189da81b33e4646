import ImbalanceLoss
import Testing

// Accuracy audit: every core loss against the 60-digit references of
// Scripts/accuracy_reference.py (fixture Fixtures/AccuracyReference.swift):
// |z| from 1e-300 to 1e300, soft targets, near-tied softmax rows, priors down
// to 1e-12, zero, tiny and huge weights. Errors are in ulps of the reference
// where it is a normal double, absolute where it is subnormal or rounds to 0
// (there every intermediate has lost relative precision to gradual underflow,
// and an error of 1e-300 in a quantity of size <= 50 is harmless).
//
// Print the table:  swift test --filter AccuracyAudit 2>&1 | grep '^accuracy'

/// One fixture case: a batch (or, when `samplewise`, every sample as its own
/// batch of one) with the reference values and gradient split as hi + lo.
struct AccuracyCase: Sendable {
  let loss: String
  /// Which inputs: "hard targets", "soft targets", "rows max abs(z) <= 1e3", ...
  let category: String
  let parameters: [Double]
  let classCount: Int
  let samplewise: Bool
  let logits: [Double]
  /// Binary targets, or softmax class labels as exact doubles.
  let targets: [Double]
  let weights: [Double]?
  let values: [Double]
  let valuesLow: [Double]
  let gradient: [Double]
  let gradientLow: [Double]
}

/// A loss of the audit, binary, softmax or multi-label (one 0/1 target per
/// logit): its `.mean` value and gradient, in Double and through the Float32
/// entry points (`float`, for the Float32 audit).
enum AuditLoss {
  case binary(
    @Sendable ([Double], [Double], [Double]?) throws -> (Double, [Double]),
    float: @Sendable ([Float], [Float], [Float]?) throws -> (Float, [Float]))
  case softmax(
    @Sendable ([Double], [Int], [Double]?) throws -> (Double, [Double]),
    float: @Sendable ([Float], [Int], [Float]?) throws -> (Float, [Float]))
  case multiLabel(
    @Sendable ([Double], [Double], [Double]?) throws -> (Double, [Double]),
    float: @Sendable ([Float], [Float], [Float]?) throws -> (Float, [Float]))

  static func binary<L: Loss<Double>>(_ loss: L) -> AuditLoss {
    .binary(
      { z, t, w in try loss.valueAndGradient(logits: z, targets: t, weights: w) },
      float: { z, t, w in try loss.valueAndGradient(logits: z, targets: t, weights: w) })
  }

  static func softmax<L: Loss<Int>>(_ loss: L) -> AuditLoss {
    .softmax(
      { z, t, w in try loss.valueAndGradient(logits: z, targets: t, weights: w) },
      float: { z, t, w in try loss.valueAndGradient(logits: z, targets: t, weights: w) })
  }

  static func multiLabel<L: Loss<Double>>(_ loss: L) -> AuditLoss {
    .multiLabel(
      { z, t, w in try loss.valueAndGradient(logits: z, targets: t, weights: w) },
      float: { z, t, w in try loss.valueAndGradient(logits: z, targets: t, weights: w) })
  }
}

/// Builds the fixture's losses from their names and parameters. ADDING A LOSS:
/// one line here, and its reference in Scripts/accuracy_reference.py.
let auditBuilders: [String: @Sendable ([Double], Int) throws -> AuditLoss] = [
  "BinaryCrossEntropy": { p, _ in
    .binary(BinaryCrossEntropy(positiveWeight: p[0], negativeWeight: p[1]))
  },
  "SmoothAccuracyLoss": { _, _ in .binary(SmoothAccuracyLoss()) },
  "SmoothF1Loss": { _, _ in .binary(SmoothF1Loss()) },
  "F1WeightedCrossEntropy": { p, _ in .binary(F1WeightedCrossEntropy(f1: p.first)) },
  "SoftmaxCrossEntropy": { _, k in .softmax(try SoftmaxCrossEntropy(classCount: k)) },
  "LogitAdjustedCrossEntropy": { p, _ in
    .softmax(try LogitAdjustedCrossEntropy(priors: Array(p.dropFirst()), tau: p[0]))
  },
  // [gamma], [gamma, alpha] or [gamma, a_pos, a_neg].
  "BinaryFocalLoss": { p, _ in
    switch p.count {
    case 1: .binary(BinaryFocalLoss(gamma: p[0]))
    case 2: .binary(BinaryFocalLoss(gamma: p[0], alpha: p[1]))
    default: .binary(BinaryFocalLoss(gamma: p[0], positiveWeight: p[1], negativeWeight: p[2]))
    }
  },
  "TverskyLoss": { p, _ in .binary(TverskyLoss(alpha: p[0], beta: p[1], smoothing: p[2])) },
  "SoftDiceLoss": { p, _ in .binary(SoftDiceLoss(smoothing: p[0])) },
  // [gamma, classWeights...]
  "SoftmaxFocalLoss": { p, k in
    var loss = try SoftmaxFocalLoss(classCount: k, gamma: p[0])
    loss.classWeights = Array(p.dropFirst())
    return .softmax(loss)
  },
  // [scale, margin] (additive margin) or [scale, largest margin, class counts...] (LDAM).
  "MarginSoftmaxCrossEntropy": { p, k in
    p.count == 2
      ? .softmax(try MarginSoftmaxCrossEntropy.additiveMargin(p[1], classCount: k, scale: p[0]))
      : .softmax(
        try MarginSoftmaxCrossEntropy.ldam(
          classCounts: p.dropFirst(2).map { Int($0) }, largestMargin: p[1], scale: p[0]))
  },
  // [classWeights...]
  "SoftmaxSmoothAccuracyLoss": { p, k in
    var loss = try SoftmaxSmoothAccuracyLoss(classCount: k)
    loss.classWeights = p
    return .softmax(loss)
  },
  "MacroSmoothF1Loss": { _, k in .softmax(try MacroSmoothF1Loss(classCount: k)) },
  "MultiLabelCategoricalCrossEntropy": { _, k in
    .multiLabel(try MultiLabelCategoricalCrossEntropy(labelCount: k))
  },
]

/// Worst errors in ulps per loss and input category, above which the audit
/// fails: the measured worst (README "Accuracy") with about 2x headroom.
///
/// - Binary losses: p, 1 - p and softplus come from one correctly rounded
///   exp(-|z|), so every value and gradient is a few roundings: 2 ulps measured.
///   Larger where the formula subtracts two terms of one size (soft targets):
///   `a_neg (1 - y) p - a_pos y (1 - p)` with a_pos = 1e-3, a_neg = 50 cancels
///   about 5 bits (28 ulps measured); with y = 1e-300 and the batch F the two
///   terms of F1-weighted CE are both about y/2 (59 ulps).
/// - Softmax losses: the kernel carries the exponent `d = a_k - a_max` in two
///   words (the rounding error of `z_k - z_max` and of adding the offsets
///   kept), so exp(d) is a few roundings: 0.9 ulps measured for the value, 2.9
///   for the gradient (before: 294 and 392, |d|/2 ulps from rounding d once).
///   Logit adjustment: the offsets `tau log π` are themselves rounded before
///   the kernel sees them (ulp(27.6)/2 = 16 ulps of exp for π = 1e-12), so
///   5.6 ulps for the value and 20 for the gradient (before: 407 and 875).
private let bounds: [String: (value: Double, gradient: Double)] = [
  "BinaryCrossEntropy | hard targets": (4, 4),
  "BinaryCrossEntropy | soft targets": (4, 64),
  "BinaryCrossEntropy | soft target 1e-300": (4, 4),
  "BinaryCrossEntropy | weighted batches": (4, 8),
  "SmoothAccuracyLoss | hard targets": (4, 4),
  "SmoothAccuracyLoss | soft targets": (4, 4),
  "SmoothAccuracyLoss | soft target 1e-300": (4, 4),
  "SmoothAccuracyLoss | weighted batches": (4, 8),
  "SmoothF1Loss | hard targets": (4, 6),
  "SmoothF1Loss | soft targets": (6, 6),
  "SmoothF1Loss | soft target 1e-300": (4, 6),
  "SmoothF1Loss | weighted batches": (4, 8),
  "F1WeightedCrossEntropy | hard targets": (4, 4),
  "F1WeightedCrossEntropy | soft targets": (4, 16),
  "F1WeightedCrossEntropy | soft target 1e-300": (4, 128),
  "F1WeightedCrossEntropy | weighted batches": (4, 8),
  "SoftmaxCrossEntropy | rows max abs(z) <= 1e3": (2, 6),
  "SoftmaxCrossEntropy | rows max abs(z) > 1e3": (2, 2),
  "SoftmaxCrossEntropy | weighted batches": (2, 5),
  "LogitAdjustedCrossEntropy | rows max abs(z) <= 1e3": (12, 40),
  "LogitAdjustedCrossEntropy | rows max abs(z) > 1e3": (5, 24),
  "LogitAdjustedCrossEntropy | weighted batches": (3, 32),
  // The long-tail family. Focal: for a fractional γ, (1 - p_t)^γ =
  // exp(-γ softplus) multiplies the rounding error of softplus (up to
  // ulp(36)/2) by γ |softplus|: about γ |log p_t| / 2 ulps; an integer γ <= 8
  // is taken by multiplication (γ = 2: was 13 ulps binary, 31/36 softmax,
  // now 3-4). Soft
  // targets subtract the positive and negative slopes (27 and 39 ulps for
  // γ = 2, 7 for γ <= 1/2). Tversky: `y (1 - (1 - β) I) - α (1 - y) I` and
  // Dice's `y - I/2` cancel for soft targets (104 ulps). Macro F1:
  // `u_ij - Σ_k p_ik u_ik` cancelled when p_ij is near 1 (385 ulps; now 6, see
  // `SoftmaxF1Kernel.gradient`). Margin
  // softmax: the kernel keeps the rounding error of `s (z_k - z_M)` (Dekker's
  // product) when s is not a power of two (before: 200 ulps value, 463
  // gradient with s = 30); left: the rounded margins `s m_k` (5, 7 ulps).
  "BinaryFocalLoss | hard targets, gamma 0": (4, 4),
  "BinaryFocalLoss | hard targets, gamma 0.5": (8, 6),
  "BinaryFocalLoss | hard targets, gamma 2": (7, 9),
  "BinaryFocalLoss | soft target 1e-300, gamma 0": (4, 4),
  "BinaryFocalLoss | soft target 1e-300, gamma 0.5": (8, 6),
  "BinaryFocalLoss | soft target 1e-300, gamma 2": (7, 8),
  "BinaryFocalLoss | soft targets, gamma 0": (4, 16),
  "BinaryFocalLoss | soft targets, gamma 0.5": (5, 16),
  "BinaryFocalLoss | soft targets, gamma 2": (6, 42),
  "BinaryFocalLoss | weighted batches, gamma 0": (4, 16),
  "BinaryFocalLoss | weighted batches, gamma 0.5": (6, 8),
  "BinaryFocalLoss | weighted batches, gamma 2": (6, 62),
  "SoftmaxFocalLoss | rows max abs(z) <= 1e3, gamma 0.5": (18, 12),
  "SoftmaxFocalLoss | rows max abs(z) <= 1e3, gamma 2": (7, 8),
  "SoftmaxFocalLoss | rows max abs(z) > 1e3, gamma 0.5": (2, 3),
  "SoftmaxFocalLoss | rows max abs(z) > 1e3, gamma 2": (3, 3),
  "SoftmaxFocalLoss | weighted batches, gamma 0.5": (4, 8),
  "SoftmaxFocalLoss | weighted batches, gamma 2": (4, 7),
  "MarginSoftmaxCrossEntropy | rows max abs(z) <= 1e3, scale 30": (12, 14),
  "MarginSoftmaxCrossEntropy | rows max abs(z) <= 1e3, scale 32": (5, 5),
  "MarginSoftmaxCrossEntropy | rows max abs(z) > 1e3, scale 30": (2, 2),
  "MarginSoftmaxCrossEntropy | rows max abs(z) > 1e3, scale 32": (2, 2),
  "MarginSoftmaxCrossEntropy | weighted batches, scale 30": (10, 12),
  "MarginSoftmaxCrossEntropy | weighted batches, scale 32": (2, 4),
  "TverskyLoss | hard targets": (4, 6),
  "TverskyLoss | soft targets": (4, 210),
  "TverskyLoss | soft target 1e-300": (4, 6),
  "TverskyLoss | weighted batches": (4, 140),
  "SoftDiceLoss | hard targets": (4, 7),
  "SoftDiceLoss | soft targets": (5, 8),
  "SoftDiceLoss | soft target 1e-300": (4, 7),
  "SoftDiceLoss | weighted batches": (4, 24),
  "SoftmaxSmoothAccuracyLoss | rows max abs(z) <= 1e3": (4, 6),
  "SoftmaxSmoothAccuracyLoss | rows max abs(z) > 1e3": (2, 2),
  "SoftmaxSmoothAccuracyLoss | weighted batches": (2, 6),
  "MacroSmoothF1Loss | rows max abs(z) <= 1e3": (4, 6),
  "MacroSmoothF1Loss | rows max abs(z) > 1e3": (2, 2),
  "MacroSmoothF1Loss | weighted batches": (4, 12),
  // Multi-label CE: the exponents keep the rounding error of u - m (TwoSum),
  // as in softmax (before: 294 ulps for the gradient).
  "MultiLabelCategoricalCrossEntropy | rows max abs(z) <= 1e3": (3, 5),
  "MultiLabelCategoricalCrossEntropy | rows max abs(z) > 1e3": (2, 2),
  "MultiLabelCategoricalCrossEntropy | weighted batches": (2, 4),
]

/// Categories that miss their bound for a known reason (reported in README
/// "Accuracy"): the test expects the miss, and fails once it is fixed so
/// that the entry gets removed. Every entry has a `ceiling`, still asserted,
/// so that a known issue cannot grow: twice the measured worst (December
/// 2026: gradients 4.8e11, 7.0e15, 7.3e15 and 6.0e15 ulps in the order
/// below; an error of 4.5e15-9e15 ulps is a result of 0 where the reference
/// is tiny), and for values, which meet their bound, the bound itself.
private let knownIssues: [String: (issue: String, ceiling: (value: Double, gradient: Double))] = [
  "SmoothF1Loss | soft target 1e-300": (
    """
    T = Σ w y p underflows to 0 when y p < 1e-308 (y = 1e-300, z <= -100), so F = 0 \
    instead of about 2p and the gradient factor (y - F/2) is off by up to F/2 / y \
    (1e-4 relative at z = -700; 2e-300 absolute where the true gradient is 0).
    """, (value: 4, gradient: 9.6e11)),
  "TverskyLoss | soft target 1e-300": (
    """
    The smooth-F1 kernel's underflow: with ε = 0, y = 1e-300, z = -700 the gradient's \
    (f p y) / D underflows in f p y = 1e-604 though the quotient is 1.4e-304: \
    -0 instead of -1.408406191483844e-304.
    """, (value: 4, gradient: 1.4e16)),
  "TverskyLoss | weighted batches": (
    """
    The sums use f = w / W: a weight of 1e300 (on a sample with p = 0, which adds \
    nothing) makes f p underflow for another sample with p = 5e-131 (z = -300, w = 0.5), \
    whose gradient entry is then 0 instead of about 1e-132.
    """, (value: 4, gradient: 1.46e16)),
  "SoftDiceLoss | weighted batches": (
    """
    As Tversky (same kernel): z = [-1e-8, -9.30, -1e20, 0.933, 1e-300, -800, -300], \
    y = [0, 0.25, 0, 0.25, 0.25, 1, 0], w = [0.5, 0.0436, 1e300, 1.41, 3, 3, 0.5]: \
    gradient[6] is 0 instead of 9.36526421326747e-133 (f p = 5e-301 · 5e-131 underflows).
    """, (value: 4, gradient: 1.2e16)),
]

/// The worst error seen for one loss and one quantity, with where it was.
struct WorstError: CustomStringConvertible {
  var ulps = 0.0
  var absolute = 0.0  // where the reference is subnormal or 0
  var whereUlps = ""
  var whereAbsolute = ""
  var count = 0

  mutating func record(
    _ actual: Double, hi: Double, lo: Double, _ place: @autoclosure () -> String
  ) {
    count += 1
    if abs(hi) < .leastNormalMagnitude {
      let error = actual.isFinite ? abs(actual - hi) : .infinity
      if error > absolute || error.isNaN {
        absolute = error.isNaN ? .infinity : error
        whereAbsolute = "\(place()): \(actual) vs \(hi)"
      }
      return
    }
    let error = actual.isFinite ? abs((actual - hi) - lo) / hi.ulp : .infinity
    if error > ulps || error.isNaN {
      ulps = error.isNaN ? .infinity : error
      whereUlps = "\(place()): \(actual) vs \(hi) (+ \(lo))"
    }
  }

  var description: String {
    "\(ulps) ulps [\(whereUlps)]; absolute below 2.2e-308: \(absolute) [\(whereAbsolute)]"
  }
}

/// Runs every fixture case and returns the worst value and gradient errors per loss.
func measureAccuracy() throws -> [String: (value: WorstError, gradient: WorstError)] {
  var worst: [String: (value: WorstError, gradient: WorstError)] = [:]
  for (index, c) in accuracyReference.enumerated() {
    let build = try #require(auditBuilders[c.loss], "no builder for \(c.loss)")
    let loss = try build(c.parameters, c.classCount)
    let k = c.classCount
    // Targets per sample: L for a multi-label loss, else 1.
    let perSample: Int
    if case .multiLabel = loss { perSample = k } else { perSample = 1 }
    let samples = c.targets.count / perSample
    let batches: [Range<Int>] = c.samplewise ? (0..<samples).map { $0..<($0 + 1) } : [0..<samples]
    let key = "\(c.loss) | \(c.category)"
    var entry = worst[key] ?? (WorstError(), WorstError())
    for (b, rows) in batches.enumerated() {
      let z = Array(c.logits[(rows.lowerBound * k)..<(rows.upperBound * k)])
      let w = c.weights.map { Array($0[rows]) }
      let (value, gradient): (Double, [Double])
      switch loss {
      case .binary(let evaluate, _):
        (value, gradient) = try evaluate(z, Array(c.targets[rows]), w)
      case .softmax(let evaluate, _):
        (value, gradient) = try evaluate(z, c.targets[rows].map { Int($0) }, w)
      case .multiLabel(let evaluate, _):
        let t = Array(c.targets[(rows.lowerBound * k)..<(rows.upperBound * k)])
        (value, gradient) = try evaluate(z, t, w)
      }
      let place = { "case \(index) \(c.loss)\(c.parameters.prefix(3)) z \(z.prefix(4))" }
      entry.value.record(value, hi: c.values[b], lo: c.valuesLow[b], place())
      for (j, g) in gradient.enumerated() {
        let at = rows.lowerBound * k + j
        entry.gradient.record(
          g, hi: c.gradient[at], lo: c.gradientLow[at], "\(place()) entry \(j)")
      }
    }
    worst[key] = entry
  }
  return worst
}

@Test func accuracyAudit() throws {
  let worst = try measureAccuracy()
  for (key, e) in worst.sorted(by: { $0.key < $1.key }) {
    print("accuracy | \(key) | value \(e.value.ulps) | gradient \(e.gradient.ulps) |")
    print("  value: \(e.value)\n  gradient: \(e.gradient)")
  }
  let audited = Set(worst.keys.map { String($0.prefix { $0 != " " }) })
  #expect(audited == Set(auditBuilders.keys), "a loss has a builder but no fixture case")
  for (key, e) in worst {
    let bound = try #require(bounds[key], "no accuracy bound for \(key)")
    let check = {
      #expect(e.value.ulps <= bound.value, "\(key) value: \(e.value)")
      #expect(e.gradient.ulps <= bound.gradient, "\(key) gradient: \(e.gradient)")
    }
    if let known = knownIssues[key] {
      withKnownIssue(Comment(rawValue: known.issue), isIntermittent: false) { check() }
      let ceiling = known.ceiling
      #expect(e.value.ulps <= ceiling.value, "\(key) value beyond its ceiling: \(e.value)")
      #expect(
        e.gradient.ulps <= ceiling.gradient, "\(key) gradient beyond its ceiling: \(e.gradient)")
    } else {
      check()
    }
    // Below the normal range the result is within 1e-290 of the reference:
    // far below any ulp of the values a training step adds it to.
    #expect(e.value.absolute <= 1e-290 && e.gradient.absolute <= 1e-290, "\(key): \(e)")
  }
}

@Test func offsetsSurviveHugeEqualLogits() throws {
  // Formerly a known issue: a = z + tau log π lost the offsets when ulp(z)
  // exceeded them, giving log 3. mpmath (dps 40), π = [900, 99, 1] / 1000,
  // o = 2 log π: log Σ_k exp(o_k - o_0) = 0.01202860002019624024310695 (8 ulps:
  // the offsets are rounded doubles; 2.2 measured).
  let loss = try LogitAdjustedCrossEntropy(priors: [900, 99, 1], tau: 2)
  let value = try loss.value(logits: [1e300, 1e300, 1e300], targets: [0])
  expectUlps(value, 0.01202860002019624024310695, 8)
}

@Test func distantExponentKeepsItsDigits() throws {
  // Formerly 2.953557280265877e-290 (294 ulps off): z_2 - z_0 = -666.67 was
  // rounded before exp. mpmath (dps 40), z_2 = mpf(333.3333333333333):
  // log1p(exp(-1500) + exp(z_2 - 1000)) = 2.953557280266044484726940991776e-290.
  let loss = try SoftmaxCrossEntropy(classCount: 3)
  let value = try loss.value(logits: [1000, -500, 333.3333333333333], targets: [0])
  expectUlps(value, 2.953557280266044484726940991776e-290, 2)
}

@Test func scaleKeepsTheProductsDigits() throws {
  // Formerly about 450 ulps off: s (z_1 - z_0) = 30 · -19.400000000000002 was
  // rounded (to -582.0000000000001) before exp. mpmath (dps 40), z = [20.1,
  // 0.7] as doubles, margin 0.5 (s m = 15 exact): d = 30 (0.7 - 20.1 + 0.5),
  // log1p(exp(d)) = 5.68890603989072693498594952581e-247 and
  // ∂L/∂z_1 = 30 exp(d) / (1 + exp(d)) = 1.70667181196721808049578485774e-245.
  let loss = try MarginSoftmaxCrossEntropy.additiveMargin(0.5, classCount: 2, scale: 30)
  let (value, gradient) = try loss.valueAndGradient(logits: [20.1, 0.7], targets: [0])
  expectUlps(value, 5.68890603989072693498594952581e-247, 4)
  expectUlps(gradient[1], 1.70667181196721808049578485774e-245, 4)
  expectUlps(-gradient[0], 1.70667181196721808049578485774e-245, 4)
}

@Test func multiLabelExponentKeepsItsDigits() throws {
  // Formerly 2.953557280265877e-290 (294 ulps off): s_1 - s_0 = -666.67 was
  // rounded before exp, as in softmax before. mpmath (dps 50), s_1 =
  // mpf(333.3333333333333): e^(s_1 - 1000) / (e^-1000 + 1 + e^(s_1 - 1000))
  // = 2.95355728026604448472694099178e-290 (weight 1/N = 1). With 9 labels
  // (entry 1 in the vector loop) the added e^(-1000 - 1000) change nothing.
  for padding in [0, 7] {
    let loss = try MultiLabelCategoricalCrossEntropy(labelCount: 2 + padding)
    let logits = [1000, 333.3333333333333] + [Double](repeating: -1000, count: padding)
    let (_, gradient) = try loss.valueAndGradient(
      logits: logits, targets: [Double](repeating: 0, count: 2 + padding))
    expectUlps(gradient[1], 2.95355728026604448472694099178e-290, 2, "\(2 + padding) labels")
  }
}
