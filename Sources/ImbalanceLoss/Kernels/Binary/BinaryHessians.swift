// Value, gradient and Hessian diagonal of the separable binary losses in one
// pass: the same element terms as the first-order kernels (so the value and
// gradient are the same bits), with the curvature stored as a second output.

extension BinaryKernels {
  /// Class-weighted cross-entropy with its Hessian diagonal:
  ///
  ///     ∂²L/∂z_i² = f_i (a_pos y_i + a_neg (1 - y_i)) p_i (1 - p_i)
  @inlinable
  static func weightedCrossEntropy(
    _ batch: BinaryBatch, positiveWeight aPos: Double, negativeWeight aNeg: Double,
    gradient: KernelOutput, hessian: KernelOutput,
    parallelism: Parallelism
  ) -> Double {
    run(batch, first: gradient, second: hessian, parallelism: parallelism) { z, y, f, _ in
      let t = crossEntropyTerm(z, y, aPos, aNeg, weight: f)
      return ((t.loss, Vector(), Vector()), t.slope, t.curvature)
    }[0]
  }

  /// Smooth accuracy loss with its Hessian diagonal:
  ///
  ///     ∂²L/∂z_i² = f_i (1 - 2 y_i) p_i (1 - p_i) (1 - 2 p_i)
  @inlinable
  static func smoothAccuracy(
    _ batch: BinaryBatch, gradient: KernelOutput,
    hessian: KernelOutput, parallelism: Parallelism
  ) -> Double {
    run(batch, first: gradient, second: hessian, parallelism: parallelism) { z, y, f, _ in
      let s = Logistic(z)
      let t = smoothAccuracyTerm(y, s)
      let curvature = (1 - 2 * y) * ((s.p * s.q) * oneMinusTwoP(z, s))
      return ((f * t.loss, Vector(), Vector()), f * t.slope, f * curvature)
    }[0]
  }
}

extension Validation {
  /// Throws unless the Hessian buffer has one element per logit.
  @inlinable
  static func checkHessianCount(_ count: Int, logitCount: Int) throws(LossError) {
    if count != logitCount {
      throw .lengthMismatch(argument: "hessianDiagonal", expected: logitCount, actual: count)
    }
  }
}
