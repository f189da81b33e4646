import ImbalanceLoss
import Testing

@testable import ImbalanceDemoKit

@Test func logitsAreWxPlusB() {
  var model = LinearModel(inputCount: 2, outputCount: 2)
  model.parameters = [1, 2, -3, 0.5, 10, -20]  // W = [[1, 2], [-3, 0.5]], b = [10, -20]
  let data = Dataset(features: [1, 1, 2, -4], labels: [0, 1], featureCount: 2, classCount: 2)
  // Row (1, 1): 1 + 2 + 10 = 13, -3 + 0.5 - 20 = -22.5;
  // row (2, -4): 2 - 8 + 10 = 4, -6 - 2 - 20 = -28.
  #expect(model.logits(data) == [13, -22.5, 4, -28])
  #expect(Array(model.weights(1)) == [-3, 0.5])
  #expect(model.bias(0) == 10)
}

@Test func parameterGradientMatchesCentralDifferences() throws {
  var generator = SplitMix64(seed: 21)
  let (n, d, k) = (7, 3, 4)
  let features = (0..<(n * d)).map { _ in generator.normal() }
  let labels = (0..<n).map { $0 % k }
  var model = LinearModel(inputCount: d, outputCount: k)
  model.parameters = model.parameters.map { _ in generator.normal() }
  let loss = try SoftmaxCrossEntropy(classCount: k)
  func value(_ parameters: [Double]) throws -> Double {
    var m = model
    m.parameters = parameters
    var z = [Double](repeating: 0, count: n * k)
    m.logits(features, into: &z)
    return try loss.value(logits: z, targets: labels)
  }
  var z = [Double](repeating: 0, count: n * k)
  model.logits(features, into: &z)
  let g = try loss.gradient(logits: z, targets: labels)
  var analytic = model.parameters
  model.parameterGradient(features, logitGradient: g, into: &analytic)
  // Central differences with h = cbrt(ε) max(1, |θ|): error ≈ ε^(2/3) ≈ 4e-11
  // relative to the scale of L (≈ 1); 1e-7 is far above that and far below a
  // real error in the chain rule.
  for j in model.parameters.indices {
    var up = model.parameters
    var down = model.parameters
    let h = 6.055454452393343e-06 * max(1, abs(up[j]))
    up[j] += h
    down[j] -= h
    let numeric = (try value(up) - (try value(down))) / (up[j] - down[j])
    #expect(abs(numeric - analytic[j]) < 1e-7, "parameter \(j): \(numeric) vs \(analytic[j])")
  }
}

@Test func trainingSeparatesASeparableSet() throws {
  let data = Dataset(
    features: [-2, -1, -0.5, 0.5, 1, 2], labels: [0, 0, 0, 1, 1, 1], featureCount: 1,
    classCount: 2)
  var model = LinearModel(inputCount: 1, outputCount: 1)
  let targets = data.binaryTargets
  for batchSize in [nil, 2] as [Int?] {
    model = LinearModel(inputCount: 1, outputCount: 1)
    try model.train(
      features: data.features,
      settings: TrainingSettings(
        epochs: 200, learningRate: 0.05, batchSize: batchSize, shuffleSeed: 1)
    ) { z, rows, _, gradient throws(LossError) in
      try BinaryCrossEntropy().valueAndGradient(
        logits: z, targets: rows.map { targets[$0] }, gradient: &gradient)
    }
    #expect(
      model.logits(data).map { $0 > 0 ? 1 : 0 } == data.labels,
      "batch \(String(describing: batchSize))")
  }
}
