import Dispatch

// Data-parallel training: a batch split across workers (or micro-batches)
// gives each shard's rows of the whole batch's gradient, exactly, once every
// shard knows the few sums the loss needs from the whole batch.

/// A loss that can be computed on a batch split across workers: each shard's
/// gradient is its slice of the gradient of the whole batch.
///
/// Some losses depend on sums over the whole batch: the normaliser `Σ w` of
/// a weighted mean, the soft confusion counts `T = Σ w y p` and
/// `S = Σ w (y + p)` of smooth F1, soft Dice and Tversky, their per-class
/// counterparts in the macro losses. Computed on a shard alone they give
/// another loss and a wrong gradient. Every one of these sums is additive,
/// so one all-reduce of a few numbers fixes it. A step on each worker:
///
/// ```swift
/// let local = try loss.statistics(logits: z, targets: y)           // this shard's sums
/// let summed = allReduceSum(local.scalars)                          // MPI_Allreduce(MPI_SUM), NCCL, …
/// let global = try BatchStatistics(scalars: summed)                 // or local + other shards' statistics
/// let share = try loss.valueAndGradient(
///     logits: z, targets: y, gradient: &g, statistics: global)      // this shard's rows of ∂L/∂z
/// ```
///
/// The shares of all shards add up to the loss of the whole batch, and the
/// shards' gradients, concatenated, are its gradient, to within a few ulps
/// (the sums are carried as compensated `(hi, lo)` pairs). For a separable
/// loss the share is `Σ_shard w_i l_i / Σ_all w` under ``Reduction/mean`` and
/// `Σ_shard w_i l_i` under ``Reduction/sum``; for a loss of batch sums (smooth
/// F1, Dice, …) it is the value times the shard's fraction of the samples.
/// The same mechanism makes gradient accumulation over micro-batches exact:
/// merge the statistics of every micro-batch with `+` first, then compute
/// each micro-batch's gradient with the merged statistics.
///
/// Every loss of the package conforms. Statistics from a loss of another
/// type or configuration, of the wrong length, or with a NaN, a negative
/// total or fewer samples than this shard throw ``LossError``.
public protocol DataParallelLoss<Target>: Loss {
  /// What a sample's target is (as in ``Loss``).
  associatedtype Target

  /// The sums this loss needs from the whole batch, over this shard.
  ///
  /// - Parameters:
  ///   - logits: the shard's `n * logitsPerSample` finite logits.
  ///   - targets: its `n` targets.
  ///   - weights: its `n` per-sample weights `>= 0`, or `nil` for all ones.
  ///     A shard whose weights are all zero is valid (the whole batch's total
  ///     is what must be positive). The sums are exchanged unscaled, so a
  ///     positive weight (or class weight) must be at least 2^-500 (about
  ///     3e-151); the one-batch path has no such limit.
  /// - Returns: Statistics whose ``BatchStatistics/scalars`` have the same
  ///   length on every shard for the same loss.
  /// - Throws: ``LossError`` for invalid input, as the loss itself, and
  ///   ``LossError/invalidParameter(name:value:requirement:)`` (name `"statistics.scalars[j]"`) when a sum
  ///   overflows `Double`.
  /// - Complexity: O(`logits.count`); the softmax losses run their kernel.
  func statistics(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Target>,
    weights: UnsafeBufferPointer<Double>?
  ) throws(LossError) -> BatchStatistics

  /// This shard's share of the whole batch's loss and, when `gradient` is
  /// non-nil, this shard's rows of the whole batch's gradient.
  ///
  /// - Parameters:
  ///   - logits: this shard's logits, as for ``statistics(logits:targets:weights:)``.
  ///   - targets: its targets.
  ///   - weights: its per-sample weights, or `nil` for all ones.
  ///   - gradient: `nil`, or `logits.count` elements that receive `∂L/∂z`
  ///     of this shard's logits; untouched if the call throws.
  ///   - statistics: the merged statistics of every shard of the batch.
  /// - Returns: This shard's share of the loss; the shares add up to the
  ///   loss of the whole batch.
  /// - Throws: ``LossError`` for invalid input and for statistics that do not
  ///   belong to this loss (see the type's documentation).
  /// - Complexity: O(`logits.count`).
  func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Target>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    statistics: BatchStatistics
  ) throws(LossError) -> Double
}

extension DataParallelLoss {
  /// The statistics of every loss: ``BatchStatistics``.
  public typealias Statistics = BatchStatistics

  /// This shard's statistics; see ``DataParallelLoss/statistics(logits:targets:weights:)``.
  ///
  /// - Complexity: O(`logits.count`).
  @inlinable
  public func statistics(
    logits: [Double], targets: [Target], weights: [Double]? = nil
  ) throws(LossError) -> BatchStatistics {
    try withBuffers(logits, targets, weights) { (z, t, w) throws(LossError) in
      try statistics(logits: z, targets: t, weights: w)
    }
  }

  /// This shard's share of the loss of the whole batch that `statistics` describe.
  ///
  /// - Complexity: O(`logits.count`).
  @inlinable
  public func value(
    logits: [Double], targets: [Target], weights: [Double]? = nil,
    statistics: BatchStatistics
  ) throws(LossError) -> Double {
    try withBuffers(logits, targets, weights) { (z, t, w) throws(LossError) in
      try valueAndGradient(logits: z, targets: t, weights: w, gradient: nil, statistics: statistics)
    }
  }

  /// This shard's share of the loss, with its rows of the whole batch's
  /// gradient written into a reusable array (resized to `logits.count` if
  /// needed; unchanged if the call throws).
  ///
  /// - Complexity: O(`logits.count`).
  @inlinable
  public func valueAndGradient(
    logits: [Double], targets: [Target], weights: [Double]? = nil,
    gradient: inout [Double], statistics: BatchStatistics
  ) throws(LossError) -> Double {
    if gradient.count != logits.count {
      _ = try value(logits: logits, targets: targets, weights: weights, statistics: statistics)
      gradient = [Double](repeating: 0, count: logits.count)
    }
    return try withBuffers(logits, targets, weights) { (z, t, w) throws(LossError) in
      try gradient.withUnsafeMutableBufferPointer { (g) throws(LossError) in
        try valueAndGradient(
          logits: z, targets: t, weights: w, gradient: g, statistics: statistics)
      }
    }
  }

  /// This shard's share of the loss and its rows of the whole batch's
  /// gradient, in a new array.
  ///
  /// - Complexity: O(`logits.count`).
  @inlinable
  public func valueAndGradient(
    logits: [Double], targets: [Target], weights: [Double]? = nil,
    statistics: BatchStatistics
  ) throws(LossError) -> (value: Double, gradient: [Double]) {
    var gradient = [Double](repeating: 0, count: logits.count)
    let value = try valueAndGradient(
      logits: logits, targets: targets, weights: weights, gradient: &gradient,
      statistics: statistics)
    return (value, gradient)
  }
}

/// The sums a ``DataParallelLoss`` needs from a whole batch, over one shard
/// or merged over several.
///
/// Merging is addition: `a + b` are the statistics of the two shards
/// together. ``scalars`` is a fixed-length array for a given loss
/// configuration whose elementwise sum over workers is the merge, so any
/// all-reduce (`MPI_Allreduce` with `MPI_SUM`, NCCL, a parameter server)
/// merges statistics without knowing their type:
///
/// ```swift
/// let merged = try BatchStatistics(scalars: elementwiseSumOverWorkers(local.scalars))
/// ```
///
/// The layout: `scalars[0]` counts the shards merged, `scalars[1]` is that
/// count times a fingerprint of the loss's configuration (so statistics of
/// another loss are recognised after any sum), `scalars[2]` counts the
/// samples, and the rest are the loss's sums as `(hi, lo)` pairs, the value
/// `hi + lo` carrying the rounding error of the shard's compensated sum.
/// `+` adds the pairs in double-double arithmetic; a plain elementwise sum
/// (what an all-reduce does) loses at most a few ulps over 16 shards.
public struct BatchStatistics: Sendable, Equatable, CustomStringConvertible {
  /// The statistics as numbers whose elementwise sum over shards merges them.
  public private(set) var scalars: [Double]

  /// Statistics from their scalars (for example after an all-reduce).
  ///
  /// - Throws: ``LossError/invalidParameter(name:value:requirement:)`` (name `"statistics.scalars[j]"`) for
  ///   a length that is no layout, a NaN or infinite scalar, a shard or
  ///   sample count that is not a whole number `>= 1`, a fingerprint that is
  ///   not a whole multiple of the shard count, or a negative total.
  /// - Complexity: O(`scalars.count`).
  public init(scalars: [Double]) throws(LossError) {
    try Self.validate(scalars)
    self.scalars = scalars
  }

  @usableFromInline
  init(unchecked scalars: [Double]) {
    self.scalars = scalars
  }

  /// The statistics of the shards of both operands.
  ///
  /// Statistics of different lengths (different losses) cannot be merged:
  /// the result is then marked invalid, and using it throws.
  ///
  /// - Complexity: O(`scalars.count`).
  public static func + (lhs: BatchStatistics, rhs: BatchStatistics) -> BatchStatistics {
    guard lhs.scalars.count == rhs.scalars.count, lhs.scalars.count >= headerCount else {
      return BatchStatistics(unchecked: [.nan])
    }
    var merged = lhs.scalars
    for j in 0..<headerCount { merged[j] += rhs.scalars[j] }
    var j = headerCount
    while j + 1 < merged.count {
      // Double-double addition of (hi, lo) pairs.
      let (s, e) = ErrorFree.twoSum(lhs.scalars[j], rhs.scalars[j])
      let low = lhs.scalars[j + 1] + rhs.scalars[j + 1] + e
      let hi = s + low
      merged[j] = hi
      merged[j + 1] = hi.isFinite ? low - (hi - s) : 0
      j += 2
    }
    return BatchStatistics(unchecked: merged)
  }

  /// Merges `rhs` into `lhs`.
  ///
  /// - Complexity: O(`scalars.count`).
  public static func += (lhs: inout BatchStatistics, rhs: BatchStatistics) {
    lhs = lhs + rhs
  }

  /// The number of shards merged into these statistics.
  public var shardCount: Int { scalars.first.map { $0.isFinite ? Int($0) : 0 } ?? 0 }

  /// The number of samples of the shards merged into these statistics.
  public var sampleCount: Int {
    scalars.count > 2 && scalars[2].isFinite ? Int(scalars[2]) : 0
  }

  /// `"BatchStatistics(shards: 2, samples: 512, sums: [...])"`.
  public var description: String {
    var sums: [Double] = []
    var j = Self.headerCount
    while j + 1 < scalars.count {
      sums.append(scalars[j] + scalars[j + 1])
      j += 2
    }
    return "BatchStatistics(shards: \(shardCount), samples: \(sampleCount), sums: \(sums))"
  }

  /// Shards, fingerprint times shards, samples.
  @usableFromInline static let headerCount = 3
  /// Fingerprints lie in [1, 2^20] and shard counts below 2^32, so that
  /// their product is exact.
  @usableFromInline static let fingerprintLimit = 1 << 20

  static func validate(_ s: [Double]) throws(LossError) {
    func fail(_ j: Int, _ requirement: String) -> LossError {
      .invalidParameter(
        name: "statistics.scalars[\(j)]", value: j < s.count ? s[j] : Double(s.count), requirement: requirement)
    }
    if s.count < headerCount || (s.count - headerCount) % 2 != 0 {
      throw fail(s.count, "a length of 3 + 2 m (a header and m (hi, lo) pairs); got \(s.count) scalars")
    }
    for (j, x) in s.enumerated() where !x.isFinite { throw fail(j, "finite") }
    let shards = s[0]
    if !(shards >= 1 && shards < 0x1p32 && shards == shards.rounded()) {
      throw fail(0, "a shard count: a whole number in [1, 2^32)")
    }
    let fingerprint = s[1] / shards
    if !(fingerprint >= 1 && fingerprint <= Double(fingerprintLimit)
      && fingerprint == fingerprint.rounded() && fingerprint * shards == s[1])
    {
      throw fail(1, "a loss fingerprint times the shard count \(Int(shards))")
    }
    if !(s[2] >= shards && s[2] == s[2].rounded()) {
      throw fail(2, "a sample count: a whole number >= the shard count \(Int(shards))")
    }
    var j = headerCount
    while j + 1 < s.count {
      if !(s[j] >= 0 && s[j] + s[j + 1] >= 0) { throw fail(j, "a total >= 0") }
      j += 2
    }
  }
}

// MARK: - How losses build and read their statistics

extension BatchStatistics {
  /// One shard's statistics: its sample count and its sums, each a
  /// compensated sum (`(hi, lo)` exact) or an exact count.
  ///
  /// - Throws: ``LossError/invalidParameter(name:value:requirement:)`` (name `"statistics.scalars[j]"`) when
  ///   a sum overflowed.
  @usableFromInline
  init<L: Sendable>(
    of loss: L, samples: Int, sums: [CompensatedSum], weights: UnsafeBufferPointer<Double>?
  ) throws(LossError) {
    try Validation.checkDataParallel(weights, name: "weights")
    var s = [Double](repeating: 0, count: Self.headerCount + 2 * sums.count)
    s[0] = 1
    s[1] = Fingerprint.of(loss)
    s[2] = Double(samples)
    for (m, sum) in sums.enumerated() {
      let j = Self.headerCount + 2 * m
      guard sum.sum.isFinite else {
        throw .invalidParameter(
        name: "statistics.scalars[\(j)]", value: sum.sum, requirement: "finite: this shard's sum overflows Double")
      }
      let hi = sum.sum + sum.compensation
      s[j] = hi
      s[j + 1] = sum.compensation - (hi - sum.sum)
    }
    self.init(unchecked: s)
  }

  /// Checks that these statistics belong to `loss` (its fingerprint, `sums`
  /// pairs) and cover at least `samples` samples; returns the totals
  /// `hi + lo` of the sums.
  @usableFromInline
  func totals<L: Sendable>(for loss: L, sums: Int, samples: Int) throws(LossError) -> [Double] {
    let expected = Self.headerCount + 2 * sums
    if scalars.count != expected {
      throw .lengthMismatch(argument: "statistics.scalars", expected: expected, actual: scalars.count)
    }
    try Self.validate(scalars)
    let fingerprint = Fingerprint.of(loss)
    if scalars[1] != fingerprint * scalars[0] {
      throw .invalidParameter(
        name: "statistics.scalars[\(1)]", value: scalars[1],
        requirement:
          "\(Int(fingerprint)) times the shard count: statistics of this loss's type and configuration")
    }
    if scalars[2] < Double(samples) {
      throw .invalidParameter(
        name: "statistics.scalars[\(2)]", value: scalars[2],
        requirement: "at least this shard's \(samples) samples: statistics that include this shard")
    }
    return (0..<sums).map { m in
      let j = Self.headerCount + 2 * m
      return scalars[j] + scalars[j + 1]
    }
  }

  /// A batch-statistic loss's share of its `value`: the shard's fraction of
  /// the samples.
  @usableFromInline
  func share(of value: Double, samples: Int) -> Double {
    let all = scalars[2]
    return Double(samples) == all ? value : value * (Double(samples) / all)
  }
}

extension Validation {
  /// The smallest positive (class) weight data-parallel statistics take: the
  /// sums are exchanged in raw weight units (a common scale would need
  /// another all-reduce), where the products of smaller weights lose their
  /// digits to underflow.
  @usableFromInline static let smallestDataParallelWeight = 0x1p-500

  /// Throws for a weight in (0, 2^-500), naming `name[i]`.
  @usableFromInline
  static func checkDataParallel(
    _ weights: UnsafeBufferPointer<Double>?, name: String
  ) throws(LossError) {
    guard let weights else { return }
    for (i, w) in weights.enumerated() where w > 0 && w < smallestDataParallelWeight {
      throw .invalidParameter(
        name: "\(name)[\(i)]", value: w,
        requirement: "0 or at least 2^-500 for data-parallel statistics (sums are exchanged unscaled)")
    }
  }
}

extension WeightNormalizer {
  /// The normaliser of a shard of a batch of `kept` samples (not ignored)
  /// with total weight `total`, both over the whole batch.
  ///
  /// `w_i / W` with `W` the batch's total gives the bits of the one-batch
  /// normaliser (its powers of two are exact); a total outside
  /// [2^-900, 2^900] is scaled into [1, 2) so that `1 / W` stays normal.
  @inlinable
  init(kept: Double, total: Double, weighted: Bool, reduction: Reduction) throws(LossError) {
    if reduction == .sum {
      self.init(scale: 1, reciprocal: 1)
    } else if kept == 0 {
      self.init(scale: 1, reciprocal: 0)
    } else if !(total > 0) {
      throw .zeroTotalWeight
    } else if !weighted || (total >= 0x1p-900 && total <= 0x1p900) {
      self.init(scale: 1, reciprocal: 1 / total)
    } else {
      let scale = PowerOfTwo.scale(bringingToUnit: total)
      self.init(scale: scale, reciprocal: 1 / (total * scale))
    }
  }
}

/// A number in [1, 2^20] that identifies a loss's type and configuration,
/// the same in every process: FNV-1a over the type name and the bits of
/// the stored properties (``Loss/parallelism`` left out).
@usableFromInline
enum Fingerprint {
  @usableFromInline
  static func of(_ loss: some Sendable) -> Double {
    if let hashable = loss as? any Hashable { return cached(hashable) }
    return computed(loss)
  }

  /// The fingerprint of a loss computed before for an equal loss, or computed now.
  static func cached<L: Hashable>(_ loss: L) -> Double {
    let key = ObjectIdentifier(L.self)
    cache.lock.wait()
    let recent = cache.entries[key] ?? []
    cache.lock.signal()
    for entry in recent {
      if let seen = entry.loss as? L, seen == loss { return entry.fingerprint }
    }
    let fingerprint = computed(loss)
    cache.lock.wait()
    cache.entries[key] = [(loss, fingerprint)] + (cache.entries[key] ?? []).prefix(3)
    cache.lock.signal()
    return fingerprint
  }

  /// The last fingerprints computed, up to 4 per loss type, with the loss
  /// each was computed for: reflection costs about 10 µs a loss, an equality
  /// test well under one.
  final class Cache: @unchecked Sendable {
    let lock = DispatchSemaphore(value: 1)
    var entries: [ObjectIdentifier: [(loss: Any, fingerprint: Double)]] = [:]
  }

  static let cache = Cache()

  static func computed(_ loss: Any) -> Double {
    var hash = Hash()
    hash.add(String(reflecting: type(of: loss)))
    hash.add(loss)
    return Double(1 + Int(hash.value % UInt64(BatchStatistics.fingerprintLimit)))
  }

  struct Hash {
    var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(bits: UInt64) {
      var b = bits
      for _ in 0..<8 {
        value = (value ^ (b & 0xff)) &* 0x100_0000_01b3
        b >>= 8
      }
    }

    mutating func add(_ string: String) {
      for byte in string.utf8 { value = (value ^ UInt64(byte)) &* 0x100_0000_01b3 }
      add(bits: UInt64(string.utf8.count))
    }

    mutating func add(_ x: Any) {
      switch x {
      case let d as Double: add(bits: (d == 0 ? 0 : d).bitPattern)
      case let i as Int: add(bits: UInt64(bitPattern: Int64(i)))
      case let b as Bool: add(bits: b ? 1 : 2)
      case let s as String: add(s)
      case let a as [Double]:
        add(bits: UInt64(a.count))
        for d in a { add(bits: (d == 0 ? 0 : d).bitPattern) }
      case let a as [Int]:
        add(bits: UInt64(a.count))
        for i in a { add(bits: UInt64(bitPattern: Int64(i))) }
      case is Parallelism: break
      default:
        // The loss's type name is hashed once, by `of`; nested values by
        // their contents in declaration order (Mirror is slow: about 8 µs
        // for a loss with a handful of properties).
        // A member of a `CombinedLoss` is known by its type too.
        if x is any Loss { add(String(reflecting: type(of: x))) }
        let mirror = Mirror(reflecting: x)
        if mirror.children.isEmpty {
          add(String(describing: x))
          return
        }
        add(bits: UInt64(mirror.children.count))
        for child in mirror.children where child.label != "parallelism" {
          add(child.value)
        }
      }
    }
  }
}
