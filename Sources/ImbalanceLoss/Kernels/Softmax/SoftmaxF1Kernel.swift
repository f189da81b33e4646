// Kernels of the macro (one-vs-rest) F1 losses on softmax probabilities:
// the per-class statistics T_k, S_k of macro smooth F1 and its gradient, and
// the rows of the macro-F1-weighted cross-entropy.
//
// Implementation goals, in order of priority:
// 1. Accuracy: probabilities and their complements from the row's
//    log-sum-exp (`SoftmaxKernel.statistics`); `1 - F_k` summed from
//    non-negative terms; `-log(1 - p_k)` in log space when p_k rounds to 1.
// 2. Edge cases: a class with S_k = 0 (absent and never predicted) has F_k = 0
//    and no gradient; finite logits of any size give finite results.
// 3. Speed: two passes over the batch for macro F1 (statistics, gradient),
//    one for the weighted cross-entropy; O(K) scratch per call.

/// Per-class sums of macro smooth F1, with the normalised weights `f_i = w_i / W`.
@usableFromInline
struct MacroF1Statistics {
  /// `T_k = Σ_i f_i p_ik [c_i == k]`.
  @usableFromInline var truePositives: [Double]
  /// `S_k = Σ_i f_i (p_ik + [c_i == k])`.
  @usableFromInline var totals: [Double]
  /// `D_k = S_k - 2 T_k = Σ_i f_i ([c_i == k](1 - p_ik) + [c_i != k] p_ik) >= 0`.
  @usableFromInline var errors: [Double]
  /// `r_k = Σ_i f_i [c_i == k]`, the class's share of the weight.
  @usableFromInline var volumes: [Double]

  @inlinable init(
    truePositives: [Double], totals: [Double], errors: [Double], volumes: [Double]
  ) {
    self.truePositives = truePositives
    self.totals = totals
    self.errors = errors
    self.volumes = volumes
  }

  /// `F_k = 2 T_k / S_k`, 0 when `S_k = 0`.
  @inlinable var f1Scores: [Double] {
    zip(truePositives, totals).map { t, s in s == 0 ? 0 : 2 * t / s }
  }

  /// `1 - mean_k F_k`, as the mean of `D_k / S_k` (1 when `S_k = 0`).
  @inlinable var loss: Double { MacroDiceRatios(self).loss }
}

extension MacroF1Statistics {
  /// The statistics of a whole data-parallel batch from its merged sums
  /// (`T_k`, `S_k`, `D_k`, `r_k` in raw weight units, as `SoftmaxF1Kernel.sums`
  /// lays them out), each brought into the units `w_i / W` of `normalizer`.
  @inlinable
  init(merged sums: ArraySlice<Double>, normalizer: WeightNormalizer) {
    let k = sums.count / 4
    let base = sums.startIndex
    func part(_ m: Int) -> [Double] {
      sums[(base + m * k)..<(base + (m + 1) * k)].map { normalizer.normalized($0) }
    }
    self.init(truePositives: part(0), totals: part(1), errors: part(2), volumes: part(3))
  }
}

/// The per-class Dice ratios of a batch, with smoothing `a`, `b` (in the
/// units of the normalised sums) and the mean over the classes `k >= first`:
///
///     F_k  = (2 T_k + a) / (S_k + b)      L = 1 - (1/K') Σ_{k >= first} F_k,  K' = K - first
///     u_ik = ∂L/∂p_ik = f_i (F_k - 2 [c_i == k]) / (K' (S_k + b))      (0 for k < first)
///
/// Macro smooth F1 is `a = b = 0`, `first = 0` (the same bits as before this
/// type); the softmax Dice loss adds MONAI's smoothing and may drop the
/// background class. `1 - F_k` is summed as `(D_k + (b - a)) / (S_k + b)`,
/// from D_k's non-negative terms; a class with `S_k + b = 0` (or beyond the
/// double range) has `F_k = empty` and no gradient. `empty` is the raw `ε_nr / ε_dr` (or 0), and F_k lies
/// between `2 T_k / S_k <= 1` and it (a mediant): F_k is held below
/// `max(1, empty)`, where a `b` or `S_k` that underflowed would put it out.
/// `up`, `beta`, `gamma` are the coefficients of
/// `SoftmaxF1Kernel.gradient(_:rule:up:beta:gamma:into:)`.
@usableFromInline
struct MacroDiceRatios {
  @usableFromInline var loss: Double
  @usableFromInline var scores: [Double]
  @usableFromInline var up: [Double]
  @usableFromInline var beta: [Double]
  @usableFromInline var gamma: [Double]

  /// `excess` is `b - a`, formed from the raw smoothing so that it is exact
  /// (0) when the two are equal.
  @inlinable
  init(
    _ s: MacroF1Statistics, numerator a: Double = 0, denominator b: Double = 0,
    excess: Double = 0, empty: Double = 0, firstClass first: Int = 0
  ) {
    let k = s.totals.count
    assert(first < k)
    let included = Double(k - first)
    scores = [Double](repeating: 0, count: k)
    up = [Double](repeating: 1, count: k)
    beta = [Double](repeating: 0, count: k)
    gamma = [Double](repeating: 0, count: k)
    let ceiling = Swift.max(1, empty)
    var sum = CompensatedSum()
    for j in first..<k {
      var total = s.totals[j] + b
      // b beyond the double range (raw smoothing over a subnormal total weight):
      // F_k = (2 T_k + a) / (S_k + b) is ε_nr / ε_dr to within S_k / b, and the
      // gradient, below 1 / b, underflows.
      guard total != 0 && total.isFinite else {
        scores[j] = empty
        sum.add(1 - empty)
        continue
      }
      scores[j] = Swift.min((2 * s.truePositives[j] + a) / total, ceiling)
      sum.add(Swift.max((s.errors[j] + excess) / total, 1 - ceiling))
      // 1 / (K' total) would overflow for a subnormal total: up brings it into [1, 2).
      if total < 0x1p-900 {
        up[j] = PowerOfTwo.scale(bringingToUnit: total, limit: 1023)
        total *= up[j]
      }
      beta[j] = scores[j] / (included * total)
      gamma[j] = 2 / (included * total)
    }
    loss = sum.value / included
  }
}

@usableFromInline
enum SoftmaxF1Kernel {
  /// One pass over the batch: T_k, S_k and D_k.
  @inlinable
  static func statistics(_ batch: SoftmaxBatch, rule: SoftmaxRule) -> MacroF1Statistics {
    let k = batch.classCount
    let sums = Self.sums(batch, rule: rule)
    return MacroF1Statistics(
      truePositives: sums[0..<k].map(\.value), totals: sums[k..<(2 * k)].map(\.value),
      errors: sums[(2 * k)..<(3 * k)].map(\.value), volumes: sums[(3 * k)...].map(\.value))
  }

  /// The compensated sums of `statistics`, in the units of the batch's
  /// factors: `T_k`, then `S_k`, `D_k` and `r_k` (`4 K` sums; a data-parallel
  /// shard carries them, with raw weights, into its `BatchStatistics`).
  @inlinable
  static func sums(_ batch: SoftmaxBatch, rule: SoftmaxRule) -> [CompensatedSum] {
    let k = batch.classCount
    var t = [CompensatedSum](repeating: CompensatedSum(), count: k)
    var s = [CompensatedSum](repeating: CompensatedSum(), count: k)
    var d = [CompensatedSum](repeating: CompensatedSum(), count: k)
    var v = [CompensatedSum](repeating: CompensatedSum(), count: k)
    var scratch = [Double](repeating: 0, count: k)
    scratch.withUnsafeMutableBufferPointer { e in
      let e = e.baseAddress!
      for i in 0..<batch.rows where !batch.isIgnored(i) {
        let f = batch.factor(i)
        let c = batch.labels[i]
        let r = SoftmaxKernel.statistics(batch, i, rule, e)
        let total = 1 + r.sPrime
        for j in 0..<k {
          let fp = f * (e[j] / total)
          s[j].add(fp)
          if j != c { d[j].add(fp) }
        }
        let row = FocalRow(r, gamma: 0)
        t[c].add(f * row.p)
        s[c].add(f)
        v[c].add(f)
        d[c].add(f * row.q)
      }
    }
    return t + s + d + v
  }

  /// Writes the gradient of `1 - mean_k F_k`:
  ///
  ///     u_ik = ∂L/∂p_ik = f_i (F_k - 2 [c_i == k]) / (K S_k)
  ///     ∂L/∂z_ij = p_ij (u_ij - Σ_k p_ik u_ik)
  ///
  /// with the entry of the label, and of a wrong class M at the row's
  /// maximum, as `p_j (u_j (1 - p_j) - Σ_{k != j} p_k u_k)`: no cancellation
  /// where p_j is near 1.
  @inlinable
  static func gradient(
    _ batch: SoftmaxBatch, rule: SoftmaxRule, statistics: MacroF1Statistics,
    into gradient: UnsafeMutablePointer<Double>
  ) {
    // u_ik = f_i up_k (beta_k - gamma_k [c_i == k]): every product is then
    // formed as ((p f) up) beta' with p f <= S_k, bounded where f beta alone is not.
    let r = MacroDiceRatios(statistics)
    Self.gradient(batch, rule: rule, up: r.up, beta: r.beta, gamma: r.gamma, into: gradient)
  }

  /// The row pass of a loss whose derivative in the probabilities is
  ///
  ///     u_ik = ∂L/∂p_ik = f_i up_k (beta_k - gamma_k [c_i == k])
  ///
  /// (macro smooth F1, generalised Dice), through the softmax:
  /// `∂L/∂z_ij = p_ij (u_ij - Σ_k p_ik u_ik)`. `up_k` is a power of two that
  /// keeps `beta_k`, `gamma_k` finite; every product is formed as
  /// `((p f) up) beta`, bounded where `f beta` alone is not.
  @inlinable
  static func gradient(
    _ batch: SoftmaxBatch, rule: SoftmaxRule, up: [Double], beta: [Double], gamma: [Double],
    into gradient: UnsafeMutablePointer<Double>
  ) {
    let k = batch.classCount
    // Every u_ik = f_i beta_k as it stands (<= 2^901): differences of u are finite.
    let unscaled = up.allSatisfy { $0 == 1 }
    for i in 0..<batch.rows {
      let g = gradient + i * k
      if batch.isIgnored(i) {
        g.update(repeating: 0, count: k)
        continue
      }
      let f = batch.factor(i)
      let c = batch.labels[i]
      let r = SoftmaxKernel.statistics(batch, i, rule, g)
      let total = 1 + r.sPrime
      /// p u_ij for j != c.
      @inline(__always) func pu(_ p: Double, _ j: Int) -> Double {
        up[j] == 1 ? p * (f * beta[j]) : ((p * f) * up[j]) * beta[j]
      }
      // Σ_{k != c} p_k u_k without the term of `top`, a wrong class at the
      // row's maximum (e = 1), if there is one: its entry is formed apart.
      var others = 0.0
      var top = -1
      for j in 0..<k where j != c {
        if top < 0 && g[j] == 1 {
          top = j
        } else {
          others += pu(g[j] / total, j)
        }
      }
      let pTop = top < 0 ? 0 : 1 / total
      let puTop = top < 0 ? 0 : pu(pTop, top)
      let row = FocalRow(r, gamma: 0)
      // f <= S_c (the row adds f to S_c): (f up_c) (beta' - gamma') <= 2 / K.
      let uc = (f * up[c]) * (beta[c] - gamma[c])
      let rest = others + row.p * uc  // Σ_{k != top} p_k u_k
      let dot = rest + puTop
      if top >= 0 && unscaled {
        // Also relative to u_M (Σ_k p_k = 1): ∂L/∂z_ij = p_ij ((u_j - u_M) + w),
        // w = Σ_{k != M} p_k (u_M - u_k), rounded relative to `spread`. A class
        // that shares u_M (generalised Dice's equal weights, absent classes)
        // adds an exact 0 there, so a row whose gradient is only p_c (u_M - u_c)
        // keeps its digits, where u_j - Σ p u is rounding noise of u_M (rows
        // were off by 1e14 bounds). Each entry takes the form whose rounding is
        // relative to the smaller magnitude.
        let uTop = f * beta[top]
        var w = row.p * (uTop - uc)  // u_c <= 0 <= u_M: no cancellation
        var spread = abs(w)
        for j in 0..<k where j != c && j != top {
          let term = (g[j] / total) * (uTop - f * beta[j])
          w += term
          spread += abs(term)
        }
        for j in 0..<k where j != c && j != top {
          let p = g[j] / total
          let u = f * beta[j]
          let relative = abs(u - uTop) + spread < Swift.max(abs(u), abs(dot))
          g[j] = relative ? p * ((u - uTop) + w) : p * (u - dot)
        }
        let tail = r.sPrime / total  // 1 - p_M
        let relative = spread < Swift.max(abs(uTop) * tail, abs(rest))
        g[top] = relative ? pTop * w : puTop * tail - pTop * rest
      } else {
        for j in 0..<k where j != c && j != top {
          let p = g[j] / total
          g[j] = up[j] == 1 ? p * (f * beta[j] - dot) : pu(p, j) - p * dot
        }
        // u_M - Σ p u = u_M (1 - p_M) - Σ_{k != M} p_k u_k with 1 - p_M = s' / (1 + s'):
        // no cancellation when the wrong class M takes almost all the mass.
        if top >= 0 { g[top] = puTop * (r.sPrime / total) - pTop * rest }
      }
      g[c] = row.p * (uc * row.q - (others + puTop))
    }
  }

  /// One row of the macro-F1-weighted cross-entropy with `A_c = 1 - F_c/2`
  /// and `B_k = F_k/2` (the rule must have no offsets, scale or margins):
  ///
  ///     l = A_c (-log p_c) + Σ_{k != c} B_k (-log(1 - p_k))
  ///     ∂l/∂z_j = p_j (A_c + B_j - Σ_{k != c, j} B_k r_k)   (j != c),  r_k = p_k / (1 - p_k)
  ///     ∂l/∂z_c = -A_c (1 - p_c) - p_c Σ_{k != c} B_k r_k
  ///
  /// Returns `f l` and writes `f ∂l/∂z` into `g` when non-nil. The odds of a
  /// class at the row's maximum are `1/s'` (huge when it dominates); they are
  /// summed apart and enter only as `p_j / s' = (e_j / s') / (1 + s')` with
  /// `e_j <= s'`. When s' is tiny (the maximum is a wrong class that takes
  /// all the mass), `e_j / s'` and `log s'` are taken relative to the row's
  /// second maximum instead, where they keep their digits. The two terms that
  /// can exceed the largest double, `A_c (m - z_c)` and `B_max (z_max - m2)`,
  /// are then held in quarters and weighted before scaling back up.
  @inlinable
  static func weightedCrossEntropyRow(
    _ batch: SoftmaxBatch, _ i: Int, rule: SoftmaxRule, halfF1: UnsafePointer<Double>,
    factor f: Double, _ g: UnsafeMutablePointer<Double>?, scratch: UnsafeMutablePointer<Double>
  ) -> Double {
    let k = batch.classCount
    let c = batch.labels[i]
    let z = batch.logits + i * k
    let e = g ?? scratch
    let r = SoftmaxKernel.statistics(batch, i, rule, e)
    let total = 1 + r.sPrime
    let sPrime = r.sPrime
    let row = FocalRow(r, gamma: 0)
    let a = 1 - halfF1[c]
    var loss = CompensatedSum()
    // Quarters of the terms that overflow (rows in `rescaledStatistics` units).
    var quarters = 0.0
    var huge = r.unit != 1
    if huge {
      quarters = a * ((r.maximum - r.labelLogit) * (r.unit * 0.25))
      loss.add(a * Elementary.log1p(sPrime))
    } else {
      loss.add(a * row.crossEntropy)
    }
    var smallOdds = 0.0  // Σ B_k r_k over k != c below the maximum
    var maxWeights = 0.0  // Σ B_k over k != c at the maximum (odds 1/s' each)
    var maxIndex = -1
    for j in 0..<k where j != c {
      let b = halfF1[j]
      if e[j] == 1 {
        maxWeights += b
        maxIndex = j
      } else {
        let p = e[j] / total
        smallOdds += b * (e[j] / (total - e[j]))
        loss.add(b * -Elementary.log1p(-p))
      }
    }
    // A unique wrong maximum with s' below 2^-960 (ties make s' >= 1): the
    // second maximum m2 and s'' = Σ_{k != max} exp(z_k - m2) >= 1 rescale s'.
    let rescaled = maxWeights > 0 && sPrime < 0x1p-960
    var m2 = -Double.infinity
    var s2 = 0.0
    if rescaled {
      for l in 0..<k where l != maxIndex && z[l] > m2 { m2 = z[l] }
      for l in 0..<k where l != maxIndex { s2 += Elementary.exp(z[l] - m2) }
    }
    if maxWeights > 0 {
      // -log(1 - p_max) = log(1 + s') - log(s'), s' = Σ_{k != max} e_k; with
      // z_max, not r.maximum, which an overflowing row holds in quarters.
      if rescaled && !(z[maxIndex] - m2).isFinite {
        huge = true
        quarters += maxWeights * (z[maxIndex] * 0.25 - m2 * 0.25)
        loss.add(maxWeights * (Elementary.log1p(sPrime) - Elementary.log(s2)))
      } else {
        let logSPrime =
          rescaled
          ? (m2 - z[maxIndex]) + Elementary.log(s2) : Elementary.log(sPrime)
        loss.add(maxWeights * (Elementary.log1p(sPrime) - logSPrime))
      }
    }
    // A row of weight 0 adds 0, also where its terms sum beyond the largest
    // double (0 × inf would be NaN); otherwise the same bits.
    let weighted = f == 0 ? 0 : huge ? (f * quarters) * 4 + f * loss.value : f * loss.value
    guard let g else { return weighted }
    // (e_j / s') * Σ B_max, for j below the maximum.
    func maxOdds(_ j: Int) -> Double {
      if maxWeights == 0 { return 0 }
      let ratio = rescaled ? Elementary.exp(z[j] - m2) / s2 : e[j] / sPrime
      return ratio * maxWeights
    }
    for j in 0..<k where j != c {
      let b = halfF1[j]
      let p = e[j] / total
      if e[j] == 1 {
        // The other maxima's odds: (maxWeights - b) / s', with s' >= 1 if there are any.
        let otherMax = maxWeights - b
        let rest = otherMax == 0 ? 0 : otherMax / sPrime
        g[j] = f * (p * (a + b - smallOdds - rest))
      } else {
        let oddsJ = b * (e[j] / (total - e[j]))
        g[j] = f * (p * (a + b - (smallOdds - oddsJ)) - maxOdds(j) / total)
      }
    }
    let labelMaxOdds =
      r.labelIsMaximum
      ? (maxWeights == 0 ? 0 : row.p * (maxWeights / sPrime)) : maxOdds(c) / total
    g[c] = f * (-a * row.q - row.p * smallOdds - labelMaxOdds)
    return weighted
  }
}
