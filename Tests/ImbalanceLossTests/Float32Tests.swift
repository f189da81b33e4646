import ImbalanceLoss
import Testing

// The Float32 entry points of every loss of `LossTable`: each result is the
// Double entry point's on the widened inputs, rounded once; the gradient is
// the derivative of the Float value (central differences with a step and a
// tolerance scaled to Float); extreme Float logits stay finite; bad Float
// input throws the Double path's error and leaves the Float buffers alone.

extension SplitMix64 {
  /// A Float logit: mostly moderate, now and then large.
  mutating func floatLogit() -> Float {
    Float(next() % 10 == 0 ? uniform(-60...60) : uniform(-6...6))
  }

  /// Float weights in [0, 3] with a few zeros (never the first), or `nil`.
  mutating func floatWeights(_ count: Int) -> [Float]? {
    if uniform(0...1) < 0.3 { return nil }
    return (0..<count).map { i in i > 0 && uniform(0...1) < 0.1 ? 0 : Float(uniform(0.1...3)) }
  }
}

/// A Float batch of `rows` rows for `c`: logits, Float targets (0/1, soft
/// where the loss takes them), weights.
private func floatBatch(
  _ c: LossCase<Double>, rows: Int, _ rng: inout SplitMix64
) -> ([Float], [Float], [Float]?) {
  let z = (0..<(rows * c.layout.logits)).map { _ in rng.floatLogit() }
  let y = (0..<(rows * c.layout.targets)).map { _ -> Float in
    if c.hardTargetsOnly || rng.uniform(0...1) < 0.6 { return rng.uniform(0...1) < 0.4 ? 1 : 0 }
    return Float(rng.uniform(0...1))
  }
  // Keep a positive label in the batch of a hard-target multi-label loss.
  var targets = y
  if c.hardTargetsOnly { targets[0] = 1 }
  return (z, targets, rng.floatWeights(rows * c.layout.weights))
}

private func widened(_ x: [Float]) -> [Double] { x.map { Double($0) } }

/// Central differences of a Float value, step 2^-6 (exact in Float at these
/// logits), against its Float gradient: within 2 % of the largest entry
/// (Float rounding of the values over the step is ~1e-5 of it).
private func expectDerivative(
  of value: ([Float]) throws -> Float, at z: [Float], gradient: ([Float]) throws -> [Float],
  sourceLocation: SourceLocation = #_sourceLocation
) throws {
  let g = try gradient(z)
  let largest = g.map(abs).max() ?? 0
  let h: Float = 0x1p-6
  for j in z.indices {
    var up = z
    up[j] += h
    var down = z
    down[j] -= h
    let difference = (try value(up) - value(down)) / (2 * h)
    #expect(
      abs(difference - g[j]) <= 0.02 * max(largest, 1e-3), "[\(j)] \(difference) vs \(g[j])",
      sourceLocation: sourceLocation)
  }
}

@Test(arguments: LossTable.doubleTargets)
func float32ResultsAreTheDoubleResultsRoundedOnce(_ c: LossCase<Double>) throws {
  var rng = SplitMix64(seed: 0xF32)
  for rows in [1, 7, 64] {
    let (z, y, w) = floatBatch(c, rows: rows, &rng)
    let double = try c.loss.valueAndGradient(
      logits: widened(z), targets: widened(y), weights: w.map(widened))
    let float = try c.loss.valueAndGradient(logits: z, targets: y, weights: w)
    #expect(float.value == Float(double.value), "\(c.name)")
    #expect(float.gradient == double.gradient.map { Float($0) }, "\(c.name)")
    // The other entry points give the same bits.
    #expect(try c.loss.value(logits: z, targets: y, weights: w) == float.value)
    #expect(try c.loss.gradient(logits: z, targets: y, weights: w) == float.gradient)
    var reused = [Float](repeating: 9, count: 3)
    let v = try c.loss.valueAndGradient(logits: z, targets: y, weights: w, gradient: &reused)
    #expect(v == float.value && reused == float.gradient)
  }
}

@Test(arguments: LossTable.softmax(classCount: 5) + LossTable.softmax(classCount: 1))
func float32SoftmaxResultsAreTheDoubleResultsRoundedOnce(_ c: LossCase<Int>) throws {
  var rng = SplitMix64(seed: 0xF33)
  let k = c.layout.logits
  for rows in [1, 9, 40] {
    let z = (0..<(rows * k)).map { _ in rng.floatLogit() }
    let labels = rng.classes(rows, classCount: k)
    let w = rng.floatWeights(rows)
    let double = try c.loss.valueAndGradient(
      logits: widened(z), targets: labels, weights: w.map(widened))
    let float = try c.loss.valueAndGradient(logits: z, targets: labels, weights: w)
    #expect(float.value == Float(double.value), "\(c.name)")
    #expect(float.gradient == double.gradient.map { Float($0) }, "\(c.name)")
    if let second = c.loss as? any SoftmaxSecondOrderLoss {
      let v = (0..<(rows * k)).map { _ in Float(rng.uniform(-1...1)) }
      let hv = try second.hessianVectorProduct(logits: z, targets: labels, weights: w, vector: v)
      let hvDouble = try second.hessianVectorProduct(
        logits: widened(z), targets: labels, weights: w.map(widened), vector: widened(v))
      #expect(hv == hvDouble.map { Float($0) }, "\(c.name)")
      let h = try second.valueGradientAndHessianDiagonal(logits: z, targets: labels, weights: w)
      let hDouble = try second.valueGradientAndHessianDiagonal(
        logits: widened(z), targets: labels, weights: w.map(widened))
      #expect(h.hessianDiagonal == hDouble.hessianDiagonal.map { Float($0) }, "\(c.name)")
      #expect(h.value == Float(hDouble.value) && h.gradient == float.gradient)
    }
  }
}

private func expectFloatHessian<L: SecondOrderLoss>(_ loss: L) throws where L.Target == Double {
  var rng = SplitMix64(seed: 0xF34)
  let z = (0..<33).map { _ in rng.floatLogit() }
  let y = (0..<33).map { _ in Float(rng.uniform(0...1) < 0.5 ? 1 : rng.uniform(0...1)) }
  let w = rng.floatWeights(33)
  let float = try loss.valueGradientAndHessianDiagonal(logits: z, targets: y, weights: w)
  let double = try loss.valueGradientAndHessianDiagonal(
    logits: widened(z), targets: widened(y), weights: w.map(widened))
  #expect(float.value == Float(double.value), "\(loss)")
  #expect(float.gradient == double.gradient.map { Float($0) }, "\(loss)")
  #expect(float.hessianDiagonal == double.hessianDiagonal.map { Float($0) }, "\(loss)")
}

@Test func float32HessianDiagonalIsTheDoubleOneRounded() throws {
  try expectFloatHessian(BinaryCrossEntropy(positiveWeight: 3))
  try expectFloatHessian(BinaryFocalLoss(gamma: 2, alpha: 0.25))
  try expectFloatHessian(AsymmetricLoss())
  try expectFloatHessian(BinaryPolyLoss(epsilon: 1))
  try expectFloatHessian(SmoothAccuracyLoss())
  try expectFloatHessian(F1WeightedCrossEntropy())
}

/// The Float gradient is the derivative of the Float value (`expectDerivative`).
@Test(arguments: LossTable.doubleTargets.filter(\.gradientIsDerivative))
func float32GradientIsTheDerivativeOfTheFloat32Value(_ c: LossCase<Double>) throws {
  var rng = SplitMix64(seed: 0xF35)
  let rows = 6
  var (z, y, w) = floatBatch(c, rows: rows, &rng)
  z = z.map { max(-4, min(4, $0)) }
  try expectDerivative(of: { try c.loss.value(logits: $0, targets: y, weights: w) }, at: z) {
    try c.loss.gradient(logits: $0, targets: y, weights: w)
  }
}

/// Logits at the ends of the Float range: no NaN, a finite gradient, and a
/// value that is +inf only where the exact value exceeds the Float range.
@Test(arguments: LossTable.doubleTargets)
func float32ExtremeLogitsStayFinite(_ c: LossCase<Double>) throws {
  let big = Float.greatestFiniteMagnitude
  let logits: [Float] = [big, -big, 1e30, -1e30, 0, 88, -104, 3.4e38, -3.4e38, 1]
  let rows = logits.count / c.layout.logits
  guard rows > 0 else { return }
  let z = Array(logits[0..<(rows * c.layout.logits)])
  let y = (0..<(rows * c.layout.targets)).map { Float($0 % 2) }
  let (value, gradient) = try c.loss.valueAndGradient(logits: z, targets: y)
  let exact = try c.loss.value(logits: widened(z), targets: widened(y))
  #expect(!value.isNaN && gradient.allSatisfy(\.isFinite), "\(c.name)")
  #expect(value.isFinite || exact >= Double(big), "\(c.name): \(value) from \(exact)")
}

@Test(arguments: LossTable.onePerType(LossTable.doubleTargets))
func float32BadInputThrowsTheDoubleErrorAndLeavesTheGradient(_ c: LossCase<Double>) throws {
  let rows = 4
  let z = [Float](repeating: 0.5, count: rows * c.layout.logits)
  let y = (0..<(rows * c.layout.targets)).map { Float($0 % 2) }
  var gradient = [Float](repeating: 7, count: z.count)
  func check(_ z: [Float], _ y: [Float], _ w: [Float]?, _ expected: LossError) {
    expectError(expected, c.name) {
      _ = try z.withUnsafeBufferPointer { zb in
        try y.withUnsafeBufferPointer { yb in
          try gradient.withUnsafeMutableBufferPointer { g in
            if let w {
              return try w.withUnsafeBufferPointer { wb in
                try c.loss.valueAndGradient(logits: zb, targets: yb, weights: wb, gradient: g)
              }
            }
            return try c.loss.valueAndGradient(logits: zb, targets: yb, weights: nil, gradient: g)
          }
        }
      }
    }
    #expect(gradient.allSatisfy { $0 == 7 }, "\(c.name): gradient written before \(expected)")
  }
  var nan = z
  nan[1] = .nan
  check(nan, y, nil, .nonFiniteLogit(index: 1, value: .nan))
  var infinite = z
  infinite[0] = -.infinity
  check(infinite, y, nil, .nonFiniteLogit(index: 0, value: -.infinity))
  if !c.hardTargetsOnly {
    var bad = y
    bad[2] = 1.5
    check(z, bad, nil, .targetOutOfRange(index: 2, value: 1.5))
  }
  var w = [Float](repeating: 1, count: rows * c.layout.weights)
  w[3] = -0.25
  check(z, y, w, .invalidWeight(index: 3, value: -0.25))
}

@Test func float32SoftmaxBadLabelThrowsAndLeavesTheGradient() throws {
  let loss = try LogitAdjustedCrossEntropy(priors: ClassPriors(counts: [5, 3, 1]), tau: 1)
  let z: [Float] = [1, 2, 3, 0, 0, 0]
  var gradient = [Float](repeating: 7, count: 6)
  expectError(.labelOutOfRange(index: 1, label: 3, classCount: 3)) {
    _ = try loss.valueAndGradient(logits: z, targets: [0, 3], gradient: &gradient)
  }
  #expect(gradient == [Float](repeating: 7, count: 6))
}

@Test func float32DataParallelShardsGiveTheBatch() throws {
  var rng = SplitMix64(seed: 0xF36)
  let loss = F1WeightedCrossEntropy()
  let n = 50
  let z = (0..<n).map { _ in rng.floatLogit() }
  let y = (0..<n).map { _ in Float(rng.uniform(0...1) < 0.3 ? 1 : 0) }
  let w = rng.floatWeights(n) ?? [Float](repeating: 1, count: n)
  let one = try loss.valueAndGradient(logits: z, targets: y, weights: w)
  let cut = 17
  let parts = [0..<cut, cut..<n]
  let global = try parts.map { r in
    try loss.statistics(logits: Array(z[r]), targets: Array(y[r]), weights: Array(w[r]))
  }.reduce(+)
  var value: Float = 0
  var gradient: [Float] = []
  for r in parts {
    let s = try loss.valueAndGradient(
      logits: Array(z[r]), targets: Array(y[r]), weights: Array(w[r]), statistics: global)
    value += s.value
    gradient += s.gradient
  }
  #expect(abs(value - one.value) <= 4 * one.value.ulp)
  for (a, b) in zip(gradient, one.gradient) { #expect(abs(a - b) <= b.ulp) }
}

@Test func float32StatefulStepIsTheDoubleStepRounded() throws {
  let loss = try SeesawLoss(classCount: 3)
  let z: [Float] = [2, 0.5, -1, 0.1, 0.2, 0.3, -3, 4, 1]
  let labels = [0, 2, 1]
  var floatState = loss.makeState()
  var doubleState = loss.makeState()
  let float = try loss.valueAndGradient(logits: z, targets: labels, state: &floatState)
  let double = try loss.valueAndGradient(logits: widened(z), targets: labels, state: &doubleState)
  #expect(float.value == Float(double.value))
  #expect(float.gradient == double.gradient.map { Float($0) })
  #expect(floatState == doubleState)
}

private extension Array where Element == BatchStatistics {
  func reduce(_ combine: (BatchStatistics, BatchStatistics) -> BatchStatistics) -> BatchStatistics {
    dropFirst().reduce(self[0], combine)
  }
}

@Test(arguments: LossTable.softmax(classCount: 4).filter(\.gradientIsDerivative))
func float32SoftmaxGradientIsTheDerivativeOfTheFloat32Value(_ c: LossCase<Int>) throws {
  var rng = SplitMix64(seed: 0xF37)
  let rows = 5
  let z = (0..<(rows * 4)).map { _ in Float(rng.uniform(-4...4)) }
  let labels = rng.classes(rows, classCount: 4)
  let w = rng.floatWeights(rows)
  try expectDerivative(of: { try c.loss.value(logits: $0, targets: labels, weights: w) }, at: z) {
    try c.loss.gradient(logits: $0, targets: labels, weights: w)
  }
}
