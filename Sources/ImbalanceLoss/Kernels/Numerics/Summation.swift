/// Neumaier's compensated sum: the error of the total is about one rounding of
/// the result, whatever the number of terms (plain summation grows with N).
@usableFromInline
struct CompensatedSum: Sendable {
  @usableFromInline var sum: Double = 0
  @usableFromInline var compensation: Double = 0

  @inlinable init() {}

  @inlinable
  mutating func add(_ x: Double) {
    let t = sum + x
    if abs(sum) >= abs(x) {
      compensation += (sum - t) + x
    } else {
      compensation += (x - t) + sum
    }
    sum = t
  }

  /// The total; a sum that overflowed stays `±inf` (its compensation,
  /// `inf - inf`, is NaN and is dropped).
  @inlinable var value: Double { sum.isFinite ? sum + compensation : sum }
}

/// Neumaier's compensated sum, lane-wise over the (up to four) quantities a
/// kernel accumulates, e.g. the loss and the F1 statistics.
@usableFromInline
struct CompensatedSum4: Sendable {
  @usableFromInline var sum = SIMD4<Double>()
  @usableFromInline var compensation = SIMD4<Double>()

  @inlinable init() {}

  @inlinable
  mutating func add(_ x: SIMD4<Double>) {
    let t = sum + x
    let sumIsLarger = sum.magnitude .>= x.magnitude
    let a = (sum - t) + x
    let b = (x - t) + sum
    compensation += b.replacing(with: a, where: sumIsLarger)
    sum = t
  }

  /// The totals, lane-wise as ``CompensatedSum/value``: a lane that
  /// overflowed stays `±inf`.
  @inlinable var value: SIMD4<Double> {
    sum.replacing(with: sum + compensation, where: sum.magnitude .< .infinity)
  }
}

extension SIMD4 where Scalar == Double {
  /// Lane-wise absolute value: the sign bits cleared. (A mask from `.< 0` and
  /// `replacing(with:where:)` is built lane by lane through memory: 3x slower.)
  @inlinable @inline(__always) var magnitude: SIMD4<Double> {
    let bits = unsafeBitCast(self, to: SIMD4<UInt64>.self)
    return unsafeBitCast(bits & 0x7fff_ffff_ffff_ffff, to: SIMD4<Double>.self)
  }
}

extension SIMD8 where Scalar == Double {
  /// Lane-wise absolute value: the sign bits cleared (as for `SIMD4`).
  @inlinable @inline(__always) var magnitude: SIMD8<Double> {
    let bits = unsafeBitCast(self, to: SIMD8<UInt64>.self)
    return unsafeBitCast(bits & 0x7fff_ffff_ffff_ffff, to: SIMD8<Double>.self)
  }
}

/// A buffer written by several threads at disjoint indices.
@usableFromInline
struct SendableBuffer: @unchecked Sendable {
  @usableFromInline let base: UnsafeMutablePointer<SIMD4<Double>>
  @inlinable init(_ buffer: UnsafeMutableBufferPointer<SIMD4<Double>>) {
    base = buffer.baseAddress!
  }
}

/// A kernel closure that only reads shared inputs and writes disjoint ranges.
@usableFromInline
struct UncheckedSendable<T>: @unchecked Sendable {
  @usableFromInline let value: T
  @inlinable init(_ value: T) { self.value = value }
}
