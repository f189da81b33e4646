// Float32 entry points: the same names and labels as the Double ones, for
// callers whose logits, targets and weights are `Float` (mlx-swift, BNNS,
// the GBDT C APIs). Each computes in Double and rounds each result once, so a
// Float result is the Double result correctly rounded (within half a Float
// ulp of it). The binary and separable softmax losses' value, gradient and
// Hessian diagonal read the Float buffers in their kernels (`Float32Kernels`: each vector or block of rows widened as it
// is loaded, no copies); the other entry points still widen the inputs into
// Double copies (`Float32Bridge`). Float arithmetic (twice the lanes) is to
// come (issue 12).
//
// `@_disfavoredOverload`: an array literal of integers (`logits: [40]`) fits
// both forms; it keeps meaning the Double one, as before these existed.

/// A target type and its Float32 counterpart: a binary or multi-label loss's
/// `Double` target is a `Float` in the Float32 entry points, a softmax
/// loss's `Int` label stays an `Int`.
public protocol LossTarget: Sendable {
  /// The target type of the Float32 entry points.
  associatedtype Float32Target: Sendable

  /// The target for a Float32 one (exact: every `Float` is a `Double`).
  init(float32 target: Float32Target)

  /// This target in its Float32 form (a `Double` target rounded to `Float`).
  var float32: Float32Target { get }
}

extension Double: LossTarget {
  /// A `Double` target is a `Float` in the Float32 entry points.
  public typealias Float32Target = Float

  /// `Double(target)`, exact.
  @inlinable
  public init(float32 target: Float) { self.init(target) }

  /// `Float(self)`, rounded to nearest.
  @inlinable
  public var float32: Float { Float(self) }
}

extension Int: LossTarget {
  /// A class label is an `Int` in the Float32 entry points too.
  public typealias Float32Target = Int

  /// The label itself.
  @inlinable
  public init(float32 target: Int) { self = target }

  /// The label itself.
  @inlinable
  public var float32: Int { self }
}

/// The widening bridge behind every Float32 entry point.
@usableFromInline
enum Float32Bridge {
  /// Runs `body` on Double copies of the inputs and of each output buffer
  /// (same lengths), then rounds the Double outputs into `outputs`; an
  /// output is written only when `body` succeeds.
  @inlinable
  static func run<T: LossTarget, R>(
    logits: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<T.Float32Target>,
    weights: UnsafeBufferPointer<Float>?, outputs: [UnsafeMutableBufferPointer<Float>?],
    _ body: (
      UnsafeBufferPointer<Double>, UnsafeBufferPointer<T>, UnsafeBufferPointer<Double>?,
      [UnsafeMutableBufferPointer<Double>?]
    ) throws(LossError) -> R
  ) throws(LossError) -> R {
    let z = logits.map { Double($0) }
    let t = targets.map(T.init(float32:))
    let w = weights.map { $0.map { Double($0) } }
    let wide = outputs.map { output in
      output.map { UnsafeMutableBufferPointer<Double>.allocate(capacity: $0.count) }
    }
    defer { for buffer in wide { buffer?.deallocate() } }
    for buffer in wide { buffer?.initialize(repeating: 0) }
    let result = try withBuffers(z, t, w) { (z, t, w) throws(LossError) in
      try body(z, t, w, wide)
    }
    for (output, values) in zip(outputs, wide) {
      guard let output, let values else { continue }
      for j in output.indices { output[j] = Float(values[j]) }
    }
    return result
  }
}

extension Loss where Target: LossTarget {
  /// ``valueAndGradient(logits:targets:weights:gradient:)`` in Float32:
  /// computes the loss and, when `gradient` is non-nil, writes `∂L/∂logits`
  /// into it. Targets are `Float` for a binary or multi-label loss, `Int`
  /// labels for a softmax loss; the value and every gradient entry are the
  /// Double results rounded once to `Float` (+inf only where the value
  /// exceeds `Float.greatestFiniteMagnitude`).
  ///
  /// ```swift
  /// let loss = BinaryCrossEntropy(positiveWeight: 3)
  /// let logits: [Float] = [2, -1, 0.5]
  /// let (value, gradient) = try loss.valueAndGradient(logits: logits, targets: [1, 0, 1])
  /// ```
  ///
  /// - Parameters:
  ///   - logits: `N * logitsPerSample` finite logits.
  ///   - targets: `N` targets.
  ///   - weights: `N` per-sample weights `>= 0`, or `nil` for all ones.
  ///   - gradient: `nil`, or `logits.count` elements that receive the gradient.
  /// - Returns: The loss value.
  /// - Throws: The ``LossError`` of the Double entry point for the same
  ///   input (a value it names is the `Float` widened); `gradient` is
  ///   untouched then.
  /// - Complexity: O(`logits.count`), with no copies for the binary and
  ///   separable softmax losses; the others widen the inputs into `Double`
  ///   copies.
  @inlinable @_disfavoredOverload
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Target.Float32Target>,
    weights: UnsafeBufferPointer<Float>?, gradient: UnsafeMutableBufferPointer<Float>?
  ) throws(LossError) -> Float {
    if let value = try Float32Bridge.kernels(
      self, logits: logits, targets: targets, weights: weights, gradient: gradient)
    {
      return Float(value)
    }
    let value = try Float32Bridge.run(
      logits: logits, targets: targets, weights: weights, outputs: [gradient]
    ) { (z, t: UnsafeBufferPointer<Target>, w, g) throws(LossError) in
      try valueAndGradient(logits: z, targets: t, weights: w, gradient: g[0])
    }
    return Float(value)
  }

  /// The loss value of Float32 buffers, without a gradient.
  ///
  /// - Throws: ``LossError`` for invalid input.
  /// - Complexity: O(`logits.count`).
  @inlinable @_disfavoredOverload
  public func value(
    logits: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Target.Float32Target>,
    weights: UnsafeBufferPointer<Float>? = nil
  ) throws(LossError) -> Float {
    try valueAndGradient(logits: logits, targets: targets, weights: weights, gradient: nil)
  }

  /// The loss value of Float32 arrays.
  ///
  /// - Throws: ``LossError`` for invalid input.
  /// - Complexity: O(`logits.count`).
  @inlinable @_disfavoredOverload
  public func value(
    logits: [Float], targets: [Target.Float32Target], weights: [Float]? = nil
  ) throws(LossError) -> Float {
    try withBuffers(logits, targets, weights) { (z, t, w) throws(LossError) in
      try valueAndGradient(logits: z, targets: t, weights: w, gradient: nil)
    }
  }

  /// The loss value of Float32 arrays and a new `[Float]` gradient.
  ///
  /// - Throws: ``LossError`` for invalid input.
  /// - Complexity: O(`logits.count`).
  @inlinable @_disfavoredOverload
  public func valueAndGradient(
    logits: [Float], targets: [Target.Float32Target], weights: [Float]? = nil
  ) throws(LossError) -> (value: Float, gradient: [Float]) {
    var gradient = [Float](repeating: 0, count: logits.count)
    let value = try valueAndGradient(
      logits: logits, targets: targets, weights: weights, gradient: &gradient)
    return (value, gradient)
  }

  /// The loss value of Float32 arrays, the gradient written into a reusable
  /// `[Float]` (resized to `logits.count` if needed; unchanged after a throw).
  ///
  /// - Throws: ``LossError`` for invalid input.
  /// - Complexity: O(`logits.count`).
  @inlinable @_disfavoredOverload
  public func valueAndGradient(
    logits: [Float], targets: [Target.Float32Target], weights: [Float]? = nil,
    gradient: inout [Float]
  ) throws(LossError) -> Float {
    if gradient.count != logits.count {
      _ = try value(logits: logits, targets: targets, weights: weights)
      gradient = [Float](repeating: 0, count: logits.count)
    }
    return try withBuffers(logits, targets, weights) { (z, t, w) throws(LossError) in
      try gradient.withUnsafeMutableBufferPointer { (g) throws(LossError) in
        try valueAndGradient(logits: z, targets: t, weights: w, gradient: g)
      }
    }
  }

  /// The gradient of the loss of Float32 arrays.
  ///
  /// - Throws: ``LossError`` for invalid input.
  /// - Complexity: O(`logits.count`).
  @inlinable @_disfavoredOverload
  public func gradient(
    logits: [Float], targets: [Target.Float32Target], weights: [Float]? = nil
  ) throws(LossError) -> [Float] {
    try valueAndGradient(logits: logits, targets: targets, weights: weights).gradient
  }
}

extension SecondOrderLoss where Target: LossTarget {
  /// ``valueGradientAndHessianDiagonal(logits:targets:weights:gradient:hessianDiagonal:)``
  /// in Float32 (gradient-boosting libraries take Float gradients and
  /// Hessians): each output the Double result rounded once.
  ///
  /// - Throws: ``LossError`` for invalid input; both buffers are untouched then.
  /// - Complexity: O(`logits.count`); no copies for the binary losses.
  @inlinable @_disfavoredOverload
  public func valueGradientAndHessianDiagonal(
    logits: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Target.Float32Target>,
    weights: UnsafeBufferPointer<Float>?, gradient: UnsafeMutableBufferPointer<Float>,
    hessianDiagonal: UnsafeMutableBufferPointer<Float>
  ) throws(LossError) -> Float {
    if let value = try Float32Bridge.kernels(
      self, logits: logits, targets: targets, weights: weights, gradient: gradient,
      hessianDiagonal: hessianDiagonal)
    {
      return Float(value)
    }
    let value = try Float32Bridge.run(
      logits: logits, targets: targets, weights: weights, outputs: [gradient, hessianDiagonal]
    ) { (z, t: UnsafeBufferPointer<Target>, w, out) throws(LossError) in
      try valueGradientAndHessianDiagonal(
        logits: z, targets: t, weights: w, gradient: out[0]!, hessianDiagonal: out[1]!)
    }
    return Float(value)
  }

  /// The value, gradient and Hessian diagonal of Float32 arrays, in new arrays.
  ///
  /// - Throws: ``LossError`` for invalid input.
  /// - Complexity: O(`logits.count`).
  @inlinable @_disfavoredOverload
  public func valueGradientAndHessianDiagonal(
    logits: [Float], targets: [Target.Float32Target], weights: [Float]? = nil
  ) throws(LossError) -> (value: Float, gradient: [Float], hessianDiagonal: [Float]) {
    var gradient = [Float](repeating: 0, count: logits.count)
    var hessian = gradient
    let value = try withBuffers(logits, targets, weights) { (z, t, w) throws(LossError) in
      try gradient.withUnsafeMutableBufferPointer { (g) throws(LossError) in
        try hessian.withUnsafeMutableBufferPointer { (h) throws(LossError) in
          try valueGradientAndHessianDiagonal(
            logits: z, targets: t, weights: w, gradient: g, hessianDiagonal: h)
        }
      }
    }
    return (value, gradient, hessian)
  }
}

extension SoftmaxSecondOrderLoss {
  /// ``hessianVectorProduct(logits:targets:weights:vector:into:)`` in
  /// Float32: `H v` rounded once into `product`.
  ///
  /// - Throws: ``LossError`` for invalid input; `product` is untouched then.
  /// - Complexity: O(N K); Double copies, as the first-order form.
  @inlinable @_disfavoredOverload
  public func hessianVectorProduct(
    logits: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Float>?, vector: UnsafeBufferPointer<Float>,
    into product: UnsafeMutableBufferPointer<Float>
  ) throws(LossError) -> Float {
    let v = vector.map { Double($0) }
    let value = try Float32Bridge.run(
      logits: logits, targets: targets, weights: weights, outputs: [product]
    ) { (z, t: UnsafeBufferPointer<Int>, w, out) throws(LossError) in
      try v.withUnsafeBufferPointer { (v) throws(LossError) in
        try hessianVectorProduct(logits: z, targets: t, weights: w, vector: v, into: out[0]!)
      }
    }
    return Float(value)
  }

  /// `H v` of Float32 arrays, in a new array.
  ///
  /// - Throws: ``LossError`` for invalid input.
  /// - Complexity: O(N K).
  @inlinable @_disfavoredOverload
  public func hessianVectorProduct(
    logits: [Float], targets: [Int], weights: [Float]? = nil, vector: [Float]
  ) throws(LossError) -> [Float] {
    var product = [Float](repeating: 0, count: logits.count)
    _ = try withBuffers(logits, targets, weights) { (z, c, w) throws(LossError) in
      try vector.withUnsafeBufferPointer { (v) throws(LossError) in
        try product.withUnsafeMutableBufferPointer { (out) throws(LossError) in
          try hessianVectorProduct(logits: z, targets: c, weights: w, vector: v, into: out)
        }
      }
    }
    return product
  }
}

extension DataParallelLoss where Target: LossTarget {
  /// ``statistics(logits:targets:weights:)-(UnsafeBufferPointer<Double>,_,_)``
  /// of a Float32 shard (the statistics themselves stay `Double`).
  ///
  /// - Throws: ``LossError`` for invalid input.
  /// - Complexity: O(`logits.count`).
  @inlinable @_disfavoredOverload
  public func statistics(
    logits: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Target.Float32Target>,
    weights: UnsafeBufferPointer<Float>?
  ) throws(LossError) -> BatchStatistics {
    try Float32Bridge.run(
      logits: logits, targets: targets, weights: weights, outputs: []
    ) { (z, t: UnsafeBufferPointer<Target>, w, _) throws(LossError) in
      try statistics(logits: z, targets: t, weights: w)
    }
  }

  /// ``valueAndGradient(logits:targets:weights:gradient:statistics:)`` of a
  /// Float32 shard: its share and its rows of the whole batch's gradient,
  /// each rounded once.
  ///
  /// - Throws: ``LossError`` for invalid input or statistics; `gradient` is
  ///   untouched then.
  /// - Complexity: O(`logits.count`).
  @inlinable @_disfavoredOverload
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Target.Float32Target>,
    weights: UnsafeBufferPointer<Float>?, gradient: UnsafeMutableBufferPointer<Float>?,
    statistics: BatchStatistics
  ) throws(LossError) -> Float {
    let value = try Float32Bridge.run(
      logits: logits, targets: targets, weights: weights, outputs: [gradient]
    ) { (z, t: UnsafeBufferPointer<Target>, w, g) throws(LossError) in
      try valueAndGradient(logits: z, targets: t, weights: w, gradient: g[0], statistics: statistics)
    }
    return Float(value)
  }

  /// The statistics of a Float32 shard held in arrays.
  ///
  /// - Throws: ``LossError`` for invalid input.
  /// - Complexity: O(`logits.count`).
  @inlinable @_disfavoredOverload
  public func statistics(
    logits: [Float], targets: [Target.Float32Target], weights: [Float]? = nil
  ) throws(LossError) -> BatchStatistics {
    try withBuffers(logits, targets, weights) { (z, t, w) throws(LossError) in
      try statistics(logits: z, targets: t, weights: w)
    }
  }

  /// A Float32 shard's share and a new `[Float]` gradient of its rows.
  ///
  /// - Throws: ``LossError`` for invalid input or statistics.
  /// - Complexity: O(`logits.count`).
  @inlinable @_disfavoredOverload
  public func valueAndGradient(
    logits: [Float], targets: [Target.Float32Target], weights: [Float]? = nil,
    statistics: BatchStatistics
  ) throws(LossError) -> (value: Float, gradient: [Float]) {
    var gradient = [Float](repeating: 0, count: logits.count)
    let value = try withBuffers(logits, targets, weights) { (z, t, w) throws(LossError) in
      try gradient.withUnsafeMutableBufferPointer { (g) throws(LossError) in
        try valueAndGradient(
          logits: z, targets: t, weights: w, gradient: g, statistics: statistics)
      }
    }
    return (value, gradient)
  }
}

extension StatefulLoss {
  /// One training step on Float32 inputs:
  /// ``valueAndGradient(logits:targets:weights:gradient:state:)`` with the
  /// value and gradient rounded once to `Float` (the state stays `Double`).
  ///
  /// - Throws: ``LossError`` for invalid input or state; `gradient` and
  ///   `state` are untouched then.
  /// - Complexity: O(N K).
  @inlinable @_disfavoredOverload
  public func valueAndGradient(
    logits: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Float>?, gradient: UnsafeMutableBufferPointer<Float>?,
    state: inout State
  ) throws(LossError) -> Float {
    let value = try Float32Bridge.run(
      logits: logits, targets: targets, weights: weights, outputs: [gradient]
    ) { (z, t: UnsafeBufferPointer<Int>, w, g) throws(LossError) in
      try valueAndGradient(logits: z, targets: t, weights: w, gradient: g[0], state: &state)
    }
    return Float(value)
  }

  /// One training step on Float32 arrays: the value and a new `[Float]` gradient.
  ///
  /// - Throws: ``LossError`` for invalid input or state (both left untouched).
  /// - Complexity: O(N K).
  @inlinable @_disfavoredOverload
  public func valueAndGradient(
    logits: [Float], targets: [Int], weights: [Float]? = nil, state: inout State
  ) throws(LossError) -> (value: Float, gradient: [Float]) {
    var gradient = [Float](repeating: 0, count: logits.count)
    let value = try withBuffers(logits, targets, weights) { (z, t, w) throws(LossError) in
      try gradient.withUnsafeMutableBufferPointer { (g) throws(LossError) in
        try valueAndGradient(logits: z, targets: t, weights: w, gradient: g, state: &state)
      }
    }
    return (value, gradient)
  }
}
