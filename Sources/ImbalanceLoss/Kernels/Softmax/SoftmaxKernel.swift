// The fused kernel of the softmax losses: per row, the max-shifted
// log-sum-exp of the adjusted logits
//
//     a_k = s z_k + o_k - s m_c [k == c]
//
// (scale s, offsets o, per-class margin m on the label's logit), the row loss
// and its gradient. A `SoftmaxRule` says which loss: cross-entropy against the
// smoothed target `t = (1 - eps) onehot(c) + eps/K`, or focal loss.
//
// Implementation goals, in order of priority:
// 1. Accuracy: with m = max_k a_k, every a_k == m contributes exactly 1 to
//    Σ exp(a_k - m). Summing the others apart, s' = Σ_{a_k < m} exp(a_k - m)
//    + (ties - 1), gives logsumexp(a) - a_c = (m - a_c) + log1p(s') and, when
//    the label is a maximum, softmax_c - 1 = -s' / (1 + s'): a confident,
//    correct row keeps all its digits instead of rounding to 0. Focal loss
//    takes 1 - p_c and log(1 - p_c) from the same s'. The exponents a_k - m
//    are formed from differences of the inputs, in two words (TwoSum), so
//    exp of them is good to a few ulps, and so is m - a_c.
// 2. Edge cases: never NaN; the weighted row loss `f l` is finite whenever
//    its true value is. The rare row whose adjusted logits overflow (a_k =
//    -inf, or m - a_c or the smoothing mean beyond the largest double) is
//    recomputed on `a_k / 4` (`rescaledStatistics`), and its loss formed as
//    `(f gap) 4 + f log1p(s')`: weighting before scaling back up.
// 3. Speed: three passes over the row (max, exp and sum, scale), vectorised,
//    exp written once into the gradient buffer and reused. For K >= 8 a
//    last partial vector of 4 to 7 logits is handled as an overlapping,
//    masked full vector, and for cross-entropy the log1p(s') of 8 rows is
//    one vector call. With K <= 16, cross-entropy rows go eight at a time
//    with the rows as lanes (SoftmaxRowGroups.swift), the same bits.

@usableFromInline
enum SoftmaxKernel {
  /// The loss of `rule` over the batch, `Σ_i f_i l_i`, and its gradient when
  /// `gradient` is non-nil (zero rows for ignored samples). A `Float` batch
  /// (and its `Float` gradient) goes through the same row code a block of
  /// rows at a time, widened into a `Double` scratch and rounded back: the
  /// same bits as the `Double` batch of its widened values.
  @inlinable
  static func run(
    _ batch: SoftmaxBatch, rule: SoftmaxRule,
    gradient: KernelOutput?, parallelism: Parallelism
  ) -> Double {
    let out = UncheckedSendable(gradient)
    return ChunkedReduction.sum(
      itemCount: batch.rows, logitsPerItem: batch.classCount, parallelism: parallelism
    ) { range in
      var total = CompensatedSum()
      forEachBlock(of: batch, range, outputs: (out.value, nil)) { batch, range, g, _ in
        runRows(batch, range, rule, g, &total)
      }
      return SIMD4(total.value, 0, 0, 0)
    }[0]
  }

  /// Calls `body(rows, range, first, second)` on the rows `range` of a
  /// chunk of `batch`, with `Double` output rows (`first + i k` is row
  /// `i`'s). A `Double` batch is one call on itself, its outputs as they
  /// are. A `Float` batch goes a block at a time (about 4096 logits, whole
  /// groups of eight rows): `rows` is the block widened into a scratch
  /// (``SoftmaxBatch/widenedRows(_:into:)``, row 0 its first row), the
  /// outputs are scratch rows, rounded into the `Float` outputs after the
  /// call. The rows and their order are the same either way, so are the bits.
  @inlinable @inline(__always)
  static func forEachBlock(
    of batch: SoftmaxBatch, _ range: Range<Int>, outputs: (KernelOutput?, KernelOutput?),
    _ body: (
      _ rows: SoftmaxBatch, _ range: Range<Int>, _ first: UnsafeMutablePointer<Double>?,
      _ second: UnsafeMutablePointer<Double>?
    ) -> Void
  ) {
    guard batch.isFloat else {
      body(batch, range, outputs.0?.pointer(Double.self), outputs.1?.pointer(Double.self))
      return
    }
    let k = batch.classCount
    let n = Swift.min(Swift.max(1, 4096 / (8 * k)) * 8, range.count)
    // Every element is written before it is read: no need to clear it.
    let outputCount = (outputs.0 == nil ? 0 : 1) + (outputs.1 == nil ? 0 : 1)
    let rows = UnsafeMutablePointer<Double>.allocate(capacity: n * (k + 1) + outputCount * n * k)
    defer { rows.deallocate() }
    let first = outputs.0.map { _ in rows + n * (k + 1) }
    let second = outputs.1.map { _ in rows + n * (k + 1) + (outputs.0 == nil ? 0 : n * k) }
    var i = range.lowerBound
    while i < range.upperBound {
      let block = i..<Swift.min(i + n, range.upperBound)
      body(batch.widenedRows(block, into: rows), 0..<block.count, first, second)
      if let first, let output = outputs.0?.pointer(Float.self) {
        Float.narrow(first, into: output + i * k, count: block.count * k)
      }
      if let second, let output = outputs.1?.pointer(Float.self) {
        Float.narrow(second, into: output + i * k, count: block.count * k)
      }
      i = block.upperBound
    }
  }

  /// The rows `range` of ``run(_:rule:gradient:parallelism:)`` on a
  /// `Double` batch, their losses added to `total` in row order.
  @inlinable @inline(__always)
  static func runRows(
    _ batch: SoftmaxBatch, _ range: Range<Int>, _ rule: SoftmaxRule,
    _ gradient: UnsafeMutablePointer<Double>?, _ total: inout CompensatedSum
  ) {
    guard !rule.smoothAccuracy && rule.focusing == 0 && rule.poly == 0 else {
      for i in range { total.add(row(batch, i, rule, gradient)) }
      return
    }
    // Cross-entropy rows in groups of 8: with few classes as lanes of one
    // kernel (`crossEntropyGroup`, the same bits), otherwise row by row
    // with their log1p(s') in one vector call; the row losses are added
    // one by one, in row order.
    let grouped = groupsRows(rule, classCount: batch.classCount)
    var i = range.lowerBound
    while i < range.upperBound {
      let n = Swift.min(8, range.upperBound - i)
      if grouped && n == groupRows,
        let loss = crossEntropyGroup(batch, first: i, rule, gradient)
      {
        for r in 0..<n { total.add(loss[r]) }
        i += n
        continue
      }
      var linear = Vector()
      var sPrime = Vector()
      var f = Vector()
      for r in 0..<n {
        let t = crossEntropyRow(batch, i + r, rule, gradient)
        linear[r] = t.linear
        sPrime[r] = t.sPrime
        f[r] = t.factor
      }
      let loss = linear + f * Elementary.log1p(sPrime)
      for r in 0..<n { total.add(loss[r]) }
      i += n
    }
  }

  /// The driver of the row-at-a-time softmax passes: `Σ_i f_i l_i` over the
  /// rows in fixed chunks (threads), compensated, in row order. An ignored
  /// row gets zero rows in `outputs` and adds nothing; any other row calls
  /// `body(rows, i, f_i, first, second, scratch)` with its factor split as by
  /// ``SoftmaxBatch/splitFactor(_:rule:)`` and its rows of the outputs
  /// (`Double`, from ``forEachBlock(of:_:outputs:_:)``: `rows` is the batch
  /// the row index `i` belongs to), and the rest of the factor is applied
  /// afterwards to those rows and to the loss `body` returns. `scratch`
  /// holds `scratchCount` doubles per chunk (nil for 0).
  @inlinable
  static func sumRows(
    _ batch: SoftmaxBatch, rule: SoftmaxRule,
    outputs: (KernelOutput?, KernelOutput?),
    scratchCount: Int = 0, parallelism: Parallelism,
    _ body: (
      _ rows: SoftmaxBatch, _ row: Int, _ factor: Double, _ first: UnsafeMutablePointer<Double>?,
      _ second: UnsafeMutablePointer<Double>?, _ scratch: UnsafeMutablePointer<Double>?
    ) -> Double
  ) -> Double {
    let out = UncheckedSendable(outputs)
    let k = batch.classCount
    return withoutActuallyEscaping(body) { body in
      let body = UncheckedSendable(body)
      return ChunkedReduction.sum(
        itemCount: batch.rows, logitsPerItem: k, parallelism: parallelism
      ) { range in
        var total = CompensatedSum()
        var scratch = [Double](repeating: 0, count: scratchCount)
        scratch.withUnsafeMutableBufferPointer { s in
          forEachBlock(of: batch, range, outputs: out.value) { batch, range, first, second in
            for i in range {
              let first = first.map { $0 + i * k }
              let second = second.map { $0 + i * k }
              if batch.isIgnored(i) {
                first?.update(repeating: 0, count: k)
                second?.update(repeating: 0, count: k)
                continue
              }
              let (f, post) = batch.splitFactor(i, rule: rule)
              let loss = body.value(batch, i, f, first, second, s.baseAddress)
              if post != SIMD2(1, 1) {
                batch.postMultiply(first, post)
                batch.postMultiply(second, post)
              }
              total.add(batch.postMultiply(loss, post))
            }
          }
        }
        return SIMD4(total.value, 0, 0, 0)
      }[0]
    }
  }

  /// One cross-entropy row: its weighted loss `f_i l_i = linear + f_i log1p(s')`
  /// in two parts and its factor `f_i` (all zero for an ignored row); writes
  /// the row's gradient if asked.
  @inlinable @inline(__always)
  static func crossEntropyRow(
    _ batch: SoftmaxBatch, _ i: Int, _ rule: SoftmaxRule,
    _ gradient: UnsafeMutablePointer<Double>?
  ) -> (linear: Double, sPrime: Double, factor: Double) {
    let k = batch.classCount
    if batch.isIgnored(i) {
      if let gradient { (gradient + i * k).update(repeating: 0, count: k) }
      return (0, 0, 0)
    }
    let (f, post) = batch.splitFactor(i, rule: rule)
    let g = gradient.map { $0 + i * k }
    let r = statistics(batch, i, rule, g)
    let linear = finish(batch, i, rule, r, factor: f, g, addsLog1p: false)
    // The log1p(s') term's factor: f_i, or f_i A_c (`ClassSmoothing`).
    let mass = rule.targetMass(label: batch.labels[i])
    if post != SIMD2(1, 1) {
      // The whole row loss, then the weights (see `splitFactor`).
      batch.postMultiply(g, post)
      let loss = linear + f * mass * Elementary.log1p(Vector(repeating: r.sPrime))[0]
      return (batch.postMultiply(loss, post), 0, 0)
    }
    return (linear, r.sPrime, f * mass)
  }

  /// Writes each row's unweighted loss `l_i` into `values` (0 for ignored rows;
  /// +inf where `l_i` exceeds the largest double).
  @inlinable
  static func writeTerms(
    _ batch: SoftmaxBatch, rule: SoftmaxRule, into values: UnsafeMutablePointer<Double>
  ) {
    for i in 0..<batch.rows {
      let l = batch.isIgnored(i) ? 0 : rowLoss(batch, i, rule, factor: 1, nil)
      // Rows that carry their class weights hold them times κ (`rowWeightScale`).
      values[i] = l == 0 || !batch.classWeightsInRow ? l : l * batch.rowClassScale
    }
  }

  /// One row: returns `f_i l_i`, writes the row's gradient if asked.
  @inlinable @inline(__always)
  static func row(
    _ batch: SoftmaxBatch, _ i: Int, _ rule: SoftmaxRule,
    _ gradient: UnsafeMutablePointer<Double>?
  ) -> Double {
    let k = batch.classCount
    if batch.isIgnored(i) {
      if let gradient { (gradient + i * k).update(repeating: 0, count: k) }
      return 0
    }
    let (f, post) = batch.splitFactor(i, rule: rule)
    let g = gradient.map { $0 + i * k }
    let loss = rowLoss(batch, i, rule, factor: f, g)
    if post == SIMD2(1, 1) { return loss }
    batch.postMultiply(g, post)
    return batch.postMultiply(loss, post)
  }

  /// One row's weighted loss `f l_i`; writes `f ∂l_i/∂z_i` into `g` if non-nil.
  @inlinable @inline(__always)
  static func rowLoss(
    _ batch: SoftmaxBatch, _ i: Int, _ rule: SoftmaxRule, factor f: Double,
    _ g: UnsafeMutablePointer<Double>?
  ) -> Double {
    finish(batch, i, rule, statistics(batch, i, rule, g), factor: f, g)
  }

  /// Pass 3 of a row: from its statistics, the weighted loss `f l_i`; turns
  /// the `e_k = exp(a_k - m)` in `g` (if non-nil) into `f ∂l_i/∂z_i`. Without
  /// `addsLog1p`, a cross-entropy loss leaves out its `f log1p(s')` term.
  @inlinable @inline(__always)
  static func finish(
    _ batch: SoftmaxBatch, _ i: Int, _ rule: SoftmaxRule, _ r: SoftmaxRowStatistics,
    factor f: Double, _ g: UnsafeMutablePointer<Double>?, addsLog1p: Bool = true
  ) -> Double {
    let k = batch.classCount
    let c = batch.labels[i]
    let fs = f * rule.scale
    let loss: Double
    let otherScale: Double
    let shift: Double
    let labelGradient: Double
    if let weighted = rule.rowClassWeights, !rule.smoothAccuracy && rule.focusing == 0 {
      return finishClassSmoothed(
        batch, i, rule, r, weighted, factor: f, g, addsLog1p: addsLog1p)
    }
    if rule.smoothAccuracy {
      // l = 1 - p_c = q; ∂l/∂a_k = p_c (p_k - [k == c]).
      let row = FocalRow(r, gamma: 0)
      loss = f * row.q
      otherScale = fs * row.p / (1 + r.sPrime)
      shift = 0
      labelGradient = -fs * row.p * row.q
    } else if rule.focusing == 0 && rule.poly != 0 {
      return finishPoly(batch, i, rule, r, factor: f, g)
    } else if rule.focusing == 0 {
      // Cross-entropy against t = (1 - eps) onehot + eps/K:
      // l = (1 - eps)(m - a_c) + eps mean_k(m - a_k) + log1p(s'), all terms >= 0.
      let eps = rule.smoothing
      let uniform = eps / Double(k)
      let gap = eps == 0 ? r.gap : (1 - eps) * r.gap + eps * -r.shiftedMean
      // Weighted before scaling back up, so a rescaled row (unit 4) whose
      // unweighted loss overflows still gives a finite f l.
      let linear = r.unit == 1 ? f * gap : (f * gap) * r.unit
      // The vector log1p (one lane of it), as `run` batches it: the same bits
      // through the first- and second-order entry points (libm's may differ by an ulp).
      loss = addsLog1p ? linear + f * Elementary.log1p(Vector(repeating: r.sPrime))[0] : linear
      otherScale = fs / (1 + r.sPrime)
      shift = fs * uniform
      // softmax_c - t_c: the exact form -s'/(1 + s') + eps (K-1)/K when c is a
      // maximum; otherwise softmax_c <= 1/2 and the subtraction is harmless.
      if r.labelIsMaximum {
        labelGradient = -fs * (r.sPrime / (1 + r.sPrime)) + fs * (eps - uniform)
      } else {
        // g[c] still holds e_c here (only read when there is a gradient).
        labelGradient = g.map { ($0[c] * otherScale - shift) - fs * (1 - eps) } ?? 0
      }
    } else {
      // Focal: l = q^gamma CE; ∂l/∂a_k = (p_k - [k == c]) G with
      // G = q^(gamma-1) (q + gamma p CE), written with p_k / q = e_k / others.
      let gamma = rule.focusing
      let focal = FocalRow(r, gamma: gamma)
      loss =
        r.unit == 1
        ? f * (focal.power * focal.crossEntropy)
        : (f * (focal.power * r.gap)) * r.unit
          + f * (focal.power * Elementary.log1p(r.sPrime))
      let magnitude = focal.labelGradientMagnitude(gamma: gamma)
      // magnitude / others <= 1 + gamma first: (fs magnitude) alone may
      // overflow where every g_k = fs p_k G is finite (and e_k = 0 gives NaN).
      otherScale = focal.others == 0 ? 0 : fs * (magnitude / focal.others)
      shift = 0
      labelGradient = -fs * magnitude
    }

    // Pass 3: g_k = e_k * otherScale - shift, then the label's entry.
    if let g {
      scaleRow(g, count: k, by: otherScale, minus: shift)
      g[c] = labelGradient
    }
    return loss
  }

  /// Pass 3 of a row: `g_k = g_k * scale - shift` for its `count` entries,
  /// vector blocks then one by one (each entry the same two roundings).
  @inlinable @inline(__always)
  static func scaleRow(
    _ g: UnsafeMutablePointer<Double>, count k: Int, by scale: Double, minus shift: Double
  ) {
    let scalev = Vector(repeating: scale)
    let shiftv = Vector(repeating: shift)
    var j = 0
    while j + 8 <= k {
      SIMDLoad.store(SIMDLoad.load(g + j) * scalev - shiftv, g + j)
      j += 8
    }
    while j < k {
      g[j] = g[j] * scale - shift
      j += 1
    }
  }

  /// `finish` for a cross-entropy row that carries its class weights under
  /// label smoothing (``ClassSmoothing``, PyTorch's convention): the loss
  /// `f (Σ_k t_k (m - a_k) + A_c log1p(s'))` and the gradient
  /// `f s (A_c p_k - t_k)`, each entry formed as `f s` times a difference of
  /// terms bounded by the class weights, so that no `inf - inf` arises.
  @inlinable @inline(__always)
  static func finishClassSmoothed(
    _ batch: SoftmaxBatch, _ i: Int, _ rule: SoftmaxRule, _ r: SoftmaxRowStatistics,
    _ weighted: ClassSmoothing, factor f: Double, _ g: UnsafeMutablePointer<Double>?,
    addsLog1p: Bool
  ) -> Double {
    let k = batch.classCount
    let c = batch.labels[i]
    let fs = f * rule.scale
    let eps = rule.smoothing
    let rc = weighted.weights[c]
    let mass = weighted.mass(label: c, smoothing: eps)
    // Σ_k t_k (m - a_k) = (1 - eps) ρ_c (m - a_c) - eps Σ_k μ_k (a_k - m), both >= 0;
    // +inf where large class weights (`.sum`) times a gap overflow, so a zero
    // factor is kept 0 rather than 0 × inf.
    let gap = (1 - eps) * rc * r.gap + eps * -r.shiftedMean
    let weightedGap = f == 0 ? 0 : f * gap
    let linear = r.unit == 1 ? weightedGap : weightedGap * r.unit
    let loss =
      addsLog1p ? linear + f * mass * Elementary.log1p(Vector(repeating: r.sPrime))[0] : linear
    guard let g else { return loss }
    let total = 1 + r.sPrime
    let u = mass / total
    // A_c p_c - t_c, as A_c - t_c - A_c s'/(1 + s') = eps Σ_{k != c} μ_k - A_c s'/(1 + s')
    // when c is a maximum (the label's entry keeps its digits there).
    let labelGradient =
      r.labelIsMaximum
      ? fs * (eps * (weighted.meanSum - weighted.means[c]) - mass * (r.sPrime / total))
      : fs * ((g[c] * u - eps * weighted.means[c]) - (1 - eps) * rc)
    let uv = Vector(repeating: u)
    let epsv = Vector(repeating: eps)
    let fsv = Vector(repeating: fs)
    var j = 0
    while j + 8 <= k {
      let e = SIMDLoad.load(g + j)
      SIMDLoad.store(fsv * (e * uv - epsv * SIMDLoad.load(weighted.means + j)), g + j)
      j += 8
    }
    while j < k {
      g[j] = fs * (g[j] * u - eps * weighted.means[j])
      j += 1
    }
    g[c] = labelGradient
    return loss
  }

  /// `finish` for a Poly-1 row (Leng et al. 2022) against the smoothed target
  /// `t = (1 - eps) onehot(c) + eps/K`, with `e = ε (1 - eps)`, `p = p_c`, `q = 1 - p`:
  ///
  ///     l = CE_t + ε (1 - p_t),   1 - p_t = (1 - eps) q + eps (K - 1)/K
  ///       = (1 - eps) (-log p + ε q) + eps (mean_k(-log p_k) + ε (K - 1)/K)
  ///     ∂l/∂a_k = p_k (1 + e p) - t_k        k != c
  ///     ∂l/∂a_c = -q (1 + e p) + eps (K - 1)/K
  ///
  /// `1 + e p` is formed as `(1 + e) - e q` for `e < 0`, a sum of terms `>= 0`
  /// (e >= -1); for `ε < -1/2`, `-log p + ε q` is `D + (1 + ε) q` with
  /// `D = -log p - q` from ``Elementary/logRemainder(_:minusLog:)``, so that a
  /// confident row with `ε = -1` keeps its digits (and its sign).
  @inlinable @inline(__always)
  static func finishPoly(
    _ batch: SoftmaxBatch, _ i: Int, _ rule: SoftmaxRule, _ r: SoftmaxRowStatistics,
    factor f: Double, _ g: UnsafeMutablePointer<Double>?
  ) -> Double {
    let k = batch.classCount
    let c = batch.labels[i]
    let fs = f * rule.scale
    let eps = rule.smoothing
    let epsilon = rule.poly
    let uniform = eps / Double(k)
    let row = PolyRow(r, rule)
    let q = row.q
    let log1pS = Elementary.log1p(Vector(repeating: r.sPrime))[0]
    let loss: Double
    if r.unit != 1 {
      // A rescaled row (-log p beyond 2^1020, so no cancellation): as
      // cross-entropy's, weighted before scaling back up.
      let gap = (1 - eps) * r.gap + eps * -r.shiftedMean
      loss =
        (f * gap) * r.unit + f * log1pS
        + f * (epsilon * ((1 - eps) * q + eps * (1 - 1 / Double(k))))
    } else {
      // The label's part -log p + ε q.
      let minusLogP = r.gap + log1pS
      let labelPart =
        epsilon < -0.5
        ? Elementary.logRemainder(q, minusLog: minusLogP) + (1 + epsilon) * q
        : minusLogP + epsilon * q
      var l = (1 - eps) * labelPart
      if eps != 0 {
        l += eps * ((-r.shiftedMean + log1pS) + epsilon * (1 - 1 / Double(k)))
      }
      loss = f * l
    }
    guard let g else { return loss }
    let boost = row.boost
    let otherScale = fs * (boost / (1 + r.sPrime))
    let shift = fs * uniform
    scaleRow(g, count: k, by: otherScale, minus: shift)
    if eps == 0 {
      g[c] = -fs * (q * boost)
      return loss
    }
    // With smoothing, g_c = f s ((K - 1) eps/K - q (1 + e p)) and every other
    // entry is a difference of terms of size f s eps/K, whose roundings need
    // not cancel in the row's sum: g_c is taken as minus the others'
    // compensated sum instead, as accurate in absolute terms, and the row
    // sums to zero as the property tests require.
    var others = CompensatedSum()
    for j in 0..<k where j != c { others.add(g[j]) }
    g[c] = -others.value
    return loss
  }
}
