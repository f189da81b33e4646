#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ImbalanceLoss
import Testing

// Issue 14, points 4 and 5: BinaryFocalLoss.softTargetFocusing
// (.blendedProbability is torchvision's form) and labelSmoothing on
// BinaryCrossEntropy, BinaryFocalLoss and F1WeightedCrossEntropy.
// Peer values: Fixtures/BinarySoftTargetsReference.swift, written by
// Scripts/binary_soft_targets_reference.py (torchvision, optax, torch
// autograd and jax.grad, all in float64).

private func blended(
  gamma: Double, alpha: Double? = nil, labelSmoothing: Double = 0
) -> BinaryFocalLoss {
  var loss = BinaryFocalLoss(gamma: gamma, alpha: alpha)
  loss.softTargetFocusing = .blendedProbability
  loss.labelSmoothing = labelSmoothing
  return loss
}

/// Every entry point's bits: value alone, value and gradient, per-sample
/// values, and value, gradient and Hessian diagonal.
private func entryPointBits<L: SecondOrderLoss>(
  _ loss: L, _ z: [Double], _ y: [Double], _ w: [Double]?
) throws -> [[UInt64]] where L.Target == Double {
  let first = try loss.valueAndGradient(logits: z, targets: y, weights: w)
  let second = try loss.valueGradientAndHessianDiagonal(logits: z, targets: y, weights: w)
  return [
    [try loss.value(logits: z, targets: y, weights: w).bitPattern],
    [first.value.bitPattern] + first.gradient.map(\.bitPattern),
    try loss.perSampleValues(logits: z, targets: y).map(\.bitPattern),
    [second.value.bitPattern] + second.gradient.map(\.bitPattern)
      + second.hessianDiagonal.map(\.bitPattern),
  ]
}

/// A batch with ordinary, large and saturated logits and mixed targets.
private func batch(seed: UInt64, count: Int = 45, hard: Bool) -> ([Double], [Double], [Double]) {
  var rng = SplitMix64(seed: seed)
  let z =
    rng.uniforms(count - 6, in: -12...12) + [1e300, -1e300, 710, -710, 40, -40]
  let y = rng.uniforms(count, in: 0...1).map { hard ? ($0 < 0.5 ? 0 : 1) : $0 }
  let w = rng.uniforms(count, in: 0...3)
  return (z, y, w)
}

@Suite struct BinarySoftTargetOptionsTests {
  // MARK: Peer libraries

  @Test func blendedFocalMatchesTorchvisionAndOptax() throws {
    #expect(peerReference.count == 25)
    for (name, c) in peerReference {
      let y = c.targets == "hard" ? peerHardTargets : peerSoftTargets
      var bce = BinaryCrossEntropy()
      bce.labelSmoothing = c.labelSmoothing
      let focal = blended(gamma: c.gamma, alpha: c.alpha, labelSmoothing: c.labelSmoothing)
      let (value, gradient) =
        c.gamma == 0
        ? try bce.valueAndGradient(logits: peerLogits, targets: y)
        : try focal.valueAndGradient(logits: peerLogits, targets: y)
      let terms =
        c.gamma == 0
        ? try bce.perSampleValues(logits: peerLogits, targets: y)
        : try focal.perSampleValues(logits: peerLogits, targets: y)
      // torch forms 1 - p and 1 - p_t by subtraction (an absolute error of
      // about 1e-16), so compare to 1e-12 relative above 1, absolute below.
      expectClose(value, c.value, relative: 1e-13, floor: 1, name)
      expectClose(gradient, c.gradient, relative: 1e-12, name)
      for (t, e) in zip(terms, c.terms) { expectClose(t, e, relative: 1e-12, floor: 1, name) }
    }
  }

  // MARK: Point 4: the blended form

  @Test func blendedFormIsTheLinearFormOnHardTargetsBitForBit() throws {
    for seed: UInt64 in [1, 2] {
      let (z, y, w) = batch(seed: seed, hard: true)
      for gamma in [0, 0.25, 0.5, 1, 2, 3.3, 5] {
        for weighting in 0..<3 {
          var linear =
            weighting == 0
            ? BinaryFocalLoss(gamma: gamma)
            : weighting == 1
              ? BinaryFocalLoss(gamma: gamma, alpha: 0.25)
              : BinaryFocalLoss(gamma: gamma, positiveWeight: 2, negativeWeight: 0.7)
          for (reduction, floor, ignored) in [
            (Reduction.mean, nil, nil), (.sum, 1e-6, nil), (.mean, nil, 0.0),
          ] as [(Reduction, Double?, Double?)] {
            linear.reduction = reduction
            linear.hessianFloor = floor
            linear.ignoredTarget = ignored
            var other = linear
            other.softTargetFocusing = .blendedProbability
            for weights in [nil, w] {
              #expect(
                try entryPointBits(other, z, y, weights) == entryPointBits(linear, z, y, weights),
                "seed \(seed) gamma \(gamma) weighting \(weighting) \(reduction)")
            }
          }
        }
      }
    }
  }

  @Test func blendedFormGradientAndHessianMatchFiniteDifferences() throws {
    for seed: UInt64 in [11, 12] {
      var rng = SplitMix64(seed: seed)
      let z = rng.uniforms(17, in: -6...6)
      // All soft (and one mixed batch through `checkSecondOrder`).
      let y = rng.uniforms(17, in: 0...1)
      let w = rng.uniforms(17, in: 0...2)
      for gamma in [0.25, 0.5, 1, 2, 3.3] {
        for alpha: Double? in [nil, 0.25] {
          for reduction in [Reduction.mean, .sum] {
            var loss = blended(gamma: gamma, alpha: alpha)
            loss.reduction = reduction
            let note = "seed \(seed) gamma \(gamma) alpha \(String(describing: alpha))"
            try expectGradientMatchesFiniteDifferences(
              loss, logits: z, targets: y, weights: w, note)
            let r = try loss.valueGradientAndHessianDiagonal(logits: z, targets: y, weights: w)
            let fd = try hessianByDifferences(loss, logits: z, targets: y, weights: w)
            expectClose(r.hessianDiagonal, fd, relative: 1e-7, note)
            try checkSecondOrder(loss, seed: seed, range: -6...6)
          }
        }
      }
    }
  }

  @Test func blendedFormAtGammaZeroIsAlphaTimesCrossEntropy() throws {
    // a_t ce: differs from class-weighted BCE for a soft y unless a_pos = a_neg.
    let z = [0.3, -2, 4]
    let y = [0.25, 0.5, 0.9]
    var loss = blended(gamma: 0, alpha: 0.25)
    loss.reduction = .sum
    let terms = try loss.perSampleValues(logits: z, targets: y)
    let bce = try BinaryCrossEntropy().perSampleValues(logits: z, targets: y)
    for i in 0..<3 {
      let a = 0.25 * y[i] + 0.75 * (1 - y[i])
      expectClose(terms[i], a * bce[i], relative: 4e-16)
    }
    try expectGradientMatchesFiniteDifferences(loss, logits: z, targets: y)
    try checkSecondOrder(loss, seed: 3)
    // Equal class weights: the two forms are the same loss (and the same kernel).
    #expect(
      try blended(gamma: 0).valueAndGradient(logits: z, targets: y)
        == BinaryCrossEntropy().valueAndGradient(logits: z, targets: y))
  }

  @Test func blendedFormSaturatedLogitsAreFiniteAndExact() throws {
    // z = ±1e300, y = 1/2: m = 1 - p_t = 1/2 exactly, ce = 1e300 / 2, r = 0:
    // l = 2^-γ 1e300 / 2, slope = ±2^-γ / 2, curvature 0.
    for gamma in [0.25, 0.5, 1, 2, 3.3] {
      var loss = blended(gamma: gamma)
      loss.reduction = .sum
      let r = try loss.valueGradientAndHessianDiagonal(
        logits: [1e300, -1e300], targets: [0.5, 0.5])
      let m = pow(2, -gamma)
      expectClose(r.value, m * 1e300, relative: 1e-15)
      expectClose(r.gradient[0], m / 2, relative: 1e-15)
      expectClose(r.gradient[1], -m / 2, relative: 1e-15)
      #expect(r.hessianDiagonal == [0, 0])
      // Every extreme logit with soft, hard and smoothed targets: finite.
      for eps in [0, 0.1] {
        loss.labelSmoothing = eps
        let z = [1e300, -1e300, 710, -710, .greatestFiniteMagnitude / 4, 745.5, -745.5]
        for y in [0.0, 1, 0.3, 0.999, 1e-300, 1 - 0x1p-53] {
          let t = [Double](repeating: y, count: z.count)
          let s = try loss.valueGradientAndHessianDiagonal(logits: z, targets: t)
          #expect(s.value.isFinite, "gamma \(gamma) y \(y) eps \(eps)")
          #expect(s.gradient.allSatisfy { $0.isFinite }, "gamma \(gamma) y \(y) eps \(eps)")
          #expect(s.hessianDiagonal.allSatisfy { $0.isFinite }, "gamma \(gamma) y \(y) eps \(eps)")
          #expect(try loss.perSampleValues(logits: z, targets: t).allSatisfy { $0.isFinite })
        }
      }
    }
  }

  // MARK: Point 5: label smoothing

  @Test func smoothingIsTheLossOfThePreSmoothedTargetsBitForBit() throws {
    // y (1 - eps) + eps / 2 in the kernel, in the same operations as a caller
    // would smooth the batch: the same bits, F1's batch F included.
    for seed: UInt64 in [31, 32] {
      for hard in [true, false] {
        let (z, y, w) = batch(seed: seed, hard: hard)
        for eps in [0.1, 0.5, 1, 0x1p-40] {
          let smoothedY = y.map { $0 * (1 - eps) + eps / 2 }
          for (loss, plain) in zip(smoothedLosses(eps), smoothedLosses(0)) {
            for weights in [nil, w] {
              #expect(
                try loss.bits(z, y, weights) == plain.bits(z, smoothedY, weights),
                "\(loss.name) seed \(seed) eps \(eps)")
            }
          }
        }
      }
    }
  }

  @Test func smoothingZeroIsTheDefaultBitForBit() throws {
    let (z, y, w) = batch(seed: 41, hard: false)
    for (zero, negativeZero) in zip(smoothedLosses(0), smoothedLosses(-0.0)) {
      #expect(try zero.bits(z, y, w) == negativeZero.bits(z, y, w), "\(zero.name)")
    }
    let plain = Subject("BCE", BinaryCrossEntropy(positiveWeight: 3, negativeWeight: 0.5),
      \.ignoredTarget)
    #expect(try plain.bits(z, y, w) == smoothedLosses(0)[0].bits(z, y, w))
  }

  @Test func smoothedGradientsAndHessiansMatchFiniteDifferences() throws {
    for seed: UInt64 in [51, 52] {
      for eps in [0.1, 0.3] {
        for loss in smoothedLosses(eps) {
          var rng = SplitMix64(seed: seed)
          let z = rng.uniforms(15, in: -6...6)
          let y = rng.labels(15, positiveRate: 0.4)
          let w = rng.uniforms(15, in: 0...2)
          try loss.checkDerivatives(z, y, w, seed, eps)
        }
      }
    }
  }

  @Test func ignoredTargetIsMatchedBeforeSmoothing() throws {
    // Marker 1 (a raw target, not a smoothed one) and marker NaN.
    let z = [0.3, -2, 5, 1, -0.5]
    for marker in [1.0, .nan] {
      let y = [0, marker, 0, 0.5, marker]
      for loss in smoothedLosses(0.2) {
        let masked = try loss.masked(marker, z, y)
        let kept = try loss.bits([0.3, 5, 1], [0.0, 0, 0.5], nil)
        let pick = { (x: [UInt64]) in [x[0], x[1], x[3], x[4]] }
        // value, gradient; value, gradient, Hessian (skipping samples 1 and 4).
        #expect(pick(masked[1]) == kept[1], "\(loss.name) marker \(marker)")
        #expect(masked[1][2] == 0 && masked[1][5] == 0, "\(loss.name)")
        let h = masked[3]
        #expect(
          [h[0], h[1], h[3], h[4], h[6], h[8], h[9]] == kept[3], "\(loss.name) marker \(marker)")
        #expect(h[2] == 0 && h[5] == 0 && h[7] == 0 && h[10] == 0, "\(loss.name)")
        #expect(masked[2][1] == 0 && masked[2][4] == 0, "\(loss.name)")
      }
    }
  }

  @Test func invalidSmoothingThrowsAndLeavesBuffersUntouched() throws {
    for bad in [-0.1, 1.1, -.leastNonzeroMagnitude, 1 + 0x1p-52, .nan, .infinity, -.infinity] {
      for loss in smoothedLosses(bad) {
        loss.expectRejected(bad)
      }
    }
  }
}

// MARK: The three losses with smoothing, type-erased

/// One smoothed loss with its checks, built from a concrete type.
private struct Subject {
  let name: String
  let bits: ([Double], [Double], [Double]?) throws -> [[UInt64]]
  let masked: (Double, [Double], [Double]) throws -> [[UInt64]]
  let checkDerivatives: ([Double], [Double], [Double], UInt64, Double) throws -> Void
  let expectRejected: (Double) -> Void

  init<L: SecondOrderLoss>(
    _ name: String, _ loss: L, _ ignored: WritableKeyPath<L, Double?>,
    frozen: ((Double) -> L)? = nil
  ) where L.Target == Double {
    self.name = name
    bits = { z, y, w in try entryPointBits(loss, z, y, w) }
    masked = { marker, z, y in
      var m = loss
      m[keyPath: ignored] = marker
      return try entryPointBits(m, z, y, nil)
    }
    checkDerivatives = { z, y, w, seed, eps in
      let note = "\(name) seed \(seed) eps \(eps)"
      if let frozen {
        // The batch F is held constant in the gradient (a stop-gradient):
        // the gradient is that of the loss with F frozen at the smoothed
        // batch's own F, which finite differences check.
        let f = try SmoothF1Loss().f1(
          logits: z, targets: y.map { $0 * (1 - eps) + eps / 2 }, weights: w)
        let fixed = frozen(f)
        expectClose(
          try loss.gradient(logits: z, targets: y, weights: w),
          try fixed.gradient(logits: z, targets: y, weights: w), relative: 1e-14, note)
        try expectGradientMatchesFiniteDifferences(fixed, logits: z, targets: y, weights: w, note)
        try checkSecondOrder(fixed, seed: seed, range: -6...6)
        return
      }
      try expectGradientMatchesFiniteDifferences(loss, logits: z, targets: y, weights: w, note)
      try checkSecondOrder(loss, seed: seed, range: -6...6)
    }
    expectRejected = { bad in
      let z = [0.5, 1]
      let y = [1.0, 0]
      var gradient = [Double](repeating: 42, count: 2)
      var hessian = [Double](repeating: 42, count: 2)
      var values = [Double](repeating: 42, count: 2)
      func check(_ body: () throws(LossError) -> Void) {
        do {
          try body()
          Issue.record("\(name) eps \(bad): no error")
        } catch {
          guard case .invalidParameter(let parameter, let value, let requirement) = error else {
            Issue.record("\(name): \(error)")
            return
          }
          #expect(parameter == "labelSmoothing" && requirement == "in [0, 1]", "\(name)")
          #expect(value.bitPattern == bad.bitPattern, "\(name)")
        }
      }
      z.withUnsafeBufferPointer { zb in
        y.withUnsafeBufferPointer { yb in
          gradient.withUnsafeMutableBufferPointer { g in
            hessian.withUnsafeMutableBufferPointer { h in
              check { () throws(LossError) in
                _ = try loss.valueGradientAndHessianDiagonal(
                  logits: zb, targets: yb, weights: nil, gradient: g, hessianDiagonal: h)
              }
              check { () throws(LossError) in
                _ = try loss.valueAndGradient(logits: zb, targets: yb, weights: nil, gradient: g)
              }
            }
          }
          values.withUnsafeMutableBufferPointer { v in
            check { () throws(LossError) in
              try loss.perSampleValues(logits: zb, targets: yb, into: v)
            }
          }
        }
      }
      #expect(gradient == [42, 42] && hessian == [42, 42] && values == [42, 42], "\(name)")
    }
  }
}

/// BCE, focal (linear and blended) and F1-weighted CE with smoothing `eps`.
private func smoothedLosses(_ eps: Double) -> [Subject] {
  var bce = BinaryCrossEntropy(positiveWeight: 3, negativeWeight: 0.5)
  bce.labelSmoothing = eps
  var focal = BinaryFocalLoss(gamma: 2, alpha: 0.25)
  focal.labelSmoothing = eps
  var focalHalf = BinaryFocalLoss(gamma: 0.5)
  focalHalf.labelSmoothing = eps
  var batchF = F1WeightedCrossEntropy()
  batchF.labelSmoothing = eps
  var heldF = F1WeightedCrossEntropy(f1: 0.3)
  heldF.labelSmoothing = eps
  return [
    Subject("BCE", bce, \.ignoredTarget),
    Subject("focal", focal, \.ignoredTarget),
    Subject("focal 0.5", focalHalf, \.ignoredTarget),
    Subject("blended", blended(gamma: 2, alpha: 0.25, labelSmoothing: eps), \.ignoredTarget),
    Subject("blended 0.5", blended(gamma: 0.5, labelSmoothing: eps), \.ignoredTarget),
    Subject(
      "F1 batch", batchF, \.ignoredTarget,
      frozen: {
        var l = F1WeightedCrossEntropy(f1: $0)
        l.labelSmoothing = eps
        return l
      }),
    Subject("F1 held", heldF, \.ignoredTarget),
  ]
}
