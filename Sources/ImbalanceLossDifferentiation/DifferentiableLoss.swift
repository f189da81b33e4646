#if canImport(_Differentiation)
import _Differentiation
import ImbalanceLoss

/// A loss with its targets, weights and hyper-parameters fixed: a
/// differentiable function of the logits alone, whose registered derivative
/// is the package's exact gradient.
///
/// Make one with ``ImbalanceLoss/Loss/differentiable(targets:weights:)``
/// (or the stateful losses' factories), which validates the targets and
/// weights and throws a `LossError`; then call it inside
/// `valueWithGradient(at:in:)` or `gradient(at:in:)`:
///
/// ```swift
/// let loss = try BinaryCrossEntropy(positiveWeight: 3)
///   .differentiable(targets: [1, 0, 1])
/// let (value, 𝛁model) = valueWithGradient(at: model) { m in loss(m(x)) }
/// ```
///
/// Differentiation does not go through the package's kernels: the forward
/// pass computes the value and the gradient `g = ∂L/∂z` in one call, and the
/// pullback returns `g` scaled by the incoming cotangent:
///
///     pullback(v) = v g
///
/// **Failures at call time.** The call itself cannot throw (a differentiable
/// function has no `try`). Targets and weights were checked by the factory;
/// what only the logits can get wrong — a NaN or infinite logit, or a logit
/// count other than ``logitCount`` — stops the program with `fatalError`
/// and the `LossError`'s description (e.g. `logits[7] is nan; logits must be
/// finite`), in every build configuration. A training loop that can produce
/// non-finite logits checks them first with ``valueAndGradient(logits:)``,
/// which throws the same error instead.
public struct DifferentiableLoss: Sendable {
  /// The loss at `logits`, with the gradient when the flag is set (the
  /// value-only path skips it).
  let evaluate:
    @Sendable ([Double], _ withGradient: Bool) throws(LossError) -> (
      value: Double, gradient: [Double]
    )

  /// The number of logits every call takes: `N * logitsPerSample` for the
  /// `N` samples the factory was given.
  public let logitCount: Int

  /// Wraps an evaluation closure; used by the factories.
  init(
    logitCount: Int,
    evaluate:
      @escaping @Sendable ([Double], Bool) throws(LossError) -> (
        value: Double, gradient: [Double]
      )
  ) {
    self.logitCount = logitCount
    self.evaluate = evaluate
  }

  /// The loss value at `logits`: differentiable with respect to `logits`,
  /// with the package's exact gradient as its derivative.
  ///
  /// - Parameter logits: ``logitCount`` finite logits, in the loss's layout.
  /// - Returns: The loss value.
  /// - Precondition: every logit is finite and there are ``logitCount`` of
  ///   them; otherwise the call stops the program with the `LossError`'s
  ///   description (see the type's documentation).
  /// - Complexity: O(``logitCount``), one call of the loss without a gradient.
  @differentiable(reverse, wrt: logits)
  public func callAsFunction(_ logits: [Double]) -> Double {
    run(logits, withGradient: false).value
  }

  /// The value and a pullback that scales the gradient computed in the same
  /// forward pass: the registered derivative of ``callAsFunction(_:)``.
  @usableFromInline
  @derivative(of: callAsFunction, wrt: logits)
  func valueWithPullback(
    _ logits: [Double]
  ) -> (value: Double, pullback: (Double) -> [Double].TangentVector) {
    let (value, gradient) = run(logits, withGradient: true)
    return (
      value,
      { cotangent in
        [Double].TangentVector(gradient.map { cotangent * $0 })
      }
    )
  }

  /// The loss value at `Float` logits: differentiable with respect to
  /// `logits`, with the exact gradient (computed in `Double` and rounded
  /// once, as the value) as its derivative. The targets and weights are the
  /// factory's.
  ///
  /// - Parameter logits: ``logitCount`` finite logits, in the loss's layout.
  /// - Returns: The loss value, rounded to `Float`.
  /// - Precondition: as for the `[Double]` call.
  /// - Complexity: O(``logitCount``), one call of the loss without a gradient.
  @differentiable(reverse, wrt: logits)
  public func callAsFunction(_ logits: [Float]) -> Float {
    Float(run(logits.map { Double($0) }, withGradient: false).value)
  }

  /// The value and pullback of the `Float` call: the registered derivative
  /// of ``callAsFunction(_:)-(Array<Float>)``.
  @usableFromInline
  @derivative(of: callAsFunction, wrt: logits)
  func valueWithPullback(
    _ logits: [Float]
  ) -> (value: Float, pullback: (Float) -> [Float].TangentVector) {
    let (value, gradient) = run(logits.map { Double($0) }, withGradient: true)
    let rounded = gradient.map { Float($0) }
    return (
      Float(value),
      { cotangent in
        [Float].TangentVector(rounded.map { cotangent * $0 })
      }
    )
  }

  /// The loss value and its gradient at `logits`, throwing where the
  /// differentiable call would stop the program.
  ///
  /// - Parameter logits: ``logitCount`` logits.
  /// - Returns: The value and `∂L/∂logits`, as the loss computes them.
  /// - Throws: `LossError` for a non-finite logit or a wrong logit count.
  /// - Complexity: O(``logitCount``).
  public func valueAndGradient(
    logits: [Double]
  ) throws(LossError) -> (value: Double, gradient: [Double]) {
    try checkCount(logits)
    return try evaluate(logits, true)
  }

  /// Throws unless `logits` has ``logitCount`` elements (before the loss
  /// sees them: a differently shaped batch could otherwise pass its checks).
  func checkCount(_ logits: [Double]) throws(LossError) {
    if logits.count != logitCount {
      throw .lengthMismatch(argument: "logits", expected: logitCount, actual: logits.count)
    }
  }

  /// The evaluation, with a failure turned into a trap with its description.
  func run(_ logits: [Double], withGradient: Bool) -> (value: Double, gradient: [Double]) {
    // do/catch: `try?` in a function on the differentiation path has crashed
    // the Swift 6.3.1 compiler (see the "Differentiable Swift" article).
    do {
      try checkCount(logits)
      return try evaluate(logits, withGradient)
    } catch {
      fatalError("ImbalanceLossDifferentiation: \(error)")
    }
  }
}
#endif
