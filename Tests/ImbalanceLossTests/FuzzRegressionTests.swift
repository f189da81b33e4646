import ImbalanceLoss
import Testing

// Inputs on which Scripts/Fuzz/LossFuzzer.swift (Scripts/fuzz.sh) once broke the
// invariant "throws LossError, or finite results"; each raw input is also
// kept in Scripts/Fuzz/corpus/ so every fuzzing run replays it.

/// Scripts/Fuzz/corpus/regression-priors-underflow: priors spanning more than the
/// double range normalised a positive prior to π = 0 and log π = -inf. Either
/// answer is fine: an invalid prior, or priors whose logarithms are finite.
@Test func priorsWhoseRatioUnderflowGiveFiniteLogarithms() {
  for priors in [[1e-300, 1e300, 3], [1, 1e300, 0x1p-1074], [1e-300, 1e10]] {
    do {
      let p = try ClassPriors(priors)
      #expect(p.logProbabilities.allSatisfy { $0.isFinite }, "\(priors)")
      #expect(p.probabilities.allSatisfy { $0 >= 0 && $0 <= 1 }, "\(priors)")
      let loss = try LogitAdjustedCrossEntropy(priors: p, tau: 1)
      let logits = (0..<priors.count).map(Double.init)
      let (v, g) = try loss.valueAndGradient(logits: logits, targets: [priors.count - 1])
      #expect(v.isFinite && g.allSatisfy { $0.isFinite }, "\(priors)")
    } catch {
      guard case .invalidPrior(let k, let value) = error, priors[k] == value else {
        Issue.record("\(priors): \(error)")
        continue
      }
    }
  }
}

/// Scripts/Fuzz/corpus/regression-overflow-nan: a loss term beyond the double range
/// (here 745 × (1.8e308 + 7.9e270) under `.sum`) made the compensated sum
/// compute inf - inf = NaN. The value is now +inf and the gradient finite.
@Test func overflowingValueIsInfinityNotNaN() throws {
  var loss = try SoftmaxCrossEntropy(classCount: 2)
  loss.reduction = .sum
  let (value, gradient) = try loss.valueAndGradient(
    logits: [-7.934739101446519e+270, .greatestFiniteMagnitude], targets: [0], weights: [745])
  #expect(value == .infinity)
  #expect(gradient == [-745, 745])
  let bce = BinaryCrossEntropy(positiveWeight: 1e300)
  #expect(try bce.value(logits: [-1e300, 0], targets: [1, 0]) == .infinity)
}

/// Scripts/Fuzz/corpus/regression-zero-weight-overflow: a sample with weight 0 whose
/// term overflows (a softmax row spanning ±1.8e308, or a_pos softplus(-z)
/// beyond the double range) added 0 * inf = NaN to the value.
@Test func zeroWeightSampleWithOverflowingTermAddsNothing() throws {
  let big = Double.greatestFiniteMagnitude
  let softmax = try SoftmaxCrossEntropy(classCount: 2)
  let (value, gradient) = try softmax.valueAndGradient(
    logits: [1, 2, big, -big], targets: [0, 1], weights: [1, 0])
  #expect(value == (try softmax.value(logits: [1, 2], targets: [0])))
  #expect(gradient[2] == 0 && gradient[3] == 0)
  let bce = BinaryCrossEntropy(positiveWeight: 1e300)
  let v = try bce.value(logits: [0.5, -1e300], targets: [0, 1], weights: [1, 0])
  #expect(v == (try bce.value(logits: [0.5], targets: [0])))
}

/// Scripts/Fuzz/corpus/regression-huge-tau: with tau = 1e300 the offsets tau log π
/// were finite but `z ± offset` overflowed for |z| near 1.8e308: post-hoc
/// adjusted logits of inf, and a softmax row of -inf (NaN loss). Either
/// answer is fine: tau rejected as too large, or finite results.
@Test func hugeTauGivesAnErrorOrFiniteResults() throws {
  let big = Double.greatestFiniteMagnitude
  for tau in [1e290, 1e300, 1e308] {
    do {
      let loss = try LogitAdjustedCrossEntropy(priors: [0.5, 0.5], tau: tau)
      let (value, gradient) = try loss.valueAndGradient(logits: [-big, -big], targets: [0])
      #expect(value.isFinite && gradient.allSatisfy { $0.isFinite }, "tau \(tau)")
    } catch {
      guard case .invalidParameter(name: "tau", value: tau, _) = error else {
        Issue.record("tau \(tau): \(error)")
        continue
      }
    }
    do {
      // (The label is `adjustedLogits(logits:tau:)` on main.)
      let adjusted = try ClassPriors([1, 2]).adjustedLogits(logits: [big, 0], tau: tau)
      #expect(adjusted.allSatisfy { $0.isFinite }, "tau \(tau): \(adjusted)")
    } catch {
      guard case .invalidParameter(name: "tau", value: tau, _) = error else {
        Issue.record("tau \(tau): \(error)")
        continue
      }
    }
  }
}

/// Scripts/Fuzz/corpus/regression-weight-times-class-weight-overflow: under
/// `.sum`, a weight times a class weight beyond the double range (1e17 ×
/// 1e300 × 0.3) met a softplus that is exactly 0 (z = 1e17): inf × 0 = NaN.
/// The true term `w a_pos y softplus(-z)` is 0; the other term is finite.
@Test func weightTimesClassWeightOverflowMeetingZeroSoftplus() throws {
  var bce = BinaryCrossEntropy(positiveWeight: 1e300, negativeWeight: 1e17)
  bce.reduction = .sum
  let (value, gradient) = try bce.valueAndGradient(
    logits: [1e17], targets: [0.3], weights: [1e17])
  // w a_neg (1 - y) softplus(z) = 1e17 * 1e17 * 0.7 * 1e17 (softplus(z) = z here).
  expectClose(value, 1e17 * (1e17 * 0.7) * 1e17, relative: 1e-15)
  // w (a_neg (1 - y) p - a_pos y (1 - p)) with p = 1, 1 - p = exp(-1e17) = 0.
  expectClose(gradient[0], 1e17 * (1e17 * 0.7), relative: 1e-15)
  // The same product order in the focal loss (gamma = 0 is class-weighted BCE).
  var focal = BinaryFocalLoss(gamma: 0, positiveWeight: 1e300, negativeWeight: 1e17)
  focal.reduction = .sum
  #expect(try focal.value(logits: [1e17], targets: [0.3], weights: [1e17]) == value)
  // A true product that needs the other order: w a_pos overflows, the softplus is tiny.
  let tiny = try bce.value(logits: [700], targets: [1], weights: [1e17])
  expectClose(tiny, 1e17 * (1e300 * 9.85967654375977e-305), relative: 1e-12)
}
