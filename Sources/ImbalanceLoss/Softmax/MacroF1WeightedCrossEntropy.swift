/// Softmax cross-entropy re-weighted, class by class, by the macro smooth F1
/// of the batch: the F1-weighted cross-entropy argument applied one-vs-rest to each class.
///
/// Derivation. Macro smooth F1 (``MacroSmoothF1Loss``) has, per class k,
/// `F_k = 2 T_k / S_k` over the probabilities `p_ik = softmax(z_i)_k`, and
///
///     ∂(-F_k / K)/∂p_ik = -(2 w_i / (K S_k)) (y_ik - F_k / 2),     y_ik = [c_i == k]
///
/// so, for class k, a positive sample (`y_ik = 1`) is pushed up with weight
/// `ρ_k (1 - F_k/2)` and a negative one pushed down with weight `ρ_k F_k/2`,
/// `ρ_k = 2 w_i / (K S_k)`. As in §4, keep these weights and apply
/// "p -> log p" to each class's one-vs-rest term (positives: `p -> log p`,
/// negatives: `-p -> log(1 - p)`), with F_k held constant:
///
///     l_i = Σ_k ρ_k [ -(1 - F_k/2) y_ik log p_ik - (F_k/2)(1 - y_ik) log(1 - p_ik) ]
///
/// The factor `ρ_k` multiplies both of class k's terms, so it does not move
/// the threshold their pointwise minimiser puts on the posterior: `p_k > 1/2`
/// exactly when `η_k > F_k/2`, half the class's F1, the F1-optimal rule
/// (Lipton et al. 2014) for each one-vs-rest problem. §4 drops its common
/// `1/S`; likewise we drop `ρ_k` (which is about `1/(K n_k)`, an extra
/// inverse-frequency weight). The per-class weights are therefore
///
///     positives of class k:  A_k = 1 - F_k / 2        negatives of class k:  B_k = F_k / 2
///
/// and the loss, with `v_i = w_i classWeights[c_i]` as in every softmax loss:
///
///     l_i = A_c (-log p_ic) + Σ_{k != c} B_k (-log(1 - p_ik))          c = c_i
///     L   = Σ_i v_i l_i / Σ_i v_i
///     ∂l_i/∂z_ij = p_ij (A_c + B_j - Σ_{k != c, j} B_k r_ik)   (j != c),  r_ik = p_ik / (1 - p_ik)
///     ∂l_i/∂z_ic = -A_c (1 - p_ic) - p_ic Σ_{k != c} B_k r_ik
///
/// With every `F_k = 0` this is plain cross-entropy; as F_k grows, the
/// negatives of class k (samples that put mass on k wrongly) are penalised
/// more. F (one value per class) is held constant: no gradient flows through
/// it. With `classF1: nil` it is the macro smooth F1 of the current batch
/// (``MacroSmoothF1Loss/classF1Scores(logits:targets:weights:)-(_,[Int],_)``
/// with the per-sample weights, not the class weights); a small batch gives a
/// noisy F_k, so a caller may supply running averages instead.
///
/// `-log(1 - p_ik)` is taken in log space (from the row's second maximum when
/// `p_ik` rounds to 1), so confident wrong rows with logits of ±1e300 stay
/// finite. Label smoothing does not apply.
public struct MacroF1WeightedCrossEntropy: SoftmaxLossFamily, SeparableLoss, DataParallelLoss, Hashable {
  public typealias Target = Int

  /// The number of classes `K`.
  public let classCount: Int
  /// The F_k held constant (K values in [0, 1]), or `nil` for each batch's own.
  public let classF1: [Double]?
  /// How per-sample terms are combined: weighted mean (default) or sum.
  public var reduction: Reduction = .mean
  /// How many threads a call may use; the result is the same bits either way.
  public var parallelism: Parallelism = .automatic
  /// Per-class weights, as in ``LogitAdjustedCrossEntropy/classWeights``.
  public var classWeights: [Double]? = nil
  /// A label that marks a row to skip, as in ``LogitAdjustedCrossEntropy/ignoreIndex``.
  public var ignoreIndex: Int? = nil
  let offsets: [Double]

  /// Creates the loss for `classCount` classes, with fixed per-class F1
  /// scores or `nil` for each batch's own.
  ///
  /// - Throws: ``LossError/noClasses`` when `classCount <= 0`;
  ///   ``LossError/lengthMismatch(argument:expected:actual:)`` when `classF1`
  ///   does not have K values; ``LossError/invalidParameter(name:value:requirement:)``
  ///   for a value outside [0, 1].
  public init(classCount: Int, classF1: [Double]? = nil) throws(LossError) {
    if classCount <= 0 { throw .noClasses }
    if let classF1 {
      if classF1.count != classCount {
        throw .lengthMismatch(argument: "classF1", expected: classCount, actual: classF1.count)
      }
      for (k, f) in classF1.enumerated() where !(f >= 0 && f <= 1) {
        throw .invalidParameter(name: "classF1[\(k)]", value: f, requirement: "in [0, 1]")
      }
    }
    self.classCount = classCount
    self.classF1 = classF1
    self.offsets = [Double](repeating: 0, count: classCount)
  }

  /// Computes the loss and, when `gradient` is non-nil, writes `∂L/∂z` into it.
  ///
  /// - Throws: ``LossError`` for a logit count that is not a multiple of K, an
  ///   empty batch, mismatched lengths, a non-finite logit, a label outside
  ///   `0..<K` (other than `ignoreIndex`), an invalid weight or class weight.
  ///   The gradient buffer is untouched after a throw.
  /// - Complexity: O(N K): one pass with `classF1` supplied, two otherwise.
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?
  ) throws(LossError) -> Double {
    let half = try heldHalfF1(logits: logits, targets: targets, weights: weights)
    return try setup.withBatch(
      logits: logits, targets: targets, weights: weights, gradient: gradient,
      reduction: reduction
    ) { batch, rule in
      run(batch, rule, half, gradient?.baseAddress)
    }
  }

  /// Writes each sample's term `l_i` at the held F into `values` (without
  /// `v_i`; 0 for an ignored row). With `classF1: nil`, F is this batch's
  /// macro smooth F1 without weights.
  ///
  /// - Throws: ``LossError`` for invalid input; `values` is untouched then.
  /// - Complexity: O(N K).
  public func perSampleValues(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    into values: UnsafeMutableBufferPointer<Double>
  ) throws(LossError) {
    let half = try heldHalfF1(logits: logits, targets: targets, weights: nil)
    try setup.withBatch(
      logits: logits, targets: targets, weights: nil, gradient: nil, reduction: .sum
    ) { (batch, rule) throws(LossError) in
      try Validation.checkValuesCount(values.count, sampleCount: batch.rows)
      var scratch = [Double](repeating: 0, count: classCount)
      half.withUnsafeBufferPointer { h in
        scratch.withUnsafeMutableBufferPointer { s in
          for i in 0..<batch.rows {
            values[i] =
              batch.isIgnored(i)
              ? 0
              : SoftmaxF1Kernel.weightedCrossEntropyRow(
                batch, i, rule: rule, halfF1: h.baseAddress!, factor: 1, nil,
                scratch: s.baseAddress!)
          }
        }
      }
    }
  }

  /// This shard's sums for data-parallel training: its rows not ignored and
  /// their `Σ v`; with `classF1: nil` also the sums of ``MacroSmoothF1Loss``
  /// (rows kept, `Σ w`, per class `T_k`, `S_k`, `D_k`, `R_k`), from which
  /// every shard takes the whole batch's `F_k = 2 T_k / S_k`.
  ///
  /// - Throws: ``LossError`` for invalid input, as the loss itself.
  /// - Complexity: O(N K): one pass, two with `classF1: nil`.
  public func statistics(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?
  ) throws(LossError) -> BatchStatistics {
    var sums = try setup.shardSums(logits: logits, targets: targets, weights: weights)
    if classF1 == nil {
      sums += try f1Loss.setup.shardSums(
        logits: logits, targets: targets, weights: weights, perClass: true)
    }
    return try BatchStatistics(of: self, samples: targets.count, sums: sums, weights: weights)
  }

  /// This shard's share `Σ_shard v_i l_i / Σ_all v` (or `Σ_shard v_i l_i`
  /// for `.sum`), with F held at `classF1` or at the whole batch's macro
  /// smooth F1, and its rows of the whole batch's gradient.
  ///
  /// - Throws: ``LossError`` for invalid input and for statistics of another loss.
  /// - Complexity: O(N K), one pass.
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    statistics: BatchStatistics
  ) throws(LossError) -> Double {
    let totals = try statistics.totals(
      for: self, sums: classF1 == nil ? 4 + 4 * classCount : 2, samples: targets.count)
    return try setup.withBatch(
      logits: logits, targets: targets, weights: weights, gradient: gradient,
      reduction: reduction, global: (totals[0], totals[1])
    ) { (batch, rule) throws(LossError) in
      let half: [Double]
      if let classF1 {
        half = classF1.map { $0 / 2 }
      } else {
        // The F1 statistics' own normaliser: per-sample weights, no class weights.
        let normalizer = try WeightNormalizer(
          kept: totals[2], total: totals[3], weighted: weights != nil, reduction: .mean)
        half = MacroF1Statistics(merged: totals[4...], normalizer: normalizer).f1Scores.map {
          $0 / 2
        }
      }
      return run(batch, rule, half, gradient?.baseAddress)
    }
  }

  /// The macro smooth F1 loss whose `F_k` this loss holds when `classF1` is `nil`.
  var f1Loss: MacroSmoothF1Loss {
    var f1 = try! MacroSmoothF1Loss(classCount: classCount)
    f1.ignoreIndex = ignoreIndex
    return f1
  }

  /// `F_k / 2`, supplied or from the batch (validated like the loss's input).
  func heldHalfF1(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?
  ) throws(LossError) -> [Double] {
    if let classF1 { return classF1.map { $0 / 2 } }
    return try f1Loss.classF1Scores(logits: logits, targets: targets, weights: weights).map { $0 / 2 }
  }

  func run(
    _ batch: SoftmaxBatch, _ rule: SoftmaxRule, _ half: [Double],
    _ gradient: UnsafeMutablePointer<Double>?
  ) -> Double {
    let k = batch.classCount
    return half.withUnsafeBufferPointer { h in
      SoftmaxKernel.sumRows(
        batch, rule: rule, outputs: (.init(gradient), nil), scratchCount: k,
        parallelism: parallelism
      ) { batch, i, f, g, _, scratch in
        SoftmaxF1Kernel.weightedCrossEntropyRow(
          batch, i, rule: rule, halfF1: h.baseAddress!, factor: f, g, scratch: scratch!)
      }
    }
  }

  /// The shared softmax configuration of this loss.
  var setup: SoftmaxSetup {
    SoftmaxSetup(
      classCount: classCount, offsets: offsets, classWeights: classWeights,
      ignoreIndex: ignoreIndex, reduction: reduction, parallelism: parallelism)
  }
}
