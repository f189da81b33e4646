/// The standard normal CDF `Φ(x) = erfc(-x / √2) / 2`.
///
/// erfc of a positive argument keeps full relative accuracy in the far left
/// tail, where `1 - erf` would cancel to 0.
public func normalCDF(_ x: Double) -> Double {
  0.5 * Platform.erfc(-x * 0.70710678118654752440)
}

/// Analytic Bayes-optimal figures for the binary task of Menon et al. 2020:
/// `x | y = 1 ~ N(μ, I)`, `x | y = 0 ~ N(-μ, I)`, `P(y = 1) = π`.
///
/// Derivation. The log-likelihood ratio is
///
///     log p(x|1)/p(x|0) = (|x + μ|² - |x - μ|²) / 2 = 2 μ·x
///
/// so the posterior is logistic, `P(y=1|x) = sigmoid(2 μ·x + log(π/(1-π)))`:
/// a linear model can represent it exactly. Every Bayes rule thresholds the
/// projection `s = μ·x / |μ|`, which is `N(±m, 1)` with `m = |μ|` (`m = √2`
/// for `μ = (1, 1)`). Predicting 1 when `s > t`:
///
///     TPR(t) = Φ(m - t)      FPR(t) = Φ(-m - t)
///
/// - Balanced error `(1 - TPR + FPR) / 2` is minimised where the likelihood
///   ratio is 1 (`t = 0`, whatever π): `BER* = Φ(-m)`.
/// - `F1(t) = 2π TPR / (π + π TPR + (1-π) FPR)` (population F1, the ratio of
///   expectations) is maximised numerically: a grid over `t ∈ [-8, 8]` (step
///   1e-3), then golden-section search in the best cell. At the optimum the
///   posterior equals `F1* / 2` (Lipton et al. 2014), which the tests check.
public struct GaussianPairBayes: Sendable, Equatable {
  /// The distance `m = |μ|` of each class mean from the origin.
  public var meanNorm: Double
  /// The positive rate `π`.
  public var positiveRate: Double

  /// The task with class means `±μ`, `|μ| = meanNorm`, and positive rate `π`.
  public init(meanNorm: Double = 2.0.squareRoot(), positiveRate: Double) {
    self.meanNorm = meanNorm
    self.positiveRate = positiveRate
  }

  /// The Bayes-optimal balanced error `Φ(-m)`.
  public var balancedError: Double { normalCDF(-meanNorm) }

  /// The population F1 of the rule `s > t`.
  public func f1(threshold t: Double) -> Double {
    let tpr = normalCDF(meanNorm - t)
    let fpr = normalCDF(-meanNorm - t)
    let p = positiveRate
    return 2 * p * tpr / (p + p * tpr + (1 - p) * fpr)
  }

  /// The threshold on `s` that maximises F1, and that F1.
  public var bestF1: (threshold: Double, f1: Double) {
    let step = 1e-3
    var best = -8.0
    var bestValue = f1(threshold: best)
    for i in 1...16_000 {
      let t = -8 + Double(i) * step
      let value = f1(threshold: t)
      if value > bestValue { (best, bestValue) = (t, value) }
    }
    let t = goldenSectionMaximum(of: f1(threshold:), in: (best - step)...(best + step))
    let value = f1(threshold: t)
    return value > bestValue ? (t, value) : (best, bestValue)
  }

  /// The Bayes posterior logit `2 m s + log(π/(1-π))` at projection `s`.
  public func posteriorLogit(projection s: Double) -> Double {
    2 * meanNorm * s + Platform.log(positiveRate / (1 - positiveRate))
  }
}

/// The maximiser of a unimodal `f` on `interval`, by golden-section search to
/// a bracket of width `tolerance`.
public func goldenSectionMaximum(
  of f: (Double) -> Double, in interval: ClosedRange<Double>, tolerance: Double = 1e-12
) -> Double {
  let invPhi = 0.61803398874989484820  // 1/φ
  var (a, b) = (interval.lowerBound, interval.upperBound)
  var c = b - invPhi * (b - a)
  var d = a + invPhi * (b - a)
  var (fc, fd) = (f(c), f(d))
  while b - a > tolerance {
    if fc >= fd {
      (b, d, fd) = (d, c, fc)
      c = b - invPhi * (b - a)
      fc = f(c)
    } else {
      (a, c, fc) = (c, d, fd)
      d = a + invPhi * (b - a)
      fd = f(d)
    }
  }
  return (a + b) / 2
}
