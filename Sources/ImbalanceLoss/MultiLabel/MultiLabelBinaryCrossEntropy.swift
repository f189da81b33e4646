/// Per-label binary cross-entropy over an N×L batch, with per-label class
/// weights: L independent sigmoid problems per sample (multi-label
/// classification).
///
///     p_il = sigmoid(z_il)
///     l_il = -a_pos,l y_il log p_il - a_neg,l (1 - y_il) log(1 - p_il)
///     L    = Σ_il w_il l_il / Σ_il w_il
///     ∂L/∂z_il = (w_il / W) (a_neg,l (1 - y_il) p_il - a_pos,l y_il (1 - p_il))
///
/// Logits and targets are N×L, row-major (`z[i * L + l]`); targets lie in
/// [0, 1]. Each entry is one term of the loss, so the "samples" of the
/// ``Loss`` protocol are the N·L entries: `weights`, per-sample values, the
/// gradient and the Hessian diagonal all have N·L elements. Pass a row's
/// weight repeated L times to weight whole samples. With `weights: nil` the
/// mean is over all N·L entries, as PyTorch's `BCEWithLogitsLoss(pos_weight=a_pos)`
/// and Keras's `binary_crossentropy` (which averages the labels, then the batch).
///
/// It is ``BinaryCrossEntropy`` entry by entry (the same per-element kernel),
/// with `a_pos`, `a_neg` chosen by the label `l = index mod L`. A common choice
/// for label l with positive rate π_l is `a_pos,l = (1 - π_l) / π_l`.
///
/// ```swift
/// let loss = try MultiLabelBinaryCrossEntropy(positiveWeights: [1, 4, 9])
/// let value = try loss.value(
///     logits: [2.0, -1.0, 0.5,   0.1, 0.2, -3], targets: [1, 0, 0,   0, 1, 1])
/// ```
public struct MultiLabelBinaryCrossEntropy: SecondOrderLoss, DataParallelLoss, Float32Kernels, Hashable {
  public typealias Target = Double

  /// The weight `a_pos,l` of each label's positive term.
  public let positiveWeights: [Double]
  /// The weight `a_neg,l` of each label's negative term.
  public let negativeWeights: [Double]
  /// How per-entry terms are combined: weighted mean (default) or sum.
  public var reduction: Reduction = .mean
  /// Entries whose target equals this marker (NaN matches NaN) are skipped, like
  /// PyTorch's `ignore_index` (a missing label): their target is not
  /// validated, their weight leaves `Σ w`, and their gradient and Hessian
  /// entries are 0. `nil` (the default) skips none. A batch with every entry
  /// skipped has value 0.
  public var ignoredTarget: Double? = nil
  /// How many threads a call may use; the result is the same bits either way.
  public var parallelism: Parallelism = .automatic
  let extendedPositive: [Double]
  let extendedNegative: [Double]

  /// Creates the loss with per-label class weights (`negativeWeights: nil` for all ones).
  ///
  /// - Throws: ``LossError/noClasses`` for an empty `positiveWeights`,
  ///   ``LossError/lengthMismatch(argument:expected:actual:)`` when
  ///   `negativeWeights` has another count, and
  ///   ``LossError/invalidClassWeight(index:value:)`` for a weight that is
  ///   negative or not finite (the index counts positive weights first, then
  ///   negative weights from `L`).
  /// - Complexity: O(L).
  public init(positiveWeights: [Double], negativeWeights: [Double]? = nil) throws(LossError) {
    let l = positiveWeights.count
    if l == 0 { throw .noClasses }
    let negative = negativeWeights ?? [Double](repeating: 1, count: l)
    if negative.count != l {
      throw .lengthMismatch(argument: "negativeWeights", expected: l, actual: negative.count)
    }
    for (k, a) in (positiveWeights + negative).enumerated() where !(a >= 0 && a.isFinite) {
      throw .invalidClassWeight(index: k, value: a)
    }
    self.positiveWeights = positiveWeights
    self.negativeWeights = negative
    self.extendedPositive = BinaryKernels.extendedLabelWeights(positiveWeights)
    self.extendedNegative = BinaryKernels.extendedLabelWeights(negative)
  }

  /// Creates the loss for `labelCount` labels without class weights.
  ///
  /// - Throws: ``LossError/noClasses`` when `labelCount <= 0`.
  public init(labelCount: Int) throws(LossError) {
    if labelCount <= 0 { throw .noClasses }
    try self.init(positiveWeights: [Double](repeating: 1, count: labelCount))
  }

  /// The number of labels `L` per sample.
  public var labelCount: Int { positiveWeights.count }

  /// 1: each (sample, label) entry is one binary term with one logit.
  public var logitsPerSample: Int { 1 }

  /// Computes the loss and, when `gradient` is non-nil, writes `∂L/∂z` into it.
  ///
  /// - Throws: ``LossError/logitCountNotMultipleOfClassCount(logitCount:classCount:)``
  ///   when `logits.count` is not a multiple of L, and otherwise as
  ///   ``BinaryCrossEntropy`` (an empty batch, mismatched lengths, a
  ///   non-finite logit, a target outside [0, 1] or an invalid weight). The
  ///   gradient buffer is untouched after a throw.
  /// - Complexity: O(N L), one pass.
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?
  ) throws(LossError) -> Double {
    let batch = try makeBatch(logits, targets, weights, gradient, reduction)
    return run(batch, gradient: .init(gradient?.baseAddress), hessian: nil)
  }

  /// The loss, its gradient and its Hessian diagonal (diagonal: entries are
  /// independent):
  ///
  ///     ∂²L/∂z_il² = (w_il / W) (a_pos,l y_il + a_neg,l (1 - y_il)) p_il (1 - p_il)
  ///
  /// - Throws: as ``valueAndGradient(logits:targets:weights:gradient:)``, and
  ///   ``LossError/lengthMismatch(argument:expected:actual:)`` for a
  ///   `hessianDiagonal` whose count differs from `logits.count`. Both buffers
  ///   are untouched after a throw.
  /// - Complexity: O(N L), one pass.
  public func valueGradientAndHessianDiagonal(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>,
    hessianDiagonal: UnsafeMutableBufferPointer<Double>
  ) throws(LossError) -> Double {
    let batch = try makeBatch(logits, targets, weights, gradient, reduction)
    try Validation.checkHessianCount(hessianDiagonal.count, logitCount: logits.count)
    return run(
      batch, gradient: .init(gradient.baseAddress), hessian: .init(hessianDiagonal.baseAddress))
  }

  /// Writes each entry's unweighted term `l_il` into `values` (N·L elements,
  /// 0 for a skipped entry).
  ///
  /// - Throws: ``LossError`` for invalid input; `values` is untouched then.
  /// - Complexity: O(N L).
  public func perSampleValues(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    into values: UnsafeMutableBufferPointer<Double>
  ) throws(LossError) {
    let batch = try makeBatch(logits, targets, nil, nil, .sum)
    try Validation.checkValuesCount(values.count, sampleCount: batch.count)
    let l = labelCount
    extendedPositive.withUnsafeBufferPointer { pos in
      extendedNegative.withUnsafeBufferPointer { neg in
        let weights = UncheckedSendable((pos.baseAddress!, neg.baseAddress!))
        _ = BinaryKernels.run(
          batch, first: .init(values.baseAddress), second: nil, parallelism: parallelism
        ) { z, y, f, i in
          let label = i % l
          let t = BinaryKernels.crossEntropyTerm(
            z, y, SIMDLoad.load(weights.value.0 + label), SIMDLoad.load(weights.value.1 + label))
          let loss = t.loss.replacing(with: 0, where: f .== 0)
          return ((Vector(), Vector(), Vector()), loss, Vector())
        }
      }
    }
  }

  /// This shard's sums for data-parallel training: the number of entries
  /// not ignored and their total weight `Σ w`.
  ///
  /// - Throws: ``LossError`` for invalid input, as the loss itself.
  /// - Complexity: O(N L).
  public func statistics(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?
  ) throws(LossError) -> BatchStatistics {
    let batch = try makeBatch(logits, targets, weights, nil, .sum)
    return try BatchStatistics(of: self, samples: batch.count, sums: batch.keptSums(), weights: weights)
  }

  /// This shard's share `Σ_shard w l / Σ_all w` (or `Σ_shard w l` for
  /// `.sum`) and its rows of the whole batch's gradient.
  ///
  /// - Throws: ``LossError`` for invalid input and for statistics of another loss.
  /// - Complexity: O(N L).
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>,
    weights: UnsafeBufferPointer<Double>?, gradient: UnsafeMutableBufferPointer<Double>?,
    statistics: BatchStatistics
  ) throws(LossError) -> Double {
    let batch = try makeBatch(logits, targets, weights, gradient, .sum)
      .withNormalizer(of: statistics, for: self, reduction: reduction)
    return run(batch, gradient: .init(gradient?.baseAddress), hessian: nil)
  }

  func makeBatch<S: StoredScalar>(
    _ logits: UnsafeBufferPointer<S>, _ targets: UnsafeBufferPointer<S>,
    _ weights: UnsafeBufferPointer<S>?, _ gradient: UnsafeMutableBufferPointer<S>?,
    _ reduction: Reduction
  ) throws(LossError) -> BinaryBatch {
    if logits.count % labelCount != 0 {
      throw .logitCountNotMultipleOfClassCount(logitCount: logits.count, classCount: labelCount)
    }
    return try BinaryBatch(
      logits: logits, targets: targets, weights: weights, gradientCount: gradient?.count,
      reduction: reduction, ignoredTarget: ignoredTarget)
  }

  func float32ValueAndGradient(
    logits: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Float>,
    weights: UnsafeBufferPointer<Float>?, gradient: UnsafeMutableBufferPointer<Float>?
  ) throws(LossError) -> Double? {
    let batch = try makeBatch(logits, targets, weights, gradient, reduction)
    return run(batch, gradient: .init(gradient?.baseAddress), hessian: nil)
  }

  func float32ValueGradientAndHessianDiagonal(
    logits: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Float>,
    weights: UnsafeBufferPointer<Float>?, gradient: UnsafeMutableBufferPointer<Float>,
    hessianDiagonal: UnsafeMutableBufferPointer<Float>
  ) throws(LossError) -> Double? {
    let batch = try makeBatch(logits, targets, weights, gradient, reduction)
    try Validation.checkHessianCount(hessianDiagonal.count, logitCount: logits.count)
    return run(
      batch, gradient: .init(gradient.baseAddress), hessian: .init(hessianDiagonal.baseAddress))
  }

  func run(
    _ batch: BinaryBatch, gradient: KernelOutput?,
    hessian: KernelOutput?
  ) -> Double {
    extendedPositive.withUnsafeBufferPointer { pos in
      extendedNegative.withUnsafeBufferPointer { neg in
        BinaryKernels.perLabelCrossEntropy(
          batch, labelCount: labelCount, positive: pos.baseAddress!,
          negative: neg.baseAddress!, gradient: gradient, hessian: hessian,
          parallelism: parallelism)
      }
    }
  }
}
