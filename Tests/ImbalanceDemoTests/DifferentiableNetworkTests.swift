#if canImport(_Differentiation)
import _Differentiation
import ImbalanceLoss
import ImbalanceLossDifferentiation
import Testing

@testable import ImbalanceDemoKit

/// The network's gradient from `gradient(at:in:)` is the chain rule applied
/// by hand: the loss's exact gradient `G = ∂L/∂z`, then `∂/∂W2 = Gᵀ A`,
/// `∂/∂A = G W2`, through the ReLU mask into `∂/∂W1 = Hᵀ X`.
@Test(arguments: [0, 1] as [Int])
func networkGradientIsTheChainRuleByHand(lossIndex: Int) throws {
  let (d, h, k, rows) = (3, 5, 4, 7)
  let network = TwoLayerNetwork(inputCount: d, hiddenCount: h, outputCount: k, seed: 11)
  var generator = SplitMix64(seed: 5)
  let x = (0..<(rows * d)).map { _ in generator.normal() }
  let labels = [0, 3, 1, 1, 2, 0, 3]
  let base: any Loss<Int> =
    lossIndex == 0
    ? try SoftmaxCrossEntropy(classCount: k)
    : try LogitAdjustedCrossEntropy(priors: ClassPriors(counts: [40, 10, 5, 1]), tau: 1)
  let loss = try base.differentiable(targets: labels)
  let g = gradient(at: network) { n in loss(n(x)) }

  // By hand.
  let pre = network.hidden.forward(x)
  let a = pre.map { max($0, 0) }
  let z = network.output.forward(a)
  let gz = try loss.valueAndGradient(logits: z).gradient
  var gw2 = [Double](repeating: 0, count: k * h)
  var gb2 = [Double](repeating: 0, count: k)
  var ga = [Double](repeating: 0, count: rows * h)
  for i in 0..<rows {
    for c in 0..<k {
      gb2[c] += gz[i * k + c]
      for j in 0..<h {
        gw2[c * h + j] += gz[i * k + c] * a[i * h + j]
        ga[i * h + j] += gz[i * k + c] * network.output.weights[c * h + j]
      }
    }
  }
  let gpre = zip(ga, pre).map { $1 > 0 ? $0 : 0 }
  var gw1 = [Double](repeating: 0, count: h * d)
  var gb1 = [Double](repeating: 0, count: h)
  for i in 0..<rows {
    for c in 0..<h {
      gb1[c] += gpre[i * h + c]
      for j in 0..<d { gw1[c * d + j] += gpre[i * h + c] * x[i * d + j] }
    }
  }
  for (automatic, manual) in zip(TwoLayerNetwork.arrays(g), [gw1, gb1, gw2, gb2]) {
    #expect(automatic.count == manual.count)
    for (u, v) in zip(automatic, manual) {
      #expect(abs(u - v) <= 1e-14 * max(1, abs(v)), "\(u) vs \(v)")
    }
  }

  // And central differences on every parameter.
  let step = 1e-6
  var parameters = network.parameters
  for array in parameters.indices {
    for j in parameters[array].indices {
      let saved = parameters[array][j]
      func value(_ p: Double) throws -> Double {
        var shifted = network
        var q = parameters
        q[array][j] = p
        shifted.parameters = q
        return try loss.valueAndGradient(logits: shifted(x)).value
      }
      let difference = (try value(saved + step) - value(saved - step)) / (2 * step)
      let analytic = TwoLayerNetwork.arrays(g)[array][j]
      #expect(abs(difference - analytic) <= 1e-6 * max(1, abs(analytic)))
      parameters[array][j] = saved
    }
  }
}

/// Training lowers the loss and is deterministic: two runs, the same bits.
@Test func networkTrainingIsDeterministicAndLearns() throws {
  let task = MulticlassTask(imbalance: 10)
  let (_, data) = task.data(seed: 3)
  let settings = TrainingSettings(epochs: 2, learningRate: 0.01, batchSize: 64, shuffleSeed: 9)
  let loss = try SoftmaxCrossEntropy(classCount: task.classCount)
  func trained() throws -> TwoLayerNetwork {
    var network = TwoLayerNetwork(
      inputCount: task.dimension, hiddenCount: 8, outputCount: task.classCount, seed: 1)
    try network.train(features: data.train.features, labels: data.train.labels, settings: settings) {
      (labels) throws(LossError) in try loss.differentiable(targets: labels)
    }
    return network
  }
  let first = try trained()
  let second = try trained()
  #expect(first.parameters == second.parameters)
  let untrained = TwoLayerNetwork(
    inputCount: task.dimension, hiddenCount: 8, outputCount: task.classCount, seed: 1)
  func meanLoss(_ n: TwoLayerNetwork) throws -> Double {
    try loss.value(logits: n(data.train.features), targets: data.train.labels)
  }
  #expect(try meanLoss(first) < 0.9 * meanLoss(untrained))
}
#endif
