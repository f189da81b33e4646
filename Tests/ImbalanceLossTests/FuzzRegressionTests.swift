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

// Found once the fuzzer reached every loss and entry point (the second-order
// ones, the options, the newer losses).

/// Scripts/Fuzz/corpus/regression-hvp-vector-overflow: the softmax
/// Hessian-vector product formed v_j - p·v (and s' v_j) in full, which
/// overflows for entries near the largest double: 0 × inf = NaN where p_j = 0,
/// inf - inf at a tie. Expected values by hand: (H v)_j = p_j (v_j - p·v).
@Test func hessianVectorProductWithHugeVectorEntries() throws {
  let big = Double.greatestFiniteMagnitude
  let loss = try SoftmaxCrossEntropy(classCount: 3)
  // p = (0, 1, 0) (to the last bit): H v = 0 exactly.
  let zero = try loss.hessianVectorProduct(
    logits: [0, 1000, 0], targets: [0], vector: [-big, big, 1])
  #expect(zero.allSatisfy { $0 == 0 }, "\(zero)")
  // A three-way tie, p = 1/3: p·v = -2 big / 3, so H v = (-big/9, -big/9, 2 big/9).
  let tie = try loss.hessianVectorProduct(logits: [0, 0, 0], targets: [1], vector: [-big, -big, 0])
  expectClose(tie, [-big / 9, -big / 9, 2 * big / 9], relative: 1e-15)
}

/// Scripts/Fuzz/corpus/regression-poly-hvp-zero-weight-row and
/// -underflowed-weight: a row whose factor is 0 (weight 0 under `.sum`, or a
/// weight that underflows in the mean) multiplied its product, read scaled
/// down and scaled back up to infinity, by that 0: NaN. Its H v is 0.
@Test func hessianVectorProductOfAZeroFactorRowWithAHugeVector() throws {
  let big = Double.greatestFiniteMagnitude
  for epsilon in [0.0, 20] {
    var loss = try PolyCrossEntropy(classCount: 3, epsilon: epsilon)
    loss.reduction = .sum
    let product = try loss.hessianVectorProduct(
      logits: [0, 0, 1, 0.5, 0.3, 2], targets: [2, 1], weights: [0, 1],
      vector: [1, -big, 0, 1, 2, 3])
    #expect(product[0..<3].allSatisfy { $0 == 0 }, "ε \(epsilon): \(product)")
    let finite = product.allSatisfy { $0.isFinite }
    #expect(finite, "ε \(epsilon): \(product)")
  }
}

/// Scripts/Fuzz/corpus/regression-second-order-log1p: the first-order
/// cross-entropy took log1p(s') from the vector log1p, the second-order and
/// Hessian-vector entry points from libm's, one ulp apart. ln 3 by mpmath:
/// 1.0986122886681096913952452..., nearest double 1.0986122886681098.
@Test func secondOrderValueIsTheFirstOrderBits() throws {
  var loss = try SoftmaxCrossEntropy(classCount: 3)
  loss.reduction = .sum
  let (z, c) = ([-0.0, 0, 0], [1])
  let first = try loss.valueAndGradient(logits: z, targets: c)
  let second = try loss.valueGradientAndHessianDiagonal(logits: z, targets: c)
  var product = [0.0, 0, 0]
  let hvpValue = try z.withUnsafeBufferPointer { zb in
    try c.withUnsafeBufferPointer { cb in
      try [1.0, 2, 3].withUnsafeBufferPointer { vb in
        try product.withUnsafeMutableBufferPointer { out in
          try loss.hessianVectorProduct(
            logits: zb, targets: cb, weights: nil, vector: vb, into: out)
        }
      }
    }
  }
  #expect(first.value == 1.0986122886681098)
  #expect(second.value.bitPattern == first.value.bitPattern)
  #expect(second.gradient == first.gradient)
  #expect(hvpValue.bitPattern == first.value.bitPattern)
}

/// Scripts/Fuzz/corpus/regression-focal-huge-gamma: softmax focal accepted any
/// finite gamma; at 1.7e265 the Hessian's gamma² terms overflowed where
/// q^gamma = 0 (0 × inf = NaN). Gamma is now capped at 1000, as in
/// BinaryFocalLoss, and gamma = 1000 is finite. Expected H_cc at z = (0, 0):
/// mpmath.diff of -(1 - p)^1000 log p, p = sigmoid(d), twice at d = 0:
/// 1.6202740433485470873e-296 (K = 2: H = h [[1, -1], [-1, 1]]).
@Test func softmaxFocalGammaIsCappedAndItsHessianFinite() throws {
  #expect(
    throws: LossError.invalidParameter(name: "gamma", value: 1.7e265, requirement: "in [0, 1000]")
  ) { try SoftmaxFocalLoss(classCount: 2, gamma: 1.7e265) }
  let loss = try SoftmaxFocalLoss(classCount: 2, gamma: 1000)
  let (_, _, hessian) = try loss.valueGradientAndHessianDiagonal(
    logits: [1e300, 1e300], targets: [0])
  expectClose(hessian, [1.6202740433485470873e-296, 1.6202740433485470873e-296], relative: 1e-12)
}

/// Scripts/Fuzz/corpus/regression-weight-times-class-weight-softmax: under `.sum`
/// v_i = w_i a_c overflowed (1.8e308 × 1.7e17) and met a probability that is
/// exactly 0: inf × 0 = NaN in the gradient (and value). The rows are now
/// weighted after the fact, 0 staying 0. By hand: p_c = e^(20 - 1e17) = 0, so
/// smooth accuracy's gradient v p_c (p - onehot) is 0 and its value v (1 - p_c)
/// overflows; cross-entropy on the label at the maximum has l = log1p(0) = 0
/// and gradient v (p - onehot) = 0.
@Test func weightTimesClassWeightOverflowInSoftmaxLosses() throws {
  let big = Double.greatestFiniteMagnitude
  var accuracy = try SoftmaxSmoothAccuracyLoss(classCount: 2)
  accuracy.reduction = .sum
  accuracy.classWeights = [0.5, 1.7e17]
  let a = try accuracy.valueAndGradient(logits: [1e17, 20], targets: [1], weights: [big])
  #expect(a.value == .infinity)
  #expect(a.gradient == [0, 0])
  var crossEntropy = try SoftmaxCrossEntropy(classCount: 2)
  crossEntropy.reduction = .sum
  crossEntropy.classWeights = [2, 1]
  let c = try crossEntropy.valueGradientAndHessianDiagonal(
    logits: [1e17, 20], targets: [0], weights: [big])
  #expect(c.value == 0)
  #expect(c.gradient == [0, 0] && c.hessianDiagonal == [0, 0])
  // Scripts/Fuzz/corpus/regression-margin-scale-squared-overflow: the logit
  // scale as the third factor, f s² p (1 - p) with s² = 1e600 and
  // p (1 - p) = 0 (margins 36 put the label 3.6e301 below the other class).
  var margin = try MarginSoftmaxCrossEntropy(margins: [36, 36], scale: 1e300)
  margin.reduction = .sum
  let m = try margin.valueGradientAndHessianDiagonal(logits: [1, 1e-300], targets: [0])
  #expect(m.hessianDiagonal == [0, 0])
  #expect(m.gradient.allSatisfy { $0.isFinite } && m.value.isFinite)
}

/// Scripts/Fuzz/corpus/regression-f1-weighted-second-order: under `.sum`, the
/// second-order F1-weighted cross-entropy took F from the raw weights, the
/// first-order one from w / Σ w (raw sums of weights near 1e308 overflow):
/// values a few ulps apart. Targets near the least normal double make the
/// difference visible. By mpmath (50 digits), F = Σy / (Σy + 7.5) and
/// L = Σ (1 - F/2) y softplus(-z) + (F/2)(1 - y) softplus(z) = 3.70152881174857283e-307
/// (the subnormal sums cost a few ulps: within 1e-14 relative).
@Test func f1WeightedSecondOrderUsesTheFirstOrderF() throws {
  var loss = F1WeightedCrossEntropy()
  loss.reduction = .sum
  let tiny = 2.2250738585072014e-308
  let z = [Double](repeating: tiny, count: 15)
  var y = [Double](repeating: tiny, count: 15)
  (y[8], y[9], y[14]) = (0, 0, 5e-324)
  let first = try loss.valueAndGradient(logits: z, targets: y)
  let second = try loss.valueGradientAndHessianDiagonal(logits: z, targets: y)
  #expect(second.value.bitPattern == first.value.bitPattern && second.gradient == first.gradient)
  expectClose(second.value, 3.70152881174857283e-307, relative: 1e-14)
  // Weights of 1e308, by hand: p = 1/2, F = 1/2, a_pos = 3/4, a_neg = 1/4;
  // L = 1e308 ln 2, g = 1e308 (-3/8, 1/8), h = 1e308 (3/16, 1/16).
  let w = try loss.valueGradientAndHessianDiagonal(
    logits: [0, 0], targets: [1, 0], weights: [1e308, 1e308])
  expectClose(w.value, 1e308 * 0.6931471805599453, relative: 1e-15)
  expectClose(w.gradient, [-0.375e308, 0.125e308], relative: 1e-15)
  expectClose(w.hessianDiagonal, [0.1875e308, 0.0625e308], relative: 1e-15)
}

/// Scripts/Fuzz/corpus/regression-focal-gradient-overflow: softmax focal formed
/// f G q before dividing by Σ_{k != c} e_k, which overflowed where every other
/// entry f p_k G is finite. K = 11 tied logits, gamma = 1, weight 1.8e308:
/// by mpmath, f p_k G = f (1/11)(10/11 + ln 11 / 11) = 1.8419513403844287e307,
/// and the label's -f q G = -1.84e308 overflows.
@Test func focalGradientOfAHugeWeight() throws {
  var loss = try SoftmaxFocalLoss(classCount: 11, gamma: 1)
  loss.reduction = .sum
  let g = try loss.gradient(
    logits: [Double](repeating: 0, count: 11), targets: [0], weights: [.greatestFiniteMagnitude])
  #expect(g[0] == -.infinity)
  for k in 1..<11 { expectClose(g[k], 1.8419513403844287e307, relative: 1e-14) }
}

/// Scripts/Fuzz/corpus/regression-focal-hvp-overflow: the focal Hessian-vector
/// product scaled a huge vector down only by K, not by focal's gamma² factors:
/// a c - gamma p B (v_c - R) overflowed to inf - inf. K = 2, gamma = 1000,
/// z = (0, 0): H v = h (v_0 - v_1)(1, -1), h as in
/// softmaxFocalGammaIsCappedAndItsHessianFinite: 2 h big = 5825511048646.578.
@Test func focalHessianVectorProductOfAHugeVector() throws {
  let big = Double.greatestFiniteMagnitude
  let loss = try SoftmaxFocalLoss(classCount: 2, gamma: 1000)
  let product = try loss.hessianVectorProduct(logits: [0, 0], targets: [0], vector: [big, -big])
  expectClose(product, [5825511048646.578, -5825511048646.578], relative: 1e-12)
}

/// Scripts/Fuzz/corpus/regression-offsets-below-rounding: the row maximum was
/// picked from rounded a_k = z_k + o_k; with z = 1e300 the offsets vanish in
/// the rounding, a tie picks the first class, and e_k = exp(o_1 - o_0) reached
/// 1e300 (H v overflowed to NaN) or overflowed (s' = inf, and the fallback on
/// a_k / 4 lost the offsets again: the loss was log 2). By mpmath: the loss is
/// -log π_0 + log(1 + π_0/π_1 ...) = 744.44007192138126, and with priors
/// (1e-300, 1), v = (1, 1e10): H v = (-9.99999999900000025e-291, +same).
@Test func offsetsBelowTheRoundingOfHugeLogits() throws {
  let la = try LogitAdjustedCrossEntropy(priors: [5e-324, 1])
  expectClose(
    try la.value(logits: [1e300, 1e300], targets: [0]), 744.44007192138126, relative: 1e-14)
  let hvp = try LogitAdjustedCrossEntropy(priors: [1e-300, 1])
  let product = try hvp.hessianVectorProduct(
    logits: [1e300, 1e300], targets: [0], vector: [1, 1e10])
  expectClose(product, [-9.99999999900000025e-291, 9.99999999900000025e-291], relative: 1e-12)
}

/// Scripts/Fuzz/corpus/regression-macro-f1-zero-weight-row: a row of weight 0
/// whose terms sum beyond the largest double (0.85 × 1.8e308 + 0.25 × 1.8e308)
/// added 0 × inf = NaN. By mpmath, the other row's term:
/// 0.85 ln 3 + 0.4 ln 1.5 = 1.0960064886111590.
@Test func macroF1WeightedZeroWeightRowWithOverflowingTerms() throws {
  let big = Double.greatestFiniteMagnitude
  let loss = try MacroF1WeightedCrossEntropy(classCount: 3, classF1: [0.3, 0.3, 0.5])
  let (value, gradient) = try loss.valueAndGradient(
    logits: [0, 0, 0, -big, -big, 0], targets: [0, 0], weights: [1, 0])
  expectClose(value, 1.0960064886111590, relative: 1e-15)
  #expect(gradient[3...].allSatisfy { $0 == 0 })
}

/// Scripts/Fuzz/corpus/regression-margin-cancelling-exponent: with margin 1e300
/// on the label's logit 1e300, the exponent s (z_0 - z_1) - m = (1e300 - 710) -
/// 1e300 came out as hi = 0 (read as a tie) plus lo = -710, and s' went
/// negative: NaN. By hand: a = (0, 710), l = 710 + log1p(e^-710) = 710.
@Test func marginCancellingTheLabelLogit() throws {
  let loss = try MarginSoftmaxCrossEntropy(margins: [1e300, 1e300], scale: 1)
  #expect(try loss.perSampleValues(logits: [1e300, 710], targets: [0]) == [710])
  let (value, gradient) = try loss.valueAndGradient(logits: [1e300, 710], targets: [0])
  #expect(value == 710)
  // p = (e^-710, 1): the gradient p - onehot = (-1, 1) to the last bit.
  #expect(gradient == [-1, 1])
}

/// Scripts/Fuzz/corpus/regression-focal-other-scale-overflow: focal's
/// f G q / Σ_{k != c} e_k can exceed f (G q <= 1 + gamma), so with f = 1.8e308
/// it overflowed and e_0 = 0 met it: 0 × inf = NaN. Such rows are now weighted
/// after the fact. By hand: p_0 = e^-1e300 = 0 gives 0; the others,
/// f q G (1 + 7.8e-15) and f p_2 G, exceed the largest double.
@Test func focalOtherClassesOfAHugeWeight() throws {
  var loss = try SoftmaxFocalLoss(classCount: 3, gamma: 1)
  loss.reduction = .sum
  let g = try loss.gradient(
    logits: [-1e300, -36, 2.2250738585072014e-308], targets: [1],
    weights: [.greatestFiniteMagnitude])
  #expect(g == [0, -.infinity, .infinity])
}

/// Scripts/Fuzz/corpus/regression-multi-label-zero-weight-row: a row of weight
/// 0 whose two set terms (each 1.8e308) sum beyond the largest double added
/// 0 × inf = NaN. By hand, the other row: softplus(0) + softplus(0) = 2 ln 2.
@Test func multiLabelCategoricalZeroWeightRowWithOverflowingTerms() throws {
  let big = Double.greatestFiniteMagnitude
  var loss = try MultiLabelCategoricalCrossEntropy(labelCount: 2)
  loss.reduction = .sum
  let value = try loss.value(logits: [-big, big, 0, 0], targets: [1, 0, 1, 0], weights: [0, 1])
  expectClose(value, 2 * 0.6931471805599453, relative: 1e-15)
}

/// Scripts/Fuzz/corpus/regression-focal-zero-weight-slope-overflow: with class
/// weights of 1.8e308, `a_neg` times the focal slope at z = 2 (1.077 for γ = 2)
/// overflows, and a weight of 0 made the gradient 0 × inf = NaN. A weight of 0
/// now gives 0, and a tiny weight the finite product. References: mpmath,
/// `1e-300 · 1.7976931348623157e308 · p² (p - 2 q log q)` at z = 2 and 0.5.
@Test func focalZeroWeightTimesOverflowingSlopeIsZero() throws {
  let big = Double.greatestFiniteMagnitude
  var loss = BinaryFocalLoss(gamma: 2, positiveWeight: big, negativeWeight: big)
  loss.reduction = .sum
  let (value, gradient) = try loss.valueAndGradient(
    logits: [2, 2, 0.5], targets: [0, 0, 0], weights: [0, 1e-300, 1e-300])
  // mpmath: 1e-300 · 1.7976931348623157e308 · Σ_{z = 2, 0.5} p² softplus(z).
  expectClose(value, 364480445.9014332651201155, relative: 1e-13)
  #expect(gradient[0] == 0)
  expectClose(gradient[1], 193560088.1439229893, relative: 1e-13)
  expectClose(gradient[2], 94585951.80792379118, relative: 1e-13)
  let (_, _, hessian) = try loss.valueGradientAndHessianDiagonal(
    logits: [2, 2, 0.5], targets: [0, 0, 0], weights: [0, 1e-300, 1e-300])
  #expect(hessian[0] == 0 && hessian[1].isFinite && hessian[2].isFinite)
}

/// Scripts/Fuzz/corpus/regression-macro-f1-subnormal-class-total: a class
/// whose total `S_k = Σ f (p + [c == k])` is subnormal (its only row has the
/// weight 5e-324 next to 1e-12) made `1 / (K S_k)` overflow and the gradient
/// NaN. The products are now formed as `((p f) up) beta'`, bounded.
@Test func macroF1WithSubnormalClassTotalIsFinite() throws {
  var loss = try MacroSmoothF1Loss(classCount: 3)
  loss.ignoreIndex = 0
  let logits = [7.398442656812905e+299, 1.7818977117084548e-261, -0.0, 1.0, -0.0, 0.5,
    0.3, -5.487463485770422e+303, 1.0, -1.0, 0.5, 0.3]
  let (value, gradient) = try loss.valueAndGradient(
    logits: logits, targets: [1, 2, 0, 0], weights: [1e-12, 5e-324, 1.7976931348623157e+308, 3])
  #expect(value >= 0 && value <= 1)
  #expect(gradient.allSatisfy { $0.isFinite })
  #expect(gradient[6...].allSatisfy { $0 == 0 })  // ignored rows
  // Each row of a softmax gradient sums to 0 (up to rounding of its largest entry).
  for row in 0..<2 {
    let g = gradient[(3 * row)..<(3 * row + 3)]
    let scale = g.map(\.magnitude).max()!
    #expect(abs(g.reduce(0, +)) <= 4 * scale.ulp, "row \(row): \(Array(g))")
  }
}

/// Scripts/Fuzz/corpus/regression-softmax-subnormal-total-weight: the largest
/// weight (1e17) and the largest class weight (1e-12) on different rows left
/// every `v_i = w_i classWeights[c_i]` tiny, `Σ v` subnormal (1e17 × 5e-324)
/// and `1 / Σ v` infinite: a row with v = 0 then gave 0 × inf = NaN. By hand:
/// the only row with v > 0 has logits [0, 0], so the mean is log 2 and its
/// gradient (0.5, -0.5); the row of weight 0 adds nothing.
@Test func softmaxSubnormalTotalWeightGivesTheWeightedMean() throws {
  var loss = try SoftmaxCrossEntropy(classCount: 2)
  loss.classWeights = [1e-12, 5e-324]
  let (value, gradient) = try loss.valueAndGradient(
    logits: [0, 0, 3, -1], targets: [1, 0], weights: [1e17, 0])
  expectClose(value, 0.6931471805599453, relative: 2e-16)
  #expect(gradient == [0.5, -0.5, 0, 0])
}

/// A row whose factor `w_i a_c s` overflows under `.sum` is computed with
/// factor 1 and multiplied by `w_i` and `a_c` afterwards; `(x w) a` overflowed
/// where `x w a` does not (here x = ±16, w = 1.348e307, a = 1/2, true entry
/// ±1.0784e308). The smaller factor now comes first.
@Test func splitFactorMultipliesTheSmallerWeightFirst() throws {
  var loss = try MarginSoftmaxCrossEntropy.additiveMargin(0, classCount: 2, scale: 32)
  loss.reduction = .sum
  loss.classWeights = [0.5, 1]
  let w = 1.348e307
  let (value, gradient) = try loss.valueAndGradient(
    logits: [0, 0], targets: [0], weights: [w])
  // p = (1/2, 1/2): l = log 2, ∂l/∂z = 32 (p - onehot) = (-16, 16), times w a_c = w / 2.
  expectClose(value, w * 0.5 * 0.69314718055994530942, relative: 1e-15)
  expectClose(gradient[0], -16 * (w * 0.5), relative: 1e-15)
  expectClose(gradient[1], 16 * (w * 0.5), relative: 1e-15)
}

/// Class weights and label smoothing together (PyTorch's convention) with a
/// huge sample weight and scale under `.sum`: the row carries its class
/// weights, the split factor keeps every entry finite where it is, and a
/// class weight of 0 on the label still leaves the smoothing terms.
@Test func classWeightedSmoothingWithHugeFactorsStaysFinite() throws {
  var loss = try MarginSoftmaxCrossEntropy.additiveMargin(0, classCount: 3, scale: 1e10)
  loss.reduction = .sum
  loss.classWeights = [0, 2, 1]
  loss.labelSmoothing = 0.3
  let w = 1e300
  let (value, gradient) = try loss.valueAndGradient(
    logits: [0, 0, 0], targets: [0], weights: [w])
  // p = 1/3 each; t = (0, 0.2, 0.1), A = 0.3: l = 0.3 log 3, g_k = w s (A/3 - t_k).
  #expect(value.isFinite || value == .infinity)
  #expect(!value.isNaN && gradient.allSatisfy { !$0.isNaN })
  expectClose(value, w * 0.3 * 1.0986122886681098, relative: 1e-14)
  #expect(gradient[0] == .infinity)  // w s 0.1 = 1e309: beyond the double range
  #expect(gradient[1] == -.infinity)
  var small = loss
  small.classWeights = [0, 2e-20, 1e-20]
  let (_, g) = try small.valueAndGradient(logits: [0, 0, 0], targets: [0], weights: [w])
  // t = (0, 2e-21, 1e-21), A = 3e-21: g = w s (1e-21 - t) = (1e-289, -1e-289, 0).
  expectClose(g[0], 1e289, relative: 1e-14)
  expectClose(g[1], -1e289, relative: 1e-14)
  #expect(abs(g[2]) <= 1e-300 * 1e290)
}

/// Scripts/Fuzz/corpus/regression-class-weighted-smoothing-huge-class-weight:
/// class weights from 5e-324 to 1.8e308 with label smoothing (PyTorch's
/// convention, the rows carry the class weights) gave NaN: the batch's class
/// scale had been raised for Σ v, and class weight times that scale overflowed.
/// The rows now carry the class weights scaled by the largest one.
@Test func classWeightedSmoothingWithExtremeClassWeightsIsNeverNaN() throws {
  var loss = try SoftmaxCrossEntropy(classCount: 9)
  loss.classWeights = [1e-12, 5e-324, .greatestFiniteMagnitude, 0, 0, 1.25, 7.125, 0x1p-1022, 0x1p-1022]
  loss.labelSmoothing = 0x1p-1022
  loss.ignoreIndex = 2
  let big = Double.greatestFiniteMagnitude
  let z: [Double] = [
    1e300, 1e300, 1e300, 1e300, 1e300, 1e300, 1e300, 1e300, -big,
    1e-300, big, 1 - 0x1p-53, 0.3, 1 + 0x1p-52, 0, 0, 0, -big,
    0, 1e-12, -big, -big, -big, big, 1e300, 1e300, -3.625,
    -3.625, -3.625, -3.625, 745, 0.5, -1, 0, 0, 0,
  ]
  let (value, gradient) = try loss.valueAndGradient(
    logits: z, targets: [3, 4, 1, 0], weights: [0, 0, 1e17, 0])
  #expect(value == .infinity)  // 1e17 · 1.8e308 · ... / (1e17 · 5e-324)
  #expect(gradient.allSatisfy { !$0.isNaN })
  // Per row, with the class weights: row 3 is 1e-12 (745 + 3.625) + (ε / 9) a_2 (745 + 3.625).
  let terms = try loss.perSampleValues(logits: z, targets: [3, 4, 1, 0])
  #expect(terms.allSatisfy { $0.isFinite && $0 >= 0 })
  let row3 = 1e-12 * 748.625 + (0x1p-1022 / 9) * big * 748.625
  expectClose(terms[3], row3, relative: 1e-12)
}

/// Scripts/Fuzz/corpus/regression-macro-f1wce-class-weighted-factor-underflow:
/// sample weights 0.5 … 1e300 and class weights 0.33 … 1.4e17 made a row's
/// scaled factor `v a` subnormal (3.7e-301 × 2.4e-18) before the reciprocal,
/// and the one-batch value lost 21 bits. Every weighted row has label 0, so
/// the class weights cancel: the value must be the unweighted-class one.
@Test func classWeightedFactorKeepsItsDigitsAcrossExtremeWeights() throws {
  let huge = 1.7976931348623157e308
  let z: [Double] = [
    0, 0, 0, 1e17, 0, 0, 0, -36, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, -huge, 0, -huge, -huge, -huge, 0,
    0, huge, 0.9999999999999999, 1.0000000000000002, 0, 1e-12, -huge, -huge, 0, -huge, huge,
    -huge, 0, 0, 0.9999999999999999,
  ]
  let labels = [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
  let w: [Double] = [0, 1e300, 0, 0, 0, 0, 0, 0.5, 0, 0, 0, 0, 745]
  let plain = try MacroF1WeightedCrossEntropy(classCount: 3)
  var weighted = plain
  weighted.classWeights = [1.0 / 3, 1.397480611644663e17, 1.397480611644663e17]
  let reference = try plain.valueAndGradient(logits: z, targets: labels, weights: w)
  let value = try weighted.valueAndGradient(logits: z, targets: labels, weights: w)
  expectClose(value.value, reference.value, relative: 1e-14)
  expectClose(value.gradient, reference.gradient, relative: 1e-14)
  // The same for plain cross-entropy with those class weights.
  let ce = try SoftmaxCrossEntropy(classCount: 3)
  var ceWeighted = ce
  ceWeighted.classWeights = weighted.classWeights
  expectClose(
    try ceWeighted.value(logits: z, targets: labels, weights: w),
    try ce.value(logits: z, targets: labels, weights: w), relative: 1e-14)
}

@Test func combinationWithASubnormalWeightIsTheMembersWeightedSum() throws {
  // Fuzz corpus regression-combined-subnormal-weight: the fuzzer's oracle
  // rescaled every weight by 2^-9, so its λ = 1.4e-309 lost 9 more bits and
  // it disagreed by 7e-13; CombinedLoss was right. With no weight above
  // 2^64 the combination is the plain sum Σ λ_j L_j, in member order.
  let z = [
    3.0, -745, -.greatestFiniteMagnitude, -710, -1e300, .greatestFiniteMagnitude,
    .greatestFiniteMagnitude, 1.0000000000000002,
  ]
  let w = [2.2250738585072014e-308]
  var poly = try PolyCrossEntropy(classCount: 8, epsilon: 1)
  poly.ignoreIndex = -1
  var dice = try SoftmaxDiceLoss(classCount: 8)
  dice.ignoreIndex = -1
  dice.includeBackground = false
  dice.numeratorSmoothing = 1e-5
  dice.denominatorSmoothing = 1e-5
  let lambda = 1.39067116156603e-309
  let combined = CombinedLoss<Int>([(lambda, poly), (3, dice), (745, dice)])
  let (value, _) = try combined.valueAndGradient(logits: z, targets: [0], weights: w)
  let p = try poly.value(logits: z, targets: [0], weights: w)
  let d = try dice.value(logits: z, targets: [0], weights: w)
  #expect(value.bitPattern == ((lambda * p + 3 * d) + 745 * d).bitPattern)
  #expect(value == 0.249999999999825)
}

@Test func classSmoothingWithClassWeightsSpanningTheDoubleRange() throws {
  // Fuzz corpus regression-margin-class-smoothing-extreme-class-weights: the
  // row factor w_i / Σ v times rowClassScale = classScale / κ overflowed (class
  // weights from 1 to 1.8e308 with labels of weight 1 and 0), so with a tiny
  // logit scale every gradient entry was ±inf where f s is finite. With
  // `.mean` the loss does not change when every class weight is scaled by a
  // power of two: 2^-600 keeps them all in range, the reference here.
  let z: [Double] = [
    1, -1, 2, -1e-300, 3, 1e-300, 1e300, 1e300, 0, 0, 0, 0, 0, 0, 0, 1e-12, 1e-12, 1e-12,
    1e-12, 1e-12, -0.0, -0.0, -0.0, -0.0, -0.0, -0.0, -0.0, -0.0, -0.0, 1e-12, -0.0, -0.0,
    -0.0, -0.0, -0.0, -0.0,
  ]
  let labels = [6, 6, 6, 0]
  let classWeights = [
    -0.0, 0.9999999999999999, 1.7976931348623157e308, 0.9999999999999999, 3, 745,
    0.9999999999999999, 0.9999999999999999, 0.9999999999999999,
  ]
  var loss = try MarginSoftmaxCrossEntropy(
    margins: [Double](repeating: 1e-12, count: 9), scale: 2.2250738585072014e-308)
  loss.labelSmoothing = 0.9999999999999999
  loss.classWeights = classWeights
  var scaled = loss
  scaled.classWeights = classWeights.map { $0 * 0x1p-600 }
  let (value, gradient) = try loss.valueAndGradient(logits: z, targets: labels)
  let reference = try scaled.valueAndGradient(logits: z, targets: labels)
  #expect(gradient.allSatisfy { $0.isFinite }, "\(gradient)")
  expectClose(value, reference.value, relative: 1e-13)
  let largest = reference.gradient.map(\.magnitude).max()!
  #expect(largest > 0.01)
  for (g, r) in zip(gradient, reference.gradient) {
    #expect((g - r).magnitude <= 1e-13 * largest, "\(g) vs \(r)")
  }
}
