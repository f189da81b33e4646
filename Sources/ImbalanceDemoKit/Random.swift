/// A small, repeatable random generator (Steele, Lea and Flood's SplitMix64)
/// with the normal draws the demo needs; one seed gives the same data on
/// every machine.
public struct SplitMix64: RandomNumberGenerator, Sendable {
  private var state: UInt64
  private var spareNormal: Double?

  /// A generator whose whole stream is fixed by `seed`.
  public init(seed: UInt64) { state = seed }

  /// The next 64 random bits.
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A uniform double in [0, 1) with 53 random bits.
  public mutating func uniform() -> Double {
    Double(next() >> 11) * 0x1p-53
  }

  /// A standard normal draw (Marsaglia's polar method; draws come in pairs).
  public mutating func normal() -> Double {
    if let spare = spareNormal {
      spareNormal = nil
      return spare
    }
    while true {
      let u = 2 * uniform() - 1
      let v = 2 * uniform() - 1
      let s = u * u + v * v
      if s > 0 && s < 1 {
        let scale = (-2 * Platform.log(s) / s).squareRoot()
        spareNormal = v * scale
        return u * scale
      }
    }
  }

  /// The indices `0..<count` in a uniformly random order (Fisher–Yates).
  public mutating func permutation(_ count: Int) -> [Int] {
    var indices = Array(0..<count)
    if count < 2 { return indices }
    for i in stride(from: count - 1, to: 0, by: -1) {
      let j = Int(next() % UInt64(i + 1))
      indices.swapAt(i, j)
    }
    return indices
  }
}
