// Fixed-chunk reductions over a batch, on the calling thread or on several
// threads with Dispatch (where it exists), with results that do not depend
// on the number of threads.

#if canImport(Dispatch)
import Dispatch
#endif

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
    compensatedSum(
      itemCount: itemCount, logitsPerItem: logitsPerItem, parallelism: parallelism, body
    ).value
  }

  /// ``sum(itemCount:logitsPerItem:parallelism:_:)`` before its final
  /// rounding: the compensated sum of the chunk results (data-parallel
  /// statistics carry its `(sum, compensation)` pairs).
  @inlinable
  static func compensatedSum(
    itemCount: Int, logitsPerItem: Int, parallelism: Parallelism,
    _ body: (Range<Int>) -> SIMD4<Double>
  ) -> CompensatedSum4 {
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
    #if canImport(Dispatch)
    if threads > 1 && chunkCount >= 2 && itemCount * logitsPerItem >= parallelThreshold {
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
      return total
    }
    #endif
    // One thread (or no Dispatch): the same chunks, added in the same order.
    for j in 0..<chunkCount { total.add(body(chunk(j))) }
    return total
  }
}
