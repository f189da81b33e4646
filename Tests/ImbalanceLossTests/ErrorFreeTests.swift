@testable import ImbalanceLoss
import Testing

// The named safeguards of Kernels/Numerics/Safeguards.swift, each on its own.

@Suite struct ErrorFreeTests {
  /// Exact rounding errors of `a + b`, from Python's `fractions` (exact
  /// rational arithmetic): `Fraction(a) + Fraction(b) - Fraction(a + b)`.
  @Test(arguments: [
    (0.1, 0.2, 0.30000000000000004, -2.7755575615628914e-17),
    (1e16, 1.0, 1e16, 1.0),
    (1.0, 0x1p-60, 1.0, 0x1p-60),
    (-3.5e300, 1.25e284, -3.5e300, 1.25e284),
    (1.5, -1.5, 0, 0),
  ])
  func twoSumKnownErrors(a: Double, b: Double, sum: Double, error: Double) {
    let scalar = ErrorFree.twoSum(a, b)
    #expect(scalar.sum == sum && scalar.error == error)
    // Either order, and every lane of the vector form.
    let swapped = ErrorFree.twoSum(b, a)
    #expect(swapped.sum == sum && swapped.error == error)
    let lanes = ErrorFree.twoSum(Vector(repeating: a), Vector(repeating: b))
    #expect(lanes.sum == Vector(repeating: sum) && lanes.error == Vector(repeating: error))
  }

  /// On random pairs of any magnitudes, the error equals Dekker's Fast2Sum
  /// `b' - (s - a')` with `|a'| >= |b'|` (exact in that order), and
  /// `sum == a + b`: the branch-free form needs no ordering.
  @Test func twoSumMatchesFastTwoSumOnRandomPairs() {
    var rng = SplitMix64(seed: 20261206)
    for trial in 0..<20_000 {
      let a = Double.random(in: -1...1, using: &rng) * .pow2(Int.random(in: -60...60, using: &rng))
      let b = Double.random(in: -1...1, using: &rng) * .pow2(Int.random(in: -60...60, using: &rng))
      let (s, e) = ErrorFree.twoSum(a, b)
      let (big, small) = abs(a) >= abs(b) ? (a, b) : (b, a)
      let fast = small - (s - big)
      #expect(s == a + b, "trial \(trial)")
      #expect(e == fast, "trial \(trial): a \(a), b \(b)")
      var va = Vector(), vb = Vector()
      va[trial % 8] = a
      vb[trial % 8] = b
      #expect(ErrorFree.twoSum(va, vb).error[trial % 8] == e)
    }
  }

  @Test(arguments: [1.0, 1.5, 3.0, 1e-300, 1e300, .greatestFiniteMagnitude, 0x1p-1000])
  func powerOfTwoBringsIntoUnitRange(x: Double) {
    let scale = PowerOfTwo.scale(bringingToUnit: x)
    #expect(scale.significand == 1)
    #expect(x * scale >= 1 && x * scale < 2)
    // Exact: scaling back gives x again.
    #expect((x * scale) / scale == x)
  }

  @Test func powerOfTwoIsCappedForSubnormals() {
    // 5e-324 has exponent -1074: its scale is capped at 2^1000 (finite), and
    // at 2^1023 with the larger limit.
    #expect(PowerOfTwo.scale(bringingToUnit: 5e-324) == .pow2(1000))
    #expect(PowerOfTwo.scale(bringingToUnit: 5e-324, limit: 1023) == .pow2(1023))
    #expect(PowerOfTwo.scale(bringingToUnit: 0x1p-1030, limit: 1023) == .pow2(1023))
    #expect(PowerOfTwo.scale(bringingToUnit: 0x1p-1020, limit: 1023) == .pow2(1020))
  }
}

extension Double {
  fileprivate static func pow2(_ e: Int) -> Double {
    Double(sign: .plus, exponent: e, significand: 1)
  }
}
