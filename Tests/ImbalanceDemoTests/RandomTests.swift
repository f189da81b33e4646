import Testing

@testable import ImbalanceDemoKit

@Test func normalDrawsHaveUnitMoments() {
  for seed: UInt64 in [1, 2, 3] {
    var generator = SplitMix64(seed: seed)
    let n = 100_000
    var (sum, squares) = (0.0, 0.0)
    for _ in 0..<n {
      let x = generator.normal()
      sum += x
      squares += x * x
    }
    // Standard errors: 1/sqrt(n) ≈ 0.0032 for the mean, sqrt(2/n) ≈ 0.0045 for
    // the second moment; allow 5 of each.
    #expect(abs(sum / Double(n)) < 0.016, "seed \(seed)")
    #expect(abs(squares / Double(n) - 1) < 0.023, "seed \(seed)")
  }
}

@Test func permutationIsAPermutationAndRepeatable() {
  var a = SplitMix64(seed: 9)
  var b = SplitMix64(seed: 9)
  let p = a.permutation(1000)
  #expect(p.sorted() == Array(0..<1000))
  #expect(p != Array(0..<1000))
  #expect(b.permutation(1000) == p)
}
