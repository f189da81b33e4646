// The small exact-arithmetic safeguards the kernels share, each named once
// and tested on its own (SafeguardsTests): error-free sums and exact
// power-of-two rescaling. Both are exact in round-to-nearest, so a kernel
// that calls them computes the same bits as one that writes them out.

/// Error-free transformations (Knuth's TwoSum, branch-free).
@usableFromInline
enum ErrorFree {
  /// `a + b` as `sum + error` exactly: `sum = fl(a + b)`, `error` its
  /// rounding error, whatever the magnitudes of `a` and `b`.
  @inlinable @inline(__always)
  static func twoSum(_ a: Double, _ b: Double) -> (sum: Double, error: Double) {
    let sum = a + b
    let bb = sum - a
    return (sum, (a - (sum - bb)) + (b - bb))
  }

  /// Lane-wise ``twoSum(_:_:)-(Double,Double)``.
  @inlinable @inline(__always)
  static func twoSum(_ a: Vector, _ b: Vector) -> (sum: Vector, error: Vector) {
    let sum = a + b
    let bb = sum - a
    return (sum, (a - (sum - bb)) + (b - bb))
  }
}

/// Exact rescaling by powers of two, so that sums of weights and their
/// reciprocals neither overflow nor underflow.
@usableFromInline
enum PowerOfTwo {
  /// `2^-exponent(x)` (at most `2^limit`): multiplying by it brings a
  /// positive finite `x` into [1, 2) exactly; the limit keeps the scale of a
  /// subnormal `x` finite.
  @inlinable @inline(__always)
  static func scale(bringingToUnit x: Double, limit: Int = 1000) -> Double {
    Double(sign: .plus, exponent: Swift.min(-x.exponent, limit), significand: 1)
  }
}
