// Kernels of the multi-label losses over an N×L buffer (row-major: entry
// (i, l) at i * L + l).
//
// Per-label cross-entropy runs the binary loop (`BinaryKernels.run`) over the
// N·L entries; each vector loads its per-label class weights from a copy of
// the weights extended by 8 wrapped entries (`extended[k] = a[k mod L]`), so a
// vector that crosses a row boundary needs no gather.

extension BinaryKernels {
  /// Per-label class weights `a[k mod L]` for `k` in `0..<(L + 8)`.
  @inlinable
  static func extendedLabelWeights(_ a: [Double]) -> [Double] {
    (0..<(a.count + 8)).map { a[$0 % a.count] }
  }

  /// Class-weighted cross-entropy with label `l = index mod L` weighted by
  /// `positive[l]`, `negative[l]` (both extended): returns `Σ f l`, writes
  /// the gradient and Hessian diagonal where the pointers are non-nil.
  @inlinable
  static func perLabelCrossEntropy(
    _ batch: BinaryBatch, labelCount: Int, positive: UnsafePointer<Double>,
    negative: UnsafePointer<Double>, gradient: KernelOutput?,
    hessian: KernelOutput?, parallelism: Parallelism
  ) -> Double {
    let weights = UncheckedSendable((positive, negative))
    return run(batch, first: gradient, second: hessian, parallelism: parallelism) {
      z, y, f, i in
      let label = i % labelCount
      let t = crossEntropyTerm(
        z, y, SIMDLoad.load(weights.value.0 + label), SIMDLoad.load(weights.value.1 + label),
        weight: f)
      return ((t.loss, Vector(), Vector()), t.slope, t.curvature)
    }[0]
  }
}
