import ImbalanceLoss
import Testing

// SoftmaxDiceLoss against MONAI's DiceLoss (Fixtures/SoftmaxDiceReference.swift,
// written by Scripts/dice_reference.py), finite differences, weights, its
// macro-smooth-F1 special case, extremes and bad input.

private func dice(
  _ k: Int, background: Bool = true, nr: Double = 1e-5, dr: Double = 1e-5,
  ignoreIndex: Int? = nil
) throws -> SoftmaxDiceLoss {
  var loss = try SoftmaxDiceLoss(classCount: k)
  loss.includeBackground = background
  loss.numeratorSmoothing = nr
  loss.denominatorSmoothing = dr
  loss.ignoreIndex = ignoreIndex
  return loss
}

@Test func softmaxDiceMatchesMonai() throws {
  #expect(monaiSoftmaxDiceCases.count == 48)
  for c in monaiSoftmaxDiceCases {
    let loss = try dice(
      c.classCount, background: c.includeBackground, nr: c.numeratorSmoothing,
      dr: c.denominatorSmoothing, ignoreIndex: c.ignoreIndex)
    let (value, gradient) = try loss.valueAndGradient(logits: c.logits, targets: c.labels)
    let name =
      "K \(c.classCount) background \(c.includeBackground) ε \(c.numeratorSmoothing)/"
      + "\(c.denominatorSmoothing) ignore \(String(describing: c.ignoreIndex))"
    // MONAI computes in float64 too (one-hot labels in float32 are exact):
    // the two differ by the order of their sums, a few ulps of each ratio.
    expectClose(value, c.value, relative: 1e-14, floor: 1e-15, name)
    expectClose(gradient, c.gradient, relative: 1e-13, name)
  }
}

@Test func softmaxDiceGradientMatchesFiniteDifferences() throws {
  var rng = SplitMix64(seed: 1515)
  let k = 4
  let n = 7
  let z = rng.uniforms(n * k, in: -3...3)
  let y = [0, 1, 1, 2, 0, -1, 1]  // class 3 absent, one row ignored
  let w = rng.uniforms(n, in: 0.2...2)
  for (background, nr, dr) in [(true, 1e-5, 1e-5), (false, 0.3, 0.7), (true, 0.9, 0.1)] {
    let loss = try dice(k, background: background, nr: nr, dr: dr, ignoreIndex: -1)
    let (_, gradient) = try loss.valueAndGradient(logits: z, targets: y, weights: w)
    let numeric = try centralDifferences(at: z) {
      try loss.value(logits: $0, targets: y, weights: w)
    }
    let why = "background \(background), ε \(nr)/\(dr)"
    expectClose(gradient, numeric, relative: 1e-7, why)
    #expect(gradient[20..<24].allSatisfy { $0 == 0 }, "ignored row. \(why)")
  }
}

/// Without smoothing, with the background, it is macro smooth F1, bit for bit.
@Test func softmaxDiceWithoutSmoothingIsMacroSmoothF1() throws {
  var rng = SplitMix64(seed: 1516)
  for k in [1, 2, 5] {
    let z = rng.uniforms(6 * k, in: -5...5)
    let y = rng.classes(6, classCount: k)
    let w = rng.uniforms(6, in: 0...2)
    let a = try dice(k, nr: 0, dr: 0).valueAndGradient(logits: z, targets: y, weights: w)
    let b = try MacroSmoothF1Loss(classCount: k).valueAndGradient(
      logits: z, targets: y, weights: w)
    #expect(a.value.bitPattern == b.value.bitPattern, "K \(k)")
    #expect(a.gradient.elementsEqual(b.gradient) { $0.bitPattern == $1.bitPattern }, "K \(k)")
  }
}

@Test func softmaxDiceIntegerWeightsAreRepeatedRows() throws {
  let z: [Double] = [1, 0, -1, 0.5, 2, 0, -1, 0, 3]
  let loss = try dice(3, background: false, nr: 0.2, dr: 0.5)
  let weighted = try loss.valueAndGradient(logits: z, targets: [0, 1, 2], weights: [2, 1, 3])
  let rows: [Double] = [1, 0, -1, 1, 0, -1, 0.5, 2, 0, -1, 0, 3, -1, 0, 3, -1, 0, 3]
  let repeated = try loss.valueAndGradient(logits: rows, targets: [0, 0, 1, 2, 2, 2])
  expectClose(weighted.value, repeated.value, relative: 1e-15)
  // Each weighted row's gradient is the sum of its copies'.
  let folded = (0..<9).map { j -> Double in
    let row = j / 3
    let copies = [[0, 1], [2], [3, 4, 5]][row]
    return copies.reduce(0) { $0 + repeated.gradient[$1 * 3 + j % 3] }
  }
  expectClose(weighted.gradient, folded, relative: 1e-15)
}

@Test func softmaxDiceExtremes() throws {
  // Saturated logits, perfect and wrong rows: finite values and gradients.
  let z: [Double] = [1e300, -1e300, 0, -700, 700, 5, 0, 0, -1e300, -1e300, 1e300, 1e300]
  for background in [true, false] {
    for labels in [[0, 1, 2, 2], [2, 2, 0, 1], [1, 1, 1, 0]] {
      for (nr, dr) in [(1e-5, 1e-5), (0, 0), (1, 0.5)] {
        let loss = try dice(3, background: background, nr: nr, dr: dr)
        for w in [nil, [1e-300, 2, 0, 1e300], [0x1p-1074, 0, 0, 1]] as [[Double]?] {
          let (value, gradient) = try loss.valueAndGradient(logits: z, targets: labels, weights: w)
          let why = "\(labels) \(background) ε \(nr)/\(dr) w \(String(describing: w))"
          #expect(value.isFinite && value <= 1 + 1e-15, "\(value). \(why)")
          #expect(gradient.allSatisfy { $0.isFinite }, "\(gradient). \(why)")
        }
      }
    }
  }
  // Regression (fuzzer): subnormal weights put the smoothing, ε / Σ w, beyond
  // the double range; F_k is then ε_nr / ε_dr and the gradient underflows to 0
  // (it was NaN from inf / inf).
  let tiny = [Double](repeating: 0x1p-1074, count: 4)
  for (nr, dr) in [(1e-5, 1e-5), (1, 0.5)] {
    let loss = try dice(3, background: false, nr: nr, dr: dr)
    let (value, gradient) = try loss.valueAndGradient(
      logits: [Double](repeating: 0x1p-1074, count: 12), targets: [0, 0, 0, 1], weights: tiny)
    #expect(value == 1 - nr / dr && gradient.allSatisfy { $0 == 0 }, "\(value) \(gradient)")
  }
  // A perfect batch keeps its digits: 1 - F is summed, not subtracted. Here
  // S_k = 2 and D_k = 2 q with q = 1 / (1 + e^40) (mpmath), so L = q.
  let perfect = try dice(2, nr: 0, dr: 0).value(logits: [40, 0, 0, 40], targets: [0, 1])
  expectClose(perfect, 4.2483542552915889773e-18, relative: 1e-14)
}

@Test func softmaxDiceEveryRowIgnored() throws {
  // 1 - ε_nr / ε_dr with a zero gradient (1 without smoothing).
  for (nr, dr, expected) in [(1e-5, 1e-5, 0.0), (0, 0, 1), (1, 4, 0.75)] {
    let loss = try dice(3, nr: nr, dr: dr, ignoreIndex: -1)
    let (v, g) = try loss.valueAndGradient(logits: [0, 1, 2, 3, 4, 5], targets: [-1, -1])
    #expect(v == expected && g == [0, 0, 0, 0, 0, 0], "ε \(nr)/\(dr)")
  }
}

@Test func softmaxDiceBadInputThrowsAndLeavesTheGradient() throws {
  let z: [Double] = [0, 1, 2]
  for (name, bad) in [
    ("numeratorSmoothing", -1.0), ("numeratorSmoothing", .nan),
    ("denominatorSmoothing", .infinity), ("denominatorSmoothing", -0.5),
  ] {
    var loss = try SoftmaxDiceLoss(classCount: 3)
    if name == "numeratorSmoothing" {
      loss.numeratorSmoothing = bad
    } else {
      loss.denominatorSmoothing = bad
    }
    var g = [-7.0, -7, -7]
    #expect(
      throws: LossError.invalidParameter(name: name, value: bad, requirement: "finite and >= 0")
    ) {
      try loss.valueAndGradient(logits: z, targets: [0], gradient: &g)
    }
    #expect(g == [-7, -7, -7])
  }
  // ε_nr > 0 needs ε_dr > 0 (a ratio <= 2^64): F_k of an empty class is ε_nr / ε_dr.
  for (nr, dr) in [(1e-5, 0.0), (1e300, 1e-300), (0x1p65, 1)] {
    var g = [-7.0, -7, -7]
    #expect(
      throws: LossError.invalidParameter(
        name: "denominatorSmoothing", value: dr,
        requirement: "> 0 with numeratorSmoothing / denominatorSmoothing <= 2^64")
    ) {
      try dice(3, nr: nr, dr: dr).valueAndGradient(logits: z, targets: [0], gradient: &g)
    }
    #expect(g == [-7, -7, -7])
  }
  var g = [-7.0]
  #expect(
    throws: LossError.invalidParameter(
      name: "includeBackground", value: 0, requirement: "true when classCount is 1")
  ) {
    try dice(1, background: false).valueAndGradient(logits: [0], targets: [0], gradient: &g)
  }
  #expect(g == [-7])
  #expect(throws: LossError.noClasses) { try SoftmaxDiceLoss(classCount: 0) }
  let loss = try dice(3)
  var g3 = [-7.0, -7, -7, -7, -7, -7]
  #expect(throws: LossError.labelOutOfRange(index: 1, label: 3, classCount: 3)) {
    try loss.valueAndGradient(logits: z + z, targets: [0, 3], gradient: &g3)
  }
  #expect(throws: LossError.nonFiniteLogit(index: 4, value: .nan)) {
    try loss.valueAndGradient(logits: [0, 1, 2, 0, .nan, 1], targets: [0, 1], gradient: &g3)
  }
  #expect(throws: LossError.invalidWeight(index: 1, value: -1)) {
    try loss.valueAndGradient(logits: z + z, targets: [0, 1], weights: [1, -1], gradient: &g3)
  }
  #expect(g3.allSatisfy { $0 == -7 })
}

/// The example of SoftmaxDiceLoss's doc comment runs as written.
@Test func softmaxDiceDocumentationExample() throws {
  var loss = try SoftmaxDiceLoss(classCount: 3)
  loss.includeBackground = false
  let (value, gradient) = try loss.valueAndGradient(
    logits: [2.0, 0.5, -1.0, 0.1, 0.2, 0.3], targets: [0, 2])
  #expect(value > 0 && value < 1 && gradient.count == 6)
}
