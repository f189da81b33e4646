import ImbalanceLoss
import Testing

// Every validator on every path: one bad value (a target of 1.5, -0.5, ±inf or
// NaN; a non-finite logit; a label of K or -1; a negative, NaN or infinite
// weight) at positions 0, 5, 8, 15 and count-1 of an array of a valid batch of
// 16 samples (the eight-lane vector scans and, for binary batches of 21, the
// scalar tail), for all 16 loss types and their option paths (ignored targets,
// class weights, ignore index), through every buffer entry point. Each call
// must throw the error that names that index and value, and leave the output
// buffers exactly as they were. A few cases repeat on batches of 10^5 samples
// (the size that runs on several threads), with one buffer mutated in place
// and restored.

/// A loss under test through its buffer entry points, type-erased.
struct ValidationSubject<Target: Sendable>: Sendable, CustomStringConvertible {
  typealias Buffers = (
    UnsafeBufferPointer<Double>, UnsafeBufferPointer<Target>, UnsafeBufferPointer<Double>?
  )
  let name: String
  /// Logits per sample (K, L or 1) and targets per sample (L for the
  /// multi-label categorical loss, else 1); weights are one per sample.
  let logitsPerSample: Int
  let targetsPerSample: Int
  /// Value and gradient; the gradient pointer may be nil (value alone).
  let gradient:
    @Sendable (Buffers, UnsafeMutableBufferPointer<Double>?) throws(LossError) -> Double
  /// Value, gradient and Hessian diagonal, when the loss has them.
  let hessian:
    (@Sendable (Buffers, UnsafeMutableBufferPointer<Double>, UnsafeMutableBufferPointer<Double>)
      throws(LossError) -> Double)?
  /// Per-sample values (no weights), when the loss has them.
  let perSample:
    (@Sendable (Buffers, UnsafeMutableBufferPointer<Double>) throws(LossError) -> Void)?

  var description: String { name }

  static func plain<L: Loss<Target>>(
    _ name: String, _ loss: L, targetsPerSample: Int = 1
  ) -> Self {
    Self(
      name: name, logitsPerSample: loss.logitsPerSample,
      targetsPerSample: targetsPerSample,
      gradient: { (b, g) throws(LossError) in
        try loss.valueAndGradient(logits: b.0, targets: b.1, weights: b.2, gradient: g)
      }, hessian: nil, perSample: nil)
  }

  static func separable<L: SeparableLoss>(_ name: String, _ loss: L) -> Self
  where L.Target == Target {
    Self(
      name: name, logitsPerSample: loss.logitsPerSample, targetsPerSample: 1,
      gradient: { (b, g) throws(LossError) in
        try loss.valueAndGradient(logits: b.0, targets: b.1, weights: b.2, gradient: g)
      }, hessian: nil,
      perSample: { (b, v) throws(LossError) in
        try loss.perSampleValues(logits: b.0, targets: b.1, into: v)
      })
  }

  static func secondOrder<L: SecondOrderLoss>(_ name: String, _ loss: L) -> Self
  where L.Target == Target {
    Self(
      name: name, logitsPerSample: loss.logitsPerSample, targetsPerSample: 1,
      gradient: { (b, g) throws(LossError) in
        try loss.valueAndGradient(logits: b.0, targets: b.1, weights: b.2, gradient: g)
      },
      hessian: { (b, g, h) throws(LossError) in
        try loss.valueGradientAndHessianDiagonal(
          logits: b.0, targets: b.1, weights: b.2, gradient: g, hessianDiagonal: h)
      },
      perSample: { (b, v) throws(LossError) in
        try loss.perSampleValues(logits: b.0, targets: b.1, into: v)
      })
  }
}

/// The binary losses, once as they come and once with an ignored-target marker
/// of -1 (the mask path validates targets and weights in its own loop). The
/// multi-label binary loss has the binary layout: one target and one weight
/// per logit.
private let ignoredMarker = -1.0
private let binarySubjects: [ValidationSubject<Double>] = {
  func both<L: Loss<Double>>(
    _ name: String, _ loss: L, _ make: (String, L) -> ValidationSubject<Double>,
    ignoring: (inout L) -> Void
  ) -> [ValidationSubject<Double>] {
    var masked = loss
    ignoring(&masked)
    return [make(name, loss), make(name + " ignoring -1", masked)]
  }
  let multiLabel = try! MultiLabelBinaryCrossEntropy(
    positiveWeights: [1, 2, 4, 8], negativeWeights: [1, 0.5, 1, 1])
  return
    both("BinaryCrossEntropy", BinaryCrossEntropy(positiveWeight: 3), { .secondOrder($0, $1) }) {
      $0.ignoredTarget = ignoredMarker
    }
    + both("BinaryFocalLoss", BinaryFocalLoss(gamma: 2, alpha: 0.25), { .secondOrder($0, $1) }) {
      $0.ignoredTarget = ignoredMarker
    }
    + both("SmoothAccuracyLoss", SmoothAccuracyLoss(), { .secondOrder($0, $1) }) {
      $0.ignoredTarget = ignoredMarker
    }
    + both("BinaryPolyLoss", BinaryPolyLoss(epsilon: -1), { .secondOrder($0, $1) }) {
      $0.ignoredTarget = ignoredMarker
    }
    + both("SmoothF1Loss", SmoothF1Loss(), { .plain($0, $1) }) {
      $0.ignoredTarget = ignoredMarker
    }
    + both("F1WeightedCrossEntropy", F1WeightedCrossEntropy(), { .secondOrder($0, $1) }) {
      $0.ignoredTarget = ignoredMarker
    }
    + both("SoftDiceLoss", SoftDiceLoss(smoothing: 1), { .plain($0, $1) }) {
      $0.ignoredTarget = ignoredMarker
    }
    + both("TverskyLoss", TverskyLoss(alpha: 0.3, beta: 0.7), { .plain($0, $1) }) {
      $0.ignoredTarget = ignoredMarker
    }
    + both("MultiLabelBinaryCrossEntropy(L: 4)", multiLabel, { .secondOrder($0, $1) }) {
      $0.ignoredTarget = ignoredMarker
    }
}()

/// The softmax losses with K = 3, plain and with class weights and an ignore
/// index of -100 (the option path validates labels in its own loop).
private let classCount = 3
private let ignoreLabel = -100
private let softmaxSubjects: [ValidationSubject<Int>] = {
  let k = classCount
  let classWeights = [1.0, 4.0, 0.25]
  var subjects: [ValidationSubject<Int>] = []
  // The initialisers only throw for invalid parameters, which these are not.
  var ce = try! SoftmaxCrossEntropy(classCount: k)
  subjects.append(.secondOrder("SoftmaxCrossEntropy", ce))
  ce.classWeights = classWeights
  subjects.append(.secondOrder("SoftmaxCrossEntropy class weights", ce))
  ce.classWeights = nil
  ce.ignoreIndex = ignoreLabel
  ce.labelSmoothing = 0.1
  subjects.append(.secondOrder("SoftmaxCrossEntropy ignoring -100, smoothing", ce))

  var la = try! LogitAdjustedCrossEntropy(priors: [0.7, 0.2, 0.1], tau: 1)
  subjects.append(.secondOrder("LogitAdjustedCrossEntropy", la))
  la.classWeights = classWeights
  la.ignoreIndex = ignoreLabel
  subjects.append(.secondOrder("LogitAdjustedCrossEntropy options", la))

  var margin = try! MarginSoftmaxCrossEntropy.additiveMargin(0.2, classCount: k, scale: 16)
  subjects.append(.secondOrder("MarginSoftmaxCrossEntropy", margin))
  margin.classWeights = classWeights
  margin.ignoreIndex = ignoreLabel
  subjects.append(.secondOrder("MarginSoftmaxCrossEntropy options", margin))

  var focal = try! SoftmaxFocalLoss(classCount: k, gamma: 2)
  subjects.append(.secondOrder("SoftmaxFocalLoss", focal))
  focal.classWeights = classWeights
  focal.ignoreIndex = ignoreLabel
  subjects.append(.secondOrder("SoftmaxFocalLoss options", focal))

  var poly = try! PolyCrossEntropy(classCount: k, epsilon: 1)
  subjects.append(.secondOrder("PolyCrossEntropy", poly))
  poly.classWeights = classWeights
  poly.ignoreIndex = ignoreLabel
  subjects.append(.secondOrder("PolyCrossEntropy options", poly))

  var accuracy = try! SoftmaxSmoothAccuracyLoss(classCount: k)
  subjects.append(.separable("SoftmaxSmoothAccuracyLoss", accuracy))
  accuracy.classWeights = classWeights
  accuracy.ignoreIndex = ignoreLabel
  subjects.append(.separable("SoftmaxSmoothAccuracyLoss options", accuracy))

  var macroF1 = try! MacroSmoothF1Loss(classCount: k)
  subjects.append(.plain("MacroSmoothF1Loss", macroF1))
  macroF1.ignoreIndex = ignoreLabel
  subjects.append(.plain("MacroSmoothF1Loss ignoring -100", macroF1))

  var weighted = try! MacroF1WeightedCrossEntropy(classCount: k)
  subjects.append(.separable("MacroF1WeightedCrossEntropy", weighted))
  weighted.classWeights = classWeights
  weighted.ignoreIndex = ignoreLabel
  subjects.append(.separable("MacroF1WeightedCrossEntropy options", weighted))
  return subjects
}()

/// The multi-label categorical loss (L = 3 hard targets per row, one weight per row).
private let multiLabelSubjects: [ValidationSubject<Double>] = {
  var loss = try! MultiLabelCategoricalCrossEntropy(labelCount: 3)
  let plain = ValidationSubject<Double>.plain(
    "MultiLabelCategoricalCrossEntropy(L: 3)", loss, targetsPerSample: 3)
  loss.ignoredTarget = ignoredMarker
  let masked = ValidationSubject<Double>.plain(
    "MultiLabelCategoricalCrossEntropy(L: 3) ignoring -1", loss, targetsPerSample: 3)
  return [plain, masked]
}()

/// Which array gets the bad value.
enum Corrupted: String, CaseIterable, Sendable { case logits, targets, weights }

/// The bad values of each kind, with the error each must raise at `index`.
private let badLogits: [Double] = [.infinity, -.infinity, .nan]
private let badTargets: [Double] = [1.5, -0.5, .infinity, -.infinity, .nan]
private let badHardTargets: [Double] = badTargets + [0.5]
private let badLabels: [Int] = [classCount, -1]
private let badWeights: [Double] = [-0.5, .nan, .infinity, -.infinity]

/// Positions 0, 5, 8, 15 and the last of an array of `count` elements.
func validationPositions(_ count: Int) -> [Int] {
  Array(Set([0, 5, 8, 15, count - 1].filter { $0 < count })).sorted()
}

/// A valid batch of `samples` rows for `subject`: logits in [-3, 3]; binary
/// targets soft and hard, with the ignore marker at samples 5 and 9 when the
/// subject ignores one (a bad weight or logit there must still throw);
/// multi-label targets 0/1; labels in 0..<K (-100 at rows 5 and 9 when
/// ignored); weights in [0.5, 2].
private struct Batch<Target> {
  var logits: [Double]
  var targets: [Target]
  var weights: [Double]
}

private func binaryBatch(_ subject: ValidationSubject<Double>, samples: Int, seed: UInt64)
  -> Batch<Double>
{
  var rng = SplitMix64(seed: seed)
  let targetCount = samples * subject.targetsPerSample
  let hard = subject.targetsPerSample > 1
  var targets = (0..<targetCount).map { i -> Double in
    hard || i % 3 != 0 ? (rng.uniform(0...1) < 0.4 ? 1 : 0) : rng.uniform(0...1)
  }
  if subject.name.contains("ignoring") {
    for i in [5, 9] where i < targetCount { targets[i] = ignoredMarker }
  }
  return Batch(
    logits: rng.uniforms(samples * subject.logitsPerSample, in: -3...3), targets: targets,
    weights: rng.uniforms(hard ? samples : targetCount, in: 0.5...2))
}

private func softmaxBatch(_ subject: ValidationSubject<Int>, samples: Int, seed: UInt64)
  -> Batch<Int>
{
  var rng = SplitMix64(seed: seed)
  var labels = rng.classes(samples, classCount: classCount)
  if subject.name.contains("ignor") || subject.name.contains("options") {
    for i in [5, 9] where i < samples { labels[i] = ignoreLabel }
  }
  return Batch(
    logits: rng.uniforms(samples * classCount, in: -3...3), targets: labels,
    weights: rng.uniforms(samples, in: 0.5...2))
}

/// Fills with a recognisable pattern that no loss writes.
private let sentinel = -1234.5

/// Puts each bad value at each position of the corrupted array (mutated in
/// place and restored), calls every entry point of `subject` and checks the
/// error and the untouched outputs. `entryPoints: false` runs the gradient
/// entry point alone (the large batches).
private func checkRejections<Target: Sendable & Equatable, Bad>(
  _ subject: ValidationSubject<Target>, _ batch: inout Batch<Target>, corrupting: Corrupted,
  values: [Bad], allEntryPoints: Bool, cycleValues: Bool = false,
  place: (inout Batch<Target>, Int, Bad) -> Void,
  expected: (Int, Bad) -> LossError,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  let arrayCount =
    switch corrupting {
    case .logits: batch.logits.count
    case .targets: batch.targets.count
    case .weights: batch.weights.count
    }
  let original = batch
  var gradient = [Double](repeating: sentinel, count: batch.logits.count)
  var hessian = gradient
  var perSample = [Double](repeating: sentinel, count: batch.targets.count)
  for (n, position) in validationPositions(arrayCount).enumerated() {
    let chosen = cycleValues ? [values[n % values.count]] : values
    for bad in chosen {
      place(&batch, position, bad)
      let want = expected(position, bad)
      let context = "\(subject) \(corrupting)[\(position)] = \(bad)"
      batch.logits.withUnsafeBufferPointer { z in
        batch.targets.withUnsafeBufferPointer { t in
          batch.weights.withUnsafeBufferPointer { w in
            let buffers = (z, t, Optional(w))
            gradient.withUnsafeMutableBufferPointer { g in
              #expect(
                throws: want, "\(context) (gradient)", sourceLocation: sourceLocation
              ) { _ = try subject.gradient(buffers, g) }
            }
            guard allEntryPoints else { return }
            #expect(throws: want, "\(context) (value)", sourceLocation: sourceLocation) {
              _ = try subject.gradient(buffers, nil)
            }
            if let hessianCall = subject.hessian {
              gradient.withUnsafeMutableBufferPointer { g in
                _ = hessian.withUnsafeMutableBufferPointer { h in
                  #expect(
                    throws: want, "\(context) (hessian)", sourceLocation: sourceLocation
                  ) { _ = try hessianCall(buffers, g, h) }
                }
              }
            }
            // Per-sample values take no weights.
            if let perSampleCall = subject.perSample, corrupting != .weights {
              _ = perSample.withUnsafeMutableBufferPointer { v in
                #expect(
                  throws: want, "\(context) (per-sample values)", sourceLocation: sourceLocation
                ) { try perSampleCall((z, t, nil), v) }
              }
            }
          }
        }
      }
      // Restore the one element (cheap for 10^5 samples).
      switch corrupting {
      case .logits: batch.logits[position] = original.logits[position]
      case .targets: batch.targets[position] = original.targets[position]
      case .weights: batch.weights[position] = original.weights[position]
      }
    }
  }
  let untouched =
    gradient.allSatisfy { $0 == sentinel } && hessian.allSatisfy { $0 == sentinel }
    && perSample.allSatisfy { $0 == sentinel }
  #expect(untouched, "\(subject): an output buffer was written by a throwing call",
    sourceLocation: sourceLocation)
}

/// Every rejection of a binary-layout subject (binary and multi-label binary).
private func checkBinary(
  _ subject: ValidationSubject<Double>, samples: Int, allEntryPoints: Bool,
  cycleValues: Bool = false, logits: Bool = true
) throws {
  var batch = binaryBatch(subject, samples: samples, seed: 0x5A11_D00D ^ UInt64(samples))
  if logits {
    checkRejections(
      subject, &batch, corrupting: .logits, values: badLogits, allEntryPoints: allEntryPoints,
      cycleValues: cycleValues, place: { $0.logits[$1] = $2 },
      expected: { .nonFiniteLogit(index: $0, value: $1) })
  }
  checkRejections(
    subject, &batch, corrupting: .targets, values: badTargets, allEntryPoints: allEntryPoints,
    cycleValues: cycleValues, place: { $0.targets[$1] = $2 },
    expected: { .targetOutOfRange(index: $0, value: $1) })
  checkRejections(
    subject, &batch, corrupting: .weights, values: badWeights, allEntryPoints: allEntryPoints,
    cycleValues: cycleValues, place: { $0.weights[$1] = $2 },
    expected: { .invalidWeight(index: $0, value: $1) })
  // The restored batch is valid again (small batches: a debug-build kernel
  // pass over 10^5 samples costs more than all the rejections).
  guard samples < 1000 else { return }
  try batch.logits.withUnsafeBufferPointer { z in
    try batch.targets.withUnsafeBufferPointer { t in
      try batch.weights.withUnsafeBufferPointer { w in
        let value = try subject.gradient((z, t, w), nil)
        #expect(value.isFinite && value >= 0, "\(subject)")
      }
    }
  }
}

private func checkSoftmax(
  _ subject: ValidationSubject<Int>, samples: Int, allEntryPoints: Bool, cycleValues: Bool = false,
  logits: Bool = true
) throws {
  var batch = softmaxBatch(subject, samples: samples, seed: 0x50F7_3A ^ UInt64(samples))
  if logits {
    checkRejections(
      subject, &batch, corrupting: .logits, values: badLogits, allEntryPoints: allEntryPoints,
      cycleValues: cycleValues, place: { $0.logits[$1] = $2 },
      expected: { .nonFiniteLogit(index: $0, value: $1) })
  }
  checkRejections(
    subject, &batch, corrupting: .targets, values: badLabels, allEntryPoints: allEntryPoints,
    cycleValues: cycleValues, place: { $0.targets[$1] = $2 },
    expected: { .labelOutOfRange(index: $0, label: $1, classCount: classCount) })
  checkRejections(
    subject, &batch, corrupting: .weights, values: badWeights, allEntryPoints: allEntryPoints,
    cycleValues: cycleValues, place: { $0.weights[$1] = $2 },
    expected: { .invalidWeight(index: $0, value: $1) })
  guard samples < 1000 else { return }
  try batch.logits.withUnsafeBufferPointer { z in
    try batch.targets.withUnsafeBufferPointer { t in
      try batch.weights.withUnsafeBufferPointer { w in
        let value = try subject.gradient((z, t, w), nil)
        #expect(value.isFinite, "\(subject)")
      }
    }
  }
}

private func checkMultiLabel(
  _ subject: ValidationSubject<Double>, samples: Int, allEntryPoints: Bool,
  cycleValues: Bool = false
) throws {
  var batch = binaryBatch(subject, samples: samples, seed: 0x3117_AB ^ UInt64(samples))
  checkRejections(
    subject, &batch, corrupting: .logits, values: badLogits, allEntryPoints: allEntryPoints,
    cycleValues: cycleValues, place: { $0.logits[$1] = $2 },
    expected: { .nonFiniteLogit(index: $0, value: $1) })
  checkRejections(
    subject, &batch, corrupting: .targets, values: badHardTargets,
    allEntryPoints: allEntryPoints, cycleValues: cycleValues, place: { $0.targets[$1] = $2 },
    expected: { .targetNotBinary(index: $0, value: $1) })
  checkRejections(
    subject, &batch, corrupting: .weights, values: badWeights, allEntryPoints: allEntryPoints,
    cycleValues: cycleValues, place: { $0.weights[$1] = $2 },
    expected: { .invalidWeight(index: $0, value: $1) })
  guard samples < 1000 else { return }
  try batch.logits.withUnsafeBufferPointer { z in
    try batch.targets.withUnsafeBufferPointer { t in
      try batch.weights.withUnsafeBufferPointer { w in
        let value = try subject.gradient((z, t, w), nil)
        #expect(value.isFinite && value >= 0, "\(subject)")
      }
    }
  }
}

@Suite struct ValidationPathTests {
  @Test func everyLossTypeIsCovered() {
    let names = Set(
      (binarySubjects.map(\.name) + softmaxSubjects.map(\.name) + multiLabelSubjects.map(\.name))
        .map { String($0.prefix { $0.isLetter || $0.isNumber }) })
    #expect(names.count == 18, "\(names.sorted())")
  }

  @Test(arguments: binarySubjects)
  func binaryBatchOf16(_ subject: ValidationSubject<Double>) throws {
    try checkBinary(subject, samples: 16, allEntryPoints: true)
  }

  /// 21 samples: two full vectors and a scalar tail of 5 (position 20).
  @Test(arguments: binarySubjects)
  func binaryBatchOf21(_ subject: ValidationSubject<Double>) throws {
    // (20 for the multi-label loss: whole rows of 4 labels, a tail of 4.)
    let samples = subject.name.hasPrefix("MultiLabel") ? 20 : 21
    try checkBinary(subject, samples: samples, allEntryPoints: false)
  }

  @Test(arguments: softmaxSubjects)
  func softmaxBatchOf16(_ subject: ValidationSubject<Int>) throws {
    try checkSoftmax(subject, samples: 16, allEntryPoints: true)
  }

  @Test(arguments: multiLabelSubjects)
  func multiLabelBatchOf16(_ subject: ValidationSubject<Double>) throws {
    try checkMultiLabel(subject, samples: 16, allEntryPoints: true)
  }

  // 10^5 samples: one subject per validation path (binary, binary with a
  // mask, softmax, softmax with options, multi-label), each position with one
  // of the bad values in turn, gradient entry point only (logits once per
  // family: every path scans them with the same `checkFinite`).
  @Test func binaryBatchOf100000() throws {
    try checkBinary(binarySubjects[0], samples: 100_000, allEntryPoints: false, cycleValues: true)
    try checkBinary(
      binarySubjects[1], samples: 100_000, allEntryPoints: false, cycleValues: true,
      logits: false)
  }

  @Test func softmaxBatchOf100000() throws {
    try checkSoftmax(
      softmaxSubjects[0], samples: 100_000, allEntryPoints: false, cycleValues: true)
    try checkSoftmax(
      softmaxSubjects[2], samples: 100_000, allEntryPoints: false, cycleValues: true,
      logits: false)
  }

  @Test func multiLabelBatchOf100000() throws {
    try checkMultiLabel(
      multiLabelSubjects[0], samples: 100_000, allEntryPoints: false, cycleValues: true)
  }
}

// The validators that are not part of a loss call: confusion matrices and
// post-hoc predictions.
@Suite struct MetricValidationPathTests {
  @Test func confusionMatrixRejectsEachBadInputAtEachPosition() throws {
    var rng = SplitMix64(seed: 0xC0F_16)
    let n = 16
    let logits = rng.uniforms(n * 3, in: -3...3)
    let labels = rng.classes(n, classCount: 3)
    let weights = rng.uniforms(n, in: 0.5...2)
    for p in validationPositions(n) {
      for bad in badLabels {
        var l = labels
        l[p] = bad
        #expect(throws: LossError.labelOutOfRange(index: p, label: bad, classCount: 3)) {
          try ConfusionMatrix(logits: logits, labels: l, classCount: 3, weights: weights)
        }
      }
      for bad in badWeights {
        var w = weights
        w[p] = bad
        #expect(throws: LossError.invalidWeight(index: p, value: bad)) {
          try ConfusionMatrix(logits: logits, labels: labels, classCount: 3, weights: w)
        }
      }
      for bad in [1.5, -0.5, .nan, 0.5] {
        var t = labels.map { Double($0 % 2) }
        t[p] = bad
        #expect(throws: LossError.targetNotBinary(index: p, value: bad)) {
          try ConfusionMatrix(binaryLogits: Array(logits.prefix(n)), targets: t)
        }
      }
    }
    for p in validationPositions(n) {
      for bad in badLabels {
        var l = labels
        l[p] = bad
        #expect(throws: LossError.labelOutOfRange(index: p, label: bad, classCount: 3)) {
          try ClassPriors(labels: l, classCount: 3)
        }
        #expect(
          throws: LossError.invalidParameter(
            name: "predictions[\(p)]", value: Double(bad), requirement: "a class in 0..<3")
        ) {
          try ConfusionMatrix(predictions: l, labels: labels, classCount: 3)
        }
      }
    }
    for p in validationPositions(3 * n) {
      for bad in badLogits {
        var z = logits
        z[p] = bad
        #expect(throws: LossError.nonFiniteLogit(index: p, value: bad)) {
          try ConfusionMatrix(logits: z, labels: labels, classCount: 3)
        }
        #expect(throws: LossError.nonFiniteLogit(index: p, value: bad)) {
          try ClassPriors([0.5, 0.3, 0.2]).predictions(logits: z)
        }
      }
    }
  }
}
