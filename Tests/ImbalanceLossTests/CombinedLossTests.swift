import ImbalanceLoss
import Testing

// CombinedLoss: the weighted sum of its members' separate calls, in order.

private let logits: [Double] = [1.2, -0.3, -2.0, 0.7, 3.5, -1.1, 0.05]
private let targets: [Double] = [1, 0, 0, 1, 1, 0, 0.5]
private let weights: [Double] = [1, 2, 0.5, 1, 0, 3, 1]

@Test func combinedIsTheWeightedSumOfItsMembers() throws {
  let dice = SoftDiceLoss()
  let bce = BinaryCrossEntropy(positiveWeight: 4)
  let loss = CombinedLoss<Double>([(0.5, dice), (1, bce)])
  #expect(loss.terms.count == 2 && loss.terms.map(\.weight) == [0.5, 1])
  for w in [nil, weights] {
    let (value, gradient) = try loss.valueAndGradient(logits: logits, targets: targets, weights: w)
    let a = try dice.valueAndGradient(logits: logits, targets: targets, weights: w)
    let b = try bce.valueAndGradient(logits: logits, targets: targets, weights: w)
    #expect(value == 0.5 * a.value + b.value)
    #expect(gradient == zip(a.gradient, b.gradient).map { 0.5 * $0 + $1 })
    #expect(try loss.value(logits: logits, targets: targets, weights: w) == value)
  }
  // `adding` appends a member.
  let three = loss.adding(SmoothF1Loss(), weight: 2)
  #expect(three.terms.map(\.weight) == [0.5, 1, 2])
  let a = try three.value(logits: logits, targets: targets)
  let b = try loss.value(logits: logits, targets: targets)
  let c = try SmoothF1Loss().value(logits: logits, targets: targets)
  #expect(a == b + 2 * c)
}

@Test func combinedSoftmaxLossesMatchSeparateCalls() throws {
  let z: [Double] = [0.1, 2, -1, 0.5, 0.5, 3, -2, 0, 1]
  let y = [1, 2, 0]
  var ce = try SoftmaxCrossEntropy(classCount: 3)
  ce.labelSmoothing = 0.1
  let focal = try SoftmaxFocalLoss(classCount: 3, gamma: 2)
  let loss = CombinedLoss<Int>([(0.25, ce), (0.75, focal)])
  let (value, gradient) = try loss.valueAndGradient(logits: z, targets: y)
  let a = try ce.valueAndGradient(logits: z, targets: y)
  let b = try focal.valueAndGradient(logits: z, targets: y)
  #expect(value == 0.25 * a.value + 0.75 * b.value)
  #expect(gradient == zip(a.gradient, b.gradient).map { 0.25 * $0 + 0.75 * $1 })
  #expect(loss.logitsPerSample == 3)
}

@Test func combinedGradientMatchesFiniteDifferences() throws {
  let loss = CombinedLoss<Double>([(0.3, TverskyLoss()), (1, BinaryFocalLoss(gamma: 2, alpha: 0.25))])
  let (_, gradient) = try loss.valueAndGradient(logits: logits, targets: targets)
  for k in logits.indices {
    var up = logits
    var down = logits
    let h = 1e-6
    up[k] += h
    down[k] -= h
    let slope =
      (try loss.value(logits: up, targets: targets) - loss.value(logits: down, targets: targets))
      / (2 * h)
    expectClose(gradient[k], slope, relative: 1e-7, floor: 1e-9)
  }
}

@Test func combinedRejectsBadMembersAndLeavesTheBufferUntouched() throws {
  let sentinel = [Double](repeating: -7, count: logits.count)
  func expectUntouched(_ loss: CombinedLoss<Double>, _ expected: LossError) {
    var g = sentinel
    #expect(throws: expected) {
      try loss.valueAndGradient(logits: logits, targets: targets, weights: nil, gradient: &g)
    }
    #expect(g == sentinel)
  }
  expectUntouched(
    CombinedLoss([(-1, BinaryCrossEntropy())]),
    .invalidParameter(name: "weights[0]", value: -1, requirement: "finite and >= 0"))
  expectUntouched(
    CombinedLoss([(1, BinaryCrossEntropy())]).adding(SoftDiceLoss(), weight: .nan),
    .invalidParameter(name: "weights[1]", value: .nan, requirement: "finite and >= 0"))
  expectUntouched(
    CombinedLoss([]),
    .invalidParameter(name: "terms.count", value: 0, requirement: "at least one member"))
  // A member's own error, raised after another member ran: still untouched.
  expectUntouched(
    CombinedLoss([(1, BinaryCrossEntropy()), (1, SoftDiceLoss(smoothing: -1))]),
    .invalidParameter(name: "smoothing", value: -1, requirement: "finite and >= 0"))
  let mismatched = CombinedLoss<Int>([
    (1, try SoftmaxCrossEntropy(classCount: 3)), (1, try SoftmaxCrossEntropy(classCount: 4)),
  ])
  #expect(
    throws: LossError.invalidParameter(
      name: "logitsPerSample", value: 4, requirement: "the same for every member (3)")
  ) {
    try mismatched.value(logits: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], targets: [0, 1, 2, 0])
  }
}

@Test func zeroWeightMemberIsSwitchedOffEvenWhereItOverflows() throws {
  // BCE with a huge class weight overflows at a saturated logit; weight 0 keeps it out.
  let loss = CombinedLoss<Double>([(1, BinaryCrossEntropy()), (0, BinaryCrossEntropy(positiveWeight: 1e308))])
  let (value, gradient) = try loss.valueAndGradient(logits: [-1e300], targets: [1])
  #expect(value == 1e300)
  #expect(gradient.allSatisfy { $0.isFinite })
}

/// Regression: two members whose weighted gradients overflow with opposite
/// signs (cross-entropy under `.sum` and a Dice loss whose ε_nr = 10^6 ε_dr
/// puts an entry at -5077) though their sum is finite: the sum is formed in
/// units of a power of two, not as inf - inf = NaN.
@Test func combinedLossOppositeOverflowingTermsGiveTheirFiniteSum() throws {
  var ce = try SoftmaxCrossEntropy(classCount: 3)
  ce.reduction = .sum
  var dice = try SoftmaxDiceLoss(classCount: 3)
  dice.numeratorSmoothing = 1e6
  dice.denominatorSmoothing = 1
  let z = [-4.797831731235492, 4.247257315168058, -1.239645872029147]  // found with torch
  let (c, w) = ([0], [4.0])
  let a = try ce.gradient(logits: z, targets: c, weights: w)
  let b = try dice.gradient(logits: z, targets: c, weights: w)
  // λ_1 a_1 = 1.05 M and λ_2 b_2 = -1.02 M (M the largest double): each overflows.
  let m = Double.greatestFiniteMagnitude
  let (l1, l2) = (1.05 * (m / a[1]), 1.02 * (m / -b[1]))
  #expect((l1 * a[1]).isInfinite && (l2 * b[1]).isInfinite, "\(a) \(b)")
  let combined = CombinedLoss<Int>([(l1, ce), (l2, dice)])
  let (value, gradient) = try combined.valueAndGradient(logits: z, targets: c, weights: w)
  #expect(!value.isNaN && !gradient.contains { $0.isNaN }, "\(gradient)")
  let s = 0x1p-1023
  let expected = ((l1 * s) * a[1] + (l2 * s) * b[1]) / s
  #expect(expected.isFinite && gradient[1] == expected, "\(gradient[1]) vs \(expected)")
}
