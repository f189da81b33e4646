// The element types of a caller's buffers. The kernels compute in `Double`
// whatever the caller holds: a `Float` buffer is widened a vector at a time as
// it is loaded (exact) and each output rounded once as it is stored, so a
// Float result is the Double result correctly rounded, without the copies of
// a widening bridge (issue 12: those copies made Float calls 2-5x slower than
// Double ones at N >= 10^5).

/// `Double` or `Float`: what a kernel loads as a ``Vector`` and stores from one.
@usableFromInline
protocol StoredScalar: BinaryFloatingPoint, SIMDScalar, Sendable {
  /// Eight elements from `p`, widened to `Double` (exact).
  static func load(_ p: UnsafePointer<Self>) -> Vector
  /// `v` into eight elements at `p`, each rounded to nearest.
  static func store(_ v: Vector, _ p: UnsafeMutablePointer<Self>)
  /// This element as a `Double` (exact).
  var widened: Double { get }
  /// `x` rounded to nearest.
  init(rounding x: Double)
}

extension Double: StoredScalar {
  @inlinable @inline(__always)
  static func load(_ p: UnsafePointer<Double>) -> Vector { SIMDLoad.load(p) }

  @inlinable @inline(__always)
  static func store(_ v: Vector, _ p: UnsafeMutablePointer<Double>) { SIMDLoad.store(v, p) }

  @inlinable @inline(__always)
  var widened: Double { self }

  @inlinable @inline(__always)
  init(rounding x: Double) { self = x }
}

extension Float: StoredScalar {
  @inlinable @inline(__always)
  static func load(_ p: UnsafePointer<Float>) -> Vector {
    let v = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    // Lane-wise conversions that LLVM turns into cvtps2pd.
    return Vector(
      Double(v[0]), Double(v[1]), Double(v[2]), Double(v[3]),
      Double(v[4]), Double(v[5]), Double(v[6]), Double(v[7]))
  }

  @inlinable @inline(__always)
  static func store(_ v: Vector, _ p: UnsafeMutablePointer<Float>) {
    let narrow = SIMD8<Float>(
      Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3]),
      Float(v[4]), Float(v[5]), Float(v[6]), Float(v[7]))
    UnsafeMutableRawPointer(p).storeBytes(of: narrow, as: SIMD8<Float>.self)
  }

  @inlinable @inline(__always)
  var widened: Double { Double(self) }

  @inlinable @inline(__always)
  init(rounding x: Double) { self.init(x) }

  /// `count` doubles from `source` rounded into `target`.
  @inlinable
  static func narrow(
    _ source: UnsafePointer<Double>, into target: UnsafeMutablePointer<Float>, count: Int
  ) {
    var j = 0
    while j + 8 <= count {
      store(SIMDLoad.load(source + j), target + j)
      j += 8
    }
    while j < count {
      target[j] = Float(source[j])
      j += 1
    }
  }
}

/// A caller's output buffer (a gradient, a Hessian diagonal, per-sample
/// values) of `Double` or `Float` elements.
@usableFromInline
struct KernelOutput: @unchecked Sendable {
  @usableFromInline let base: UnsafeMutableRawPointer
  @usableFromInline let isFloat: Bool

  @inlinable
  init<S: StoredScalar>(_ pointer: UnsafeMutablePointer<S>) {
    base = UnsafeMutableRawPointer(pointer)
    isFloat = S.self == Float.self
  }

  /// The buffer as `Double`s, when it holds them: what a two-pass kernel may
  /// use as scratch for a quantity of its first pass (a `Float` buffer
  /// would round it, so those kernels recompute it instead).
  @inlinable
  var doubles: UnsafeMutablePointer<Double>? {
    isFloat ? nil : base.assumingMemoryBound(to: Double.self)
  }

  /// The buffer as `S`s; `S` must be its element type.
  @inlinable @inline(__always)
  func pointer<S: StoredScalar>(_: S.Type) -> UnsafeMutablePointer<S> {
    precondition(isFloat == (S.self == Float.self), "an output of another element type")
    return base.assumingMemoryBound(to: S.self)
  }

  /// Sets the first `count` elements to zero.
  @inlinable
  func zero(count: Int) {
    if isFloat {
      base.assumingMemoryBound(to: Float.self).initialize(repeating: 0, count: count)
    } else {
      base.assumingMemoryBound(to: Double.self).initialize(repeating: 0, count: count)
    }
  }
}

extension Optional where Wrapped == KernelOutput {
  /// The output of an optional pointer.
  @inlinable
  init<S: StoredScalar>(_ pointer: UnsafeMutablePointer<S>?) {
    self = pointer.map { KernelOutput($0) }
  }
}

/// A loss whose kernels read and write `Float` buffers themselves (see
/// ``StoredScalar``), so that its Float32 entry points copy nothing: the
/// result is the Double entry point's on the widened inputs, rounded once,
/// as through the widening bridge (`Float32Bridge`), which the other losses
/// and entry points still take. Each method returns `nil` where the loss has
/// no such kernel (the defaults). The requirements are not generic over the
/// target type: a generic witness would leave the kernels it calls
/// unspecialised.
protocol Float32Kernels {
  /// The Double result of `valueAndGradient` on Float buffers and `Float`
  /// targets; writes the gradient rounded to `Float`.
  func float32ValueAndGradient(
    logits: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Float>,
    weights: UnsafeBufferPointer<Float>?, gradient: UnsafeMutableBufferPointer<Float>?
  ) throws(LossError) -> Double?

  /// The same with `Int` labels.
  func float32ValueAndGradient(
    logits: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Float>?, gradient: UnsafeMutableBufferPointer<Float>?
  ) throws(LossError) -> Double?

  /// The Double result of `valueGradientAndHessianDiagonal` on Float buffers
  /// and `Float` targets.
  func float32ValueGradientAndHessianDiagonal(
    logits: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Float>,
    weights: UnsafeBufferPointer<Float>?, gradient: UnsafeMutableBufferPointer<Float>,
    hessianDiagonal: UnsafeMutableBufferPointer<Float>
  ) throws(LossError) -> Double?

  /// The same with `Int` labels.
  func float32ValueGradientAndHessianDiagonal(
    logits: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Float>?, gradient: UnsafeMutableBufferPointer<Float>,
    hessianDiagonal: UnsafeMutableBufferPointer<Float>
  ) throws(LossError) -> Double?
}

extension Float32Kernels {
  func float32ValueAndGradient(
    logits: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Float>,
    weights: UnsafeBufferPointer<Float>?, gradient: UnsafeMutableBufferPointer<Float>?
  ) throws(LossError) -> Double? { nil }

  func float32ValueAndGradient(
    logits: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Float>?, gradient: UnsafeMutableBufferPointer<Float>?
  ) throws(LossError) -> Double? { nil }

  func float32ValueGradientAndHessianDiagonal(
    logits: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Float>,
    weights: UnsafeBufferPointer<Float>?, gradient: UnsafeMutableBufferPointer<Float>,
    hessianDiagonal: UnsafeMutableBufferPointer<Float>
  ) throws(LossError) -> Double? { nil }

  func float32ValueGradientAndHessianDiagonal(
    logits: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Float>?, gradient: UnsafeMutableBufferPointer<Float>,
    hessianDiagonal: UnsafeMutableBufferPointer<Float>
  ) throws(LossError) -> Double? { nil }
}

extension UnsafeBufferPointer {
  /// This buffer as a buffer of `U`, when `U` is its element type.
  @inlinable
  func ofType<U>(_: U.Type) -> UnsafeBufferPointer<U>? {
    guard Element.self == U.self else { return nil }
    return UnsafeBufferPointer<U>(
      start: UnsafeRawPointer(baseAddress)?.assumingMemoryBound(to: U.self), count: count)
  }
}

extension Float32Bridge {
  /// The value of ``Float32Kernels/float32ValueAndGradient(logits:targets:weights:gradient:)``
  /// when `loss` has Float32 kernels, else `nil` (the caller then takes the bridge).
  @usableFromInline
  static func kernels<L: Loss, T>(
    _ loss: L, logits: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<T>,
    weights: UnsafeBufferPointer<Float>?, gradient: UnsafeMutableBufferPointer<Float>?
  ) throws(LossError) -> Double? {
    guard let kernels = loss as? any Float32Kernels else { return nil }
    if let targets = targets.ofType(Float.self) {
      return try kernels.float32ValueAndGradient(
        logits: logits, targets: targets, weights: weights, gradient: gradient)
    }
    guard let labels = targets.ofType(Int.self) else { return nil }
    return try kernels.float32ValueAndGradient(
      logits: logits, labels: labels, weights: weights, gradient: gradient)
  }

  /// The same for ``Float32Kernels/float32ValueGradientAndHessianDiagonal(logits:targets:weights:gradient:hessianDiagonal:)``.
  @usableFromInline
  static func kernels<L: Loss, T>(
    _ loss: L, logits: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<T>,
    weights: UnsafeBufferPointer<Float>?, gradient: UnsafeMutableBufferPointer<Float>,
    hessianDiagonal: UnsafeMutableBufferPointer<Float>
  ) throws(LossError) -> Double? {
    guard let kernels = loss as? any Float32Kernels else { return nil }
    if let targets = targets.ofType(Float.self) {
      return try kernels.float32ValueGradientAndHessianDiagonal(
        logits: logits, targets: targets, weights: weights, gradient: gradient,
        hessianDiagonal: hessianDiagonal)
    }
    guard let labels = targets.ofType(Int.self) else { return nil }
    return try kernels.float32ValueGradientAndHessianDiagonal(
      logits: logits, labels: labels, weights: weights, gradient: gradient,
      hessianDiagonal: hessianDiagonal)
  }
}
