// The soft confusion sums TP, FP, FN of a batch and the losses and gradients
// of the ratios formed from them: smooth F1, soft Dice and Tversky, one
// kernel for the three.

extension BinaryKernels {
  /// The soft confusion sums of a batch with normalised weights `f`, from which
  /// smooth F1, soft Dice and Tversky are all formed:
  ///
  ///     TP = Σ f y p        FP = Σ f (1 - y) p        FN = Σ f y (1 - p)
  ///
  /// Each is a sum of non-negative terms, so `S = 2TP + FP + FN` and
  /// `1 - F = (FP + FN) / S` have no cancellation.
  ///
  /// With `storingExpIn`, also writes `exp(-|z_i|)` there, for a second pass
  /// (the gradient) to reuse instead of calling exp again.
  @inlinable
  static func f1Statistics(
    _ batch: BinaryBatch, parallelism: Parallelism,
    storingExpIn scratch: UnsafeMutablePointer<Double>? = nil
  ) -> F1Statistics {
    f1Statistics(batch, overlap: .product, parallelism: parallelism, storingExpIn: scratch)
  }

  @usableFromInline
  struct F1StatisticsElement: BinaryElementFunction {
    @inlinable init() {}

    @inlinable @inline(__always)
    func apply(_ z: Vector, _ y: Vector, _ f: Vector, _: Vector, _: Int)
      -> BinaryElementResult
    {
      let s = Logistic(z)
      let fp = f * s.p
      return ((fp * y, (1 - y) * fp, f * (y * s.q)), s.e, Vector())
    }
  }

  /// The soft confusion sums in the given ``OverlapForm``: the product form
  /// is ``f1Statistics(_:parallelism:storingExpIn:)``; the semimetric form is
  ///
  ///     TP = Σ f min(p, y)    FP = Σ f max(p - y, 0)    FN = Σ f max(y - p, 0)
  ///
  /// with `y - p` computed as `q - (1 - y)` (`q = 1 - p` from the logistic
  /// pair): on hard labels every term is then the product form's term, bit
  /// for bit (`min(p, 1) = p`, `p - 1 <= 0`, `q - 0 = q`; `min(p, 0) = 0`,
  /// `p - 0 = p`, `q - 1 <= 0`). Every term is non-negative, as in the
  /// product form, so `S` and `1 - F` still have no cancellation.
  @inlinable
  static func f1Statistics(
    _ batch: BinaryBatch, overlap: OverlapForm, parallelism: Parallelism,
    storingExpIn scratch: UnsafeMutablePointer<Double>? = nil
  ) -> F1Statistics {
    let r = f1Sums(batch, overlap: overlap, parallelism: parallelism, storingExpIn: scratch).value
    return F1Statistics(truePositive: r[0], falsePositive: r[1], falseNegative: r[2])
  }

  /// The sums of ``f1Statistics(_:overlap:parallelism:storingExpIn:)``
  /// (TP, FP, FN in lanes 0...2) as compensated sums, before their final
  /// rounding: what a data-parallel shard's statistics carry.
  @inlinable
  static func f1Sums(
    _ batch: BinaryBatch, overlap: OverlapForm, parallelism: Parallelism,
    storingExpIn scratch: UnsafeMutablePointer<Double>? = nil
  ) -> CompensatedSum4 {
    switch overlap {
    case .product:
      return runCompensated(
        batch, first: .init(scratch), parallelism: parallelism, F1StatisticsElement())
    case .semimetric:
      return runCompensated(
        batch, first: .init(scratch), parallelism: parallelism, SemimetricStatisticsElement())
    }
  }

  /// Writes `exp(-|z_i|)` into `scratch`, what the statistics pass leaves
  /// there for the gradient pass: for a gradient pass whose sums come from
  /// elsewhere (the merged statistics of a data-parallel batch).
  @inlinable
  static func storeExpOfMinusMagnitude(
    _ batch: BinaryBatch, into scratch: UnsafeMutablePointer<Double>, parallelism: Parallelism
  ) {
    _ = run(batch, first: KernelOutput(scratch), parallelism: parallelism, ExpElement())
  }

  @usableFromInline
  struct ExpElement: BinaryElementFunction {
    @inlinable init() {}

    @inlinable @inline(__always)
    func apply(_ z: Vector, _: Vector, _: Vector, _: Vector, _: Int) -> BinaryElementResult {
      ((Vector(), Vector(), Vector()), Logistic.expOfMinusMagnitude(z), Vector())
    }
  }

  @usableFromInline
  struct SemimetricStatisticsElement: BinaryElementFunction {
    @inlinable init() {}

    @inlinable @inline(__always)
    func apply(_ z: Vector, _ y: Vector, _ f: Vector, _: Vector, _: Int)
      -> BinaryElementResult
    {
      let s = Logistic(z)
      let tp = s.p.replacing(with: y, where: y .< s.p)
      let excess = s.p - y
      let fp = excess.replacing(with: 0, where: excess .< 0)
      let shortfall = s.q - (1 - y)
      let fn = shortfall.replacing(with: 0, where: shortfall .< 0)
      return ((f * tp, f * fp, f * fn), s.e, Vector())
    }
  }

  /// Writes the smooth-F1 gradient given the batch statistics:
  ///
  ///     dL/dz_i = -(2 f_i / S) (y_i - F/2) p_i (1 - p_i)
  ///
  /// It is the Tversky gradient with `α = β = 1/2` and no smoothing. `gradient`
  /// holds `exp(-|z|)` on entry, as for
  /// ``tverskyGradient(_:ratio:overlap:outerSlope:gradient:parallelism:)``.
  @inlinable
  static func smoothF1Gradient(
    _ batch: BinaryBatch, statistics: F1Statistics, overlap: OverlapForm = .product,
    gradient: KernelOutput, parallelism: Parallelism
  ) {
    tverskyGradient(
      batch, ratio: statistics.tversky(alpha: 0.5, beta: 0.5, smoothing: 0), overlap: overlap,
      gradient: gradient, parallelism: parallelism)
  }

  /// Writes the gradient of the Tversky loss `1 - I` given the batch's ratio:
  ///
  ///     D = TP + α FP + β FN + e        I = (TP + e) / D
  ///     dL/dz_i = -p_i (1 - p_i) (f_i / D) (y_i (1 - (1 - β) I) - α (1 - y_i) I)
  ///
  /// computed as `-(1 - p) ((f y p / D)(1 - (1 - β) I) - (α f (1 - y) p / D) I)`:
  /// `f y p <= TP <= D` and `α f (1 - y) p <= α FP <= D`, so both quotients
  /// lie in [0, 1] and nothing overflows even when D is tiny. For `α = β = 1/2`
  /// (smooth F1, soft Dice) it is `-(y - I/2)(1 - p)(f p / D)` with one
  /// division: `f p <= TP + FP <= 2D`.
  ///
  /// `gradient` holds `exp(-|z|)` on entry (from
  /// ``f1Statistics(_:parallelism:storingExpIn:)``), which this pass reads
  /// back instead of calling exp, and overwrites.
  ///
  /// For the semimetric ``OverlapForm`` the same formula holds with `y_i`
  /// replaced by the slope `c_i` of `min(p_i, y_i)` in `p_i` (see
  /// ``SemimetricTarget``): `∂TP/∂z_i = f_i c_i p_i (1 - p_i)` and
  /// `∂(TP + FP)/∂z_i = f_i p_i (1 - p_i)` in both forms.
  ///
  /// Each element is multiplied by `outerSlope`, the derivative of an outer
  /// function of the loss (focal Tversky's `γ L^(γ-1)`); at 1 the bits are
  /// those of the plain formula.
  @inlinable
  static func tverskyGradient(
    _ batch: BinaryBatch, ratio: TverskyRatio, overlap: OverlapForm = .product,
    outerSlope: Double = 1, gradient: KernelOutput, parallelism: Parallelism
  ) {
    switch overlap {
    case .product:
      tverskyGradient(
        batch, ratio: ratio, outerSlope: outerSlope, gradient: gradient,
        parallelism: parallelism, ProductTarget.self)
    case .semimetric:
      tverskyGradient(
        batch, ratio: ratio, outerSlope: outerSlope, gradient: gradient,
        parallelism: parallelism, SemimetricTarget.self)
    }
  }

  @inlinable
  static func tverskyGradient<Target: OverlapTarget>(
    _ batch: BinaryBatch, ratio: TverskyRatio, outerSlope: Double,
    gradient: KernelOutput, parallelism: Parallelism, _: Target.Type
  ) {
    let d = ratio.denominator
    guard d > 0 else {
      // D = 0: every quotient above is 0/0 with a 0 numerator term by term
      // (no kept sample predicts or is positive), so the gradient is 0.
      gradient.zero(count: batch.count)
      return
    }
    if ratio.alpha == 0.5 && ratio.beta == 0.5 {
      _ = run(
        batch, reading: gradient.doubles, first: gradient, parallelism: parallelism,
        DiceGradientElement<Target>(
          halfIndex: ratio.index / 2, denominator: d, outerSlope: outerSlope,
          expStored: gradient.doubles != nil))
    } else {
      _ = run(
        batch, reading: gradient.doubles, first: gradient, parallelism: parallelism,
        TverskyGradientElement<Target>(
          ratio, outerSlope: outerSlope, expStored: gradient.doubles != nil))
    }
  }

  @usableFromInline
  struct DiceGradientElement<Target: OverlapTarget>: BinaryElementFunction {
    @usableFromInline let halfIndex: Double
    @usableFromInline let denominator: Double
    @usableFromInline let outerSlope: Double
    @usableFromInline let expStored: Bool

    @inlinable init(halfIndex: Double, denominator: Double, outerSlope: Double, expStored: Bool) {
      self.halfIndex = halfIndex
      self.denominator = denominator
      self.outerSlope = outerSlope
      self.expStored = expStored
    }

    @inlinable @inline(__always)
    func apply(_ z: Vector, _ y: Vector, _ f: Vector, _ e: Vector, _: Int)
      -> BinaryElementResult
    {
      let s = Logistic(z, e: expStored ? e : Logistic.expOfMinusMagnitude(z))
      let y = Target.slope(y, s)
      let g: Vector = (-((y - halfIndex) * s.q) * ((f * s.p) / denominator)) * outerSlope
      return ((Vector(), Vector(), Vector()), g, Vector())
    }
  }

  @usableFromInline
  struct TverskyGradientElement<Target: OverlapTarget>: BinaryElementFunction {
    @usableFromInline let alpha: Double
    @usableFromInline let positiveFactor: Double
    @usableFromInline let index: Double
    @usableFromInline let denominator: Double
    @usableFromInline let outerSlope: Double
    @usableFromInline let expStored: Bool

    @inlinable init(_ ratio: TverskyRatio, outerSlope: Double, expStored: Bool) {
      self.expStored = expStored
      alpha = ratio.alpha
      index = ratio.index
      positiveFactor = 1 - (1 - ratio.beta) * index
      denominator = ratio.denominator
      self.outerSlope = outerSlope
    }

    @inlinable @inline(__always)
    func apply(_ z: Vector, _ y: Vector, _ f: Vector, _ e: Vector, _: Int)
      -> BinaryElementResult
    {
      let s = Logistic(z, e: expStored ? e : Logistic.expOfMinusMagnitude(z))
      let y = Target.slope(y, s)
      let fp = f * s.p
      let d = denominator
      let balance: Vector = ((fp * y) / d) * positiveFactor - ((alpha * ((1 - y) * fp)) / d) * index
      let g: Vector = (-s.q * balance) * outerSlope
      return ((Vector(), Vector(), Vector()), g, Vector())
    }
  }
}

/// The soft confusion sums of a batch, with weights normalised to sum to one.
@usableFromInline
struct F1Statistics: Sendable {
  /// `TP = Σ f y p`.
  @usableFromInline var truePositive: Double
  /// `FP = Σ f (1 - y) p`.
  @usableFromInline var falsePositive: Double
  /// `FN = Σ f y (1 - p)`.
  @usableFromInline var falseNegative: Double

  @inlinable
  init(truePositive: Double, falsePositive: Double, falseNegative: Double) {
    self.truePositive = truePositive
    self.falsePositive = falsePositive
    self.falseNegative = falseNegative
  }

  /// The Tversky ratio `(TP + e) / (TP + α FP + β FN + e)` of these sums.
  @inlinable
  func tversky(alpha: Double, beta: Double, smoothing e: Double) -> TverskyRatio {
    let mismatch = alpha * falsePositive + beta * falseNegative
    return TverskyRatio(
      alpha: alpha, beta: beta, numerator: truePositive + e,
      mismatch: mismatch, denominator: (truePositive + e) + mismatch)
  }

  /// `F = 2TP / (2TP + FP + FN)`, defined as 0 when the denominator is 0 (no
  /// positives, none predicted): F is 0 on every other all-negative batch, so
  /// 0 keeps it continuous.
  @inlinable var f1: Double { tversky(alpha: 0.5, beta: 0.5, smoothing: 0).index }

  /// `1 - F = (FP + FN) / (2TP + FP + FN)`, without the cancellation of `1 - F`;
  /// 1 when the denominator is 0.
  @inlinable var loss: Double { tversky(alpha: 0.5, beta: 0.5, smoothing: 0).loss }
}

/// The Tversky index `I = (TP + e) / D`, `D = TP + α FP + β FN + e`, of a
/// batch; smooth F1 is `α = β = 1/2, e = 0`, soft Dice `α = β = 1/2`.
@usableFromInline
struct TverskyRatio: Sendable {
  @usableFromInline var alpha: Double
  @usableFromInline var beta: Double
  /// `TP + e`.
  @usableFromInline var numerator: Double
  /// `α FP + β FN`.
  @usableFromInline var mismatch: Double
  /// `D = TP + e + α FP + β FN`.
  @usableFromInline var denominator: Double

  @inlinable
  init(alpha: Double, beta: Double, numerator: Double, mismatch: Double, denominator: Double) {
    self.alpha = alpha
    self.beta = beta
    self.numerator = numerator
    self.mismatch = mismatch
    self.denominator = denominator
  }

  /// `I = (TP + e) / D` in [0, 1], and 0 when `D = 0`.
  @inlinable var index: Double {
    denominator > 0 ? Swift.min(1, numerator / denominator) : 0
  }

  /// `1 - I = (α FP + β FN) / D` without cancellation, and 1 when `D = 0`.
  @inlinable var loss: Double {
    denominator > 0 ? Swift.min(1, Swift.max(0, mismatch / denominator)) : 1
  }
}

// Soft Dice and Tversky losses over the smooth-F1 statistics: one kernel for
// the three. The sums are formed with normalised weights
// f = w / W, so a smoothing constant given in units of the raw sums Σ w(...)
// is divided by W here.
extension BinaryKernels {
  /// The Tversky loss `L = 1 - (TP + ε) / (TP + α FP + β FN + ε)` with raw
  /// sums (`TP = Σ w y p`, ...), raised to `exponent` γ (focal Tversky):
  /// returns `L^γ` and writes its gradient when `gradient` is non-nil, the
  /// chain rule's `γ L^(γ-1)` applied in the gradient pass itself.
  ///
  /// A batch whose every sample is ignored has empty sums: the ratio is
  /// `ε / ε = 1` (loss 0) when `ε > 0` and, as smooth F1's `S = 0`, loss 1
  /// when `ε = 0`; the gradient is 0 either way. Where `L = 0` the value and
  /// gradient are 0 for every γ (`γ L^(γ-1)` has no finite limit for γ < 1).
  @inlinable
  static func tversky(
    _ batch: BinaryBatch, alpha: Double, beta: Double, smoothing: Double,
    overlap: OverlapForm = .product, exponent: Double = 1,
    gradient: KernelOutput?, parallelism: Parallelism
  ) -> Double {
    if batch.normalizer.reciprocal == 0 {
      gradient?.zero(count: batch.count)
      return smoothing > 0 ? 0 : 1
    }
    // The statistics pass leaves exp(-|z|) in the gradient buffer for the
    // gradient pass to reuse.
    let statistics = f1Statistics(
      batch, overlap: overlap, parallelism: parallelism, storingExpIn: gradient?.doubles)
    return tversky(
      batch, statistics: statistics, alpha: alpha, beta: beta, smoothing: smoothing,
      overlap: overlap, exponent: exponent, gradient: gradient, parallelism: parallelism)
  }

  /// The same given the batch's sums `statistics` (in the units of its
  /// normalised weights `w / W`): the second half of
  /// ``tversky(_:alpha:beta:smoothing:overlap:exponent:gradient:parallelism:)``.
  /// `gradient`, when non-nil, holds `exp(-|z|)` on entry.
  @inlinable
  static func tversky(
    _ batch: BinaryBatch, statistics: F1Statistics, alpha: Double, beta: Double,
    smoothing: Double, overlap: OverlapForm, exponent: Double,
    gradient: KernelOutput?, parallelism: Parallelism
  ) -> Double {
    if batch.normalizer.reciprocal == 0 {
      gradient?.zero(count: batch.count)
      return smoothing > 0 ? 0 : 1
    }
    // e = ε / W; it can only overflow for subnormal total weights, where ε
    // dominates anyway (ratio 1), so it saturates at the largest finite value.
    var e = 0.0
    if smoothing > 0 {
      e = smoothing * (batch.normalizer.scale * batch.normalizer.reciprocal)
      if !e.isFinite { e = .greatestFiniteMagnitude }
    }
    let ratio = statistics.tversky(alpha: alpha, beta: beta, smoothing: e)
    var (loss, outerSlope) = (ratio.loss, 1.0)
    if exponent != 1 {
      guard loss > 0 else {
        gradient?.zero(count: batch.count)
        return 0
      }
      // γ L^(γ-1), saturated so that a zero element stays 0 (not 0 · inf).
      let logLoss = Elementary.log(loss)
      outerSlope = Swift.min(
        exponent * Elementary.exp((exponent - 1) * logLoss), .greatestFiniteMagnitude)
      loss = Elementary.exp(exponent * logLoss)
    }
    if let gradient {
      tverskyGradient(
        batch, ratio: ratio, overlap: overlap, outerSlope: outerSlope, gradient: gradient,
        parallelism: parallelism)
    }
    return loss
  }
}

/// The target's part in the slope of the soft true positives: the gradient
/// kernels use `∂TP_i/∂z_i = f_i slope(y_i, p_i) p_i (1 - p_i)`.
@usableFromInline
protocol OverlapTarget {
  /// The slope of the sample's true-positive term in `p`, per lane.
  static func slope(_ y: Vector, _ s: Logistic) -> Vector
}

/// The product form: `∂(p y)/∂p = y`.
@usableFromInline
enum ProductTarget: OverlapTarget {
  @inlinable @inline(__always)
  static func slope(_ y: Vector, _: Logistic) -> Vector { y }
}

/// The semimetric form: `∂ min(p, y)/∂p` is 1 where `p < y` and 0 where
/// `p > y`; at a tie it is taken as `y` (a subgradient, as `y` is in [0, 1]),
/// so hard labels get exactly `y` and the product form's bits (a target of
/// 0 or -0 keeps its own zero, whose sign the product form also keeps).
@usableFromInline
enum SemimetricTarget: OverlapTarget {
  @inlinable @inline(__always)
  static func slope(_ y: Vector, _ s: Logistic) -> Vector {
    y.replacing(with: 1, where: s.p .< y).replacing(with: 0, where: (s.p .> y) .& (y .!= 0))
  }
}
