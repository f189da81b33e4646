// The options every softmax loss shares (class weights, label smoothing, an
// ignored label, the reduction) and the one place that validates them and
// runs the softmax kernel for a loss.
//
// Semantics, the same in every softmax loss:
//
//     v_i = w_i classWeights[c_i]               (0 for an ignored row)
//     .mean:  L = Σ_i v_i l_i / Σ_i v_i         (PyTorch's weighted "mean")
//     .sum:   L = Σ_i v_i l_i
//     t_i = (1 - eps) onehot(c_i) + eps / K     (label smoothing, PyTorch's convention)
//
// With class weights a and label smoothing together, PyTorch's convention
// (`cross_entropy(weight=a, label_smoothing=eps)`): the smoothing term of
// class k is weighted by a_k, not by a_{c_i}, and Σ v keeps v_i = w_i a_{c_i}:
//
//     l_i = (1 - eps) a_{c_i} (-log p_{i,c_i}) + (eps / K) Σ_k a_k (-log p_{i,k})
//     .mean:  L = Σ_i w_i l_i / Σ_i v_i,   .sum:  L = Σ_i w_i l_i
//
// A batch whose rows are all ignored has L = 0 and a zero gradient: there is
// nothing to learn from it, and a training loop that masks whole batches
// (padding, unlabeled crops) must not see a NaN or an error. Zero weights on
// rows that are not ignored still throw `zeroTotalWeight` under `.mean`, as
// they do without these options.

/// The validated configuration of one softmax loss call.
@usableFromInline
struct SoftmaxSetup: Sendable {
  @usableFromInline var classCount: Int
  /// `o_k`: logit adjustment `tau log π_k`, or zeros.
  @usableFromInline var offsets: [Double]
  /// The logit scale `s > 0`.
  @usableFromInline var scale: Double = 1
  /// Per-class margins `m_k` on the label's logit, or `nil`.
  @usableFromInline var margins: [Double]? = nil
  /// Focal loss's gamma, 0 for cross-entropy.
  @usableFromInline var focusing: Double = 0
  /// Whether the row loss is smooth accuracy's `1 - p_c`.
  @usableFromInline var smoothAccuracy = false
  /// Poly-1's `ε` (`CE + ε (1 - p_t)`), or `nil` for every other loss.
  @usableFromInline var poly: Double? = nil
  @usableFromInline var classWeights: [Double]? = nil
  @usableFromInline var labelSmoothing: Double = 0
  @usableFromInline var ignoreIndex: Int? = nil
  @usableFromInline var reduction: Reduction = .mean
  @usableFromInline var parallelism: Parallelism = .automatic

  /// A lower bound for each row's diagonal second derivatives, or `nil`.
  @usableFromInline var hessianFloor: Double? = nil

  @inlinable
  init(
    classCount: Int, offsets: [Double], classWeights: [Double]? = nil,
    labelSmoothing: Double = 0, ignoreIndex: Int? = nil, reduction: Reduction = .mean,
    parallelism: Parallelism = .automatic
  ) {
    self.classCount = classCount
    self.offsets = offsets
    self.classWeights = classWeights
    self.labelSmoothing = labelSmoothing
    self.ignoreIndex = ignoreIndex
    self.reduction = reduction
    self.parallelism = parallelism
  }

  /// Whether the rows carry their class weights: cross-entropy with class
  /// weights and label smoothing (PyTorch's convention, `ClassSmoothing`).
  @inlinable
  var smoothsClassWeights: Bool {
    classWeights != nil && labelSmoothing > 0 && focusing == 0 && !smoothAccuracy
  }

  /// Throws for class weights of the wrong length or value, or a label
  /// smoothing outside [0, 1].
  @inlinable
  func validateOptions() throws(LossError) {
    if let classWeights {
      try SoftmaxSetup.checkClassWeights(classWeights, classCount: classCount)
    }
    try Validation.checkLabelSmoothing(labelSmoothing)
    // Poly-1 has no agreed target under PyTorch's class-weighted smoothing
    // (the target's mass is A_c, not 1): the combination is refused.
    if poly != nil && classWeights != nil && labelSmoothing > 0 {
      throw .invalidParameter(
        name: "labelSmoothing", value: labelSmoothing,
        requirement: "0 when classWeights are set (PolyCrossEntropy)")
    }
  }

  /// Throws unless `weights` has `classCount` finite elements `>= 0`.
  @inlinable
  static func checkClassWeights(_ weights: [Double], classCount: Int) throws(LossError) {
    if weights.count != classCount {
      throw .lengthMismatch(
        argument: "classWeights", expected: classCount, actual: weights.count)
    }
    for (k, a) in weights.enumerated() where !(a >= 0 && a.isFinite) {
      throw .invalidClassWeight(index: k, value: a)
    }
  }

  /// Throws unless every adjusted logit `s z + o - s m` lies within ±2^1022,
  /// so that the kernel's differences `a_k - max a` are finite.
  @inlinable
  func checkAdjustedRange<S: StoredScalar>(
    _ logits: UnsafeBufferPointer<S>, largestMargin: Double
  ) throws(LossError) {
    // max |z| as a vector scan (the logits are finite, validated).
    var largestv = Vector()
    var j = 0
    let base = logits.baseAddress!
    while j + 8 <= logits.count {
      // max(z, -z) lane-wise.
      let z = S.load(base + j)
      largestv = largestv.replacing(with: z, where: z .> largestv)
      largestv = largestv.replacing(with: -z, where: -z .> largestv)
      j += 8
    }
    var largest = largestv.max()
    while j < logits.count {
      largest = Swift.max(largest, abs(base[j].widened))
      j += 1
    }
    let largestOffset = offsets.reduce(0) { Swift.max($0, abs($1)) }
    let bound = Double(sign: .plus, exponent: 1022, significand: 1)
    if !(scale * largest + largestOffset + scale * largestMargin < bound) {
      throw .invalidParameter(
        name: "scale", value: scale,
        requirement: "small enough that |scale * logit| + |offset| + scale * margin < 2^1022")
    }
  }

  /// Validates everything, then runs `body` on the batch and the row rule.
  @inlinable
  func withBatch<R, S: StoredScalar>(
    logits: UnsafeBufferPointer<S>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<S>?, gradient: UnsafeMutableBufferPointer<S>?,
    reduction: Reduction, global: (kept: Double, total: Double)? = nil,
    _ body: (SoftmaxBatch, SoftmaxRule) throws(LossError) -> R
  ) throws(LossError) -> R {
    try validateOptions()
    return try offsets.withUnsafeBufferPointer { (o) throws(LossError) in
      try withOptionalPointer(margins) { (margins) throws(LossError) in
        try withOptionalPointer(classWeights) { (classWeights) throws(LossError) in
          var batch = try SoftmaxBatch(
            logits: logits, labels: targets, weights: weights,
            gradientCount: gradient?.count, classCount: classCount,
            reduction: global == nil ? reduction : .sum,
            classWeights: classWeights, ignoreIndex: ignoreIndex,
            classWeightsInRow: smoothsClassWeights)
          if let global {
            try batch.normalize(kept: global.kept, total: global.total, reduction: reduction)
          }
          batch.scaleRowClassWeights()
          if scale != 1 || margins != nil {
            try checkAdjustedRange(
              logits,
              largestMargin: margins.map { p in
                (0..<classCount).reduce(0) { Swift.max($0, p[$1]) }
              } ?? 0)
          }
          func rule(_ rowClassWeights: ClassSmoothing?) -> SoftmaxRule {
            SoftmaxRule(
              offsets: o.baseAddress!, scale: scale, margins: margins,
              smoothing: labelSmoothing, focusing: focusing, smoothAccuracy: smoothAccuracy,
              offsetsAreZero: o.allSatisfy { $0 == 0 }, rowClassWeights: rowClassWeights,
              poly: poly ?? 0)
          }
          guard batch.classWeightsInRow, let classWeights else { return try body(batch, rule(nil)) }
          // ρ_k = a_k κ <= 2, then μ_k = ρ_k / K (see `ClassSmoothing`).
          var scratch = [Double](repeating: 0, count: 2 * classCount)
          return try scratch.withUnsafeMutableBufferPointer { (b) throws(LossError) in
            let rho = b.baseAddress!
            let means = rho + classCount
            var meanSum = CompensatedSum()
            var bound = 1.0
            for k in 0..<classCount {
              rho[k] = classWeights[k] * batch.rowWeightScale
              means[k] = rho[k] / Double(classCount)
              meanSum.add(means[k])
              bound = Swift.max(bound, rho[k])
            }
            return try body(
              batch,
              rule(ClassSmoothing(
                weights: rho, means: means, meanSum: meanSum.value, bound: bound)))
          }
        }
      }
    }
  }

  /// The loss `Σ f_i l_i` and, when `gradient` is non-nil, its gradient.
  @inlinable
  func valueAndGradient<S: StoredScalar>(
    logits: UnsafeBufferPointer<S>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<S>?, gradient: UnsafeMutableBufferPointer<S>?
  ) throws(LossError) -> Double {
    try withBatch(
      logits: logits, targets: targets, weights: weights, gradient: gradient,
      reduction: reduction
    ) { batch, rule in
      SoftmaxKernel.run(
        batch, rule: rule, gradient: .init(gradient?.baseAddress), parallelism: parallelism)
    }
  }

  /// A shard's data-parallel sums: its rows not ignored and their `Σ v`
  /// (`SoftmaxBatch.keptSums`), then, with `perClass`, the per-class `T_k`,
  /// `S_k`, `D_k`, `r_k` of `SoftmaxF1Kernel.sums` with raw weights (`2 + 4 K`
  /// sums of a macro-F1-family loss; `MacroF1Statistics(merged:normalizer:)`
  /// reads them back).
  @inlinable
  func shardSums(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, perClass: Bool = false
  ) throws(LossError) -> [CompensatedSum] {
    let sums = try withBatch(
      logits: logits, targets: targets, weights: weights, gradient: nil, reduction: .sum
    ) { batch, rule in
      perClass ? batch.keptSums() + SoftmaxF1Kernel.sums(batch, rule: rule) : batch.keptSums()
    }
    try withOptionalPointer(classWeights) { (a) throws(LossError) in
      try Validation.checkDataParallel(
        a.map { UnsafeBufferPointer(start: $0, count: classCount) }, name: "classWeights")
    }
    return sums
  }

  /// A shard's share of the loss and its rows of the gradient, with the
  /// normaliser of the whole batch (`kept` rows of total weight `total`).
  @inlinable
  func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    global: (kept: Double, total: Double)
  ) throws(LossError) -> Double {
    try withBatch(
      logits: logits, targets: targets, weights: weights, gradient: gradient,
      reduction: reduction, global: global
    ) { batch, rule in
      SoftmaxKernel.run(
        batch, rule: rule, gradient: .init(gradient?.baseAddress), parallelism: parallelism)
    }
  }

  /// Each row's unweighted term `l_i` (0 for an ignored row).
  @inlinable
  func perSampleValues(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    into values: UnsafeMutableBufferPointer<Double>
  ) throws(LossError) {
    try withBatch(
      logits: logits, targets: targets, weights: nil, gradient: nil, reduction: .sum
    ) { (batch, rule) throws(LossError) in
      try Validation.checkValuesCount(values.count, sampleCount: batch.rows)
      SoftmaxKernel.writeTerms(batch, rule: rule, into: values.baseAddress!)
    }
  }
}

/// Runs `body` on the base address of `array`, or on `nil`.
@inlinable
func withOptionalPointer<R>(
  _ array: [Double]?, _ body: (UnsafePointer<Double>?) throws(LossError) -> R
) throws(LossError) -> R {
  guard let array else { return try body(nil) }
  return try array.withUnsafeBufferPointer { (b) throws(LossError) in try body(b.baseAddress) }
}

extension SoftmaxSetup {
  /// The loss, its gradient and the diagonal of its Hessian, each diagonal
  /// entry of a row raised to at least `hessianFloor` (if set) before weighting.
  @inlinable
  func valueGradientAndHessianDiagonal<S: StoredScalar>(
    logits: UnsafeBufferPointer<S>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<S>?, gradient: UnsafeMutableBufferPointer<S>,
    hessianDiagonal: UnsafeMutableBufferPointer<S>
  ) throws(LossError) -> Double {
    try Validation.checkFinite(hessianFloor, name: "hessianFloor")
    return try withBatch(
      logits: logits, targets: targets, weights: weights, gradient: gradient,
      reduction: reduction
    ) { (batch, rule) throws(LossError) in
      try Validation.checkHessianCount(hessianDiagonal.count, logitCount: logits.count)
      return SoftmaxKernel.runSecondOrder(
        batch, rule: rule, floor: hessianFloor, gradient: KernelOutput(gradient.baseAddress!),
        hessian: KernelOutput(hessianDiagonal.baseAddress!), parallelism: parallelism)
    }
  }

  /// The loss, and the product of its block-diagonal Hessian with `vector`.
  @inlinable
  func hessianVectorProduct(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, vector: UnsafeBufferPointer<Double>,
    into product: UnsafeMutableBufferPointer<Double>
  ) throws(LossError) -> Double {
    try withBatch(
      logits: logits, targets: targets, weights: weights, gradient: nil, reduction: reduction
    ) { (batch, rule) throws(LossError) in
      if vector.count != logits.count {
        throw .lengthMismatch(argument: "vector", expected: logits.count, actual: vector.count)
      }
      if product.count != logits.count {
        throw .lengthMismatch(argument: "product", expected: logits.count, actual: product.count)
      }
      for (j, x) in vector.enumerated() where !x.isFinite {
        throw .invalidParameter(name: "vector[\(j)]", value: x, requirement: "finite")
      }
      return SoftmaxKernel.runHessianVectorProduct(
        batch, rule: rule, vector: vector.baseAddress!, into: product.baseAddress!,
        parallelism: parallelism)
    }
  }
}
