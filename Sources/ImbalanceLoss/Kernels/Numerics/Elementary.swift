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

// Lane selection as three bit operations. The standard library's
// `replacing(with:where:)` lowers to a select whose mask LLVM re-derives from
// the sign of its 64-bit lanes: on SSE2 (no 64-bit compare) that is a shift
// or compare and a shuffle on top of and / andn / or, and with AVX2 a
// variable blend where plain bit operations are cheaper. These overloads,
// more specific than the generic ones, take the comparison's all-ones /
// all-zeros lanes as bits: `b ^ ((a ^ b) & mask)`. Same lanes, same bits.
// BCE in the default build: about 10% fewer instructions; with
// `-target-cpu haswell` about 35% fewer (Benchmarks/instructions.sh).

extension SIMD8 where Scalar == Double {
  /// Lane-wise `mask ? other : self`, as bit operations (see above).
  @_transparent @usableFromInline
  func replacing(with other: Self, where mask: SIMDMask<SIMD8<Int64>>) -> Self {
    let m = unsafeBitCast(mask, to: SIMD8<UInt64>.self)
    let a = unsafeBitCast(other, to: SIMD8<UInt64>.self)
    let b = unsafeBitCast(self, to: SIMD8<UInt64>.self)
    return unsafeBitCast(b ^ ((a ^ b) & m), to: Self.self)
  }

  /// Lane-wise `mask ? other : self` for a scalar `other`.
  @_transparent @usableFromInline
  func replacing(with other: Double, where mask: SIMDMask<SIMD8<Int64>>) -> Self {
    replacing(with: Self(repeating: other), where: mask)
  }
}

extension SIMD4 where Scalar == Double {
  /// Lane-wise `mask ? other : self`, as bit operations (see above).
  @_transparent @usableFromInline
  func replacing(with other: Self, where mask: SIMDMask<SIMD4<Int64>>) -> Self {
    let m = unsafeBitCast(mask, to: SIMD4<UInt64>.self)
    let a = unsafeBitCast(other, to: SIMD4<UInt64>.self)
    let b = unsafeBitCast(self, to: SIMD4<UInt64>.self)
    return unsafeBitCast(b ^ ((a ^ b) & m), to: Self.self)
  }

  /// Lane-wise `mask ? other : self` for a scalar `other`.
  @_transparent @usableFromInline
  func replacing(with other: Double, where mask: SIMDMask<SIMD4<Int64>>) -> Self {
    replacing(with: Self(repeating: other), where: mask)
  }
}

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

// Vectorised exp and log1p over `Vector`.
//
// Implementation goals, in order of priority:
// 1. Accuracy: less than 1 ulp in the whole domain (measured in
//    ElementaryTests against 50-digit mpmath references; the largest error
//    seen is stated on each function). Every reduction step is exact,
//    carries its rounding in a second word (Cody-Waite, Fast2Sum), or
//    rounds far below an ulp of the result, and the polynomial errors are
//    far below an ulp.
// 2. Edge cases: NaN passes through; exp underflows gracefully through the
//    subnormals to 0 and overflows to +inf; no input traps.
// 3. Speed: branch-free, lane-wise `a * b + c` only (no `addingProduct`,
//    which is a libm call per lane without FMA; no `.clamped`, which is not
//    inlined; masks from comparisons only), integer work on the exponent
//    bits, Estrin's scheme for short dependency chains. exp reads a 2 KB
//    table (``expTable``) lane by lane, as glibc's libmvec does on SSE2
//    (there is no gather; LLVM does not form AVX2's from these loads).
//    log1p: about 40 vector operations and a division on [-1/3, 2], 60 and
//    two divisions anywhere.
//    exp per lane, a loop over 64K doubles in [-10, 10] (2026-12-07, a
//    loaded 2-core machine, best of 3): 2.24 ns in the default x86-64
//    build (SSE2; 29 instructions per lane), against 3.16 ns for the
//    earlier table-free form (a degree-12 polynomial on |r| <= ln2/2, 43
//    instructions), 2.30 ns for libmvec's `_ZGVbN2v_exp` and 6.0 ns for
//    glibc's scalar exp; with `-target-cpu haswell` 1.63 ns (1.84 before,
//    libmvec's AVX2 `_ZGVdN4v_exp` 1.37 ns).
//    All are `@_transparent`: an outlined copy (which `@inline(__always)`
//    allows in large kernels) is 1.3x slower on SSE2 and 6x slower on AVX2,
//    where LLVM compiles it with 128-bit vectors.
//
// The coefficients come from Scripts/elementary_coefficients.py (a Chebyshev
// fit in 60-digit arithmetic, within a small factor of minimax, rounded to
// double), which also prints each polynomial's approximation error.

/// Elementary functions used by the kernels, scalar and lane-wise.
@usableFromInline
enum Elementary {
  @inlinable @inline(__always)
  static func exp(_ x: Double) -> Double { libmExp(x) }

  @inlinable @inline(__always)
  static func log1p(_ x: Double) -> Double { libmLog1p(x) }

  @inlinable @inline(__always)
  static func log(_ x: Double) -> Double { libmLog(x) }

  /// Lane-wise `e^x`, less than 1 ulp from the true value (0.503 ulp
  /// measured for normal results; a subnormal result is the correctly
  /// rounded value or its neighbour, as its two roundings allow).
  ///
  ///     k = round(x 128/ln2) = 128 n + j,  j in 0..<128   (|k| < 2^18)
  ///     r = (x - k ln2_hi/128) - k ln2_lo/128             (|r| <= ln2/256)
  ///     2^(j/128) = T_j (1 + tail_j)                      (table, 2 KB)
  ///     e^r - 1 ≈ r + r^2 c(r)                 (c of degree 3, rel. error 2^-63.7)
  ///     e^x = (s + s u) 2^n2,  s = T_j 2^n1,  n1 + n2 = n,
  ///     u = tail_j + r + r^2 c(r)                         (|u| < 2^-8.4)
  ///
  /// `ln2_hi` has 33 significant bits, so `k ln2_hi/128` and the first
  /// difference are exact; the rounding of `r` is below 2^-62. The one
  /// rounding of size 1/2 ulp is the last addition `s + s u`; everything
  /// before it is below 1/100 ulp of the result. Scaling in two steps keeps
  /// `s` and `s + s u` normal, so a subnormal result is rounded once more, by
  /// the last product, and no intermediate overflows. Results: `x <= -745.14`
  /// gives 0 (the true value is at most half the least subnormal), `x >=
  /// 709.79` gives +inf, NaN gives NaN. (The reduction of glibc's and ARM's
  /// optimized-routines exp, with the scaling made branch-free.) Cost on
  /// SSE2: 29 instructions per lane in a plain loop (43 for the earlier
  /// table-free form); see the notes above `Elementary`.
  @usableFromInline @_transparent
  static func exp(_ x: Vector) -> Vector {
    // Clamp so that n fits the exponent arithmetic; NaN compares false and
    // passes through. e^710 overflows, as it should. Below -745.2 the result
    // is 0: those lanes compute e^0 instead and are zeroed at the end, since
    // an underflowing product costs a microcode assist (~100 cycles) on x86,
    // and the softmax kernel pads partial vectors with -inf.
    let isZero = x .< -745.2
    var x = x.replacing(with: 710, where: x .> 710)
    x = x.replacing(with: 0, where: isZero)

    // k = round(x 128/ln2) by adding 1.5 * 2^52: the bits of t then hold
    // k + 0x4338_0000_0000_0000.
    let shifter = Vector(repeating: 0x1.8p52)
    let t = x * 0x1.71547652b82fep+7 + shifter
    let k = t - shifter
    let r = (x - k * 0x1.62e42fee00000p-8) - k * 1.4907929134926466e-12
    let kBits = unsafeBitCast(t, to: SIMD8<UInt64>.self)

    let (tailBits, tBits) = expTableEntries(kBits, &expTable)

    // u = tail + r + r^2 c(r), Estrin's scheme (c's coefficients: the
    // script's table-driven fit).
    let r2 = r * r
    let u =
      (unsafeBitCast(tailBits, to: Vector.self) + r)
      + (r2 * (r * 0x1.5555555555525p-3 + 0x1.fffffffffff58p-2)
        + (r2 * r2) * (r * 0x1.11111430bcc06p-7 + 0x1.55555accc1ca7p-5))

    // n = floor(k / 128) = (bits of t >> 7) - (0x4338_0000_0000_0000 >> 7);
    // b = n + 2046 >= 970; e1 = b / 2 and e2 = b - e1 are the biased
    // exponents of 2^n1 and 2^n2 with n1 + n2 = n, both in [485, 1535].
    let b = (kBits &>> 7) &- ((0x4338_0000_0000_0000 &>> 7) - 2046)
    let e1 = b &>> 1
    let e2 = b &- e1
    let s = unsafeBitCast(tBits &+ (e1 &<< 52), to: Vector.self)
    let s2 = unsafeBitCast(e2 &<< 52, to: Vector.self)
    return ((s + s * u) * s2).replacing(with: 0, where: isZero)
  }

  /// The entries `(tail_j, T_j)` of ``expTable`` for `j = k mod 128`, from
  /// the bits of `t` (see ``exp(_:)-(Vector)``), lane by lane (SSE2 has no
  /// gather). The index is masked, so a NaN lane reads a valid entry too.
  /// `table` is `&expTable`: the address of the static tuple, no copy.
  @usableFromInline @_transparent
  static func expTableEntries(
    _ kBits: SIMD8<UInt64>, _ table: UnsafeRawPointer
  ) -> (tail: SIMD8<UInt64>, t: SIMD8<UInt64>) {
    var tail = SIMD8<UInt64>()
    var t = SIMD8<UInt64>()
    for lane in 0..<8 {
      let offset = Int(truncatingIfNeeded: kBits[lane] & 127) &* 16
      tail[lane] = table.load(fromByteOffset: offset, as: UInt64.self)
      t[lane] = table.load(fromByteOffset: offset &+ 8, as: UInt64.self)
    }
    return (tail, t)
  }

  /// Lane-wise `log(1 + x)` for `x` in [-1/3, 2], less than 1 ulp from the
  /// true value (0.71 ulp measured): the fast path the binary kernels call
  /// on `exp(-|z|)` in [0, 1]. Both reductions are exact (Sterbenz):
  ///
  ///     f = x,             k = 0      for x < 1/2
  ///     f = (x - 1) / 2,   k = 1      for x >= 1/2
  ///     log1p(x) = k ln2 + log1p(f)   (see log1pCore)
  ///
  /// ±0 and NaN pass through. Outside the domain the result degrades (the
  /// polynomial is not fitted there); use ``log1p(_:)`` there.
  @usableFromInline @_transparent
  static func log1pNearZero(_ x: Vector) -> Vector {
    let f = ((x - 1) * 0.5).replacing(with: x, where: x .< 0.5)
    // k = -0 rather than 0 keeps log1p(-0) = -0 (see log1pCore).
    let k = Vector(repeating: -0.0).replacing(with: 1, where: x .>= 0.5)
    return log1pCore(f, k: k, correction: Vector(repeating: -0.0))
  }

  /// Lane-wise `log(1 + x)` for every `x`, less than 1 ulp from the true
  /// value (0.63 ulp measured). The softmax kernel calls it on `s' >= 0`.
  ///
  ///     f = x, k = 0, c = 0     for sqrt(2)/2 <= 1 + x < sqrt(2) (exact)
  ///     otherwise u = 1 + x = 2^k m, m in [sqrt(2)/2, sqrt(2)) (from the
  ///     bits), f = m - 1 (exact), c = ((1 + x) - u) / u (the rounding of
  ///     u, exact before the division)
  ///     log1p(x) = k ln2 + log1p(f) + c   (see log1pCore)
  ///
  /// `log1p(-1) = -inf`, `x < -1` gives NaN, `+inf` and NaN pass through,
  /// and so do ±0. (After musl's log1p, with our polynomial.)
  @usableFromInline @_transparent
  static func log1p(_ x: Vector) -> Vector {
    let u = 1 + x
    // Adding 1 - sqrt(2)/2 to the bits carries into the exponent exactly
    // when the mantissa is >= sqrt(2)/2, so k and m come out in one step.
    let offset: UInt64 = 0x3ff0_0000_0000_0000 &- 0x3fe6_a09e_667f_3bcd
    let hu = unsafeBitCast(u, to: SIMD8<UInt64>.self) &+ offset
    let biasedK = hu &>> 52
    let m = unsafeBitCast(
      (hu & 0x000f_ffff_ffff_ffff) &+ 0x3fe6_a09e_667f_3bcd, to: Vector.self)
    // k as a double: 2^52 + biasedK is exact, then subtract 2^52 + 1023.
    var k =
      unsafeBitCast(biasedK | 0x4330_0000_0000_0000, to: Vector.self)
      - (0x1p52 + 1023)
    // What rounding 1 + x dropped: exact in either form (Sterbenz).
    let dropped = (1 - (u - x)).replacing(with: x - (u - 1), where: k .< 2)
    var c = dropped / u
    var f = m - 1
    // Near 0 take f = x itself (1 + x would round); k = c = -0 keeps -0.
    // (|x - center| < half width, the |.| written out: a call otherwise.)
    let d = x - 0.0606601717798212866
    let nearZero = d.replacing(with: -d, where: d .< 0) .< 0.353553390593273762
    f = f.replacing(with: x, where: nearZero)
    k = k.replacing(with: -0.0, where: nearZero)
    c = c.replacing(with: -0.0, where: nearZero)
    var r = log1pCore(f, k: k, correction: c)
    r = r.replacing(with: x, where: x .== .infinity)
    r = r.replacing(with: -.infinity, where: x .== -1)
    r = r.replacing(with: .nan, where: x .< -1)
    return r.replacing(with: x, where: x .!= x)
  }

  /// Lane-wise natural `log(x)` for `x >= 0`, subnormals included, with
  /// the reduction of ``log1p(_:)`` applied to `x` itself:
  ///
  ///     x = 2^k m, m in [sqrt(2)/2, sqrt(2)) (from the bits; a subnormal
  ///     is first scaled by 2^54), f = m - 1 (exact)
  ///     log(x) = k ln2 + log1p(f)   (see log1pCore)
  ///
  /// `log(0) = -inf`, `log(+inf) = +inf`; a negative `x` or NaN gives NaN.
  @usableFromInline @_transparent
  static func log(_ x: Vector) -> Vector {
    let subnormal = x .< 0x1p-1022
    let scaled = x.replacing(with: x * 0x1p54, where: subnormal)
    let offset: UInt64 = 0x3ff0_0000_0000_0000 &- 0x3fe6_a09e_667f_3bcd
    let hx = unsafeBitCast(scaled, to: SIMD8<UInt64>.self) &+ offset
    let biasedK = hx &>> 52
    let m = unsafeBitCast(
      (hx & 0x000f_ffff_ffff_ffff) &+ 0x3fe6_a09e_667f_3bcd, to: Vector.self)
    var k =
      unsafeBitCast(biasedK | 0x4330_0000_0000_0000, to: Vector.self)
      - (0x1p52 + 1023)
    k = k.replacing(with: k - 54, where: subnormal)
    var r = log1pCore(m - 1, k: k, correction: Vector(repeating: 0))
    r = r.replacing(with: x, where: x .== .infinity)
    r = r.replacing(with: -.infinity, where: x .== 0)
    return r.replacing(with: .nan, where: .!(x .>= 0))
  }

  /// `k ln2 + log1p(f) + c` for `|f / (2 + f)| <= 1/5` and an integer `k`
  /// (|k| <= 1100), `c` a correction far below an ulp of the result:
  ///
  ///     s = f / (2 + f)
  ///     log1p(f) = 2 atanh(s) = f - (f^2/2 - s (f^2/2 + s^2 P(s^2)))
  ///
  /// `P` has degree 7 (relative error 2^-60.2 on the result). The leading
  /// term `f` is exact, `k ln2_hi + f` is carried exactly as two words, and
  /// the rest is at most a third of the result, so the rounding of `s` barely
  /// shows. With `k = c = -0`, `f = -0` gives -0.
  @usableFromInline @_transparent
  static func log1pCore(_ f: Vector, k: Vector, correction c: Vector) -> Vector {
    let s = f / (2 + f)
    let z = s * s
    // P by Estrin's scheme (depth 5 instead of 14).
    let z2 = z * z
    let p01 = z * 0.400000000000078 + 0.6666666666666666
    let p23 = z * 0.22222223037807243 + 0.2857142856733919
    let p45 = z * 0.15388834677801916 + 0.18181738454723026
    let p67 = z * 0.13604015707124079 + 0.1321036048513262
    let pz = (z2 * p23 + p01) + (z2 * z2) * (z2 * p67 + p45)
    let halfSquare = 0.5 * (f * f)
    // k ln2 as hi + lo: ln2_hi has 33 bits, so k ln2_hi is exact.
    let ln2Hi = k * 0x1.62e42fee00000p-1
    let ln2Lo = k * 1.9082149292705877e-10
    // hi + err = f + k ln2_hi exactly (Fast2Sum: |f| < 1/2 < |k ln2_hi|
    // unless k = 0).
    let hi = f + ln2Hi
    let err = (ln2Hi - hi) + f
    let tail = s * (halfSquare + z * pz) + (ln2Lo + c)
    // hi - (...) rather than hi + (...): keeps log1p(-0) = -0.
    return hi - ((halfSquare - tail) - err)
  }
}

extension Elementary {
  /// `n` when `x` is an integer in 0...8, else nil: the exponents that
  /// ``power(_:_:)`` takes by multiplication.
  @inlinable @inline(__always)
  static func smallInteger(_ x: Double) -> Int? {
    x >= 0 && x <= 8 && x == x.rounded(.towardZero) ? Int(x) : nil
  }

  /// `x^n` by repeated squaring (at most 4 products for n <= 8), each
  /// rounding once: within about n/2 ulps of the exact power of `x`.
  @inlinable @inline(__always)
  static func power(_ x: Double, _ n: Int) -> Double {
    var result = 1.0
    var base = x
    var e = n
    while e > 0 {
      if e & 1 == 1 { result *= base }
      e >>= 1
      if e > 0 { base *= base }
    }
    return result
  }

  /// Lane-wise ``power(_:_:)``.
  @inlinable @inline(__always)
  static func power(_ x: Vector, _ n: Int) -> Vector {
    var result = Vector(repeating: 1)
    var base = x
    var e = n
    while e > 0 {
      if e & 1 == 1 { result *= base }
      e >>= 1
      if e > 0 { base *= base }
    }
    return result
  }
}

extension Elementary {
  /// `-log(1 - x) - x = Σ_{n >= 2} x^n / n >= 0` for `x` in [0, 1], given
  /// `minusLog = -log(1 - x)` (a softplus): the part of cross-entropy that
  /// Poly-1 with `ε = -1` leaves. Below `x = 1/4` the difference would cancel
  /// (it is about `x² / 2`), so it comes from the series, 28 terms (truncation
  /// below 2e-17 relative); above, `minusLog - x` loses at most 3 bits
  /// (`minusLog / (minusLog - x) < 7.7`).
  @inlinable @inline(__always)
  static func logRemainder(_ x: Vector, minusLog: Vector) -> Vector {
    var series = Vector(repeating: 1 / 29.0)
    var n = 28.0
    while n >= 2 {
      series = Vector(repeating: 1 / n) + x * series
      n -= 1
    }
    let direct = minusLog - x
    return direct.replacing(with: (x * x) * series, where: x .< 0.25)
  }

  /// The scalar ``logRemainder(_:minusLog:)`` (one lane of it: the same bits).
  @inlinable @inline(__always)
  static func logRemainder(_ x: Double, minusLog: Double) -> Double {
    logRemainder(Vector(repeating: x), minusLog: Vector(repeating: minusLog))[0]
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
    self.init(z, e: Logistic.expOfMinusMagnitude(z))
  }

  /// `exp(-|z|)`.
  @inlinable @inline(__always)
  static func expOfMinusMagnitude(_ z: Vector) -> Vector {
    Elementary.exp(z.replacing(with: -z, where: z .>= 0))
  }

  /// The same from `e = exp(-|z|)` computed earlier (bit-identical results).
  @inlinable @inline(__always)
  init(_ z: Vector, e: Vector) {
    // Masks come from comparisons only: `mask .== false` and friends run a
    // lane-by-lane loop through memory in the standard library (10x slower).
    isNonNegative = z .>= 0
    self.e = e
    let r = 1 / (1 + e)
    let er = e * r
    p = er.replacing(with: r, where: isNonNegative)
    q = r.replacing(with: er, where: isNonNegative)
  }

  /// `(softplus(z), softplus(-z))` = `(-log(1 - p), -log p)`.
  @inlinable @inline(__always)
  func softplus(_ z: Vector) -> (positive: Vector, negative: Vector) {
    let l = Elementary.log1pNearZero(e)
    let zPos = z.replacing(with: 0, where: z .< 0)
    let zNeg = (-z).replacing(with: 0, where: isNonNegative)
    return (zPos + l, zNeg + l)
  }
}
