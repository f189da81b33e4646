/// A weighted sum of losses on the same logits and targets (compound losses
/// such as Dice + cross-entropy), computed in one call:
///
///     L = Σ_j λ_j L_j,     ∂L/∂z = Σ_j λ_j ∂L_j/∂z
///
/// Each member sees the whole batch, so a member whose value depends on batch
/// statistics (``SoftDiceLoss``, ``TverskyLoss``, ``SmoothF1Loss``) keeps its
/// batch semantics; each member's own reduction and weights apply to its
/// term. Members are added in order, so the result is the same bits for the
/// same members, whatever the thread count.
///
/// ```swift
/// let loss = CombinedLoss<Double>([(0.5, SoftDiceLoss()), (1, BinaryCrossEntropy(positiveWeight: 4))])
/// let (value, gradient) = try loss.valueAndGradient(
///     logits: [1.2, -0.3, -2.0], targets: [1, 0, 0])
/// ```
///
/// (There is deliberately no `+` on losses: a generic operator would slow
/// the type-checking of every `+` in a client's code.)
///
/// A call throws ``LossError/invalidParameter(name:value:requirement:)`` for
/// a member weight that is negative or not finite (`name` "weights[j]"), or
/// for members with different ``Loss/logitsPerSample`` (`name`
/// "logitsPerSample"), and otherwise what a member throws. Every member is
/// computed before the caller's gradient buffer is written, so the buffer is
/// untouched after a throw; a call with a gradient allocates two scratch
/// buffers of `logits.count`. Member weights above 2^64 are applied scaled
/// by a power of two, so that two weighted terms that overflow with opposite
/// signs give their true sum (or ±inf if that overflows), never NaN.
public struct CombinedLoss<Target: Sendable>: Loss {
  /// The members `(λ_j, L_j)`, in the order they are added.
  public var terms: [(weight: Double, loss: any Loss<Target>)]

  /// Creates the weighted sum of `terms` (validated by every call).
  public init(_ terms: [(weight: Double, loss: any Loss<Target>)]) {
    self.terms = terms
  }

  /// The first member's logits per sample (the members must agree).
  public var logitsPerSample: Int { terms.first?.loss.logitsPerSample ?? 1 }

  /// The first member's setting; setting it sets every member's.
  public var parallelism: Parallelism {
    get { terms.first?.loss.parallelism ?? .automatic }
    set {
      for j in terms.indices { terms[j].loss.parallelism = newValue }
    }
  }

  /// Computes `Σ_j λ_j L_j` and, when `gradient` is non-nil, `Σ_j λ_j ∂L_j/∂z`.
  ///
  /// - Throws: as described on the type for no members, bad weights or
  ///   mismatched members, and any member's error.
  /// - Complexity: O(`logits.count`) per member.
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Target>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?
  ) throws(LossError) -> Double {
    try combine(logits: logits, gradient: gradient) { (_, loss, g) throws(LossError) in
      try loss.valueAndGradient(logits: logits, targets: targets, weights: weights, gradient: g)
    }
  }

  /// Throws for no members, a bad weight or members of different shapes.
  func validateTerms() throws(LossError) {
    guard let first = terms.first else {
      throw .invalidParameter(name: "terms.count", value: 0, requirement: "at least one member")
    }
    for (j, term) in terms.enumerated() {
      try Validation.checkNonNegative(term.weight, name: "weights[\(j)]")
      if term.loss.logitsPerSample != first.loss.logitsPerSample {
        throw .invalidParameter(
          name: "logitsPerSample", value: Double(term.loss.logitsPerSample),
          requirement: "the same for every member (\(first.loss.logitsPerSample))")
      }
    }
  }

  /// `Σ_j λ_j member(j)` and its gradient, every member computed before
  /// `gradient` is written; `member(j, loss, g)` returns member `j`'s value
  /// and writes its gradient into `g` when `g` is non-nil.
  func combine(
    logits: UnsafeBufferPointer<Double>, gradient: UnsafeMutableBufferPointer<Double>?,
    member: (Int, any Loss<Target>, UnsafeMutableBufferPointer<Double>?) throws(LossError) -> Double
  ) throws(LossError) -> Double {
    try validateTerms()
    // Weights above 2^64 are applied as (λ 2^-s) x, the sums scaled by 2^s
    // after: two members whose weighted terms would each overflow, with
    // opposite signs, then give their true sum (or an honest ±inf) instead of
    // inf - inf = NaN. Weights up to 2^64 (all in practice) keep `λ x`'s bits.
    let largest = terms.reduce(0) { Swift.max($0, $1.weight) }
    let down = largest > 0x1p64 ? PowerOfTwo.scale(bringingToUnit: largest) : 1
    guard let gradient else {
      var value = 0.0
      for (j, term) in terms.enumerated() {
        value += Self.weighted(term.weight * down, try member(j, term.loss, nil))
      }
      return down == 1 ? value : value / down
    }
    if gradient.count != logits.count {
      throw .lengthMismatch(argument: "gradient", expected: logits.count, actual: gradient.count)
    }
    var total = [Double](repeating: 0, count: logits.count)
    var scratch = [Double](repeating: 0, count: logits.count)
    var value = 0.0
    try scratch.withUnsafeMutableBufferPointer { (g) throws(LossError) in
      try total.withUnsafeMutableBufferPointer { (sum) throws(LossError) in
        for (j, term) in terms.enumerated() {
          let v = try member(j, term.loss, g)
          value += Self.weighted(term.weight * down, v)
          for k in 0..<g.count { sum[k] += Self.weighted(term.weight * down, g[k]) }
        }
      }
    }
    if down != 1 {
      for k in total.indices { total[k] /= down }
    }
    _ = gradient.update(fromContentsOf: total)
    return down == 1 ? value : value / down
  }

  /// `λ x`, and 0 for `λ = 0` even where `x` is infinite (a member switched off).
  @inlinable @inline(__always)
  static func weighted(_ weight: Double, _ x: Double) -> Double {
    weight == 0 ? 0 : weight * x
  }
}

extension CombinedLoss {
  /// This combination with `loss` added as a last member of weight `weight`.
  ///
  /// - Complexity: O(members).
  public func adding<L: Loss>(_ loss: L, weight: Double = 1) -> CombinedLoss
  where L.Target == Target {
    CombinedLoss(terms + [(weight, loss)])
  }
}

extension CombinedLoss: DataParallelLoss {
  /// This shard's statistics: every member's, in order (each member must
  /// be a ``DataParallelLoss``).
  ///
  /// - Throws: as the members, and ``LossError/invalidParameter(name:value:requirement:)``
  ///   (name "terms[j]") for a member that is not a ``DataParallelLoss``.
  /// - Complexity: O(`logits.count`) per member.
  public func statistics(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Target>,
    weights: UnsafeBufferPointer<Double>?
  ) throws(LossError) -> BatchStatistics {
    try validateTerms()
    // The members' sums, each after a pair (its number of sums, 0).
    var sums: [CompensatedSum] = []
    for j in terms.indices {
      let member = try dataParallelMember(j).statistics(
        logits: logits, targets: targets, weights: weights)
      let pairs = member.scalars.dropFirst(BatchStatistics.headerCount)
      var count = CompensatedSum()
      count.add(Double(pairs.count / 2))
      sums.append(count)
      var k = pairs.startIndex
      while k < pairs.endIndex {
        var pair = CompensatedSum()
        pair.sum = pairs[k]
        pair.compensation = pairs[k + 1]
        sums.append(pair)
        k += 2
      }
    }
    return try BatchStatistics(
      of: self, samples: logits.count / Swift.max(1, logitsPerSample), sums: sums, weights: nil)
  }

  /// This shard's share `Σ_j λ_j (share of L_j)` and its rows of the whole
  /// batch's gradient `Σ_j λ_j ∂L_j/∂z`.
  ///
  /// - Throws: as ``statistics(logits:targets:weights:)``, and for
  ///   statistics of another loss.
  /// - Complexity: O(`logits.count`) per member.
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Target>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    statistics: BatchStatistics
  ) throws(LossError) -> Double {
    try validateTerms()
    let members = try memberStatistics(statistics, samples: logits.count / logitsPerSample)
    return try combine(logits: logits, gradient: gradient) { (j, _, g) throws(LossError) in
      try dataParallelMember(j).valueAndGradient(
        logits: logits, targets: targets, weights: weights, gradient: g,
        statistics: members[j])
    }
  }

  /// Member `j` as a ``DataParallelLoss``.
  func dataParallelMember(_ j: Int) throws(LossError) -> any DataParallelLoss<Target> {
    guard let member = terms[j].loss as? any DataParallelLoss<Target> else {
      throw .invalidParameter(
        name: "terms[\(j)]", value: terms[j].weight,
        requirement: "a loss that conforms to DataParallelLoss")
    }
    return member
  }

  /// Splits merged statistics into the members' (see ``statistics(logits:targets:weights:)``).
  func memberStatistics(
    _ statistics: BatchStatistics, samples: Int
  ) throws(LossError) -> [BatchStatistics] {
    let s = statistics.scalars
    try BatchStatistics.validate(s)
    let shards = s[0]
    let fingerprint = Fingerprint.of(self)
    if s[1] != fingerprint * shards {
      throw .invalidParameter(
        name: "statistics.scalars[\(1)]", value: s[1],
        requirement:
          "\(Int(fingerprint)) times the shard count: statistics of this loss's type and configuration")
    }
    if s[2] < Double(samples) {
      throw .invalidParameter(
        name: "statistics.scalars[\(2)]", value: s[2],
        requirement: "at least this shard's \(samples) samples: statistics that include this shard")
    }
    var members: [BatchStatistics] = []
    var k = BatchStatistics.headerCount
    for j in terms.indices {
      let count = k + 1 < s.count ? (s[k] + s[k + 1]) / shards : -1
      guard count >= 0, count == count.rounded(), k + 2 + 2 * Int(count) <= s.count else {
        throw .invalidParameter(
        name: "statistics.scalars[\(k)]", value: k < s.count ? s[k] : .nan,
          requirement: "member \(j)'s number of sums times the shard count")
      }
      let member = try dataParallelMember(j)
      let header = [shards, Fingerprint.of(member) * shards, s[2]]
      members.append(BatchStatistics(unchecked: header + s[(k + 2)..<(k + 2 + 2 * Int(count))]))
      k += 2 + 2 * Int(count)
    }
    if k != s.count {
      throw .lengthMismatch(argument: "statistics.scalars", expected: k, actual: s.count)
    }
    return members
  }
}
