/// A small, repeatable random generator (Steele, Lea and Flood's SplitMix64),
/// so every randomised test can print and replay its seed.
struct SplitMix64: RandomNumberGenerator {
  private var state: UInt64

  init(seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A uniform double in `range`.
  mutating func uniform(_ range: ClosedRange<Double>) -> Double {
    Double.random(in: range, using: &self)
  }

  /// `count` uniform doubles in `range`.
  mutating func uniforms(_ count: Int, in range: ClosedRange<Double>) -> [Double] {
    (0..<count).map { _ in uniform(range) }
  }

  /// `count` hard 0/1 labels, each 1 with probability `rate`.
  mutating func labels(_ count: Int, positiveRate rate: Double) -> [Double] {
    (0..<count).map { _ in uniform(0...1) < rate ? 1 : 0 }
  }

  /// `count` class labels in `0..<classCount`.
  mutating func classes(_ count: Int, classCount: Int) -> [Int] {
    (0..<count).map { _ in Int.random(in: 0..<classCount, using: &self) }
  }
}
