import Testing

@testable import ImbalanceLoss

// The binary and separable softmax losses read and write Float32 buffers in their kernels
// (`Float32Kernels`): no widened copies. Their results must still be the
// Double entry point's on the widened inputs, rounded once, bit for bit, on
// every path of the loop: full vectors and the tail, several chunks on
// several threads, weights, ignored targets, label smoothing, both
// reductions, the two-pass kernels (which keep exp(-|z|) in a Double
// gradient buffer between passes and recompute it for a Float one), and
// extreme logits.

/// Expects the Float result to be the Double one rounded once, bit for bit
/// (naming the first gradient entry that is not).
private func expectRoundedBits(
  _ float: (value: Float, gradient: [Float]), _ double: (value: Double, gradient: [Double]),
  _ name: String, sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(
    float.value.bitPattern == Float(double.value).bitPattern,
    "\(name): \(float.value) vs \(double.value)", sourceLocation: sourceLocation)
  let rounded = double.gradient.map { Float($0) }
  let first = rounded.indices.first { float.gradient[$0].bitPattern != rounded[$0].bitPattern }
  #expect(
    first == nil,
    "\(name) [\(first ?? -1)]: \(first.map { float.gradient[$0] } ?? 0) vs \(first.map { rounded[$0] } ?? 0)",
    sourceLocation: sourceLocation)
}

/// Runs `loss` on the Float buffers and on their widened Double copies, both
/// into outputs that start as NaN (an entry a kernel forgets to write shows),
/// expects the rounded bits (``expectRoundedBits(_:_:_:sourceLocation:)``)
/// and the same bits on one thread (the chunks are the same, not their
/// threads); returns the Float result.
private func expectFloatCall<L: Loss>(
  _ loss: L, _ z: [Float], _ targets: [L.Target], _ floatTargets: [L.Target.Float32Target],
  _ weights: [Float]?, _ name: String, sourceLocation: SourceLocation = #_sourceLocation
) throws -> (value: Float, gradient: [Float]) where L.Target: LossTarget {
  var gd = [Double](repeating: .nan, count: z.count)
  let vd = try loss.valueAndGradient(
    logits: z.map { Double($0) }, targets: targets, weights: weights?.map { Double($0) },
    gradient: &gd)
  var g = [Float](repeating: .nan, count: z.count)
  let v = try loss.valueAndGradient(
    logits: z, targets: floatTargets, weights: weights, gradient: &g)
  expectRoundedBits((v, g), (vd, gd), name, sourceLocation: sourceLocation)
  var serial = loss
  serial.parallelism = .serial
  let one = try serial.valueAndGradient(logits: z, targets: floatTargets, weights: weights)
  #expect(
    one.value.bitPattern == v.bitPattern && one.gradient == g, "\(name) serial",
    sourceLocation: sourceLocation)
  return (v, g)
}

/// Every binary loss of the table, and the options that change its loop.
private func kernelCases() -> [(String, any Loss<Double>)] {
  var cases: [(String, any Loss<Double>)] = LossTable.binary.map { ($0.name, $0.loss) }
  var bce = BinaryCrossEntropy(positiveWeight: 2)
  bce.ignoredTarget = -1
  bce.labelSmoothing = 0.1
  bce.reduction = .sum
  cases.append(("BCE(ignored -1, eps 0.1, sum)", bce))
  var f1 = F1WeightedCrossEntropy()
  f1.reduction = .sum  // the held F comes from a batch revalidated for the mean
  f1.ignoredTarget = -1
  cases.append(("F1WeightedCrossEntropy(sum, ignored -1)", f1))
  var smoothF1 = SmoothF1Loss()
  smoothF1.ignoredTarget = -1
  cases.append(("SmoothF1Loss(ignored -1)", smoothF1))
  var dice = SoftDiceLoss()
  dice.ignoredTarget = -1
  cases.append(("SoftDiceLoss(ignored -1)", dice))
  var focal = BinaryFocalLoss(gamma: 2)
  focal.ignoredTarget = -1
  focal.reduction = .sum
  cases.append(("BinaryFocalLoss(ignored -1, sum)", focal))
  // One label: a multi-label batch of any size, through the binary loop.
  var multiLabel = try! MultiLabelBinaryCrossEntropy(positiveWeights: [2.5])
  multiLabel.ignoredTarget = -1
  cases.append(("MultiLabelBinaryCrossEntropy(L: 1, ignored -1)", multiLabel))
  return cases
}

@Test func everyBinaryLossHasFloat32Kernels() throws {
  let z: [Float] = [1, -2]
  let y: [Float] = [1, 0]
  var g: [Float] = [0, 0]
  var h: [Float] = [0, 0]
  for c in kernelCases() {
    let kernels = try #require(c.1 as? any Float32Kernels, "\(c.0) takes the widening bridge")
    // Its value-and-gradient kernel answers (nil would mean the bridge).
    let value = try z.withUnsafeBufferPointer { z in
      try y.withUnsafeBufferPointer { y in
        try kernels.float32ValueAndGradient(logits: z, targets: y, weights: nil, gradient: nil)
      }
    }
    #expect(value != nil, "\(c.0)")
    // A loss with a Hessian has a Float32 Hessian kernel too.
    let hessian = try z.withUnsafeBufferPointer { z in
      try y.withUnsafeBufferPointer { y in
        try g.withUnsafeMutableBufferPointer { g in
          try h.withUnsafeMutableBufferPointer { h in
            try kernels.float32ValueGradientAndHessianDiagonal(
              logits: z, targets: y, weights: nil, gradient: g, hessianDiagonal: h)
          }
        }
      }
    }
    #expect((hessian != nil) == (c.1 is any SecondOrderLoss), "\(c.0)")
    #expect((c.1 is any SecondOrderLoss) == (c.1 is any BinarySecondOrder), "\(c.0)")
  }
  // The separable softmax losses read Float logits a block of rows at a
  // time (value, gradient, Hessian diagonal); the Hessian-vector product and
  // the batch-sum softmax losses still take the bridge.
  // Multi-label: the binary cross-entropy's entries go through the binary
  // loop; the categorical loss takes the bridge.
  for c in LossTable.multiLabel(labelCount: 3) {
    #expect((c.loss is any Float32Kernels) == (c.loss is MultiLabelBinaryCrossEntropy), "\(c.name)")
  }
  for c in LossTable.softmax(classCount: 4) {
    let expected = c.loss is any SeparableSoftmaxLoss
    #expect((c.loss is any Float32Kernels) == expected, "\(c.name)")
    // A softmax loss with a Hessian diagonal has a Float32 Hessian kernel.
    if let kernels = c.loss as? any Float32Kernels {
      let z: [Float] = [1, -2, 0.5, 3]
      var g = [Float](repeating: 0, count: 4)
      var h = g
      let hessian = try z.withUnsafeBufferPointer { z in
        try [2].withUnsafeBufferPointer { labels in
          try g.withUnsafeMutableBufferPointer { g in
            try h.withUnsafeMutableBufferPointer { h in
              try kernels.float32ValueGradientAndHessianDiagonal(
                logits: z, labels: labels, weights: nil, gradient: g, hessianDiagonal: h)
            }
          }
        }
      }
      #expect((hessian != nil) == (c.loss is any SoftmaxSecondOrderLoss), "\(c.name)")
    }
  }
}

@Test(arguments: [5, 64, 40_003])
func float32KernelsGiveTheDoubleResultsRounded(count n: Int) throws {
  var rng = SplitMix64(seed: 0xF3_2000 + UInt64(n))
  // Logits of every size Float holds (±3.4e38 and subnormals included).
  let z: [Float] = (0..<n).map { i in
    switch i % 97 {
    case 0: .greatestFiniteMagnitude
    case 1: -.greatestFiniteMagnitude
    case 2: .leastNonzeroMagnitude
    case 3: Float(rng.uniform(-1e30...1e30))
    default: rng.floatLogit()
    }
  }
  // Hard and soft targets, and the marker -1 now and then (a plain loss
  // rejects it: those cases get the batch without it).
  let y: [Float] = (0..<n).map { i in
    i % 11 == 5 ? -1 : (i % 3 == 0 ? Float(rng.uniform(0...1)) : (rng.uniform(0...1) < 0.3 ? 1 : 0))
  }
  let plain = y.map { $0 < 0 ? 1 : $0 }
  let w: [Float] = (0..<n).map { i in i % 13 == 7 ? 0 : Float(rng.uniform(0.1...4)) }
  for (name, loss) in kernelCases() {
    let ignores = name.contains("ignored")
    let targets = ignores ? y : plain
    for weights in [nil, w] {
      let float = try expectFloatCall(
        loss, z, targets.map { Double($0) }, targets, weights, "\(name) n=\(n)")
      #expect(float.gradient.allSatisfy { $0.isFinite }, "\(name) n=\(n)")
      // The value alone (no gradient buffer: the one-pass kernels).
      #expect(try loss.value(logits: z, targets: targets, weights: weights) == float.value)
      // The Hessian diagonal (the gradient-boosting entry point).
      if let second = loss as? any BinarySecondOrder {
        try expectHessianBits(second, z, targets, weights, "\(name) n=\(n)")
      }
    }
  }
}

@Test func float32KernelBadInputThrowsTheDoubleErrorAndLeavesTheGradient() throws {
  let z: [Float] = [0.5, -2, 3, 1, 0, 2, -1, 4, 0.25]
  let y: [Float] = [1, 0, 1, 1, 0, 0, 1, 0, 1]
  let bad: [(String, [Float], [Float], [Float]?, LossError)] = [
    ("NaN logit", z.enumerated().map { $0.offset == 8 ? .nan : $0.element }, y, nil,
     .nonFiniteLogit(index: 8, value: .nan)),
    ("infinite logit", z.enumerated().map { $0.offset == 3 ? -.infinity : $0.element }, y, nil,
     .nonFiniteLogit(index: 3, value: -.infinity)),
    ("target 1.5", z, y.enumerated().map { $0.offset == 8 ? 1.5 : $0.element }, nil,
     .targetOutOfRange(index: 8, value: 1.5)),
    ("negative weight", z, y, [1, 1, 1, 1, 1, 1, -0.5, 1, 1],
     .invalidWeight(index: 6, value: -0.5)),
    ("all-zero weights", z, y, [Float](repeating: 0, count: 9), .zeroTotalWeight),
  ]
  for (name, loss) in kernelCases() where !name.contains("ignored") && !name.contains("sum") {
    for (what, z, y, w, expected) in bad {
      if case .zeroTotalWeight = expected, name.hasPrefix("SoftDice") || name.hasPrefix("Tversky") {
        continue  // a smoothed index of zero weights is defined
      }
      var g = [Float](repeating: 7, count: z.count)
      do {
        _ = try loss.valueAndGradient(logits: z, targets: y, weights: w, gradient: &g)
        Issue.record("\(name): \(what) did not throw")
      } catch {
        #expect("\(error)" == "\(expected)", "\(name): \(what)")
      }
      #expect(g == [Float](repeating: 7, count: z.count), "\(name): \(what)")
    }
  }
}

/// The binary losses with a Hessian diagonal, as one existential to open.
private protocol BinarySecondOrder: SecondOrderLoss where Target == Double {}
extension BinaryCrossEntropy: BinarySecondOrder {}
extension BinaryFocalLoss: BinarySecondOrder {}
extension BinaryPolyLoss: BinarySecondOrder {}
extension SmoothAccuracyLoss: BinarySecondOrder {}
extension AsymmetricLoss: BinarySecondOrder {}
extension F1WeightedCrossEntropy: BinarySecondOrder {}
extension MultiLabelBinaryCrossEntropy: BinarySecondOrder {}

/// The Float32 Hessian entry point of `loss` against its Double one rounded, bit for bit.
private func expectHessianBits<L: BinarySecondOrder>(
  _ loss: L, _ z: [Float], _ y: [Float], _ w: [Float]?, _ name: String
) throws {
  let double = try loss.valueGradientAndHessianDiagonal(
    logits: z.map { Double($0) }, targets: y.map { Double($0) },
    weights: w?.map { Double($0) })
  let float = try loss.valueGradientAndHessianDiagonal(logits: z, targets: y, weights: w)
  #expect(float.value.bitPattern == Float(double.value).bitPattern, "\(name)")
  #expect(
    float.gradient.map { $0.bitPattern } == double.gradient.map { Float($0).bitPattern },
    "\(name)")
  #expect(
    float.hessianDiagonal.map { $0.bitPattern }
      == double.hessianDiagonal.map { Float($0).bitPattern }, "\(name)")
}

/// The softmax losses with Float32 kernels, and the options that change their rows.
private func softmaxKernelCases(classCount k: Int) throws -> [(String, any Loss<Int>)] {
  var cases: [(String, any Loss<Int>)] = LossTable.softmax(classCount: k)
    .filter { $0.loss is any SeparableSoftmaxLoss }.map { ($0.name, $0.loss) }
  var ce = try SoftmaxCrossEntropy(classCount: k)
  ce.ignoreIndex = 1
  ce.labelSmoothing = 0.1
  ce.classWeights = (0..<k).map { 0.5 + Double($0 % 3) }
  cases.append(("SoftmaxCrossEntropy(K: \(k), ignore 1, eps 0.1, class weights)", ce))
  var sum = try LogitAdjustedCrossEntropy(priors: (0..<k).map { 1 / Double($0 + 1) }, tau: 1)
  sum.reduction = .sum
  cases.append(("LogitAdjustedCrossEntropy(K: \(k), sum)", sum))
  return cases
}

@Test(arguments: [(1, 7), (5, 40), (10, 5003), (17, 333), (100, 450), (1000, 21)])
func float32SoftmaxKernelsGiveTheDoubleResultsRounded(classCount k: Int, rows n: Int) throws {
  var rng = SplitMix64(seed: 0xF3_3000 + UInt64(k * n))
  // Extreme Float logits now and then (the adjusted range check of the
  // margin loss's scale 4 still holds at 3.4e38).
  let z: [Float] = (0..<(n * k)).map { i in
    switch i % 89 {
    case 0: .greatestFiniteMagnitude / 8
    case 1: -.greatestFiniteMagnitude / 8
    case 2: .leastNonzeroMagnitude
    default: rng.floatLogit()
    }
  }
  let labels = rng.classes(n, classCount: k)
  let w: [Float] = (0..<n).map { i in i % 13 == 7 ? 0 : Float(rng.uniform(0.1...4)) }
  for (name, loss) in try softmaxKernelCases(classCount: k) {
    for weights in [nil, w] {
      let float = try expectFloatCall(loss, z, labels, labels, weights, "\(name) rows=\(n)")
      #expect(try loss.value(logits: z, targets: labels, weights: weights) == float.value)
      // The Hessian diagonal: the same rows, a second output.
      if let second = loss as? any SoftmaxSecondOrderLoss {
        let hd = try second.valueGradientAndHessianDiagonal(
          logits: z.map { Double($0) }, targets: labels, weights: weights?.map { Double($0) })
        let h = try second.valueGradientAndHessianDiagonal(
          logits: z, targets: labels, weights: weights)
        expectRoundedBits((h.value, h.gradient), (hd.value, hd.gradient), "\(name) H rows=\(n)")
        expectRoundedBits(
          (h.value, h.hessianDiagonal), (hd.value, hd.hessianDiagonal), "\(name) H rows=\(n)")
      }
    }
  }
}
