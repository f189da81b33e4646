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
  /// Focal loss's `gamma > 0`, or 0 for cross-entropy.
  @usableFromInline let focusing: Double
  /// Whether the row loss is `1 - p_c` (smooth accuracy) instead.
  @usableFromInline let smoothAccuracy: Bool
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
    offsetsAreZero: Bool = false
  ) {
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
}
