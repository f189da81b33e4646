#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#elseif canImport(ucrt)
import ucrt
#endif

/// The vector type of every kernel: eight doubles (one AVX-512 register, two
/// AVX registers, four SSE2 registers).
@usableFromInline typealias Vector = SIMD8<Double>

@usableFromInline
enum SIMDLoad {
  @inlinable @inline(__always)
  static func load(_ p: UnsafePointer<Double>) -> Vector {
    UnsafeRawPointer(p).loadUnaligned(as: Vector.self)
  }

  @inlinable @inline(__always)
  static func store(_ v: Vector, _ p: UnsafeMutablePointer<Double>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector.self)
  }
}

/// Elementary functions used by the kernels, scalar and lane-wise.
@usableFromInline
enum Elementary {
  @inlinable @inline(__always)
  static func exp(_ x: Double) -> Double { libmExp(x) }

  @inlinable @inline(__always)
  static func log1p(_ x: Double) -> Double { libmLog1p(x) }

  @inlinable @inline(__always)
  static func log(_ x: Double) -> Double { libmLog(x) }

  @inlinable @inline(__always)
  static func exp(_ x: Vector) -> Vector {
    var r = Vector()
    for i in 0..<8 { r[i] = exp(x[i]) }
    return r
  }

  @inlinable @inline(__always)
  static func log1p(_ x: Vector) -> Vector {
    var r = Vector()
    for i in 0..<8 { r[i] = log1p(x[i]) }
    return r
  }
}

// The C library's functions, under names the `Elementary` members don't shadow.
@usableFromInline @inline(__always)
func libmExp(_ x: Double) -> Double { exp(x) }
@usableFromInline @inline(__always)
func libmLog1p(_ x: Double) -> Double { log1p(x) }
@usableFromInline @inline(__always)
func libmLog(_ x: Double) -> Double { log(x) }

/// The logistic quantities of one vector of logits, from one shared
/// `e = exp(-|z|)`, with no cancellation anywhere:
///
///     p = sigmoid(z)      q = 1 - p = sigmoid(-z)
///     softplus(z) = max(z, 0) + log1p(e)  = -log(1 - p)
///     softplus(-z) = max(-z, 0) + log1p(e) = -log p
@usableFromInline
struct Logistic {
  @usableFromInline var p: Vector
  @usableFromInline var q: Vector
  @usableFromInline var e: Vector
  @usableFromInline var isNonNegative: SIMDMask<SIMD8<Int64>>

  /// `p` and `q` only; the caller adds `log1p(e)` when it needs softplus.
  @inlinable @inline(__always)
  init(_ z: Vector) {
    isNonNegative = z .>= 0
    let a = z.replacing(with: -z, where: isNonNegative .== false)
    e = Elementary.exp(-a)
    let r = 1 / (1 + e)
    let er = e * r
    p = er.replacing(with: r, where: isNonNegative)
    q = r.replacing(with: er, where: isNonNegative)
  }

  /// `(softplus(z), softplus(-z))` = `(-log(1 - p), -log p)`.
  @inlinable @inline(__always)
  func softplus(_ z: Vector) -> (positive: Vector, negative: Vector) {
    let l = Elementary.log1p(e)
    let zPos = z.replacing(with: 0, where: isNonNegative .== false)
    let zNeg = (-z).replacing(with: 0, where: isNonNegative)
    return (zPos + l, zNeg + l)
  }
}
