import Testing

/// Expects `actual` within `tolerance` relative error of `expected`, at the caller's location.
func expectClose(
  _ actual: Double, _ expected: Double, relative tolerance: Double,
  _ comment: @autoclosure () -> String = "",
  sourceLocation: SourceLocation = #_sourceLocation
) {
  let error = actual == expected ? 0 : abs(actual - expected) / max(abs(actual), abs(expected))
  #expect(
    error <= tolerance,
    "\(actual) vs expected \(expected): relative error \(error) > \(tolerance). \(comment())",
    sourceLocation: sourceLocation)
}
