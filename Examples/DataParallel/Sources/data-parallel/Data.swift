import Foundation

// Deterministic synthetic data: every rank generates the same data from the
// same seed and takes its own rows of each batch. (The generator mirrors
// Sources/ImbalanceDemoKit, which is not a library product.)

/// Steele, Lea and Flood's SplitMix64, with normal draws by Marsaglia's polar
/// method: one seed gives the same stream on every machine.
struct SplitMix64 {
  private var state: UInt64
  private var spareNormal: Double?

  init(seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A uniform double in [0, 1) with 53 random bits.
  mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }

  mutating func normal() -> Double {
    if let spare = spareNormal {
      spareNormal = nil
      return spare
    }
    while true {
      let u = 2 * uniform() - 1
      let v = 2 * uniform() - 1
      let s = u * u + v * v
      if s > 0 && s < 1 {
        let scale = (-2 * log(s) / s).squareRoot()
        spareNormal = v * scale
        return u * scale
      }
    }
  }

  /// `0..<count` in a uniformly random order (Fisher–Yates).
  mutating func permutation(_ count: Int) -> [Int] {
    var indices = Array(0..<count)
    if count < 2 { return indices }
    for i in stride(from: count - 1, to: 0, by: -1) {
      indices.swapAt(i, Int(next() % UInt64(i + 1)))
    }
    return indices
  }
}

/// Row-major features with their targets and optional per-sample weights.
struct DataSet<Target> {
  var features: [Double]
  var featureCount: Int
  var targets: [Target]
  var weights: [Double]?
  var count: Int { targets.count }
}

/// Two Gaussian blobs in 2-D, `x | y ~ N(±(1, 1), I)`, with rare positives
/// (the demo's `gaussianPair`); targets 0 or 1.
func gaussianPair(count: Int, positiveRate: Double, using g: inout SplitMix64) -> DataSet<Double> {
  var features: [Double] = []
  var targets: [Double] = []
  for _ in 0..<count {
    let y: Double = g.uniform() < positiveRate ? 1 : 0
    let mean = y == 1 ? 1.0 : -1.0
    features.append(mean + g.normal())
    features.append(mean + g.normal())
    targets.append(y)
  }
  return DataSet(features: features, featureCount: 2, targets: targets, weights: nil)
}

/// A long-tailed K-class task: `counts[k] = largest · imbalance^(-k/(K-1))`
/// rows of `N(μ_k, I)` in `featureCount` dimensions, `μ_k ~ N(0, 2² I)`, in
/// random order, with per-sample weights in [0.5, 1.5).
func longTailedClasses(
  classCount: Int, featureCount: Int, largest: Int, imbalance: Double,
  using g: inout SplitMix64
) -> (data: DataSet<Int>, counts: [Int]) {
  let counts = (0..<classCount).map { k in
    max(1, Int((Double(largest) * pow(imbalance, -Double(k) / Double(classCount - 1))).rounded()))
  }
  let means = (0..<classCount).map { _ in (0..<featureCount).map { _ in 2 * g.normal() } }
  var labels: [Int] = []
  for (k, n) in counts.enumerated() { labels += [Int](repeating: k, count: n) }
  labels = g.permutation(labels.count).map { labels[$0] }
  var features: [Double] = []
  for k in labels {
    for j in 0..<featureCount { features.append(means[k][j] + g.normal()) }
  }
  let weights = labels.map { _ in 0.5 + g.uniform() }
  return (
    DataSet(features: features, featureCount: featureCount, targets: labels, weights: weights),
    counts
  )
}
