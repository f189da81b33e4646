#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ImbalanceLoss
import Testing

/// A soft overlap loss (smooth F1, soft Dice, Tversky) as one value, so the
/// tests run over the three with one body.
private struct OverlapLoss: Sendable, CustomStringConvertible {
  let name: String
  let make: @Sendable (OverlapForm) -> any Loss<Double>

  var description: String { name }

  func value(_ form: OverlapForm, _ z: [Double], _ y: [Double], _ w: [Double]? = nil) throws
    -> Double
  {
    try make(form).value(logits: z, targets: y, weights: w)
  }

  func valueAndGradient(
    _ form: OverlapForm, _ z: [Double], _ y: [Double], _ w: [Double]? = nil
  ) throws -> (value: Double, gradient: [Double]) {
    try make(form).valueAndGradient(logits: z, targets: y, weights: w)
  }
}

private func smoothF1(ignoring marker: Double? = nil) -> OverlapLoss {
  OverlapLoss(name: "SmoothF1Loss()") { form in
    var l = SmoothF1Loss()
    l.overlap = form
    l.ignoredTarget = marker
    return l
  }
}

private func dice(_ smoothing: Double, ignoring marker: Double? = nil) -> OverlapLoss {
  OverlapLoss(name: "SoftDiceLoss(smoothing: \(smoothing))") { form in
    var l = SoftDiceLoss(smoothing: smoothing)
    l.overlap = form
    l.ignoredTarget = marker
    return l
  }
}

private func tversky(
  _ alpha: Double, _ beta: Double, _ smoothing: Double, ignoring marker: Double? = nil
) -> OverlapLoss {
  OverlapLoss(name: "TverskyLoss(alpha: \(alpha), beta: \(beta), smoothing: \(smoothing))") {
    form in
    var l = TverskyLoss(alpha: alpha, beta: beta, smoothing: smoothing)
    l.overlap = form
    l.ignoredTarget = marker
    return l
  }
}

private let overlapLosses: [OverlapLoss] = [
  smoothF1(), dice(1), dice(0), tversky(0.3, 0.7, 1), tversky(2, 0.5, 0.25),
  tversky(0, 1, 0), tversky(1, 0, 0.5),
]

private func logit(_ p: Double) -> Double { log(p) - log1p(-p) }

private func sigmoid(_ z: Double) -> Double { 1 / (1 + exp(-z)) }

private func bitsEqual(_ a: [Double], _ b: [Double]) -> Bool {
  a.elementsEqual(b) { $0.bitPattern == $1.bitPattern }
}

@Suite struct SemimetricOverlapTests {
  // MARK: Reference values

  /// MONAI's soft-label formula `tp = (|p|₁ + |y|₁ - |p - y|₁) / 2` in mpmath
  /// at 50 digits, with weights; gradients by mpmath.diff
  /// (Tests/References/semimetric_overlap.py, fixture SemimetricReference.swift).
  @Test func matchesMonaisSoftLabelFormula() throws {
    #expect(semimetricReference.count == 18)
    for reference in semimetricReference {
      let loss: any Loss<Double>
      switch reference.loss {
      case "SmoothF1Loss()": loss = { var l = SmoothF1Loss(); l.overlap = .semimetric; return l }()
      case "SoftDiceLoss(smoothing: 0)":
        loss = { var l = SoftDiceLoss(smoothing: 0); l.overlap = .semimetric; return l }()
      case "SoftDiceLoss()": loss = { var l = SoftDiceLoss(); l.overlap = .semimetric; return l }()
      case "TverskyLoss()": loss = { var l = TverskyLoss(); l.overlap = .semimetric; return l }()
      case "TverskyLoss(alpha: 2, beta: 0.5, smoothing: 0.25)":
        loss = {
          var l = TverskyLoss(alpha: 2, beta: 0.5, smoothing: 0.25)
          l.overlap = .semimetric
          return l
        }()
      case "TverskyLoss(alpha: 0, beta: 1, smoothing: 0)":
        loss = {
          var l = TverskyLoss(alpha: 0, beta: 1, smoothing: 0)
          l.overlap = .semimetric
          return l
        }()
      default:
        Issue.record("unknown loss \(reference.loss)")
        continue
      }
      let why = "\(reference.loss), \(reference.batch)"
      let r = try loss.valueAndGradient(
        logits: reference.logits, targets: reference.targets, weights: reference.weights)
      expectClose(r.value, reference.value, relative: 1e-14, why)
      // Relative to the largest entry: an entry can be a difference of two
      // terms of that size.
      expectClose(r.gradient, reference.gradient, relative: 1e-14, why)
    }
  }

  // MARK: Gradient

  /// The gradient is the derivative of the value on soft targets, away from
  /// the kinks `p = y` (a logit whose p lies within 1e-3 of its target is
  /// moved, so no central difference straddles a kink).
  @Test(arguments: overlapLosses)
  fileprivate func gradientMatchesFiniteDifferences(loss: OverlapLoss) throws {
    for seed: UInt64 in [11, 12, 13] {
      var rng = SplitMix64(seed: seed)
      let y = rng.uniforms(37, in: 0...1).map { $0 < 0.15 ? 0 : ($0 > 0.9 ? 1 : $0) }
      var z = rng.uniforms(37, in: -6...6)
      for i in z.indices where abs(sigmoid(z[i]) - y[i]) < 1e-3 { z[i] += 0.25 }
      let w = rng.uniforms(37, in: 0...2)
      for weights in [nil, w] {
        try expectGradientMatchesFiniteDifferences(
          loss.make(.semimetric), logits: z, targets: y, weights: weights,
          "seed \(seed), \(loss), weights \(weights != nil)")
      }
    }
  }

  /// `Σ w (y + p)` does not depend on the form, so the semimetric smooth F1
  /// is the semimetric soft Dice with ε = 0 and the Tversky loss with
  /// α = β = 1/2 and ε/2, bit for bit, as in the product form.
  @Test func oneKernelForTheThree() throws {
    var rng = SplitMix64(seed: 21)
    let z = rng.uniforms(50, in: -5...5)
    let y = rng.uniforms(50, in: 0...1)
    let w = rng.uniforms(50, in: 0...3)
    for weights in [nil, w] {
      let f1 = try smoothF1().valueAndGradient(.semimetric, z, y, weights)
      let d0 = try dice(0).valueAndGradient(.semimetric, z, y, weights)
      #expect(f1.value.bitPattern == d0.value.bitPattern && bitsEqual(f1.gradient, d0.gradient))
      let d3 = try dice(3).valueAndGradient(.semimetric, z, y, weights)
      let t = try tversky(0.5, 0.5, 1.5).valueAndGradient(.semimetric, z, y, weights)
      #expect(d3.value.bitPattern == t.value.bitPattern && bitsEqual(d3.gradient, t.gradient))
    }
    // SmoothF1Loss.f1 uses the loss's form: F = 1 - L.
    var loss = SmoothF1Loss()
    loss.overlap = .semimetric
    let f = try loss.f1(logits: z, targets: y)
    let value = try loss.value(logits: z, targets: y)
    #expect(abs((1 - f) - value) <= 2 * value.ulp)
    #expect(try f != SmoothF1Loss().f1(logits: z, targets: y))
  }

  // MARK: Hard labels

  /// On hard 0/1 labels the semimetric form is the product form to the bit,
  /// value and gradient: with and without weights (zeros among them), with
  /// ignored samples, saturated logits (p rounding to exactly 0 or 1: the
  /// ties `p = y`), serial and threaded, in batches long enough to be split
  /// into chunks. These losses have no reduction: the weights are the only
  /// scaling there is.
  @Test(arguments: overlapLosses)
  fileprivate func hardLabelsGiveTheProductFormsBits(loss: OverlapLoss) throws {
    let extremes = [1e300, -1e300, 710, -710, 40, -40, 745.2, -745.2, 0, 1e-300]
    for seed: UInt64 in 0..<8 {
      var rng = SplitMix64(seed: 0x4841_5244 ^ seed)
      let n = [1, 7, 64, 3001][Int(seed % 4)]
      let y = rng.labels(n, positiveRate: seed % 2 == 0 ? 0.3 : 0.05)
      let z = rng.uniforms(n, in: -12...12).map {
        rng.uniform(0...1) < 0.2 ? extremes[Int(rng.next() % UInt64(extremes.count))] : $0
      }
      let w = rng.uniforms(n, in: 0...3).map { $0 < 0.3 ? 0 : $0 }
      let allZero = !w.contains { $0 > 0 }
      for weights in allZero ? [nil] : [nil, w] {
        for parallelism in [Parallelism.serial, .automatic] {
          let product = try with(loss.make(.product), parallelism)
            .valueAndGradient(logits: z, targets: y, weights: weights)
          let semimetric = try with(loss.make(.semimetric), parallelism)
            .valueAndGradient(logits: z, targets: y, weights: weights)
          #expect(
            product.value.bitPattern == semimetric.value.bitPattern
              && bitsEqual(product.gradient, semimetric.gradient),
            "seed \(seed), n \(n), \(loss), weights \(weights != nil), \(parallelism)")
        }
      }
    }
    // Ignored samples (marker -1) among hard labels.
    let marked = OverlapLoss(name: loss.name) { form in
      var l = loss.make(form)
      l = setIgnored(l, -1)
      return l
    }
    let z = [0.5, -3, 2, 800, -1e300, 4]
    let y = [1.0, -1, 0, 1, 0, -1]
    let a = try marked.valueAndGradient(.product, z, y, [1, 5, 2, 1, 3, 0.5])
    let b = try marked.valueAndGradient(.semimetric, z, y, [1, 5, 2, 1, 3, 0.5])
    #expect(a.value.bitPattern == b.value.bitPattern && bitsEqual(a.gradient, b.gradient))
  }

  // MARK: The minimum

  /// For soft targets the semimetric loss is minimised at `p = y`: it is
  /// (to rounding) 0 there, and moving any one logit away from `logit(y)`
  /// in either direction raises it. The product form fails the same check:
  /// its loss at `p = y` is not minimal along every coordinate.
  @Test(arguments: overlapLosses.filter { !$0.name.contains("alpha: 0.0") && !$0.name.contains("beta: 0.0") })
  fileprivate func softTargetsAreMinimisedAtPEqualsY(loss: OverlapLoss) throws {
    let y = [0.5, 0.05, 0.95, 0.3, 0.8, 0.6, 0.15, 0.5]
    let w = [1.0, 2, 0.5, 1, 1.5, 1, 3, 0.25]
    let optimum = y.map(logit)
    // Offsets along one coordinate: a geometric grid out to ±20 logits.
    let offsets = (0...40).flatMap { k -> [Double] in
      let d = 1e-3 * pow(1.3, Double(k))
      return [-d, d]
    }
    for weights in [nil, w] {
      let atOptimum = try loss.value(.semimetric, optimum, y, weights)
      #expect(atOptimum <= 1e-15, "\(loss): L(logit(y)) = \(atOptimum)")
      for i in y.indices {
        for d in offsets {
          var z = optimum
          z[i] += d
          let moved = try loss.value(.semimetric, z, y, weights)
          #expect(moved > atOptimum, "\(loss): sample \(i), offset \(d): \(moved) <= \(atOptimum)")
        }
      }
      // The product form: at p = y some coordinate still descends.
      let productAtOptimum = try loss.value(.product, optimum, y, weights)
      let productDescends = try y.indices.contains { i in
        try offsets.contains { d in
          var z = optimum
          z[i] += d
          return try loss.value(.product, z, y, weights) < productAtOptimum
        }
      }
      #expect(productDescends, "\(loss): the product form is minimal at p = y here")
    }
  }

  /// The issue's example: one sample with target 1/2. The product soft Dice
  /// keeps falling as p → 1; the semimetric one is minimised at p = 1/2 and
  /// rises on both sides.
  @Test func halfTargetExample() throws {
    let grid = stride(from: -8.0, through: 8.0, by: 0.25).map { $0 }
    for loss in [dice(0), dice(1), smoothF1(), tversky(0.3, 0.7, 1)] {
      let product = try grid.map { try loss.value(.product, [$0], [0.5]) }
      let semimetric = try grid.map { try loss.value(.semimetric, [$0], [0.5]) }
      // Product: strictly decreasing all the way to z = 8 (p = 0.9997).
      #expect(zip(product, product.dropFirst()).allSatisfy { $0 > $1 }, "\(loss)")
      // Semimetric: decreasing to z = 0 (p = 1/2), where it is 0, increasing after.
      let middle = grid.firstIndex(of: 0)!
      #expect(semimetric[middle] == 0, "\(loss)")
      #expect(
        zip(semimetric[..<middle], semimetric[1...middle]).allSatisfy { $0 > $1 }, "\(loss)")
      #expect(
        zip(semimetric[middle...], semimetric[(middle + 1)...]).allSatisfy { $0 < $1 }, "\(loss)")
    }
  }

  /// Gradient descent on the semimetric soft Dice from z = 0 drives every p
  /// to its soft target; the product form drives the soft positives to 1.
  @Test func gradientDescentReachesTheTargets() throws {
    let y = [0.9, 0.1, 0.7, 0.3, 0.55]
    var semimetric = [Double](repeating: 0, count: y.count)
    var product = semimetric
    let loss = dice(1)
    for step in 0..<4000 {
      let rate = step < 2000 ? 2.0 : 0.2
      let gs = try loss.valueAndGradient(.semimetric, semimetric, y).gradient
      let gp = try loss.valueAndGradient(.product, product, y).gradient
      for i in y.indices {
        semimetric[i] -= rate * gs[i]
        product[i] -= rate * gp[i]
      }
    }
    for i in y.indices {
      #expect(abs(sigmoid(semimetric[i]) - y[i]) < 1e-2, "p \(sigmoid(semimetric[i])) y \(y[i])")
    }
    // The product form's probabilities are pushed past every soft target above 1/2.
    #expect(y.indices.contains { abs(sigmoid(product[$0]) - y[$0]) > 0.05 })
  }

  // MARK: Extreme and invalid input

  /// Saturated logits give finite values and gradients; the value matches a
  /// hand count with p exactly 0 or 1.
  @Test func extremeLogitsStayFinite() throws {
    let z = [1e300, -1e300, 710, -710, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 0]
    let y = [0.3, 0.7, 1, 0, 0.5, 0.2, 0.5]
    for loss in overlapLosses {
      for weights in [nil, [1.0, 2, 0.5, 1, 1e-300, 1e300, 3]] {
        let r = try loss.valueAndGradient(.semimetric, z, y, weights)
        #expect(r.value.isFinite && r.value >= 0 && r.value <= 1, "\(loss)")
        let finite = r.gradient.allSatisfy { $0.isFinite }
        #expect(finite, "\(loss) \(r.gradient)")
      }
    }
    // p = [1, 0, 1, 0, 1, 0, 1/2]: TP = Σ min(p, y) = 0.3 + 0 + 1 + 0 + 0.5 + 0 + 0.5 = 2.3,
    // Σ p = 3.5, Σ y = 3.2: smooth F1 = 1 - 4.6 / 6.7.
    let v = try smoothF1().value(.semimetric, z, y)
    expectClose(v, 2.1 / 6.7, relative: 1e-15)
    // exp(-|z|) = 0 for |z| = 1e300 and the largest double: p (1 - p) = 0 and
    // no gradient; ±710 keep a subnormal one.
    let g = try smoothF1().valueAndGradient(.semimetric, z, y).gradient
    #expect([0, 1, 4, 5].allSatisfy { g[$0] == 0 } && g[6] != 0, "\(g)")
  }

  /// Invalid input throws exactly as with the product form, and leaves the
  /// gradient buffer untouched.
  @Test(arguments: overlapLosses)
  fileprivate func badInputStillThrows(loss: OverlapLoss) {
    let semimetric = loss.make(.semimetric)
    expectCommonBadInputsRejected(semimetric, logits: [0.3, -1, 2], targets: [0.2, 1, 0.5])
    for (index, bad) in [(1, -0.5), (2, 1.5), (0, Double.nan), (2, .infinity)] {
      var y = [0.2, 1, 0.5]
      y[index] = bad
      expectError(.targetOutOfRange(index: index, value: bad), "\(loss)") {
        _ = try semimetric.value(logits: [0.3, -1, 2], targets: y)
      }
      var gradient = [Double](repeating: 7, count: 3)
      expectError(.targetOutOfRange(index: index, value: bad), "\(loss)") {
        _ = try semimetric.valueAndGradient(logits: [0.3, -1, 2], targets: y, gradient: &gradient)
      }
      #expect(gradient == [7, 7, 7])
    }
  }

  /// Ignored samples leave the semimetric sums as they leave the product ones.
  @Test func ignoredSamplesLeaveTheSums() throws {
    let full = try tversky(0.4, 0.9, 0.5).valueAndGradient(
      .semimetric, [0.2, -1, 2], [0.7, 0.1, 0.5], [1, 2, 3])
    let masked = try tversky(0.4, 0.9, 0.5, ignoring: .nan).valueAndGradient(
      .semimetric, [0.2, 7, -1, 2], [0.7, .nan, 0.1, 0.5], [1, 100, 2, 3])
    #expect(masked.value == full.value)
    #expect(masked.gradient == [full.gradient[0], 0, full.gradient[1], full.gradient[2]])
  }

  /// The default is the product form: existing code sees no change.
  @Test func defaultIsTheProductForm() {
    #expect(SmoothF1Loss().overlap == .product)
    #expect(SoftDiceLoss().overlap == .product)
    #expect(TverskyLoss().overlap == .product)
  }
}

/// `loss` with the given parallelism.
private func with(_ loss: any Loss<Double>, _ parallelism: Parallelism) -> any Loss<Double> {
  func set<L: Loss>(_ l: L) -> any Loss<Double> where L.Target == Double {
    var l = l
    l.parallelism = parallelism
    return l
  }
  return set(loss)
}

/// `loss` with `ignoredTarget` set (for the three overlap losses).
private func setIgnored(_ loss: any Loss<Double>, _ marker: Double) -> any Loss<Double> {
  switch loss {
  case var l as SmoothF1Loss:
    l.ignoredTarget = marker
    return l
  case var l as SoftDiceLoss:
    l.ignoredTarget = marker
    return l
  case var l as TverskyLoss:
    l.ignoredTarget = marker
    return l
  default:
    return loss
  }
}
