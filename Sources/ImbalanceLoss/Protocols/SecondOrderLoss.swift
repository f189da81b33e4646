/// A separable loss that also gives the diagonal of its Hessian with respect
/// to the logits, `∂²L/∂z_j²`, with the same weights and reduction as the
/// gradient: what Newton steps and gradient-boosting custom objectives
/// (LightGBM, XGBoost) consume per sample.
public protocol SecondOrderLoss: SeparableLoss {
  /// Computes the loss, writes `∂L/∂z` into `gradient` and `∂²L/∂z_j²` into
  /// `hessianDiagonal` (both `logits.count` elements).
  ///
  /// - Throws: ``LossError`` for invalid input; both buffers are untouched then.
  /// - Complexity: O(`logits.count`).
  func valueGradientAndHessianDiagonal(
    logits: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Target>,
    weights: UnsafeBufferPointer<Double>?,
    gradient: UnsafeMutableBufferPointer<Double>,
    hessianDiagonal: UnsafeMutableBufferPointer<Double>
  ) throws(LossError) -> Double
}

extension SecondOrderLoss {
  /// The loss value, its gradient and the diagonal of its Hessian, in new arrays.
  ///
  /// - Throws: ``LossError`` for invalid input.
  /// - Complexity: O(`logits.count`).
  @inlinable
  public func valueGradientAndHessianDiagonal(
    logits: [Double], targets: [Target], weights: [Double]? = nil
  ) throws(LossError) -> (value: Double, gradient: [Double], hessianDiagonal: [Double]) {
    var gradient = [Double](repeating: 0, count: logits.count)
    var hessian = [Double](repeating: 0, count: logits.count)
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
