import Dispatch

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

/// Runs a kernel over fixed chunks of a batch, serially or on several threads,
/// and adds the chunk results in chunk order.
///
/// Chunk boundaries depend only on the batch size, and the chunk results are
/// combined by one compensated sum in index order, so the result is
/// bit-identical for every thread count.
@usableFromInline
enum ChunkedReduction {
  /// Items (binary samples or softmax rows) per chunk are chosen so that a
  /// chunk holds about this many logits: 16-50 µs of work at 2-6 ns a logit,
  /// far above the cost of a `concurrentPerform` iteration, and fine enough
  /// to balance two threads: N = 10^5 is 13 chunks, at most 7 on one thread
  /// (a 1.86x bound; 16K-logit chunks gave 7 chunks and a 1.75x bound).
  @usableFromInline static let logitsPerChunk = 8_192

  /// Below this many logits (4 chunks, 65-200 µs of work on one thread) the
  /// cost of waking a second worker eats the gain. On the 2-vCPU benchmark
  /// machine (busy with other jobs, so only single samples), two threads ran
  /// 1.8x faster at 65,500 logits with these settings and 1.7x at 131,072
  /// logits with 16K chunks; see Benchmarks/README.md.
  @usableFromInline static let parallelThreshold = 1 << 15

  @inlinable
  static func sum(
    itemCount: Int, logitsPerItem: Int, parallelism: Parallelism,
    _ body: (Range<Int>) -> SIMD4<Double>
  ) -> SIMD4<Double> {
    let itemsPerChunk = Swift.max(1, logitsPerChunk / logitsPerItem)
    let chunkCount = (itemCount + itemsPerChunk - 1) / itemsPerChunk
    @Sendable func chunk(_ j: Int) -> Range<Int> {
      (j * itemsPerChunk)..<Swift.min(itemCount, (j + 1) * itemsPerChunk)
    }
    let threads: Int
    switch parallelism {
    case .serial: threads = 1
    case .automatic: threads = chunkCount
    case .maximumThreads(let n): threads = Swift.max(1, n)
    }
    var total = CompensatedSum4()
    if threads == 1 || chunkCount < 2 || itemCount * logitsPerItem < parallelThreshold {
      for j in 0..<chunkCount { total.add(body(chunk(j))) }
      return total.value
    }
    let workers = Swift.min(threads, chunkCount)
    var partials = [SIMD4<Double>](repeating: SIMD4(), count: chunkCount)
    partials.withUnsafeMutableBufferPointer { out in
      let out = SendableBuffer(out)
      withoutActuallyEscaping(body) { body in
        let body = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: workers) { w in
          var j = w
          while j < chunkCount {
            out.base[j] = body.value(chunk(j))
            j += workers
          }
        }
      }
    }
    for p in partials { total.add(p) }
    return total.value
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
