import ImbalanceLoss
import Testing

/// The ignore mask of the binary losses, in combination with per-sample
/// weights, class weights and both reductions: a masked batch must give the
/// loss of the kept samples alone, and exactly 0 in every skipped entry.
@Suite struct IgnoredTargetsTests {
  /// A seeded batch, its mask (every third sample, plus a run longer than a
  /// vector) and the kept sub-batch.
  struct Case {
    var z: [Double], y: [Double], w: [Double], masked: [Double]
    var keptZ: [Double], keptY: [Double], keptW: [Double], isKept: [Bool]
  }

  static func makeCase(seed: UInt64, marker: Double, count: Int = 45) -> Case {
    var rng = SplitMix64(seed: seed)
    let z = rng.uniforms(count, in: -7...7)
    let y = rng.uniforms(count, in: 0...1).map { $0 < 0.4 ? 0 : ($0 > 0.8 ? 1 : $0) }
    let w = rng.uniforms(count, in: 0.1...3)
    let isKept = (0..<count).map { $0 % 3 != 1 && !(20..<31).contains($0) }
    let masked = zip(y, isKept).map { $1 ? $0 : marker }
    func kept(_ a: [Double]) -> [Double] { zip(a, isKept).filter { $1 }.map { $0.0 } }
    return Case(z: z, y: y, w: w, masked: masked, keptZ: kept(z), keptY: kept(y),
      keptW: kept(w), isKept: isKept)
  }

  @Test func everyBinaryLossSkipsMarkedSamplesInEveryCombination() throws {
    for marker in [-1.0, .nan, 0.5] {
      let c = Self.makeCase(seed: 31, marker: marker)
      for reduction in [Reduction.mean, .sum] {
        for weighted in [false, true] {
          let note = "marker \(marker) \(reduction) weighted \(weighted)"
          var bce = BinaryCrossEntropy(positiveWeight: 4, negativeWeight: 0.5)
          (bce.reduction, bce.ignoredTarget) = (reduction, marker)
          var plainBCE = bce
          plainBCE.ignoredTarget = nil
          try checkAgainst(bce, plainBCE, c, weighted: weighted, "BCE " + note)
          var accuracy = SmoothAccuracyLoss()
          (accuracy.reduction, accuracy.ignoredTarget) = (reduction, marker)
          var plainAccuracy = accuracy
          plainAccuracy.ignoredTarget = nil
          try checkAgainst(accuracy, plainAccuracy, c, weighted: weighted, "accuracy " + note)
          var f1CE = F1WeightedCrossEntropy()
          (f1CE.reduction, f1CE.ignoredTarget) = (reduction, marker)
          var plainF1CE = f1CE
          plainF1CE.ignoredTarget = nil
          try checkAgainst(
            f1CE, plainF1CE, c, weighted: weighted, "F1-CE " + note, usesBatchSums: true)
          var focal = BinaryFocalLoss(gamma: 0.5, alpha: 0.25)
          (focal.reduction, focal.ignoredTarget) = (reduction, marker)
          var plainFocal = focal
          plainFocal.ignoredTarget = nil
          try checkAgainst(focal, plainFocal, c, weighted: weighted, "focal " + note)
        }
        var f1 = SmoothF1Loss()
        f1.ignoredTarget = marker
        try checkAgainst(
          f1, SmoothF1Loss(), c, weighted: true, "F1 \(marker)", usesBatchSums: true)
        var dice = SoftDiceLoss(smoothing: 2)
        dice.ignoredTarget = marker
        try checkAgainst(
          dice, SoftDiceLoss(smoothing: 2), c, weighted: true, "Dice \(marker)",
          usesBatchSums: true)
        var tversky = TverskyLoss()
        tversky.ignoredTarget = marker
        try checkAgainst(
          tversky, TverskyLoss(), c, weighted: false, "Tversky \(marker)", usesBatchSums: true)
      }
    }
  }

  /// `masked` skips the marker; `plain` is the same loss without a mask, run on
  /// the kept samples only. The value is compared to 1e-15 relative (the same
  /// terms summed in different blocks); kept gradient entries bit for bit when
  /// they are per-sample, and to 1e-14 relative when they depend on a batch
  /// sum (F, Dice, Tversky: that sum's last bits depend on the blocking).
  func checkAgainst<L: Loss>(
    _ masked: L, _ plain: L, _ c: Case, weighted: Bool, _ note: String,
    usesBatchSums: Bool = false, sourceLocation: SourceLocation = #_sourceLocation
  ) throws where L.Target == Double {
    let a = try masked.valueAndGradient(
      logits: c.z, targets: c.masked, weights: weighted ? c.w : nil)
    let b = try plain.valueAndGradient(
      logits: c.keptZ, targets: c.keptY, weights: weighted ? c.keptW : nil)
    expectClose(a.value, b.value, relative: 1e-15, note, sourceLocation: sourceLocation)
    var j = 0
    for i in c.z.indices {
      if c.isKept[i] && usesBatchSums {
        expectClose(a.gradient[i], b.gradient[j], relative: 1e-14, "\(note) [\(i)]",
          sourceLocation: sourceLocation)
        j += 1
      } else if c.isKept[i] {
        #expect(a.gradient[i] == b.gradient[j], "\(note) [\(i)]", sourceLocation: sourceLocation)
        j += 1
      } else {
        #expect(a.gradient[i] == 0, "\(note) [\(i)]", sourceLocation: sourceLocation)
      }
    }
  }

  @Test func hessiansAndPerSampleValuesAreZeroWhereSkipped() throws {
    let c = Self.makeCase(seed: 32, marker: -1)
    var bce = BinaryCrossEntropy(positiveWeight: 2)
    bce.ignoredTarget = -1
    let r = try bce.valueGradientAndHessianDiagonal(logits: c.z, targets: c.masked, weights: c.w)
    let kept = try BinaryCrossEntropy(positiveWeight: 2).valueGradientAndHessianDiagonal(
      logits: c.keptZ, targets: c.keptY, weights: c.keptW)
    #expect(r.hessianDiagonal.enumerated().filter { c.isKept[$0.offset] }.map(\.element)
      == kept.hessianDiagonal)
    #expect(r.hessianDiagonal.enumerated().allSatisfy { c.isKept[$0.offset] || $0.element == 0 })
    let values = try bce.perSampleValues(logits: c.z, targets: c.masked)
    let keptValues = try BinaryCrossEntropy(positiveWeight: 2).perSampleValues(
      logits: c.keptZ, targets: c.keptY)
    #expect(values.enumerated().filter { c.isKept[$0.offset] }.map(\.element) == keptValues)
    #expect(values.enumerated().allSatisfy { c.isKept[$0.offset] || $0.element == 0 })
  }

  @Test func maskedGradientsMatchFiniteDifferences() throws {
    let c = Self.makeCase(seed: 33, marker: 7, count: 20)
    var focal = BinaryFocalLoss(gamma: 2, positiveWeight: 3, negativeWeight: 1)
    focal.ignoredTarget = 7
    var f1 = SmoothF1Loss()
    f1.ignoredTarget = 7
    let g = try focal.gradient(logits: c.z, targets: c.masked, weights: c.w)
    let fd = try centralDifferences(at: c.z) {
      try focal.value(logits: $0, targets: c.masked, weights: c.w)
    }
    expectClose(g, fd, relative: 1e-7)  // see `centralDifferences`
    let g1 = try f1.gradient(logits: c.z, targets: c.masked, weights: c.w)
    let fd1 = try centralDifferences(at: c.z) {
      try f1.value(logits: $0, targets: c.masked, weights: c.w)
    }
    expectClose(g1, fd1, relative: 1e-7)
  }

  @Test func allSkippedBatchesAreZeroNeverNaN() throws {
    let z = [0.5, -3, 1e300]
    let y = [-1.0, -1, -1]
    for reduction in [Reduction.mean, .sum] {
      var bce = BinaryCrossEntropy()
      (bce.reduction, bce.ignoredTarget) = (reduction, -1)
      let r = try bce.valueGradientAndHessianDiagonal(logits: z, targets: y, weights: [1, 2, 3])
      #expect(r.value == 0 && r.gradient == [0, 0, 0] && r.hessianDiagonal == [0, 0, 0])
      #expect(try bce.value(logits: z, targets: y) == 0)
      var f1CE = F1WeightedCrossEntropy()
      (f1CE.reduction, f1CE.ignoredTarget) = (reduction, -1)
      #expect(try f1CE.valueAndGradient(logits: z, targets: y).gradient == [0, 0, 0])
    }
    var f1 = SmoothF1Loss()
    f1.ignoredTarget = -1
    let r = try f1.valueAndGradient(logits: z, targets: y)
    #expect(r.value == 1 && r.gradient == [0, 0, 0])
    #expect(try f1.f1(logits: z, targets: y) == 0)
  }

  @Test func markedTargetsAreNotValidatedButLogitsAndWeightsAre() throws {
    var bce = BinaryCrossEntropy()
    bce.ignoredTarget = 9
    // 9 is outside [0, 1] but marked: fine. 2 is not marked: an error.
    // Only sample 1 counts: softplus(-2) = log1p(e^-2) =
    // 0.1269280110429724964437268063583044314343 (mpmath).
    expectUlps(try bce.value(logits: [1, 2], targets: [9, 1]), 0.1269280110429724964437268063583, 2)
    #expect(throws: LossError.targetOutOfRange(index: 1, value: 2)) {
      try bce.value(logits: [1, 2], targets: [9, 2])
    }
    #expect(throws: LossError.nonFiniteLogit(index: 0, value: .nan)) {
      try bce.value(logits: [.nan, 2], targets: [9, 1])
    }
    #expect(throws: LossError.invalidWeight(index: 0, value: -1)) {
      try bce.value(logits: [1, 2], targets: [9, 1], weights: [-1, 1])
    }
    // Kept samples whose weights are all 0: the mean is undefined, as without a mask.
    #expect(throws: LossError.zeroTotalWeight) {
      try bce.value(logits: [1, 2], targets: [9, 1], weights: [5, 0])
    }
    // A NaN marker skips NaN targets; without a marker a NaN target is an error.
    bce.ignoredTarget = .nan
    expectUlps(
      try bce.value(logits: [1, 2], targets: [.nan, 1]), 0.1269280110429724964437268063583, 2)
    #expect(throws: LossError.targetOutOfRange(index: 0, value: .nan)) {
      try BinaryCrossEntropy().value(logits: [1, 2], targets: [.nan, 1])
    }
    var gradient = [7.0, 7]
    bce.ignoredTarget = 9
    #expect(throws: LossError.targetOutOfRange(index: 1, value: -0.5)) {
      try bce.valueAndGradient(logits: [1, 2], targets: [9, -0.5], gradient: &gradient)
    }
    #expect(gradient == [7, 7])
  }

  @Test func maskedResultIsTheSameBitsForAnyThreadCount() throws {
    var rng = SplitMix64(seed: 34)
    let n = 150_001
    let z = rng.uniforms(n, in: -10...10)
    let y = rng.uniforms(n, in: 0...1).map { $0 < 0.1 ? -1 : $0 }
    let w = rng.uniforms(n, in: 0...2)
    var serial = BinaryCrossEntropy(positiveWeight: 3)
    (serial.ignoredTarget, serial.parallelism) = (-1, .serial)
    var threaded = serial
    threaded.parallelism = .maximumThreads(2)
    let a = try serial.valueAndGradient(logits: z, targets: y, weights: w)
    let b = try threaded.valueAndGradient(logits: z, targets: y, weights: w)
    #expect(a.value == b.value && a.gradient == b.gradient)
  }
}
