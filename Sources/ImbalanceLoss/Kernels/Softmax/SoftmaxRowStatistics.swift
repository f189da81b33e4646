// The statistics of one softmax row (maximum, the sum below it, the label's
// gap, ties), in the fast two-word form and in the rescaled form for rows
// whose adjusted logits overflow; see SoftmaxKernel.swift for the goals.

/// The shared statistics of one row's adjusted logits.
///
/// `maximum` and `labelLogit` are only used through their difference
/// `m - a_c`: the fast pass stores `m` as 0 and `a_c - m` as the two-word
/// `labelLogit + labelLow`; `rescaledStatistics` stores `m` and `a_c` (in
/// quarters) with `labelLow` 0.
@usableFromInline
struct SoftmaxRowStatistics {
  /// `m = max_k a_k`, or 0 (see above).
  @usableFromInline var maximum: Double
  /// `s' = Σ_k exp(a_k - m) - 1 >= 0`.
  @usableFromInline var sPrime: Double
  /// `a_c`, the label's adjusted logit, or its leading word of `a_c - m`.
  @usableFromInline var labelLogit: Double
  /// The low word of `a_c - m` (0 in `rescaledStatistics`).
  @usableFromInline var labelLow: Double
  /// `Σ_k (a_k - m) / K <= 0` (a mean, so it cannot overflow), summed only
  /// when label smoothing needs it; `Σ_k μ_k (a_k - m)` with the rule's
  /// `rowClassWeights`.
  @usableFromInline var shiftedMean: Double
  /// `s m_c`, the margin taken off the label's logit.
  @usableFromInline var labelMargin: Double
  /// What `maximum`, `labelLogit` and `shiftedMean` are in units of: 1, or 4
  /// for a row whose adjusted logits overflow (see `rescaledStatistics`).
  @usableFromInline var unit: Double

  @inlinable init(
    maximum: Double, sPrime: Double, labelLogit: Double, labelLow: Double = 0,
    shiftedMean: Double, labelMargin: Double, unit: Double = 1
  ) {
    self.maximum = maximum
    self.sPrime = sPrime
    self.labelLogit = labelLogit
    self.labelLow = labelLow
    self.shiftedMean = shiftedMean
    self.labelMargin = labelMargin
    self.unit = unit
  }

  /// `logsumexp(a) - a_c = -log p_c >= 0`; +inf only when it exceeds the
  /// largest double.
  @inlinable var crossEntropy: Double {
    gap * unit + Elementary.log1p(sPrime)
  }

  /// `m - a_c >= 0` (in units of `unit`), with its low word.
  @inlinable var gap: Double { (maximum - labelLogit) - labelLow }

  /// Whether the label's logit is a maximum (then `p_c = 1 / (1 + s')`).
  @inlinable var labelIsMaximum: Bool { labelLogit == maximum }
}

extension SoftmaxKernel {
  /// Pass 1 and 2 of a row: the statistics of `a`, and `e_k = exp(a_k - m)`
  /// written into `exps` when it is non-nil. `forcedTop` replaces pass 1's
  /// choice of the maximum (see the end of pass 2).
  @inlinable @inline(__always)
  static func statistics(
    _ batch: SoftmaxBatch, _ i: Int, _ rule: SoftmaxRule, _ exps: UnsafeMutablePointer<Double>?,
    forcedTop: Int? = nil
  ) -> SoftmaxRowStatistics {
    let k = batch.classCount
    let z = batch.logits + i * k
    let o = rule.offsets
    let c = batch.labels[i]
    let s = rule.scale
    let delta = rule.margins.map { s * $0[c] } ?? 0
    let sv = Vector(repeating: s)
    // The vector block that holds the label, which loses the margin.
    let cBlock = delta == 0 ? -1 : c - c % 8

    // Pass 1: m = max_k a_k, and M, the index of its first occurrence (each
    // lane of `iv` keeps the index of its first maximum, as a double). A
    // plain row needs only z_M = m.
    let plain = rule.isPlain
    var j = 0
    var mv = Vector(repeating: -.infinity)
    var iv = Vector()
    var jv = Vector(0, 1, 2, 3, 4, 5, 6, 7)
    while j + 8 <= k {
      var a = SIMDLoad.load(z + j) * sv + SIMDLoad.load(o + j)
      if j == cBlock { a[c - j] -= delta }
      let up = a .> mv
      mv = mv.replacing(with: a, where: up)
      if !plain {
        iv = iv.replacing(with: jv, where: up)
        jv += 8
      }
      j += 8
    }
    // Tail of 4 to 7 logits (K >= 8): the last 8 logits as one vector,
    // overlapping lanes already seen (`dup`; the max needs no masking, and an
    // overlapping lane holds the same index as the lane that saw it first).
    // Shorter tails stay scalar (8 exp lanes for 1-3 logits lose; see below).
    let tailBase = k - 8
    let dup = Vector(0, 1, 2, 3, 4, 5, 6, 7) .< Double(8 - (k - j))
    let vectorTail = k - j >= 4 && k >= 8
    // The label's lane in the tail vector, if it is there.
    let cTail = delta != 0 && c >= tailBase ? c - tailBase : -1
    if vectorTail {
      var a = SIMDLoad.load(z + tailBase) * sv + SIMDLoad.load(o + tailBase)
      if cTail >= 0 { a[cTail] -= delta }
      let up = a .> mv
      mv = mv.replacing(with: a, where: up)
      if !plain {
        iv = iv.replacing(with: Vector(0, 1, 2, 3, 4, 5, 6, 7) + Double(tailBase), where: up)
      }
    }
    // max over the lanes, by halves (`mv.max()` is an outlined generic call),
    // then the smallest index among the lanes that hold it.
    let m4 = mv.lowHalf.replacing(with: mv.highHalf, where: mv.highHalf .> mv.lowHalf)
    let m2 = m4.lowHalf.replacing(with: m4.highHalf, where: m4.highHalf .> m4.lowHalf)
    var m = Swift.max(m2[0], m2[1])
    var top = 0
    if !plain {
      let im = iv.replacing(with: .infinity, where: mv .!= m)
      let i4 = im.lowHalf.replacing(with: im.highHalf, where: im.highHalf .< im.lowHalf)
      let i2 = i4.lowHalf.replacing(with: i4.highHalf, where: i4.highHalf .< i4.lowHalf)
      top = Int(Swift.min(i2[0], i2[1]))
    }
    while j < k && !vectorTail {
      var a = z[j] * s + o[j]
      if j == c { a -= delta }
      if a > m {
        m = a
        top = j
      }
      j += 1
    }
    if let forcedTop { top = forcedTop }

    // The exponents d_k = a_k - a_M, in two words hi + lo: rounding d once
    // costs exp(d) up to |d|/2 ulps (|d| reaches 745), and forming a_k first
    // loses the offsets where ulp(z) exceeds them. Instead
    //
    //     d_k = s (z_k - z_M) + ((o_k - o_M) - delta [k == c] + delta [M == c])
    //
    // with the error of z_k - z_M, of the product by s (Dekker's product,
    // when s is not a power of two) and of the final sum kept (branch-free
    // TwoSum, exact in any rounding); the rest rounds in terms of size |o|
    // or |delta|. Then
    // e_k = exp(hi) (1 + lo). d_M is exactly 0. A row where a difference
    // overflows gets a NaN lo (inf - inf), hence a NaN s': it goes to
    // `rescaledStatistics`. Cost (callgrind, default build, value and
    // gradient): +10% (K = 10) and +7% (K = 1000) instructions for a plain
    // row, which needs no M; +30% with offsets.
    let splitsScale = !plain && rule.splitsScale
    let zTop = plain ? m : z[top]
    let oTop = plain ? 0 : o[top]
    let deltaTop = top == c ? delta : 0
    @inline(__always) func exponent(_ j: Int) -> (hi: Double, lo: Double) {
      let b = plain ? 0 : relativeOffset(o[j], oTop, isLabel: j == c, delta, deltaTop)
      return Self.exponent(z[j], b, minusTop: -zTop, rule, plain: plain, splitsScale: splitsScale)
    }
    let minusZTopv = Vector(repeating: -zTop)
    let oTopv = Vector(repeating: oTop)
    let deltaTopv = Vector(repeating: deltaTop)

    // Pass 2: e_k = exp(d_k); s' sums those below the maximum, ties (hi = 0,
    // which adds lo) counted apart.
    let wantsShiftedSum = rule.smoothing != 0
    let inverseCount = 1 / Double(k)
    let inverseCountv = Vector(repeating: inverseCount)
    let means = rule.rowClassWeights?.means
    var restv = Vector()
    var tiesv = Vector()
    var shiftedv = Vector()
    var hiMaxv = Vector()
    // With few classes the sums run in index order, as in `crossEntropyGroup`.
    let inIndexOrder = k <= groupClassLimit
    var rest = 0.0
    var ties = 0.0
    var shifted = 0.0
    // One exp call site for full vectors and the vector tail.
    j = 0
    while j + 8 <= k || (vectorTail && j < k) {
      let full = j + 8 <= k
      let base = full ? j : tailBase
      var b = Vector()
      if !plain {
        b = SIMDLoad.load(o + base) - oTopv
        if full ? j == cBlock : cTail >= 0 { b[c - base] -= delta }
        b += deltaTopv
      }
      var (hi, lo) = Self.exponent(
        SIMDLoad.load(z + base), b, minusTop: minusZTopv, rule, plain: plain,
        splitsScale: splitsScale)
      let shiftedTerm =
        wantsShiftedSum ? hi * (means.map { SIMDLoad.load($0 + base) } ?? inverseCountv) : Vector()
      if wantsShiftedSum && !inIndexOrder {
        shiftedv += full ? shiftedTerm : shiftedTerm.replacing(with: 0, where: dup)
      }
      // Overlapping tail lanes get d = -inf, so e = 0 there and they add
      // nothing; `exps` keeps the values stored for them before.
      if !full {
        hi = hi.replacing(with: -.infinity, where: dup)
        lo = lo.replacing(with: 0, where: dup)
      }
      if !plain { hiMaxv = hiMaxv.replacing(with: hi, where: hi .> hiMaxv) }
      let e0 = Elementary.exp(hi)
      let e = e0 + e0 * lo
      let atMax = hi .== 0
      let term = e.replacing(with: lo, where: atMax)
      let tie = Vector(repeating: 0).replacing(with: 1, where: atMax)
      if inIndexOrder {
        for lane in (full ? 0 : 8 - (k - j))..<8 {
          rest += term[lane]
          ties += tie[lane]
          if wantsShiftedSum { shifted += shiftedTerm[lane] }
        }
      } else {
        restv += term
        tiesv += tie
      }
      if let exps {
        SIMDLoad.store(
          full ? e : e.replacing(with: SIMDLoad.load(exps + base), where: dup),
          exps + base)
      }
      j = full ? j + 8 : k
    }
    if !inIndexOrder {
      rest = restv.sum()
      ties = tiesv.sum()
      shifted = shiftedv.sum()
    }
    // By halves, as pass 1's max (0 for a plain row: hiMaxv stays 0).
    let h4 = hiMaxv.lowHalf.replacing(
      with: hiMaxv.highHalf, where: hiMaxv.highHalf .> hiMaxv.lowHalf)
    var hiMax = Swift.max(h4[0], h4[1], h4[2], h4[3])
    // The scalar tail (K < 8, or 1 to 3 logits after the last full vector),
    // added one by one. For K <= `groupClassLimit` its exponentials come from
    // one vector exp call, as in `crossEntropyGroup` (the same bits whichever
    // path computes a row); above, from the scalar libm exp, one per logit
    // (cheaper than 8 vector lanes for 1 to 3 logits).
    if j < k {
      var his = Vector(repeating: -.infinity)
      var los = Vector()
      for t in 0..<(k - j) { (his[t], los[t]) = exponent(j + t) }
      var es = Vector()
      if inIndexOrder {
        let e0 = Elementary.exp(his)
        es = e0 + e0 * los
      } else {
        for t in 0..<(k - j) {
          let e0 = Elementary.exp(his[t])
          es[t] = e0 + e0 * los[t]
        }
      }
      for t in 0..<(k - j) {
        let (hi, lo) = (his[t], los[t])
        hiMax = Swift.max(hiMax, hi)
        if wantsShiftedSum { shifted += hi * (means?[j + t] ?? inverseCount) }
        if hi == 0 {
          ties += 1
          rest += lo
        } else {
          rest += es[t]
        }
        if let exps { exps[j + t] = es[t] }
      }
    }
    // Pass 1 compared rounded a_k: where the offsets (or margin) are below
    // the rounding of s z_k it can pick a class that is not the maximum, and
    // some e_k exceeds 1 (up to overflow). Rare: once more from the true one.
    if hiMax > 0 && forcedTop == nil {
      var best = top
      var bestHi = 0.0
      for j in 0..<k {
        let hi = exponent(j).hi
        if hi > bestHi { (best, bestHi) = (j, hi) }
      }
      return statistics(batch, i, rule, exps, forcedTop: best)
    }
    let label = exponent(c)
    // A difference or the mean overflowed (NaN or inf s'): rare.
    if !(rest.isFinite && shifted.isFinite) {
      return rescaledStatistics(batch, i, rule, exps)
    }
    return SoftmaxRowStatistics(
      maximum: 0, sPrime: rest + (ties - 1), labelLogit: label.hi, labelLow: label.lo,
      shiftedMean: shifted, labelMargin: delta)
  }

  /// `b_k = ((o_k - o_M) - delta [k == c]) + delta [M == c]`, the offset
  /// part of the exponent `d_k` (rounded; the vector blocks of `statistics`
  /// skip `- delta` where it is 0, the same value).
  @inlinable @inline(__always)
  static func relativeOffset(
    _ ok: Double, _ oTop: Double, isLabel: Bool, _ delta: Double, _ deltaTop: Double
  ) -> Double {
    var b = ok - oTop
    if isLabel { b -= delta }
    return b + deltaTop
  }

  /// The exponent `d_k = s (z_k - z_M) + b_k` in two words (see `statistics`):
  /// the errors of `z_k - z_M`, of the product by `s` and of the sum kept.
  @inlinable @inline(__always)
  static func exponent(
    _ zk: Double, _ b: Double, minusTop: Double, _ rule: SoftmaxRule, plain: Bool,
    splitsScale: Bool
  ) -> (hi: Double, lo: Double) {
    var (hi, lo) = ErrorFree.twoSum(zk, minusTop)
    if !plain {
      let s = rule.scale
      let t = hi * s
      let tLow = splitsScale ? productError(hi, t, rule) : 0
      let (tb, tbError) = ErrorFree.twoSum(t, b)
      // hi + lo once more (TwoSum): where t + b cancels, lo (the error of
      // z_k - z_M) can exceed hi, even with hi = 0, which is no tie then.
      (hi, lo) = ErrorFree.twoSum(tb, tbError + (lo * s + tLow))
    }
    return (hi, lo)
  }

  /// ``exponent(_:_:minusTop:_:plain:splitsScale:)-(Double,_,_,_,_,_)`` lane by lane (the same bits).
  @inlinable @inline(__always)
  static func exponent(
    _ zk: Vector, _ b: Vector, minusTop: Vector, _ rule: SoftmaxRule, plain: Bool,
    splitsScale: Bool
  ) -> (hi: Vector, lo: Vector) {
    var (hi, lo) = ErrorFree.twoSum(zk, minusTop)
    if !plain {
      let sv = Vector(repeating: rule.scale)
      let t = hi * sv
      let tLow = splitsScale ? productError(hi, t, rule) : Vector()
      let (tb, tbError) = ErrorFree.twoSum(t, b)
      (hi, lo) = ErrorFree.twoSum(tb, tbError + (lo * sv + tLow))
    }
    return (hi, lo)
  }

  /// The rounding error `x s - t` of `t = fl(x s)`, exact (Dekker's product
  /// with `s` pre-split in `rule`; no FMA in the default build). Where
  /// `|x| > 2^995` the split would overflow: there it returns 0 (the rounded
  /// product; `|s x|` is then beyond exp's range unless s is tiny).
  @inlinable @inline(__always)
  static func productError(_ x: Double, _ t: Double, _ rule: SoftmaxRule) -> Double {
    guard x.magnitude <= 0x1p995 else { return 0 }
    let c = x * 134_217_729
    let xh = c - (c - x)
    let xl = x - xh
    let (sh, sl) = (rule.scaleHigh, rule.scaleLow)
    return ((xh * sh - t) + xh * sl + xl * sh) + xl * sl
  }

  /// `productError` lane by lane.
  @inlinable @inline(__always)
  static func productError(_ x: Vector, _ t: Vector, _ rule: SoftmaxRule) -> Vector {
    let huge = x.magnitude .> 0x1p995
    let xs = x.replacing(with: 0, where: huge)
    let ts = t.replacing(with: 0, where: huge)
    let c = xs * 134_217_729
    let xh = c - (c - xs)
    let xl = xs - xh
    let sh = Vector(repeating: rule.scaleHigh)
    let sl = Vector(repeating: rule.scaleLow)
    return ((xh * sh - ts) + xh * sl + xl * sh) + xl * sl
  }

  /// `statistics` for a row whose adjusted logits overflow: computed on
  /// `u_k = a_k / 4 = (s/4) z_k + o_k/4 - (s/4) m_c [k == c]`, finite with
  /// finite differences (`|z|, |o| <= max`; halves are not enough: with
  /// `o = -max` a difference of halves reaches 1.5 max), returned with `unit = 4`.
  /// The `e_k = exp(4 (u_k - u_max))` and s' are the true values (0 where
  /// they underflow). Scalar: such rows are rare.
  @usableFromInline @inline(never)
  static func rescaledStatistics(
    _ batch: SoftmaxBatch, _ i: Int, _ rule: SoftmaxRule, _ exps: UnsafeMutablePointer<Double>?
  ) -> SoftmaxRowStatistics {
    let k = batch.classCount
    let z = batch.logits + i * k
    let o = rule.offsets
    let c = batch.labels[i]
    let s = rule.scale * 0.25
    let delta = rule.margins.map { s * $0[c] } ?? 0
    func quarter(_ j: Int) -> Double {
      let u = z[j] * s + o[j] * 0.25
      return j == c ? u - delta : u
    }
    var m = -Double.infinity
    for j in 0..<k { m = Swift.max(m, quarter(j)) }
    let inverseCount = 1 / Double(k)
    var rest = 0.0
    var ties = 0.0
    var shifted = 0.0
    for j in 0..<k {
      let d = quarter(j) - m
      shifted += d * (rule.rowClassWeights?.means[j] ?? inverseCount)
      let e = d == 0 ? 1 : Elementary.exp(4 * d)
      if d == 0 { ties += 1 } else { rest += e }
      if let exps { exps[j] = e }
    }
    return SoftmaxRowStatistics(
      maximum: m, sPrime: rest + (ties - 1), labelLogit: quarter(c), shiftedMean: shifted,
      labelMargin: 4 * delta, unit: 4)
  }
}
