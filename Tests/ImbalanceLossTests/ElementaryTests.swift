import Testing

@testable import ImbalanceLoss

// Accuracy of the vectorised elementary functions, measured in ulps against
// 50-digit mpmath references (Fixtures/ElementaryReference.swift, written by
// Scripts/elementary_reference.py), then special values and identities.

/// The error of `computed` in ulps of the reference `hi + lo` (`lo` carries
/// the reference's digits beyond `hi`, so the distance is accurate to a small
/// fraction of an ulp). An ulp of 0 or a subnormal is the least subnormal.
func ulpError(_ computed: Double, hi: Double, lo: Double) -> Double {
  if computed == hi && lo == 0 { return 0 }
  return abs((computed - hi) - lo) / hi.ulp
}

/// Applies `function` to the inputs in column 0 of a reference table, eight
/// at a time (the last vector padded), and returns the worst error in ulps
/// against columns `hi` and `hi + 1`, with the input where it occurs.
func worstUlpError(
  _ table: [Double], columns: Int, hi: Int, subnormal: Bool = false,
  _ function: (Vector) -> Vector
) -> (ulps: Double, at: Double) {
  let rows = table.count / columns
  var worst = (ulps: 0.0, at: 0.0)
  var start = 0
  while start < rows {
    var x = Vector()
    let count = min(8, rows - start)
    for lane in 0..<count { x[lane] = table[(start + lane) * columns] }
    let y = function(x)
    for lane in 0..<count {
      let row = (start + lane) * columns
      if (abs(table[row + hi]) < .leastNormalMagnitude) != subnormal { continue }
      let e = ulpError(y[lane], hi: table[row + hi], lo: table[row + hi + 1])
      if !(e <= worst.ulps) { worst = (e, x[lane]) }
    }
    start += 8
  }
  return worst
}

@Suite struct ElementaryTests {
  @Test func expWithinOneUlpOverItsWholeRange() {
    #expect(expReference.count == 3 * 2516)
    let worst = worstUlpError(expReference, columns: 3, hi: 1) { Elementary.exp($0) }
    // The doc comment states the measured worst (normal results): 0.503 with
    // the table-driven form (0.600 before it).
    #expect(worst.ulps <= 0.51, "exp: \(worst.ulps) ulps at x = \(worst.at)")
    // Subnormal results carry no `lo` (below the subnormals): the result must
    // be the correctly rounded value or its neighbour (one rounding of `s + s u` to
    // 53 bits, then one to the subnormal's precision).
    let tiny = worstUlpError(expReference, columns: 3, hi: 1, subnormal: true) {
      Elementary.exp($0)
    }
    #expect(tiny.ulps <= 1, "exp: \(tiny.ulps) ulps at x = \(tiny.at)")
  }

  @Test func log1pNearZeroWithinOneUlpOverItsDomain() {
    #expect(log1pReference.count == 3 * 1613)
    let worst = worstUlpError(log1pReference, columns: 3, hi: 1) {
      Elementary.log1pNearZero($0)
    }
    #expect(worst.ulps <= 0.75, "log1pNearZero: \(worst.ulps) ulps at x = \(worst.at)")
  }

  @Test func log1pWithinOneUlpEverywhere() {
    #expect(log1pWideReference.count == 3 * 813)
    for table in [log1pReference, log1pWideReference] {
      let worst = worstUlpError(table, columns: 3, hi: 1) { Elementary.log1p($0) }
      #expect(worst.ulps <= 0.75, "log1p: \(worst.ulps) ulps at x = \(worst.at)")
    }
  }

  @Test func logisticWithinTwoUlps() {
    // Measured: p and q 1.86 ulps (e, 1 + e, 1 / (1 + e) and e r each round),
    // softplus 1.06 ulps.
    // p = sigmoid(z) and, by symmetry, q(-z) = sigmoid(z); softplus(z) both as
    // the positive part at z and the negative part at -z.
    let columns = 5
    let checks: [(String, Int, (Vector) -> Vector)] = [
      ("p", 1, { Logistic($0).p }),
      ("q(-z)", 1, { Logistic(-$0).q }),
      ("softplus", 3, { z in Logistic(z).softplus(z).positive }),
      ("softplus(-(-z))", 3, { z in Logistic(-z).softplus(-z).negative }),
    ]
    for (name, column, function) in checks {
      let worst = worstUlpError(logisticReference, columns: columns, hi: column, function)
      #expect(worst.ulps <= 2, "\(name): \(worst.ulps) ulps at z = \(worst.at)")
    }
  }

  @Test func expSpecialValues() {
    let x = Vector(0, -0.0, .nan, .infinity, -.infinity, -745.2, -1e300, 1e300)
    let y = Elementary.exp(x)
    #expect(y[0] == 1 && y[1] == 1)
    #expect(y[2].isNaN)
    #expect(y[3] == .infinity && y[4] == 0)
    #expect(y[5] == 0 && y[5].sign == .plus)
    #expect(y[6] == 0 && y[7] == .infinity)

    let z = Vector(
      .leastNonzeroMagnitude, -.leastNonzeroMagnitude, 709.78, 710, -745.1,
      -745.13321910194122, -708.4, 0x1p-60)
    let w = Elementary.exp(z)
    #expect(w[0] == 1 && w[1] == 1)
    #expect(w[2].isFinite && w[2] > 1.79e308)
    #expect(w[3] == .infinity)
    // e^-745.1 = 5.1e-324: the least subnormal; e^(-1075 ln2) = 2^-1075 exactly
    // half the least subnormal, and the double nearest -1075 ln2 is just below
    // it, so the result rounds to 0 (mpmath: 2.4703282292062327e-324 * (1 - 5e-17)).
    #expect(w[4] == .leastNonzeroMagnitude)
    #expect(w[5] == 0)
    #expect(w[6].isSubnormal)
    #expect(w[7] == 1 + 0x1p-60 || w[7] == 1)
  }

  @Test(arguments: [false, true])
  func log1pSpecialValues(general: Bool) {
    let subnormal = Double(bitPattern: 0x12688b70e62b)  // 1e-310
    let x = Vector(
      0, -0.0, .nan, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, subnormal, 0x1p-60, 1)
    let y = general ? Elementary.log1p(x) : Elementary.log1pNearZero(x)
    #expect(y[0] == 0 && y[0].sign == .plus)
    #expect(y[1] == 0 && y[1].sign == .minus)
    #expect(y[2].isNaN)
    #expect(y[3] == .leastNonzeroMagnitude && y[4] == -.leastNonzeroMagnitude && y[5] == subnormal)
    #expect(y[6] == 0x1p-60)
    // ln 2 = 0.693147180559945309417..., nearest double 0x1.62e42fefa39efp-1.
    #expect(y[7] == 0x1.62e42fefa39efp-1)
  }

  @Test func log1pOutsideTheUsualRange() {
    let x = Vector(-1, -2, -.infinity, .infinity, .greatestFiniteMagnitude, -1 + 0x1p-53, 0x1p53, 3)
    let y = Elementary.log1p(x)
    #expect(y[0] == -.infinity)
    #expect(y[1].isNaN && y[2].isNaN)
    #expect(y[3] == .infinity)
    // log(1.7976931348623157e308) = 709.782712893383996843 (mpmath);
    // log(2^-53) = -36.7368005696771013 (mpmath); log(2^53 + 1) = 36.7368005696771013...
    #expect(y[4] == 709.782712893384)
    #expect(y[5] == -36.7368005696771)
    #expect(y[6] == 36.7368005696771)
    // log 4 = 1.38629436111989061883 (mpmath), nearest double 0x1.62e42fefa39efp+0.
    #expect(y[7] == 0x1.62e42fefa39efp+0)
  }

  @Test func expOfOppositesMultipliesToOne() {
    let seed: UInt64 = 0xE1E_2026
    var rng = SplitMix64(seed: seed)
    for _ in 0..<2000 {
      var x = Vector()
      for lane in 0..<8 { x[lane] = rng.uniform(-700...700) }
      let product = Elementary.exp(x) * Elementary.exp(-x)
      for lane in 0..<8 {
        // Two results within 0.51 ulp each, one product rounding: < 2 ulps of 1.
        #expect(abs(product[lane] - 1) <= 2 * 0x1p-52, "x = \(x[lane]), seed \(seed)")
      }
    }
  }
}
