/// Which softmax loss a row computes, and the constants of its adjusted logits
/// `a_k = s z_k + o_k - s m_c [k == c]`.
@usableFromInline
struct SoftmaxRule: @unchecked Sendable {
  /// `o_k` (`classCount` finite values), e.g. `tau log π_k`.
  @usableFromInline let offsets: UnsafePointer<Double>
  /// The logit scale `s > 0`.
  @usableFromInline let scale: Double
  /// `m_k` (`classCount` values), subtracted (times s) from the label's logit.
  @usableFromInline let margins: UnsafePointer<Double>?
  /// Label smoothing `eps` in [0, 1] (cross-entropy only).
  @usableFromInline let smoothing: Double
  /// With class weights and label smoothing together (cross-entropy only),
  /// PyTorch's convention: the row's target is `t_k = (1 - eps) ρ_c [k == c] +
  /// eps μ_k` with `ρ_k` the class weights (times the batch's `rowWeightScale`)
  /// and `μ_k = ρ_k / K`; the batch's factor then leaves the class weight
  /// out. `nil` otherwise (the target `(1 - eps) onehot(c) + eps/K`).
  @usableFromInline let rowClassWeights: ClassSmoothing?
  /// Focal loss's `gamma > 0`, or 0 for cross-entropy.
  @usableFromInline let focusing: Double
  /// Whether the row loss is `1 - p_c` (smooth accuracy) instead.
  @usableFromInline let smoothAccuracy: Bool
  /// Poly-1's `ε >= -1` (cross-entropy only, without ``rowClassWeights``):
  /// the row loss is `CE + ε (1 - p_t)`, `p_t = Σ_k t_k p_k`; 0 otherwise.
  @usableFromInline let poly: Double
  /// Whether `a_k = z_k` (every offset 0, `s = 1`, no margins): the kernel
  /// then skips the offset and scale terms of its exponents.
  @usableFromInline let isPlain: Bool
  /// Whether `s (z_k - z_M)` can round (s is not a power of two), so that the
  /// kernel keeps its rounding error (`productError`); `s = scaleHigh + scaleLow`
  /// split in two halves of 26 bits.
  @usableFromInline let splitsScale: Bool
  @usableFromInline let scaleHigh: Double
  @usableFromInline let scaleLow: Double

  @inlinable
  init(
    offsets: UnsafePointer<Double>, scale: Double = 1, margins: UnsafePointer<Double>? = nil,
    smoothing: Double = 0, focusing: Double = 0, smoothAccuracy: Bool = false,
    offsetsAreZero: Bool = false, rowClassWeights: ClassSmoothing? = nil, poly: Double = 0
  ) {
    self.poly = poly
    self.rowClassWeights = rowClassWeights
    self.isPlain = offsetsAreZero && scale == 1 && margins == nil
    self.offsets = offsets
    self.scale = scale
    // Beyond 2^995 the split below would overflow; such scales keep the
    // rounded product (and only reach |a| < 2^1022 with |z| < 2^27).
    splitsScale = scale.isFinite && scale.significand != 1 && scale < 0x1p995
    let c = splitsScale ? scale * 134_217_729 : 0
    scaleHigh = splitsScale ? c - (c - scale) : scale
    scaleLow = scale - scaleHigh
    self.margins = margins
    self.smoothing = smoothing
    self.focusing = focusing
    self.smoothAccuracy = smoothAccuracy
  }

  /// The mass `Σ_k t_k` of the target of a row with label `c`: 1, or `A_c`
  /// under ``rowClassWeights``.
  @inlinable @inline(__always)
  func targetMass(label c: Int) -> Double {
    rowClassWeights?.mass(label: c, smoothing: smoothing) ?? 1
  }
}

/// The class weights of a cross-entropy row under label smoothing, PyTorch's
/// convention (`cross_entropy(weight=, label_smoothing=)`): row i's loss is
///
///     l_i = (1 - eps) ρ_c (-log p_c) + eps Σ_k μ_k (-log p_k),   μ_k = ρ_k / K
///         = Σ_k t_k (m - a_k) + A_c log(1 + s'),   A_c = Σ_k t_k = (1 - eps) ρ_c + eps Σ_k μ_k
///
/// and its gradient `∂l_i/∂a_k = A_c p_k - t_k`.
@usableFromInline
struct ClassSmoothing: @unchecked Sendable {
  /// `ρ_k = a_k κ` in [0, 2), `classCount` values (see `SoftmaxBatch.rowWeightScale`).
  @usableFromInline let weights: UnsafePointer<Double>
  /// `μ_k = ρ_k / K`, `classCount` values.
  @usableFromInline let means: UnsafePointer<Double>
  /// `Σ_k μ_k`.
  @usableFromInline let meanSum: Double
  /// `max(1, max_k ρ_k)`, a bound on every `A_c` and `t_k`.
  @usableFromInline let bound: Double

  @inlinable
  init(weights: UnsafePointer<Double>, means: UnsafePointer<Double>, meanSum: Double, bound: Double) {
    self.weights = weights
    self.means = means
    self.meanSum = meanSum
    self.bound = bound
  }

  /// The row's target mass `A_c = (1 - eps) ρ_c + eps Σ_k μ_k` (at most the
  /// largest `ρ_k`; kept finite where that sum rounds up to inf).
  @inlinable @inline(__always)
  func mass(label c: Int, smoothing eps: Double) -> Double {
    Swift.min((1 - eps) * weights[c] + eps * meanSum, .greatestFiniteMagnitude)
  }
}
