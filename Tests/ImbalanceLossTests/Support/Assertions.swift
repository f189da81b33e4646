import Testing

/// The relative difference `|a - b| / max(|a|, |b|, floor)`.
func relativeError(_ a: Double, _ b: Double, floor: Double = 0) -> Double {
  if a == b { return 0 }
  return abs(a - b) / max(abs(a), abs(b), floor)
}

/// Expects `actual` within `tolerance` relative error of `expected`
/// (absolute below `floor`), reporting at the caller's source location.
func expectClose(
  _ actual: Double, _ expected: Double, relative tolerance: Double, floor: Double = 0,
  _ comment: @autoclosure () -> String = "",
  sourceLocation: SourceLocation = #_sourceLocation
) {
  let error = relativeError(actual, expected, floor: floor)
  #expect(
    error <= tolerance,
    "\(actual) vs expected \(expected): relative error \(error) > \(tolerance). \(comment())",
    sourceLocation: sourceLocation)
}

/// Expects `actual` within `ulps` units in the last place of `expected`.
func expectUlps(
  _ actual: Double, _ expected: Double, _ ulps: Double,
  _ comment: @autoclosure () -> String = "",
  sourceLocation: SourceLocation = #_sourceLocation
) {
  let distance = abs(actual - expected) / expected.ulp
  #expect(
    distance <= ulps,
    "\(actual) vs expected \(expected): \(distance) ulps > \(ulps). \(comment())",
    sourceLocation: sourceLocation)
}

/// Expects every element of `actual` close to `expected`, relative to the
/// largest magnitude of `expected` (`scale`) so near-zero entries don't demand
/// a relative accuracy the finite differences can't give.
func expectClose(
  _ actual: [Double], _ expected: [Double], relative tolerance: Double,
  _ comment: @autoclosure () -> String = "",
  sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(actual.count == expected.count, sourceLocation: sourceLocation)
  let scale = expected.map(abs).max() ?? 0
  for (i, (a, e)) in zip(actual, expected).enumerated() {
    let error = abs(a - e) / max(scale, .leastNormalMagnitude)
    if error > tolerance {
      Issue.record(
        "[\(i)] \(a) vs expected \(e): error \(error) (relative to max |g| = \(scale)) > \(tolerance). \(comment())",
        sourceLocation: sourceLocation)
      return
    }
  }
}
