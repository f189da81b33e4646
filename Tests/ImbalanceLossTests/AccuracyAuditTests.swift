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

/// A loss of the audit, binary or softmax.
enum AuditLoss {
  case binary(LossCase<Double>)
  case softmax(LossCase<Int>)
}

/// Builds the fixture's losses from their names and parameters. ADDING A LOSS:
/// one line here, and its reference in Scripts/accuracy_reference.py.
private let builders: [String: @Sendable ([Double], Int) throws -> AuditLoss] = [
  "BinaryCrossEntropy": { p, _ in
    .binary(.separable("", BinaryCrossEntropy(positiveWeight: p[0], negativeWeight: p[1])))
  },
  "SmoothAccuracyLoss": { _, _ in .binary(.separable("", SmoothAccuracyLoss())) },
  "SmoothF1Loss": { _, _ in .binary(.whole("", SmoothF1Loss())) },
  "F1WeightedCrossEntropy": { p, _ in
    .binary(.separable("", F1WeightedCrossEntropy(f1: p.first)))
  },
  "SoftmaxCrossEntropy": { _, k in
    .softmax(.separable("", try SoftmaxCrossEntropy(classCount: k)))
  },
  "LogitAdjustedCrossEntropy": { p, _ in
    .softmax(.separable("", try LogitAdjustedCrossEntropy(priors: Array(p.dropFirst()), tau: p[0])))
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
]

/// Categories that miss their bound for a known reason (reported in README
/// "Accuracy"): the test expects the miss, and fails once it is fixed so
/// that the entry gets removed.
private let knownIssues: [String: String] = [
  "SmoothF1Loss | soft target 1e-300": """
    T = Σ w y p underflows to 0 when y p < 1e-308 (y = 1e-300, z <= -100), so F = 0 \
    instead of about 2p and the gradient factor (y - F/2) is off by up to F/2 / y \
    (1e-4 relative at z = -700; 2e-300 absolute where the true gradient is 0).
    """,
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
    let build = try #require(builders[c.loss], "no builder for \(c.loss)")
    let loss = try build(c.parameters, c.classCount)
    let k = c.classCount
    let samples = c.targets.count
    let batches: [Range<Int>] = c.samplewise ? (0..<samples).map { $0..<($0 + 1) } : [0..<samples]
    let key = "\(c.loss) | \(c.category)"
    var entry = worst[key] ?? (WorstError(), WorstError())
    for (b, rows) in batches.enumerated() {
      let z = Array(c.logits[(rows.lowerBound * k)..<(rows.upperBound * k)])
      let w = c.weights.map { Array($0[rows]) }
      let (value, gradient): (Double, [Double])
      switch loss {
      case .binary(let l):
        (value, gradient) = try l.evaluate(z, Array(c.targets[rows]), w)
      case .softmax(let l):
        (value, gradient) = try l.evaluate(z, c.targets[rows].map { Int($0) }, w)
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
  #expect(audited == Set(builders.keys), "a loss has a builder but no fixture case")
  for (key, e) in worst {
    let bound = try #require(bounds[key], "no accuracy bound for \(key)")
    let check = {
      #expect(e.value.ulps <= bound.value, "\(key) value: \(e.value)")
      #expect(e.gradient.ulps <= bound.gradient, "\(key) gradient: \(e.gradient)")
    }
    if let issue = knownIssues[key] {
      withKnownIssue(Comment(rawValue: issue), isIntermittent: false) { check() }
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
