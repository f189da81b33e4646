import Testing

@testable import ImbalanceDemoKit

// Reference values: mpmath 1.3 at 40 digits,
//   python3 -c "from mpmath import mp, ncdf, mpf; mp.dps = 40; print(ncdf(mpf('-3')))"
// and the F1 optimum with
//   f1 = lambda t: 2*pi*ncdf(m - t) / (pi + pi*ncdf(m - t) + (1 - pi)*ncdf(-m - t))
//   t = findroot(lambda t: diff(f1, t), 1.0)        # m = sqrt(2), pi = 0.05 (50 digits)
// scipy.stats.norm.cdf(-np.sqrt(2)) = 0.07864960352514251 agrees with the first to 1e-16.

@Test(arguments: [
  (-30.0, 4.9067139271481870595e-198),
  (-10.0, 7.619853024160526066e-24),
  (-3.0, 0.0013498980316300945267),
  (-1.0, 0.15865525393145705141),
  (0.0, 0.5),
  (0.5, 0.69146246127401310364),
  (2.0, 0.9772498680518207928),
  (8.0, 0.9999999999999993779),
])
func normalCDFMatchesMpmath(x: Double, expected: Double) {
  // erfc keeps relative accuracy in the left tail, but rounding -x/√2 (half
  // an ulp) is amplified by the condition number of erfc(u), about 2u² = x²:
  // allow x² ulps (at least 10).
  expectClose(normalCDF(x), expected, relative: 2.2e-16 * max(10, x * x), "x = \(x)")
}

@Test func bayesBalancedErrorIsPhiOfMinusRootTwo() {
  let bayes = GaussianPairBayes(positiveRate: 0.05)
  expectClose(
    bayes.balancedError, 0.078649603525142565329389682458695370351966501016849,
    relative: 1e-14)
  // The balanced-error rule does not depend on the prior.
  #expect(GaussianPairBayes(positiveRate: 0.3).balancedError == bayes.balancedError)
}

@Test(arguments: [
  // (π, optimal threshold t*, best F1), mpmath findroot at 50 digits as above.
  (
    0.05, 0.85035091062788436341056736616371882856289004303787,
    0.73670859578909046519112793797859954143570176458891
  ),
  (
    0.2, 0.38441197050966784643813603993878463796320814631478,
    0.85159750546135570936466577498556687912936144995857
  ),
  (
    0.5, -0.055501956989098003649100322216307729499743996114383,
    0.92166917734331269894625057996078595579054794052929
  ),
])
func bestF1MatchesMpmath(positiveRate: Double, threshold: Double, f1: Double) {
  let best = GaussianPairBayes(positiveRate: positiveRate).bestF1
  // F1 is flat at its maximum, so its value is exact to rounding while the
  // threshold is only located to about sqrt(ε) (F1 differences vanish below that).
  expectClose(best.f1, f1, relative: 1e-14, "π = \(positiveRate)")
  #expect(abs(best.threshold - threshold) < 1e-6, "π = \(positiveRate): t = \(best.threshold)")
}

@Test func optimalF1ThresholdIsHalfTheBestF1OnThePosterior() {
  // Lipton, Elkan and Naryanaswamy 2014: the F1-optimal rule thresholds the
  // posterior at F1*/2. An identity independent of how bestF1 is computed.
  for rate in [0.01, 0.05, 0.2] {
    let bayes = GaussianPairBayes(positiveRate: rate)
    let best = bayes.bestF1
    let z = bayes.posteriorLogit(projection: best.threshold)
    let posterior = 1 / (1 + Platform.exp(-z))
    expectClose(posterior, best.f1 / 2, relative: 1e-6, "π = \(rate)")
  }
}

@Test func goldenSectionFindsTheMaximumOfAParabola() {
  let x = goldenSectionMaximum(of: { -($0 - 0.3) * ($0 - 0.3) }, in: -1...2)
  #expect(abs(x - 0.3) < 1e-7)
}
