import ImbalanceLoss
import Testing

@Suite struct LossTests {
  @Test func arrayAndBufferEntryPointsAgree() throws {
    let loss = BinaryCrossEntropy(positiveWeight: 2)
    let array = try loss.valueAndGradient(
      logits: binaryLogits, targets: hardTargets, weights: sampleWeights)
    var gradient = [Double](repeating: .nan, count: 4)
    let value = try binaryLogits.withUnsafeBufferPointer { z in
      try hardTargets.withUnsafeBufferPointer { y in
        try sampleWeights.withUnsafeBufferPointer { w in
          try gradient.withUnsafeMutableBufferPointer { g in
            try loss.valueAndGradient(logits: z, targets: y, weights: w, gradient: g)
          }
        }
      }
    }
    #expect(value == array.value && gradient == array.gradient)
    #expect(try loss.gradient(logits: binaryLogits, targets: hardTargets, weights: sampleWeights)
      == array.gradient)
  }

  @Test func reusableGradientArrayIsResizedOnlyWhenNeeded() throws {
    let loss = SmoothAccuracyLoss()
    var gradient: [Double] = []
    let v = try loss.valueAndGradient(logits: [1, -1], targets: [1, 0], gradient: &gradient)
    #expect(gradient.count == 2)
    #expect(v == (try loss.value(logits: [1, -1], targets: [1, 0])))
    // A throwing call leaves even a wrongly sized array unchanged.
    var stale = [1.0, 2.0, 3.0]
    expectError(.targetOutOfRange(index: 0, value: 3)) {
      _ = try loss.valueAndGradient(logits: [1, -1], targets: [3, 0], gradient: &stale)
    }
    #expect(stale == [1, 2, 3])
  }

  @Test func worksThroughTheProtocol() throws {
    func meanLoss<L: Loss>(_ loss: L, _ z: [Double], _ t: [L.Target]) throws -> Double {
      try loss.value(logits: z, targets: t)
    }
    let binary: [any Loss<Double>] = [
      BinaryCrossEntropy(), SmoothAccuracyLoss(), SmoothF1Loss(), F1WeightedCrossEntropy(),
    ]
    for loss in binary {
      #expect(try meanLoss(loss, binaryLogits, hardTargets).isFinite)
      #expect(loss.logitsPerSample == 1)
    }
    #expect(try LogitAdjustedCrossEntropy(priors: [1, 2, 3]).logitsPerSample == 3)
  }
}
