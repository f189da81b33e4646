/// How a gradient-boosting library lays out the `N × K` raw scores of a
/// batch, and the gradient and Hessian it wants back.
///
///     .rowMajor:    score[i * K + k]   (this package, XGBoost's multi-class)
///     .classMajor:  score[k * N + i]   (LightGBM's multi-class)
///
/// `K` is the loss's ``Loss/logitsPerSample``; for `K = 1` (binary losses)
/// the two layouts are the same.
public enum ScoreLayout: Sendable, Hashable {
  /// Sample after sample, each sample's `K` scores together.
  case rowMajor
  /// Class after class, each class's `N` scores together.
  case classMajor
}

extension SecondOrderLoss {
  /// A gradient-boosting custom objective: the loss at raw scores, with its
  /// gradient and Hessian diagonal written into caller-owned buffers in
  /// `layout`, each Hessian entry raised to at least `hessianFloor`:
  ///
  ///     gradient[j] = ∂L/∂s_j,   hessian[j] = max(∂²L/∂s_j², hessianFloor)
  ///
  /// The scores are raw (LightGBM's and XGBoost's margins): no sigmoid or
  /// softmax applied, exactly the logits this package takes. Gradient
  /// boosting wants each sample's own derivatives, so use a loss with
  /// ``Reduction/sum``: ``Reduction/mean`` divides both by `Σ w`, which
  /// leaves a Newton step unchanged but makes the Hessians tiny against
  /// thresholds such as LightGBM's `min_sum_hessian_in_leaf`. The floor
  /// (1e-6 is common) keeps the leaf values' division `Σ g / Σ h` finite for
  /// losses whose Hessian vanishes or goes negative (focal, poly); it applies
  /// to every entry, after the weights, so a zero-weight or ignored sample
  /// gets `hessianFloor` too. Where it binds the Hessian is no longer exact;
  /// the value and gradient never change.
  ///
  /// Targets and weights are given as the loss takes them whatever the
  /// layout (one target per sample, or per logit and row-major for
  /// ``MultiLabelCategoricalCrossEntropy``); only scores, gradient and
  /// Hessian follow `layout`. Losses with one logit per label
  /// (``MultiLabelBinaryCrossEntropy``, ``AsymmetricLoss``) have `K = 1`:
  /// their `N × L` batches are row-major only.
  ///
  /// The Float32 form
  /// (``SecondOrderLoss/gradientBoostingObjective(scores:targets:weights:layout:hessianFloor:gradient:hessian:)->Float``)
  /// writes the `Float` buffers the C APIs take.
  ///
  /// - Parameters:
  ///   - scores: `N K` finite raw scores in `layout`.
  ///   - targets: the targets, as the loss takes them.
  ///   - weights: `N` per-sample weights, or `nil` for all ones.
  ///   - layout: the layout of `scores`, `gradient` and `hessian`.
  ///   - hessianFloor: the smallest Hessian entry written, finite and `>= 0`.
  ///   - gradient: `N K` elements that receive `∂L/∂s`.
  ///   - hessian: `N K` elements that receive the floored Hessian diagonal.
  /// - Returns: The loss value.
  /// - Throws: ``LossError`` as the loss (a non-finite score's index in
  ///   `layout`), plus ``LossError/lengthMismatch(argument:expected:actual:)``
  ///   for a `gradient` or `hessian` of the wrong length and
  ///   ``LossError/invalidParameter(name:value:requirement:)`` for a bad
  ///   `hessianFloor`. Both buffers are untouched after a throw.
  /// - Complexity: O(N K); `.classMajor` allocates three scratch buffers of N K.
  public func gradientBoostingObjective(
    scores: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Target>,
    weights: UnsafeBufferPointer<Double>?, layout: ScoreLayout, hessianFloor: Double = 0,
    gradient: UnsafeMutableBufferPointer<Double>, hessian: UnsafeMutableBufferPointer<Double>
  ) throws(LossError) -> Double {
    try Validation.checkNonNegative(hessianFloor, name: "hessianFloor")
    for (name, count) in [("gradient", gradient.count), ("hessian", hessian.count)]
    where count != scores.count {
      throw .lengthMismatch(argument: name, expected: scores.count, actual: count)
    }
    let k = logitsPerSample
    guard layout == .classMajor && k > 1 else {
      let value = try valueGradientAndHessianDiagonal(
        logits: scores, targets: targets, weights: weights,
        gradient: gradient, hessianDiagonal: hessian)
      for j in 0..<hessian.count { hessian[j] = Swift.max(hessian[j], hessianFloor) }
      return value
    }
    if scores.count % k != 0 {
      throw .logitCountNotMultipleOfClassCount(logitCount: scores.count, classCount: k)
    }
    let n = scores.count / k
    // Row-major copies: the loss computes, then the results go back transposed.
    var logits = [Double](repeating: 0, count: scores.count)
    for c in 0..<k {
      for i in 0..<n { logits[i * k + c] = scores[c * n + i] }
    }
    var g = [Double](repeating: 0, count: scores.count)
    var h = g
    let value: Double
    do {
      value = try logits.withUnsafeBufferPointer { (z) throws(LossError) in
        try g.withUnsafeMutableBufferPointer { (g) throws(LossError) in
          try h.withUnsafeMutableBufferPointer { (h) throws(LossError) in
            try valueGradientAndHessianDiagonal(
              logits: z, targets: targets, weights: weights, gradient: g, hessianDiagonal: h)
          }
        }
      }
    } catch .nonFiniteLogit(let j, let bad) {
      // Name the score where the caller put it.
      throw .nonFiniteLogit(index: (j % k) * n + j / k, value: bad)
    }
    for c in 0..<k {
      for i in 0..<n {
        gradient[c * n + i] = g[i * k + c]
        hessian[c * n + i] = Swift.max(h[i * k + c], hessianFloor)
      }
    }
    return value
  }

  /// A gradient-boosting custom objective over arrays: the value, gradient
  /// and floored Hessian diagonal in `layout`, in new arrays; see
  /// ``gradientBoostingObjective(scores:targets:weights:layout:hessianFloor:gradient:hessian:)->Double``.
  ///
  /// - Throws: ``LossError`` for invalid input.
  /// - Complexity: O(N K).
  @inlinable
  public func gradientBoostingObjective(
    scores: [Double], targets: [Target], weights: [Double]? = nil,
    layout: ScoreLayout, hessianFloor: Double = 0
  ) throws(LossError) -> (value: Double, gradient: [Double], hessian: [Double]) {
    var gradient = [Double](repeating: 0, count: scores.count)
    var hessian = gradient
    let value = try withBuffers(scores, targets, weights) { (s, t, w) throws(LossError) in
      try gradient.withUnsafeMutableBufferPointer { (g) throws(LossError) in
        try hessian.withUnsafeMutableBufferPointer { (h) throws(LossError) in
          try gradientBoostingObjective(
            scores: s, targets: t, weights: w, layout: layout, hessianFloor: hessianFloor,
            gradient: g, hessian: h)
        }
      }
    }
    return (value, gradient, hessian)
  }
}

extension SecondOrderLoss where Target: LossTarget {
  /// The gradient-boosting objective on `Float` buffers, what LightGBM's
  /// `LGBM_BoosterUpdateOneIterCustom` and XGBoost's `XGBoosterBoostOneIter`
  /// take: scores, weights (and a binary loss's targets) in `Float`, the
  /// gradient and the floored Hessian written as `Float`, each the Double
  /// result rounded once (a floor that is not a `Float` rounds too).
  ///
  /// - Parameters:
  ///   - scores: `N K` finite raw scores in `layout`.
  ///   - targets: the targets, as the loss takes them (`Float` or `Int`).
  ///   - weights: `N` per-sample weights, or `nil` for all ones.
  ///   - layout: the layout of `scores`, `gradient` and `hessian`.
  ///   - hessianFloor: the smallest Hessian entry, finite and `>= 0`.
  ///   - gradient: `N K` elements that receive `∂L/∂s`.
  ///   - hessian: `N K` elements that receive the floored Hessian diagonal.
  /// - Returns: The loss value.
  /// - Throws: As the Double form; both buffers are untouched after a throw.
  /// - Complexity: O(N K); it widens to Double copies.
  @inlinable @_disfavoredOverload
  public func gradientBoostingObjective(
    scores: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Target.Float32Target>,
    weights: UnsafeBufferPointer<Float>?, layout: ScoreLayout, hessianFloor: Double = 0,
    gradient: UnsafeMutableBufferPointer<Float>, hessian: UnsafeMutableBufferPointer<Float>
  ) throws(LossError) -> Float {
    let value = try Float32Bridge.run(
      logits: scores, targets: targets, weights: weights, outputs: [gradient, hessian]
    ) { (s, t: UnsafeBufferPointer<Target>, w, out) throws(LossError) in
      try gradientBoostingObjective(
        scores: s, targets: t, weights: w, layout: layout, hessianFloor: hessianFloor,
        gradient: out[0]!, hessian: out[1]!)
    }
    return Float(value)
  }

  /// The gradient-boosting objective on `Float` arrays: value, gradient and
  /// floored Hessian in `layout`, in new arrays.
  ///
  /// - Throws: ``LossError`` for invalid input.
  /// - Complexity: O(N K).
  @inlinable @_disfavoredOverload
  public func gradientBoostingObjective(
    scores: [Float], targets: [Target.Float32Target], weights: [Float]? = nil,
    layout: ScoreLayout, hessianFloor: Double = 0
  ) throws(LossError) -> (value: Float, gradient: [Float], hessian: [Float]) {
    var gradient = [Float](repeating: 0, count: scores.count)
    var hessian = gradient
    let value = try withBuffers(scores, targets, weights) { (s, t, w) throws(LossError) in
      try gradient.withUnsafeMutableBufferPointer { (g) throws(LossError) in
        try hessian.withUnsafeMutableBufferPointer { (h) throws(LossError) in
          try gradientBoostingObjective(
            scores: s, targets: t, weights: w, layout: layout, hessianFloor: hessianFloor,
            gradient: g, hessian: h)
        }
      }
    }
    return (value, gradient, hessian)
  }
}
