/// A separable softmax loss with exact second derivatives: the diagonal of
/// each row's K x K Hessian (``SecondOrderLoss``) and the product of the
/// whole block-diagonal Hessian with a vector.
///
/// For a row with adjusted logits `a = s z + const` and `p = softmax(a)`:
///
///     cross-entropy (also with label smoothing, margins, logit adjustment):
///         ∂²l/∂z_j∂z_k = s² (p_j [j == k] - p_j p_k)
///     focal (p = p_c, q = 1 - p, CE = -log p, u = p - onehot(c)):
///         ∂²l/∂a² = G (diag(p) - p pᵀ) - p G'(p) u uᵀ
///         G = q^(γ-1)(q + γ p CE),   G' = γ q^(γ-2)(-2q + q CE - (γ-1) p CE)
///
/// times the row's factor `v_i / Σ v` (or `v_i` for `.sum`), like the gradient.
/// The cross-entropy Hessian is positive semi-definite; focal's is not (its
/// diagonal goes negative for small `p_t`), see ``SoftmaxFocalLoss/hessianFloor``.
public protocol SoftmaxSecondOrderLoss: SecondOrderLoss where Target == Int {
  /// Computes the loss and writes `H v` into `product`, where H is the
  /// block-diagonal Hessian of the loss with respect to the logits (one K x K
  /// block per row, weighted like the gradient).
  ///
  /// - Parameters:
  ///   - logits: `N K` finite logits.
  ///   - targets: `N` labels.
  ///   - weights: `N` per-sample weights, or `nil` for all ones.
  ///   - vector: `N K` finite values, laid out like the logits.
  ///   - product: `N K` elements that receive `H v`; untouched if the call throws.
  /// - Returns: The loss value.
  /// - Throws: ``LossError`` as the loss, plus
  ///   ``LossError/lengthMismatch(argument:expected:actual:)`` for a `vector` or
  ///   `product` of the wrong length and
  ///   ``LossError/invalidParameter(name:value:requirement:)`` for a non-finite
  ///   entry of `vector`.
  /// - Complexity: O(N K): the K x K blocks are never formed.
  func hessianVectorProduct(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Int>,
    weights: UnsafeBufferPointer<Double>?, vector: UnsafeBufferPointer<Double>,
    into product: UnsafeMutableBufferPointer<Double>
  ) throws(LossError) -> Double
}

extension SoftmaxSecondOrderLoss {
  /// The product `H v` of the loss's block-diagonal Hessian with `vector`, in a
  /// new array; see
  /// ``SoftmaxSecondOrderLoss/hessianVectorProduct(logits:targets:weights:vector:into:)``.
  ///
  /// - Throws: ``LossError`` for invalid input.
  /// - Complexity: O(N K).
  @inlinable
  public func hessianVectorProduct(
    logits: [Double], targets: [Int], weights: [Double]? = nil, vector: [Double]
  ) throws(LossError) -> [Double] {
    var product = [Double](repeating: 0, count: logits.count)
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
