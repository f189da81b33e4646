@testable import ImbalanceLoss
import Testing

@Suite struct SummationTests {
  @Test func overflowStaysInfinite() {
    // DBL_MAX + DBL_MAX: the compensation (sum - t) + x is -inf, and
    // sum + compensation was inf - inf = NaN.
    var s = CompensatedSum()
    s.add(.greatestFiniteMagnitude)
    s.add(.greatestFiniteMagnitude)
    #expect(s.value == .infinity)
    var n = CompensatedSum()
    n.add(1)
    n.add(-.infinity)
    #expect(n.value == -.infinity)
  }

  @Test func overflowStaysInfiniteLaneWise() {
    let big = Double.greatestFiniteMagnitude
    var s = CompensatedSum4()
    s.add(SIMD4(1, big, -big, 1e16))
    s.add(SIMD4(2, big, -big, 1))
    s.add(SIMD4(0, 0, 0, -1e16))
    // Lane 3 keeps its compensation: 1e16 + 1 rounds to 1e16, the 1 comes back.
    #expect(s.value == SIMD4(3, .infinity, -.infinity, 1))
  }

  @Test func magnitudeClearsTheSignBit() {
    let x = SIMD4<Double>(-0.0, -2.5, .infinity, -.leastNonzeroMagnitude)
    let m = x.magnitude
    #expect(m == SIMD4(0, 2.5, .infinity, .leastNonzeroMagnitude))
    #expect(m[0].sign == .plus)
  }

  @Test func lossWhoseTotalTrulyOverflowsIsInfinite() throws {
    // Σ w_i l_i = ln 2 + max (10 + log1p(e^-10)) > max: +inf, never NaN.
    var loss = try SoftmaxCrossEntropy(classCount: 2)
    loss.reduction = .sum
    let value = try loss.value(
      logits: [0, 0, 0, 10], targets: [0, 0], weights: [1, .greatestFiniteMagnitude])
    #expect(value == .infinity)
  }
}
