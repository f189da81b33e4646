// Second derivatives of the softmax cross-entropy and focal rows with respect
// to the logits: the diagonal of each row's K x K Hessian and its product with
// a vector. With a = s z + const, ∂²l/∂z² = s² ∂²l/∂a², and
//
//     cross-entropy (any label smoothing):  H = diag(p) - p pᵀ
//     focal, p = p_c, q = 1 - p, CE = -log p, u = p - onehot(c):
//         H = G (diag(p) - p pᵀ) - p G'(p) u uᵀ
//         G = q^(γ-1) (q + γ p CE),   G' = γ q^(γ-2) (-2q + q CE - (γ-1) p CE)
//
// Implementation goals, in order of priority:
// 1. Accuracy: 1 - p_k at a row maximum is s'/(1 + s'); the focal entries are
//    written with r_k = p_k / q = e_k / Σ_{j != c} e_j so that no negative
//    power of q is ever formed (finite for 0 < γ < 1 as p -> 1):
//        H_cc = p q^γ (q (1 + 2γ) + γ CE (γ p - q))
//        H_kk = q^γ r_k ((q + γ p CE)(1 - p_k) - γ p r_k B),   B = -2q + q CE - (γ-1) p CE
//        (Hv)_c = p q^γ (q (1 + 2γ) + γ CE (γ p - q)) (v_c - R),   R = Σ_{k != c} r_k v_k
//        (Hv)_k = q^γ r_k ((q + γ p CE)(v_k - p·v) + γ p B (v_c - R))
// 2. Edge cases: ignored rows get zeros; p_c = 1 exactly (q = 0) gives zeros.
// 3. Speed: the statistics pass is shared with the gradient; O(K) per row.

extension SoftmaxKernel {
  /// The loss `Σ f_i l_i`; writes the gradient and the Hessian's diagonal,
  /// each diagonal entry of a row raised to at least `floor` (if given) before
  /// the factor `f_i s²` multiplies it.
  @inlinable
  static func runSecondOrder(
    _ batch: SoftmaxBatch, rule: SoftmaxRule, floor: Double?,
    gradient: KernelOutput, hessian: KernelOutput, parallelism: Parallelism
  ) -> Double {
    let k = batch.classCount
    return sumRows(
      batch, rule: rule, outputs: (gradient, hessian), parallelism: parallelism
    ) { batch, i, f, g, h, _ in
      let g = g!
      let h = h!
      let r = statistics(batch, i, rule, h)
      g.update(from: h, count: k)
      let loss = finish(batch, i, rule, r, factor: f, g)
      hessianDiagonal(batch, i, rule, r, factor: f, floor: floor, h)
      return loss
    }
  }

  /// Turns the `e_k` in `h` into `f s² max(∂²l/∂z_k², floor)`.
  @inlinable @inline(__always)
  static func hessianDiagonal(
    _ batch: SoftmaxBatch, _ i: Int, _ rule: SoftmaxRule, _ r: SoftmaxRowStatistics,
    factor f: Double, floor: Double?, _ h: UnsafeMutablePointer<Double>
  ) {
    let k = batch.classCount
    let c = batch.labels[i]
    let total = 1 + r.sPrime
    // f A_c: the row's target mass (1 without `ClassSmoothing`) scales H.
    let scale = f * rule.targetMass(label: c) * rule.scale * rule.scale
    @inline(__always) func complement(_ e: Double) -> Double {
      // 1 - p_k without cancellation: (Σ_{j != k} e_j) / total.
      e == 1 ? r.sPrime / total : 1 - e / total
    }
    // `scale * x` keeps x = 0 as 0 where s² overflowed (0 × inf would be NaN);
    // for a finite scale >= 0 the result is the same bits.
    @inline(__always) func store(_ j: Int, _ x: Double) {
      let y = floor.map { Swift.max(x, $0) } ?? x
      h[j] = y == 0 ? y : scale * y
    }
    let gamma = rule.focusing
    if rule.poly != 0 {
      // Poly-1: H = (diag(p) - p pᵀ) + e (p (diag(p) - p pᵀ) - p u uᵀ), e = ε (1 - eps).
      let row = PolyRow(r, rule)
      for j in 0..<k where j != c {
        let pj = h[j] / total
        store(j, pj * row.otherCurvature(pj, complement: complement(h[j])))
      }
      store(c, row.p * row.q * row.labelCurvature)
      return
    }
    if gamma == 0 {
      // p_k (1 - p_k), vectorised; the tail as in `complement`.
      let inverse = 1 / total
      let atMax = Vector(repeating: r.sPrime * inverse)
      let scalev = Vector(repeating: scale)
      let floorv = Vector(repeating: floor ?? -.infinity)
      var j = 0
      while j + 8 <= k {
        let e = SIMDLoad.load(h + j)
        let p = e * inverse
        let q = (1 - p).replacing(with: atMax, where: e .== 1)
        var x = p * q
        x = x.replacing(with: floorv, where: x .< floorv)
        SIMDLoad.store((scalev * x).replacing(with: x, where: x .== 0), h + j)
        j += 8
      }
      while j < k {
        let e = h[j]
        store(j, (e / total) * complement(e))
        j += 1
      }
      return
    }
    let focal = FocalRow(r, gamma: gamma)
    if focal.others == 0 {
      for j in 0..<k { store(j, 0) }
      return
    }
    let (p, q, qg, ce) = (focal.p, focal.q, focal.power, focal.gradientCrossEntropy)
    let b = -2 * q + q * ce - (gamma - 1) * p * ce
    let a = q + gamma * p * ce
    for j in 0..<k where j != c {
      let e = h[j]
      let rj = e / focal.others
      store(j, qg * rj * (a * complement(e) - gamma * p * rj * b))
    }
    store(c, p * qg * (q * (1 + 2 * gamma) + gamma * ce * (gamma * p - q)))
  }

  /// The loss `Σ f_i l_i`; writes the product of the block-diagonal Hessian
  /// with `vector` into `out`: per row, `f_i s² H_i v_i`.
  @inlinable
  static func runHessianVectorProduct(
    _ batch: SoftmaxBatch, rule: SoftmaxRule, vector: UnsafePointer<Double>,
    into out: UnsafeMutablePointer<Double>, parallelism: Parallelism
  ) -> Double {
    let k = batch.classCount
    return sumRows(
      batch, rule: rule, outputs: (KernelOutput(out), nil), parallelism: parallelism
    ) { batch, i, f, o, _, _ in
      let o = o!
      let r = statistics(batch, i, rule, o)
      let loss = finish(batch, i, rule, r, factor: f, nil)
      hessianVectorRow(batch, i, rule, r, factor: f, vector + i * k, o)
      return loss
    }
  }

  /// Turns the `e_k` in `o` into `f s² (H v)_k` for one row.
  @inlinable @inline(__always)
  static func hessianVectorRow(
    _ batch: SoftmaxBatch, _ i: Int, _ rule: SoftmaxRule, _ r: SoftmaxRowStatistics,
    factor f: Double, _ vector: UnsafePointer<Double>, _ o: UnsafeMutablePointer<Double>
  ) {
    let k = batch.classCount
    let c = batch.labels[i]
    let total = 1 + r.sPrime
    let scale = f * rule.targetMass(label: c) * rule.scale * rule.scale
    // The sums below reach about 3 K max|v|, and focal's coefficients times
    // them (γ + 2)² as much: a row with entries above max/(4K (γ + 2)²) is read
    // scaled down by a power of two (exact) and its product scaled back up, so
    // that nothing overflows before the small factors (p_j, q^γ) multiply it
    // (0 times inf would be NaN).
    var largest = 0.0
    for j in 0..<k { largest = Swift.max(largest, abs(vector[j])) }
    let g2 =
      rule.poly != 0
      ? (2 + 2 * Swift.abs(rule.poly)) * (2 + 2 * Swift.abs(rule.poly))
      : (rule.focusing + 2) * (rule.focusing + 2)
    let limit = Double.greatestFiniteMagnitude / (4 * Double(k) * g2)
    let up =
      largest > limit
      ? Double(sign: .plus, exponent: largest.exponent - limit.exponent + 1, significand: 1) : 1
    let down = 1 / up
    @inline(__always) func v(_ j: Int) -> Double { vector[j] * down }
    // `scale (x up)`, 0 for x = 0 where s² overflowed (see hessianDiagonal),
    // and `scale x` (a signed 0) for a zero factor (a zero-weight row, or one
    // whose weight underflowed) where `x up` overflows: 0, not 0 × inf.
    @inline(__always) func weighted(_ x: Double) -> Double {
      x == 0 ? x : scale == 0 ? scale * x : scale * (x * up)
    }
    // p·v as (Σ_{below max} e_k v_k + Σ_{at max} v_k) / total, the two apart so
    // that v_j - p·v at a maximum j is (s' v_j - below - (other maxima)) / total.
    var below = 0.0
    var atMax = 0.0
    for j in 0..<k {
      if o[j] == 1 { atMax += v(j) } else { below += o[j] * v(j) }
    }
    let pv = (below + atMax) / total
    @inline(__always) func centred(_ j: Int) -> Double {
      o[j] == 1 ? ((r.sPrime * v(j) - below) - (atMax - v(j))) / total : v(j) - pv
    }
    let gamma = rule.focusing
    if rule.poly != 0 {
      // (H v)_j = p_j (boost (v_j - p·v) + e p (v_c - p·v))     j != c
      // (H v)_c = p (v_c - p·v) (1 + e (p - q))
      let row = PolyRow(r, rule)
      let vc = centred(c)
      let labelTerm = row.e * row.p * vc
      for j in 0..<k where j != c {
        o[j] = weighted((o[j] / total) * (row.boost * centred(j) + labelTerm))
      }
      o[c] = weighted(row.p * vc * row.labelCurvature)
      return
    }
    if gamma == 0 {
      // (H v)_j = p_j (v_j - p·v).
      for j in 0..<k { o[j] = weighted((o[j] / total) * centred(j)) }
      return
    }
    let focal = FocalRow(r, gamma: gamma)
    if focal.others == 0 {
      o.update(repeating: 0, count: k)
      return
    }
    let (p, q, qg, ce) = (focal.p, focal.q, focal.power, focal.gradientCrossEntropy)
    let b = -2 * q + q * ce - (gamma - 1) * p * ce
    let a = q + gamma * p * ce
    // R = Σ_{k != c} r_k v_k with r_k = e_k / others.
    var sum = 0.0
    for j in 0..<k where j != c { sum += o[j] * v(j) }
    let bigR = sum / focal.others
    let vc = v(c)
    for j in 0..<k where j != c {
      let rj = o[j] / focal.others
      o[j] = weighted(qg * rj * (a * centred(j) + gamma * p * b * (vc - bigR)))
    }
    // The label's entry has the factor v_c - p·v = q (v_c - R), taken as v_c - R.
    let hcc = p * qg * (q * (1 + 2 * gamma) + gamma * ce * (gamma * p - q))
    o[c] = weighted(hcc * (vc - bigR))
  }
}

/// The Poly-1 quantities of one row (see `SoftmaxKernel.finishPoly`):
/// `p = p_c`, `q = 1 - p`, `e = ε (1 - eps)` and the factors of its second
/// derivatives, each formed as a sum of terms `>= 0` when `e < 0` (`e >= -1`).
@usableFromInline
struct PolyRow {
  @usableFromInline var p: Double
  @usableFromInline var q: Double
  @usableFromInline var e: Double
  /// `1 + e p`.
  @usableFromInline var boost: Double
  /// `1 + e (p - q)`: `H_cc = p q (1 + e (p - q))`.
  @usableFromInline var labelCurvature: Double

  @inlinable @inline(__always)
  init(_ r: SoftmaxRowStatistics, _ rule: SoftmaxRule) {
    let row = FocalRow(r, gamma: 0)
    p = row.p
    q = row.q
    e = rule.poly * (1 - rule.smoothing)
    boost = e >= 0 ? 1 + e * p : (1 + e) - e * q
    labelCurvature = e >= 0 ? 1 + e * (p - q) : (1 + e) - 2 * e * q
  }

  /// `(1 - p_j) + e p (1 - 2 p_j) = boost - p_j (1 + 2 e p)`:
  /// `H_jj = p_j` times it for `j != c`.
  @inlinable @inline(__always)
  func otherCurvature(_ pj: Double, complement: Double) -> Double {
    e >= 0 ? complement + e * p * (complement - pj) : boost - pj * (1 + 2 * e * p)
  }
}
