// Cross-entropy over eight rows at once, for few classes. A short row's
// set-up (a vector max with the index of the maximum, reductions by halves,
// a partial last vector, a scalar tail, the row's factor and finish) costs
// more than its exponentials: at K = 10 the row-at-a-time kernel spends
// about 60 % of its instructions outside exp and the exponents. Here the
// eight rows are the lanes: logit j of every row is one vector (read with
// a stride of K), so the maximum, the sums, the label's exponent, the loss
// and the gradient's scale are each one vector operation for all eight.
//
// The result is bit for bit that of the row-at-a-time kernel
// (`crossEntropyRow`): the same exponents (`exponent`, `relativeOffset`),
// the same exp (its scalar tail goes through the vector exp too), the same
// order of summation (for K up to `groupClassLimit` a row's sums run in
// index order there, as each lane does here), and the same finish. So a
// row's value does not depend on which path computed it, and the first- and
// second-order entry points give the same bits. A group with an ignored
// row, a split factor, an exponent above 0 (pass 1 picked a class that is
// not the true maximum) or a sum that overflows goes row by row instead.

extension SoftmaxKernel {
  /// The number of rows of a group.
  @usableFromInline static let groupRows = 8

  /// Up to this many classes, cross-entropy rows go in groups of eight, and
  /// every row's sums run in index order.
  @usableFromInline static let groupClassLimit = 16

  /// Whether the rows of `rule` over `classCount` classes go in groups.
  @inlinable @inline(__always)
  static func groupsRows(_ rule: SoftmaxRule, classCount k: Int) -> Bool {
    k <= groupClassLimit && rule.focusing == 0 && rule.poly == 0 && !rule.smoothAccuracy
      && rule.rowClassWeights == nil
  }

  /// The weighted cross-entropy losses `f_i l_i` of the rows `first ..< first
  /// + 8`, one per lane, with their gradient rows written when `gradient` is
  /// non-nil; nil when the group must go row by row (see above; its gradient
  /// rows may then hold partial results, which the rows overwrite).
  @inlinable @inline(__always)
  static func crossEntropyGroup(
    _ batch: SoftmaxBatch, first: Int, _ rule: SoftmaxRule,
    _ gradient: UnsafeMutablePointer<Double>?
  ) -> Vector? {
    let k = batch.classCount
    let s = rule.scale
    let o = rule.offsets
    let plain = rule.isPlain
    let splitsScale = !plain && rule.splitsScale
    let hasMargins = rule.margins != nil
    var f = Vector()
    var labels = SIMD8<Int>()
    var labelv = Vector()
    var delta = Vector()
    for r in 0..<groupRows {
      let i = first + r
      if batch.isIgnored(i) { return nil }
      let (factor, post) = batch.splitFactor(i, rule: rule)
      if post != SIMD2(1, 1) { return nil }
      let c = batch.labels[i]
      f[r] = factor
      labels[r] = c
      if let margins = rule.margins {
        labelv[r] = Double(c)
        delta[r] = s * margins[c]
      }
    }
    let z = batch.logits + first * k
    let g = gradient.map { $0 + first * k }
    /// Logit j of the eight rows.
    @inline(__always) func column(_ p: UnsafePointer<Double>, _ j: Int) -> Vector {
      Vector(
        p[j], p[k + j], p[2 * k + j], p[3 * k + j], p[4 * k + j], p[5 * k + j],
        p[6 * k + j], p[7 * k + j])
    }

    // Pass 1: each row's maximum m, and z, o at the first index M that
    // holds it (and M itself with margins).
    let sv = Vector(repeating: s)
    var m = Vector(repeating: -.infinity)
    // (Index 0 where no a_k exceeds -inf, as in `statistics`.)
    var zTop = column(z, 0)
    var oTop = Vector(repeating: o[0])
    var top = Vector()
    for j in 0..<k {
      let zj = column(z, j)
      let oj = Vector(repeating: o[j])
      var a = zj * sv + oj
      if hasMargins { a = a.replacing(with: a - delta, where: labelv .== Double(j)) }
      let up = a .> m
      m = m.replacing(with: a, where: up)
      if !plain {
        zTop = zTop.replacing(with: zj, where: up)
        oTop = oTop.replacing(with: oj, where: up)
        if hasMargins { top = top.replacing(with: Double(j), where: up) }
      }
    }
    if plain { zTop = m }
    let deltaTop = hasMargins ? Vector().replacing(with: delta, where: top .== labelv) : Vector()
    let minusTop = -zTop
    /// The offset part `b_k` of exponent j, as `relativeOffset`.
    @inline(__always) func offsets(_ oj: Vector, isLabel: SIMDMask<SIMD8<Int64>>) -> Vector {
      if plain { return Vector() }
      var b = oj - oTop
      if hasMargins { b = b.replacing(with: b - delta, where: isLabel) }
      return b + deltaTop
    }

    // Pass 2: e_k = exp(d_k) into the gradient rows, and the sums.
    let wantsShiftedSum = rule.smoothing != 0
    let inverseCount = Vector(repeating: 1 / Double(k))
    var rest = Vector()
    var ties = Vector()
    var shifted = Vector()
    var hiMax = Vector()
    for j in 0..<k {
      let b = offsets(Vector(repeating: o[j]), isLabel: labelv .== Double(j))
      let (hi, lo) = exponent(
        column(z, j), b, minusTop: minusTop, rule, plain: plain, splitsScale: splitsScale)
      if wantsShiftedSum { shifted += hi * inverseCount }
      if !plain { hiMax = hiMax.replacing(with: hi, where: hi .> hiMax) }
      let e0 = Elementary.exp(hi)
      let e = e0 + e0 * lo
      let atMax = hi .== 0
      rest += e.replacing(with: lo, where: atMax)
      ties += Vector(repeating: 0).replacing(with: 1, where: atMax)
      if let g {
        for r in 0..<groupRows { g[r * k + j] = e[r] }
      }
    }
    let rescales = .!(rest.magnitude .< .infinity) .| .!(shifted.magnitude .< .infinity)
    if any(hiMax .> 0 .| rescales) { return nil }

    // The label's exponent `a_c - m` in two words, hence `m - a_c`.
    var zc = Vector()
    var oc = Vector()
    for r in 0..<groupRows {
      zc[r] = z[r * k + labels[r]]
      oc[r] = o[labels[r]]
    }
    var bc = Vector()
    if !plain { bc = ((oc - oTop) - delta) + deltaTop }
    let label = exponent(zc, bc, minusTop: minusTop, rule, plain: plain, splitsScale: splitsScale)
    let sPrime = rest + (ties - 1)
    let gap = (Vector() - label.hi) - label.lo

    // The finish of `finish` for cross-entropy, lane by lane.
    let eps = rule.smoothing
    let uniform = eps / Double(k)
    let smoothedGap = eps == 0 ? gap : (1 - eps) * gap + eps * -shifted
    let loss = f * smoothedGap + f * Elementary.log1p(sPrime)
    guard let g else { return loss }
    let fs = f * sv
    let otherScale = fs / (1 + sPrime)
    let shift = fs * uniform
    var ec = Vector()
    for r in 0..<groupRows { ec[r] = g[r * k + labels[r]] }
    let labelGradient = ((ec * otherScale - shift) - fs * (1 - eps)).replacing(
      with: -fs * (sPrime / (1 + sPrime)) + fs * (eps - uniform), where: label.hi .== 0)
    for r in 0..<groupRows {
      let row = g + r * k
      scaleRow(row, count: k, by: otherScale[r], minus: shift[r])
      row[labels[r]] = labelGradient[r]
    }
    return loss
  }
}
