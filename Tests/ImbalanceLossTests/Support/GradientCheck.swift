import ImbalanceLoss
import Testing

/// Expects the analytic gradient of `loss` to match central finite
/// differences of its value, within `tolerance` relative to the largest
/// gradient entry (see `centralDifferences` for why 1e-7 is safe).
func expectGradientMatchesFiniteDifferences<L: Loss>(
  _ loss: L, logits: [Double], targets: [L.Target], weights: [Double]? = nil,
  tolerance: Double = 1e-7, _ comment: @autoclosure () -> String = "",
  sourceLocation: SourceLocation = #_sourceLocation
) throws {
  let analytic = try loss.valueAndGradient(logits: logits, targets: targets, weights: weights)
  let numeric = try centralDifferences(at: logits) {
    try loss.value(logits: $0, targets: targets, weights: weights)
  }
  expectClose(
    analytic.gradient, numeric, relative: tolerance, comment(), sourceLocation: sourceLocation)
  // The value returned with the gradient is the value alone, to the bit.
  let value = try loss.value(logits: logits, targets: targets, weights: weights)
  #expect(analytic.value == value, sourceLocation: sourceLocation)
}

/// Expects `body` to throw exactly `expected`.
func expectError(
  _ expected: LossError, _ comment: @autoclosure () -> String = "",
  sourceLocation: SourceLocation = #_sourceLocation,
  _ body: () throws -> Void
) {
  do {
    try body()
    Issue.record("expected \(expected), got no error. \(comment())", sourceLocation: sourceLocation)
  } catch let error as LossError {
    #expect(error == expected, "\(comment())", sourceLocation: sourceLocation)
  } catch {
    Issue.record("expected \(expected), got \(error)", sourceLocation: sourceLocation)
  }
}

/// Runs the bad inputs every loss shares (shapes, logits, weights) and the
/// buffer contract: after a throw, the caller's gradient buffer is untouched.
func expectCommonBadInputsRejected<L: Loss>(
  _ loss: L, logits: [Double], targets: [L.Target],
  sourceLocation: SourceLocation = #_sourceLocation
) {
  let n = targets.count
  let k = loss.logitsPerSample
  precondition(n >= 2 && logits.count == n * k)
  let loc = sourceLocation
  expectError(.emptyBatch, sourceLocation: loc) {
    _ = try loss.value(logits: [], targets: [])
  }
  expectError(
    .lengthMismatch(argument: "targets", expected: n, actual: n - 1), sourceLocation: loc
  ) {
    _ = try loss.value(logits: logits, targets: Array(targets.dropLast()))
  }
  expectError(
    .lengthMismatch(argument: "weights", expected: n, actual: n + 1), sourceLocation: loc
  ) {
    _ = try loss.value(
      logits: logits, targets: targets, weights: [Double](repeating: 1, count: n + 1))
  }
  for bad in [Double.nan, .infinity, -.infinity] {
    var z = logits
    z[z.count - 1] = bad
    expectError(.nonFiniteLogit(index: z.count - 1, value: bad), sourceLocation: loc) {
      _ = try loss.value(logits: z, targets: targets)
    }
    // The gradient buffer is untouched by a throwing call.
    var gradient = [Double](repeating: 42, count: z.count)
    expectError(.nonFiniteLogit(index: z.count - 1, value: bad), sourceLocation: loc) {
      _ = try loss.valueAndGradient(logits: z, targets: targets, gradient: &gradient)
    }
    #expect(gradient.allSatisfy { $0 == 42 }, sourceLocation: loc)
  }
  for bad in [-1.0, -.leastNonzeroMagnitude, .nan, .infinity] {
    var w = [Double](repeating: 1, count: n)
    w[1] = bad
    expectError(.invalidWeight(index: 1, value: bad), sourceLocation: loc) {
      _ = try loss.value(logits: logits, targets: targets, weights: w)
    }
  }
  expectError(.zeroTotalWeight, sourceLocation: loc) {
    _ = try loss.value(
      logits: logits, targets: targets, weights: [Double](repeating: 0, count: n))
  }
  // A gradient buffer of the wrong size, through the buffer API.
  var short = [Double](repeating: 42, count: logits.count - 1)
  expectError(
    .lengthMismatch(argument: "gradient", expected: logits.count, actual: logits.count - 1),
    sourceLocation: loc
  ) {
    try logits.withUnsafeBufferPointer { z in
      try targets.withUnsafeBufferPointer { t in
        try short.withUnsafeMutableBufferPointer { g in
          _ = try loss.valueAndGradient(logits: z, targets: t, weights: nil, gradient: g)
        }
      }
    }
  }
  #expect(short.allSatisfy { $0 == 42 }, sourceLocation: loc)
}
