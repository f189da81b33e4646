/// How many threads a loss may use for one call.
///
/// A batch is cut into fixed chunks whose partial sums are combined in chunk
/// order, so the result is bit-identical whatever the setting; only the speed
/// changes. Small batches always run on the calling thread.
public enum Parallelism: Sendable, Hashable {
  /// Everything runs on the calling thread.
  case serial
  /// Large batches are spread over all cores with Dispatch.
  case automatic
  /// Large batches are spread over at most this many threads (values below 1
  /// mean 1: serial).
  case maximumThreads(Int)
}
