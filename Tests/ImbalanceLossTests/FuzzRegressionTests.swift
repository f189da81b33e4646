import ImbalanceLoss
import Testing

// Inputs on which Fuzz/LossFuzzer.swift (Scripts/fuzz.sh) once broke the
// invariant "throws LossError, or finite results"; each raw input is also
// kept in Fuzz/corpus/ so every fuzzing run replays it.

/// Fuzz/corpus/regression-priors-underflow: priors spanning more than the
/// double range normalised a positive prior to π = 0 (log π = -inf), breaking
/// `ClassPriors`' promise π_k > 0. It is now an invalid prior.
@Test func priorsWhoseRatioUnderflowAreInvalid() {
  #expect(throws: LossError.invalidPrior(index: 0, value: 1e-300)) {
    try ClassPriors([1e-300, 1e300, 3])
  }
  #expect(throws: LossError.invalidPrior(index: 2, value: 0x1p-1074)) {
    try LogitAdjustedCrossEntropy(priors: [1, 1e300, 0x1p-1074], tau: 0)
  }
  // A ratio that stays subnormal is still a valid (tiny) prior.
  let p = try? ClassPriors([1e-300, 1e10])
  #expect(p.map { $0.probabilities[0] > 0 && $0.logProbabilities.allSatisfy(\.isFinite) } == true)
}

/// Fuzz/corpus/regression-overflow-nan: a loss term beyond the double range
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

/// Fuzz/corpus/regression-zero-weight-overflow: a sample with weight 0 whose
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

/// Fuzz/corpus/regression-huge-tau: with tau = 1e300 the offsets tau log π
/// were finite but `z ± offset` overflowed for |z| near 1.8e308: post-hoc
/// adjusted logits of inf, and a softmax row of -inf (NaN loss). Offsets are
/// now bounded by 2^966, half an ulp of the largest double, so every finite
/// logit stays finite after adjustment.
@Test func offsetsThatCouldOverflowALogitAreInvalid() throws {
  let error = LossError.invalidParameter(
    name: "tau", value: 1e300, requirement: "small enough that |tau * log(prior)| <= 2^966")
  #expect(throws: error) { try LogitAdjustedCrossEntropy(priors: [0.5, 0.5], tau: 1e300) }
  let priors = try ClassPriors([1, 2])
  #expect(throws: error) { try priors.adjustedLogits([.greatestFiniteMagnitude, 0], tau: 1e300) }
  // Just inside the bound, the most negative logits give a finite value.
  let loss = try LogitAdjustedCrossEntropy(priors: [0.5, 0.5], tau: 1e290)
  let big = Double.greatestFiniteMagnitude
  let (value, gradient) = try loss.valueAndGradient(logits: [-big, -big], targets: [0])
  #expect(value.isFinite && gradient.allSatisfy(\.isFinite))
  #expect(try priors.adjustedLogits([big, -big], tau: 1e290).allSatisfy(\.isFinite))
}
