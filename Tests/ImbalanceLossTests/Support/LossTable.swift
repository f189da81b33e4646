#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ImbalanceLoss

/// How a loss lays out one row of a batch: a row is the unit that the
/// permutation and duplication properties move, and `weights` and
/// per-sample values have `weights` elements per row.
///
/// | family | logits | targets | weights (and per-sample values) |
/// | --- | --- | --- | --- |
/// | binary | 1 | 1 | 1 |
/// | softmax | K | 1 (a class) | 1 |
/// | MultiLabelBinaryCrossEntropy | L | L | L (each entry is a sample) |
/// | MultiLabelCategoricalCrossEntropy | L | L | 1 (each row is a sample) |
struct RowLayout: Sendable, Hashable {
  let logits: Int
  let targets: Int
  let weights: Int

  static let binary = RowLayout(logits: 1, targets: 1, weights: 1)
  static func softmax(_ k: Int) -> RowLayout { RowLayout(logits: k, targets: 1, weights: 1) }
}

/// One loss of the reliability table, its entry points captured as closures
/// so that the property, determinism, concurrency and bit-identity tests
/// loop over every loss with one body. Built by ``separable(_:_:layout:perSampleUsesUnweightedBatch:)``,
/// ``secondOrder(_:_:layout:)``, ``softmaxSecondOrder(_:_:)``, ``whole(_:_:layout:weightScaleInvariant:)``
/// or, for a loss whose API fits no protocol, by ``custom``.
///
/// Entry points that take a `Parallelism` run the loss with that setting
/// (MacroSmoothF1Loss computes on the calling thread whatever it is).
struct LossCase<Target: Sendable>: Sendable, CustomStringConvertible {
  let name: String
  let layout: RowLayout
  /// Value and gradient through the buffer API with the given parallelism.
  let run:
    @Sendable (
      Parallelism, UnsafeBufferPointer<Double>, UnsafeBufferPointer<Target>,
      UnsafeBufferPointer<Double>?, UnsafeMutableBufferPointer<Double>?
    ) throws -> Double
  /// The value alone through the array API (no gradient buffer).
  let valueOnly: @Sendable ([Double], [Target], [Double]?) throws -> Double
  /// `.sum` value and gradient; nil for a loss that is not a reduction of per-sample terms.
  let evaluateSum: (@Sendable ([Double], [Target], [Double]?) throws -> (Double, [Double]))?
  /// Unweighted per-sample terms (`layout.weights` per row); nil for a loss that has none.
  let perSampleValues: (@Sendable (Parallelism, [Double], [Target]) throws -> [Double])?
  /// Value, gradient and Hessian diagonal; nil for a loss without second derivatives.
  let hessianDiagonal:
    (@Sendable (Parallelism, [Double], [Target], [Double]?) throws -> (
      Double, [Double], [Double]
    ))?
  /// The Hessian-vector product `H v`; nil for a loss without one.
  let hessianVectorProduct:
    (@Sendable (Parallelism, [Double], [Target], [Double]?, [Double]) throws -> [Double])?
  /// True when the per-sample terms depend on the batch through an unweighted
  /// statistic (F1WeightedCrossEntropy with the batch F): their weighted mean
  /// is the value only without weights.
  let perSampleUsesUnweightedBatch: Bool
  /// False for a loss whose value changes when every weight is scaled by the
  /// same factor: SoftDiceLoss and TverskyLoss add a smoothing constant to raw
  /// weighted sums, so `(2 Σ w y p + ε) / (Σ w (y + p) + ε)` moves with the scale.
  let weightScaleInvariant: Bool
  /// False when the gradient is by design not the derivative of the value:
  /// F1WeightedCrossEntropy and MacroF1WeightedCrossEntropy with the batch F
  /// hold F constant ("no gradient flows through it"), so finite differences
  /// of the value also see F move.
  let gradientIsDerivative: Bool
  /// True for a loss that only accepts hard 0/1 targets (MultiLabelCategoricalCrossEntropy).
  let hardTargetsOnly: Bool
  /// The loss as a ``DataParallelLoss``, nil for a loss that is not one.
  let dataParallel: (any DataParallelLoss<Target>)?
  /// The loss itself (its own reduction and `.automatic` parallelism).
  let loss: any Loss<Target>

  var description: String { name }

  /// `.mean` (the loss's own reduction) value and gradient through the array
  /// API, `.automatic` parallelism.
  func evaluate(_ z: [Double], _ t: [Target], _ w: [Double]?) throws -> (Double, [Double]) {
    var gradient = [Double](repeating: 0, count: z.count)
    let value = try z.withUnsafeBufferPointer { z in
      try t.withUnsafeBufferPointer { t in
        try gradient.withUnsafeMutableBufferPointer { g in
          if let w {
            return try w.withUnsafeBufferPointer { w in try run(.automatic, z, t, w, g) }
          }
          return try run(.automatic, z, t, nil, g)
        }
      }
    }
    return (value, gradient)
  }

  /// Every closure built from one generic loss value.
  static func custom<L: Loss>(
    _ name: String, _ loss: L, layout: RowLayout,
    setParallelism: (@Sendable (inout L, Parallelism) -> Void)?,
    evaluateSum: (@Sendable ([Double], [Target], [Double]?) throws -> (Double, [Double]))? = nil,
    perSampleValues: (@Sendable (L, [Double], [Target]) throws -> [Double])? = nil,
    hessianDiagonal: (@Sendable (L, [Double], [Target], [Double]?) throws -> (
      Double, [Double], [Double]
    ))? = nil,
    hessianVectorProduct: (@Sendable (L, [Double], [Target], [Double]?, [Double]) throws -> [Double])? = nil,
    perSampleUsesUnweightedBatch: Bool = false, weightScaleInvariant: Bool = true,
    gradientIsDerivative: Bool = true, hardTargetsOnly: Bool = false
  ) -> LossCase where L.Target == Target {
    let with: @Sendable (Parallelism) -> L = { p in
      var l = loss
      setParallelism?(&l, p)
      return l
    }
    let run:
      @Sendable (
        Parallelism, UnsafeBufferPointer<Double>, UnsafeBufferPointer<Target>,
        UnsafeBufferPointer<Double>?, UnsafeMutableBufferPointer<Double>?
      ) throws -> Double = { p, z, t, w, g in
        try with(p).valueAndGradient(logits: z, targets: t, weights: w, gradient: g)
      }
    let valueOnly: @Sendable ([Double], [Target], [Double]?) throws -> Double = { z, t, w in
      try loss.value(logits: z, targets: t, weights: w)
    }
    var terms: (@Sendable (Parallelism, [Double], [Target]) throws -> [Double])?
    if let perSampleValues {
      terms = { p, z, t in try perSampleValues(with(p), z, t) }
    }
    var diagonal:
      (@Sendable (Parallelism, [Double], [Target], [Double]?) throws -> (
        Double, [Double], [Double]
      ))?
    if let hessianDiagonal {
      diagonal = { p, z, t, w in try hessianDiagonal(with(p), z, t, w) }
    }
    var product: (@Sendable (Parallelism, [Double], [Target], [Double]?, [Double]) throws -> [Double])?
    if let hessianVectorProduct {
      product = { p, z, t, w, v in try hessianVectorProduct(with(p), z, t, w, v) }
    }
    return LossCase(
      name: name, layout: layout, run: run, valueOnly: valueOnly, evaluateSum: evaluateSum,
      perSampleValues: terms, hessianDiagonal: diagonal, hessianVectorProduct: product,
      perSampleUsesUnweightedBatch: perSampleUsesUnweightedBatch,
      weightScaleInvariant: weightScaleInvariant, gradientIsDerivative: gradientIsDerivative,
      hardTargetsOnly: hardTargetsOnly, dataParallel: loss as? any DataParallelLoss<Target>,
      loss: loss)
  }

  /// A loss with a reduction and per-sample terms.
  static func separable<L: SeparableLoss>(
    _ name: String, _ loss: L, layout: RowLayout = .binary,
    perSampleUsesUnweightedBatch: Bool = false
  ) -> LossCase where L.Target == Target {
    custom(
      name, loss, layout: layout, setParallelism: { $0.parallelism = $1 },
      evaluateSum: sum(loss),
      perSampleValues: { l, z, t in try l.perSampleValues(logits: z, targets: t) },
      perSampleUsesUnweightedBatch: perSampleUsesUnweightedBatch,
      gradientIsDerivative: !perSampleUsesUnweightedBatch)
  }

  /// A separable loss with a Hessian diagonal.
  static func secondOrder<L: SecondOrderLoss>(
    _ name: String, _ loss: L, layout: RowLayout = .binary,
    perSampleUsesUnweightedBatch: Bool = false
  ) -> LossCase where L.Target == Target {
    custom(
      name, loss, layout: layout, setParallelism: { $0.parallelism = $1 },
      evaluateSum: sum(loss),
      perSampleValues: { l, z, t in try l.perSampleValues(logits: z, targets: t) },
      hessianDiagonal: { l, z, t, w in
        try l.valueGradientAndHessianDiagonal(logits: z, targets: t, weights: w)
      },
      perSampleUsesUnweightedBatch: perSampleUsesUnweightedBatch,
      gradientIsDerivative: !perSampleUsesUnweightedBatch)
  }

  /// A loss that is a function of the whole batch (no reduction, no per-sample terms).
  static func whole<L: Loss>(
    _ name: String, _ loss: L, layout: RowLayout = .binary, weightScaleInvariant: Bool = true
  ) -> LossCase where L.Target == Target {
    custom(
      name, loss, layout: layout, setParallelism: { $0.parallelism = $1 },
      weightScaleInvariant: weightScaleInvariant)
  }

  private static func sum<L: SeparableLoss>(
    _ loss: L
  ) -> @Sendable ([Double], [Target], [Double]?) throws -> (Double, [Double])
  where L.Target == Target {
    var sum = loss
    sum.reduction = .sum
    return { [sum] z, t, w in try sum.valueAndGradient(logits: z, targets: t, weights: w) }
  }
}

extension LossCase where Target == Int {
  /// A softmax loss with a Hessian diagonal and a Hessian-vector product.
  static func softmaxSecondOrder<L: SoftmaxSecondOrderLoss>(
    _ name: String, _ loss: L
  ) -> LossCase {
    custom(
      name, loss, layout: .softmax(loss.logitsPerSample), setParallelism: { $0.parallelism = $1 },
      evaluateSum: sum(loss),
      perSampleValues: { l, z, t in try l.perSampleValues(logits: z, targets: t) },
      hessianDiagonal: { l, z, t, w in
        try l.valueGradientAndHessianDiagonal(logits: z, targets: t, weights: w)
      },
      hessianVectorProduct: { l, z, t, w, v in
        try l.hessianVectorProduct(logits: z, targets: t, weights: w, vector: v)
      })
  }
}

/// `loss` with the semimetric overlap (see `OverlapForm`).
private func semimetric(_ loss: SmoothF1Loss) -> SmoothF1Loss {
  var l = loss
  l.overlap = .semimetric
  return l
}

private func semimetric(_ loss: SoftDiceLoss) -> SoftDiceLoss {
  var l = loss
  l.overlap = .semimetric
  return l
}

private func focal(_ loss: TverskyLoss, _ exponent: Double) -> TverskyLoss {
  var loss = loss
  loss.exponent = exponent
  return loss
}

private func semimetric(_ loss: TverskyLoss) -> TverskyLoss {
  var l = loss
  l.overlap = .semimetric
  return l
}

/// Soft Dice without the background class, numerator smoothing 0.5 and
/// denominator smoothing 2 (`k >= 2`).
private func softmaxDice(_ k: Int) throws -> SoftmaxDiceLoss {
  var l = try SoftmaxDiceLoss(classCount: k)
  l.includeBackground = false
  l.numeratorSmoothing = 0.5
  l.denominatorSmoothing = 2
  return l
}

/// `loss` with label smoothing `eps`.
private func smoothed(_ loss: PolyCrossEntropy, _ eps: Double) -> PolyCrossEntropy {
  var l = loss
  l.labelSmoothing = eps
  return l
}

/// The losses every reliability test runs over: 21 loss types, every public
/// loss but the stateful SeesawLoss and EqualizationLossV2 (and CombinedLoss).
/// ADDING A LOSS: one line in `binary`, `softmax(classCount:)` or
/// `multiLabel(labelCount:)`.
enum LossTable {
  static let binary: [LossCase<Double>] = [
    .secondOrder("BinaryCrossEntropy()", BinaryCrossEntropy()),
    .secondOrder(
      "BinaryCrossEntropy(3, 0.5)", BinaryCrossEntropy(positiveWeight: 3, negativeWeight: 0.5)),
    .secondOrder("BinaryFocalLoss(gamma: 2)", BinaryFocalLoss(gamma: 2)),
    .secondOrder(
      "BinaryFocalLoss(gamma: 0.5, alpha: 0.25)", BinaryFocalLoss(gamma: 0.5, alpha: 0.25)),
    .secondOrder(
      "BinaryFocalLoss(gamma: 2, blended, eps 0.1)",
      {
        var l = BinaryFocalLoss(gamma: 2, alpha: 0.25)
        l.softTargetFocusing = .blendedProbability
        l.labelSmoothing = 0.1
        return l
      }()),
    .secondOrder(
      "BinaryFocalLoss(gamma: 0.5, blended)",
      {
        var l = BinaryFocalLoss(gamma: 0.5)
        l.softTargetFocusing = .blendedProbability
        return l
      }()),
    .secondOrder(
      "BinaryCrossEntropy(eps 0.2)",
      {
        var l = BinaryCrossEntropy()
        l.labelSmoothing = 0.2
        return l
      }()),
    .secondOrder("SmoothAccuracyLoss()", SmoothAccuracyLoss()),
    // Entry-wise on an N×L batch, so a binary layout (a row is one entry).
    .secondOrder("AsymmetricLoss()", AsymmetricLoss()),
    .secondOrder(
      "AsymmetricLoss(1, 2.5, 0.1)",
      AsymmetricLoss(positiveFocusing: 1, negativeFocusing: 2.5, probabilityMargin: 0.1)),
    .secondOrder("BinaryPolyLoss(epsilon: 1)", BinaryPolyLoss(epsilon: 1)),
    .secondOrder(
      "BinaryPolyLoss(epsilon: -1, 3, 1.5)",
      BinaryPolyLoss(epsilon: -1, positiveWeight: 3, negativeWeight: 1.5)),
    .whole("SmoothF1Loss()", SmoothF1Loss()),
    .secondOrder(
      "F1WeightedCrossEntropy()", F1WeightedCrossEntropy(), perSampleUsesUnweightedBatch: true),
    .secondOrder("F1WeightedCrossEntropy(f1: 0.3)", F1WeightedCrossEntropy(f1: 0.3)),
    .secondOrder(
      "F1WeightedCrossEntropy(eps 0.1)",
      {
        var l = F1WeightedCrossEntropy()
        l.labelSmoothing = 0.1
        return l
      }(), perSampleUsesUnweightedBatch: true),
    .whole("SoftDiceLoss()", SoftDiceLoss(), weightScaleInvariant: false),
    .whole("TverskyLoss()", TverskyLoss(), weightScaleInvariant: false),
    .whole("TverskyLoss(exponent 0.75)", focal(TverskyLoss(), 0.75), weightScaleInvariant: false),
    // The semimetric overlap (`Σ w min(p, y)`): the same types, another kernel path.
    .whole("SmoothF1Loss(semimetric)", semimetric(SmoothF1Loss())),
    .whole(
      "SoftDiceLoss(semimetric)", semimetric(SoftDiceLoss()),
      weightScaleInvariant: false),
    .whole(
      "TverskyLoss(0.7, 0.3, 0.5, semimetric)",
      semimetric(TverskyLoss(alpha: 0.7, beta: 0.3, smoothing: 0.5)),
      weightScaleInvariant: false),
  ]

  /// The softmax losses for `classCount` classes; priors fall geometrically
  /// from 1 to 1e-6 so that logit adjustment really shifts the logits.
  static func softmax(classCount k: Int) -> [LossCase<Int>] {
    let priors = (0..<k).map { pow(10, -6 * Double($0) / Double(max(1, k - 1))) }
    let margins = (0..<k).map { 0.125 * Double($0 % 4) }
    let classF1 = (0..<k).map { 0.1 + 0.8 * Double($0) / Double(max(1, k - 1)) }
    // The initialisers only throw for invalid parameters, which these are not.
    return try! [
      .softmaxSecondOrder("SoftmaxCrossEntropy(K: \(k))", SoftmaxCrossEntropy(classCount: k)),
      .softmaxSecondOrder(
        "LogitAdjustedCrossEntropy(K: \(k), tau: 1)",
        LogitAdjustedCrossEntropy(priors: priors, tau: 1)),
      .softmaxSecondOrder(
        "LogitAdjustedCrossEntropy(K: \(k), tau: 0.5)",
        LogitAdjustedCrossEntropy(priors: priors, tau: 0.5)),
      .softmaxSecondOrder(
        "MarginSoftmaxCrossEntropy(K: \(k), scale: 4)",
        MarginSoftmaxCrossEntropy(margins: margins, scale: 4)),
      .softmaxSecondOrder(
        "SoftmaxFocalLoss(K: \(k), gamma: 2)", SoftmaxFocalLoss(classCount: k, gamma: 2)),
      .softmaxSecondOrder(
        "PolyCrossEntropy(K: \(k), epsilon: 2)", PolyCrossEntropy(classCount: k, epsilon: 2)),
      .softmaxSecondOrder(
        "PolyCrossEntropy(K: \(k), epsilon: -1, smoothing: 0.1)",
        smoothed(PolyCrossEntropy(classCount: k, epsilon: -1), 0.1)),
      .separable(
        "SoftmaxSmoothAccuracyLoss(K: \(k))", SoftmaxSmoothAccuracyLoss(classCount: k),
        layout: .softmax(k)),
      // No reduction: a ratio of batch sums (its passes run on the calling thread).
      .whole("MacroSmoothF1Loss(K: \(k))", MacroSmoothF1Loss(classCount: k), layout: .softmax(k)),
      // Smoothing in raw weight units: the weights' scale matters.
      .whole(
        "GeneralizedDiceLoss(K: \(k))", GeneralizedDiceLoss(classCount: k), layout: .softmax(k),
        weightScaleInvariant: false),
      .whole(
        "SoftmaxDiceLoss(K: \(k))", SoftmaxDiceLoss(classCount: k), layout: .softmax(k),
        weightScaleInvariant: false),
      .separable(
        "MacroF1WeightedCrossEntropy(K: \(k))", MacroF1WeightedCrossEntropy(classCount: k),
        layout: .softmax(k), perSampleUsesUnweightedBatch: true),
      .separable(
        "MacroF1WeightedCrossEntropy(K: \(k), classF1)",
        MacroF1WeightedCrossEntropy(classCount: k, classF1: classF1), layout: .softmax(k)),
    ] + (k < 2 ? [] : [.whole(
      "SoftmaxDiceLoss(K: \(k), no background, 0.5/2)", softmaxDice(k), layout: .softmax(k),
      weightScaleInvariant: false)])
  }

  /// The multi-label losses for `labelCount` labels. Their targets are N×L
  /// (soft in [0, 1] for the binary one, hard 0/1 for the categorical one);
  /// MultiLabelBinaryCrossEntropy weighs each entry (N·L weights and terms),
  /// MultiLabelCategoricalCrossEntropy each row (N weights and terms). The
  /// categorical one is no `SeparableLoss` (its per-sample values are N, not
  /// N·L as the protocol's targets would make them), so its closures are
  /// written out here.
  static func multiLabel(labelCount l: Int) -> [LossCase<Double>] {
    let positive = (0..<l).map { [1, 4, 9, 0.5][$0 % 4] }
    let negative = (0..<l).map { [1, 0.5, 2][$0 % 3] }
    var sum = try! MultiLabelCategoricalCrossEntropy(labelCount: l)
    sum.reduction = .sum
    return try! [
      .secondOrder(
        "MultiLabelBinaryCrossEntropy(L: \(l))",
        MultiLabelBinaryCrossEntropy(positiveWeights: positive, negativeWeights: negative),
        layout: RowLayout(logits: l, targets: l, weights: l)),
      .custom(
        "MultiLabelCategoricalCrossEntropy(L: \(l))",
        MultiLabelCategoricalCrossEntropy(labelCount: l),
        layout: RowLayout(logits: l, targets: l, weights: 1),
        setParallelism: { $0.parallelism = $1 },
        evaluateSum: { [sum] z, t, w in try sum.valueAndGradient(logits: z, targets: t, weights: w) },
        perSampleValues: { loss, z, t in try loss.perSampleValues(logits: z, targets: t) },
        hessianDiagonal: { loss, z, t, w in
          try loss.valueGradientAndHessianDiagonal(logits: z, targets: t, weights: w)
        },
        hardTargetsOnly: true),
    ]
  }

  /// The label count of the multi-label entries of the property tests.
  static let multiLabelCount = 5

  /// The first case of each loss type in `cases` (the name up to its
  /// parenthesis): the tests on batches above the parallel threshold run
  /// these only, as debug-build kernels are slow.
  static func onePerType<T>(_ cases: [LossCase<T>]) -> [LossCase<T>] {
    var seen = Set<Substring>()
    return cases.filter { seen.insert($0.name.prefix { $0 != "(" }).inserted }
  }

  /// The binary and multi-label losses: every loss with `Double` targets.
  static let doubleTargets: [LossCase<Double>] = binary + multiLabel(labelCount: multiLabelCount)
}

extension LossCase {
  /// Value and gradient through the buffer API, as a training step calls it;
  /// the gradient buffer starts as NaN, so a kernel that read it before
  /// writing it (the fused passes reuse it as scratch) would show.
  func bufferValueAndGradient(
    _ parallelism: Parallelism, _ logits: [Double], _ targets: [Target], _ weights: [Double]?
  ) throws -> (value: Double, gradient: [Double]) {
    var gradient = [Double](repeating: .nan, count: logits.count)
    let value = try logits.withUnsafeBufferPointer { z in
      try targets.withUnsafeBufferPointer { t in
        try gradient.withUnsafeMutableBufferPointer { g in
          if let weights {
            return try weights.withUnsafeBufferPointer { w in try run(parallelism, z, t, w, g) }
          }
          return try run(parallelism, z, t, nil, g)
        }
      }
    }
    return (value, gradient)
  }
}
