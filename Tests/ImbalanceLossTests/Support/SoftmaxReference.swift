import Foundation
import ImbalanceLoss

/// A straightforward, unoptimised softmax loss written from the formulas, to
/// check the kernels against: per row
///
///     a_k = s z_k + o_k - s m_c [k == c]
///     t   = (1 - eps) onehot(c) + eps / K
///     CE  : l = logsumexp(a) - Σ t_k a_k,      ∂l/∂z_k = s (p_k - t_k)
///     focal: l = -(1 - p_c)^gamma log p_c      (gradient by the chain rule)
///
/// and `L = Σ v_i l_i / Σ v_i` (or the sum) with `v_i = w_i classWeights[c_i]`.
/// With class weights `a` and smoothing both set, PyTorch's convention
/// instead: `t_k = (1 - eps) a_c [k == c] + eps a_k / K`,
/// `l = (Σ t) logsumexp(a) - Σ t_k a_k`, `L = Σ w_i l_i / Σ v_i`.
struct SoftmaxReference {
  var classCount: Int
  var offsets: [Double]? = nil
  var scale: Double = 1
  var margins: [Double]? = nil
  var smoothing: Double = 0
  var gamma: Double = 0
  /// Smooth accuracy: l = 1 - p_c, ∂l/∂z_k = s p_c (p_k - [k == c]).
  var accuracy = false
  var classWeights: [Double]? = nil
  var ignoreIndex: Int? = nil
  var reduction: Reduction = .mean

  /// The row's adjusted logits.
  func adjusted(_ z: ArraySlice<Double>, label c: Int) -> [Double] {
    (0..<classCount).map { k in
      let o = offsets?[k] ?? 0
      let m = k == c ? (margins?[c] ?? 0) : 0
      return scale * (z[z.startIndex + k] - m) + o
    }
  }

  /// One row's loss and its gradient with respect to z.
  func row(_ z: ArraySlice<Double>, label c: Int) -> (Double, [Double]) {
    if let cw = classWeights, smoothing > 0, gamma == 0, !accuracy {
      let a = adjusted(z, label: c)
      let m = a.max()!
      let lse = m + log(a.map { exp($0 - m) }.reduce(0, +))
      let p = a.map { exp($0 - lse) }
      let k = Double(classCount)
      let t = (0..<classCount).map { j in
        (j == c ? (1 - smoothing) * cw[c] : 0) + smoothing * cw[j] / k
      }
      let mass = t.reduce(0, +)
      var l = mass * lse
      for j in 0..<classCount { l -= t[j] * a[j] }
      return (l, (0..<classCount).map { j in scale * (mass * p[j] - t[j]) })
    }
    let a = adjusted(z, label: c)
    let m = a.max()!
    let lse = m + log(a.map { exp($0 - m) }.reduce(0, +))
    let p = a.map { exp($0 - lse) }
    let eps = smoothing
    let t = (0..<classCount).map { k in (k == c ? 1 - eps : 0) + eps / Double(classCount) }
    if accuracy {
      return (1 - p[c], (0..<classCount).map { k in scale * p[c] * (p[k] - (k == c ? 1 : 0)) })
    }
    if gamma == 0 {
      var l = lse
      for k in 0..<classCount { l -= t[k] * a[k] }
      return (l, (0..<classCount).map { k in scale * (p[k] - t[k]) })
    }
    let ce = lse - a[c]
    let q = 1 - p[c]
    let l = pow(q, gamma) * ce
    // ∂l/∂a_k = (p_k - [k == c]) (q^gamma + gamma p_c q^(gamma-1) ce)
    let g = pow(q, gamma) + gamma * p[c] * pow(q, gamma - 1) * ce
    return (l, (0..<classCount).map { k in scale * (p[k] - (k == c ? 1 : 0)) * g })
  }

  /// The loss and gradient of a batch.
  func evaluate(
    logits: [Double], targets: [Int], weights: [Double]? = nil
  ) -> (value: Double, gradient: [Double]) {
    let k = classCount
    var numerator = 0.0
    var denominator = 0.0
    var gradient = [Double](repeating: 0, count: logits.count)
    var rowGradients: [(Int, Double, [Double])] = []
    for (i, c) in targets.enumerated() where c != ignoreIndex {
      let v = (weights?[i] ?? 1) * (classWeights?[c] ?? 1)
      // The row's own weight: v_i, or w_i where the row carries the class weights.
      let rowCarriesClassWeights = classWeights != nil && smoothing > 0 && gamma == 0 && !accuracy
      let f = rowCarriesClassWeights ? (weights?[i] ?? 1) : v
      let (l, g) = row(logits[(i * k)..<((i + 1) * k)], label: c)
      numerator += f * l
      denominator += v
      rowGradients.append((i, f, g))
    }
    let divisor = reduction == .mean && denominator > 0 ? denominator : 1
    for (i, v, g) in rowGradients {
      for j in 0..<k { gradient[i * k + j] = v / divisor * g[j] }
    }
    return (numerator / divisor, gradient)
  }
}
