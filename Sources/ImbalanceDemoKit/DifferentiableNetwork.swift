// A two-layer network trained through Swift's differentiable programming:
// the layers register their pullbacks, the loss comes from
// ImbalanceLossDifferentiation with the package's exact gradient as its
// pullback, and `valueWithGradient(at:in:)` chains them. Only where the
// toolchain has `_Differentiation`; elsewhere the demo says so.

import ImbalanceLoss

#if canImport(_Differentiation)
import _Differentiation
import ImbalanceLossDifferentiation

/// A fully connected layer on row-major rows, `y_i = W x_i + b`, whose
/// pullback is written by hand: `∂/∂W = Vᵀ X`, `∂/∂b = Σ_i v_i`, `∂/∂X = V W`.
public struct Dense: Differentiable, Sendable {
  /// `W`, `outputCount × inputCount`, row-major.
  public var weights: [Double]
  /// `b`, `outputCount`.
  public var bias: [Double]
  /// Features per input row.
  @noDerivative public let inputCount: Int
  /// Values per output row.
  @noDerivative public let outputCount: Int

  /// A layer with weights drawn from `N(0, 2 / inputCount)` (He et al. 2015)
  /// and zero biases.
  public init(inputCount: Int, outputCount: Int, using generator: inout SplitMix64) {
    self.inputCount = inputCount
    self.outputCount = outputCount
    let deviation = (2 / Double(inputCount)).squareRoot()
    weights = (0..<(inputCount * outputCount)).map { _ in deviation * generator.normal() }
    bias = [Double](repeating: 0, count: outputCount)
  }

  /// The outputs of the rows of `x` (`rows × inputCount`), row-major.
  @differentiable(reverse)
  public func callAsFunction(_ x: [Double]) -> [Double] {
    forward(x)
  }

  func forward(_ x: [Double]) -> [Double] {
    let (d, k) = (inputCount, outputCount)
    let rows = x.count / d
    var y = [Double](repeating: 0, count: rows * k)
    for i in 0..<rows {
      for c in 0..<k {
        var s = bias[c]
        for j in 0..<d { s += weights[c * d + j] * x[i * d + j] }
        y[i * k + c] = s
      }
    }
    return y
  }

  @usableFromInline
  @derivative(of: callAsFunction)
  func pullbackOfCall(
    _ x: [Double]
  ) -> (
    value: [Double],
    pullback: ([Double].TangentVector) -> (TangentVector, [Double].TangentVector)
  ) {
    let (d, k) = (inputCount, outputCount)
    let rows = x.count / d
    let weights = weights
    return (
      forward(x),
      { v in
        var gw = [Double](repeating: 0, count: d * k)
        var gb = [Double](repeating: 0, count: k)
        var gx = [Double](repeating: 0, count: x.count)
        // A zero cotangent may arrive as an empty array.
        if v.base.count == rows * k {
          for i in 0..<rows {
            for c in 0..<k {
              let vic = v.base[i * k + c]
              if vic == 0 { continue }
              gb[c] += vic
              for j in 0..<d {
                gw[c * d + j] += vic * x[i * d + j]
                gx[i * d + j] += vic * weights[c * d + j]
              }
            }
          }
        }
        return (TangentVector(weights: .init(gw), bias: .init(gb)), .init(gx))
      }
    )
  }
}

/// `max(x, 0)` elementwise, with its pullback `v [x > 0]`.
@differentiable(reverse)
public func relu(_ x: [Double]) -> [Double] {
  x.map { Swift.max($0, 0) }
}

@usableFromInline
@derivative(of: relu)
func pullbackOfRelu(
  _ x: [Double]
) -> (value: [Double], pullback: ([Double].TangentVector) -> [Double].TangentVector) {
  (
    relu(x),
    { v in
      guard v.base.count == x.count else { return .init([Double](repeating: 0, count: x.count)) }
      return .init(zip(x, v.base).map { $0 > 0 ? $1 : 0 })
    }
  )
}

/// `output(relu(hidden(x)))`: a network with one hidden ReLU layer.
public struct TwoLayerNetwork: Differentiable, Sendable {
  /// The hidden layer.
  public var hidden: Dense
  /// The output layer: one logit per class.
  public var output: Dense

  /// A network with `hiddenCount` hidden units, its weights drawn from `seed`.
  public init(inputCount: Int, hiddenCount: Int, outputCount: Int, seed: UInt64) {
    var generator = SplitMix64(seed: seed)
    hidden = Dense(inputCount: inputCount, outputCount: hiddenCount, using: &generator)
    output = Dense(inputCount: hiddenCount, outputCount: outputCount, using: &generator)
  }

  /// The logits of the rows of `x`, row-major.
  @differentiable(reverse)
  public func callAsFunction(_ x: [Double]) -> [Double] {
    output(relu(hidden(x)))
  }

  /// The parameter arrays in a fixed order (the optimiser's view).
  var parameters: [[Double]] {
    get { [hidden.weights, hidden.bias, output.weights, output.bias] }
    set {
      (hidden.weights, hidden.bias) = (newValue[0], newValue[1])
      (output.weights, output.bias) = (newValue[2], newValue[3])
    }
  }

  /// A gradient's arrays in the order of `parameters`.
  static func arrays(_ g: TangentVector) -> [[Double]] {
    [g.hidden.weights.base, g.hidden.bias.base, g.output.weights.base, g.output.bias.base]
  }

  /// Trains with Adam as ``LinearModel/train(features:settings:objective:)``
  /// does (the same batches and step rule), each step's gradient from
  /// `valueWithGradient(at:in:)` through `makeLoss(labels)` made
  /// differentiable on the batch's labels.
  ///
  /// - Throws: Whatever the loss's factory throws (a ``LossError``).
  public mutating func train(
    features: [Double], labels: [Int], settings: TrainingSettings,
    makeLoss: ([Int]) throws(LossError) -> DifferentiableLoss
  ) throws(LossError) {
    let d = hidden.inputCount
    let n = features.count / d
    let batchSize = Swift.min(n, Swift.max(1, settings.batchSize ?? n))
    var shuffler = SplitMix64(seed: settings.shuffleSeed)
    var optimizer = Adam(shapes: parameters.map(\.count), rate: settings.learningRate)
    for _ in 0..<settings.epochs {
      let order = batchSize == n ? Array(0..<n) : shuffler.permutation(n)
      for start in stride(from: 0, to: n, by: batchSize) {
        let rows = order[start..<Swift.min(n, start + batchSize)]
        var x: [Double] = []
        x.reserveCapacity(rows.count * d)
        for i in rows { x.append(contentsOf: features[(i * d)..<((i + 1) * d)]) }
        let loss = try makeLoss(rows.map { labels[$0] })
        let g = gradient(at: self) { network in loss(network(x)) }
        optimizer.step(&parameters, gradient: Self.arrays(g))
      }
    }
  }
}

/// Adam (Kingma and Ba 2015; β1 = 0.9, β2 = 0.999, ε = 1e-8) over arrays.
struct Adam {
  var m: [[Double]]
  var v: [[Double]]
  var beta1Power = 1.0
  var beta2Power = 1.0
  let rate: Double

  init(shapes: [Int], rate: Double) {
    m = shapes.map { [Double](repeating: 0, count: $0) }
    v = m
    self.rate = rate
  }

  mutating func step(_ parameters: inout [[Double]], gradient: [[Double]]) {
    let (beta1, beta2, epsilon) = (0.9, 0.999, 1e-8)
    beta1Power *= beta1
    beta2Power *= beta2
    for a in parameters.indices {
      for j in parameters[a].indices {
        let g = gradient[a][j]
        m[a][j] = beta1 * m[a][j] + (1 - beta1) * g
        v[a][j] = beta2 * v[a][j] + (1 - beta2) * g * g
        let mHat = m[a][j] / (1 - beta1Power)
        let vHat = v[a][j] / (1 - beta2Power)
        parameters[a][j] -= rate * mHat / (vHat.squareRoot() + epsilon)
      }
    }
  }
}
#endif

/// The network comparison of the multiclass task: a two-layer network
/// trained through differentiable Swift on a few softmax losses.
public enum DifferentiableComparison {
  /// Hidden units of the network.
  public static let hiddenCount = 32

  /// Whether this toolchain can run it (`_Differentiation` importable).
  public static var isAvailable: Bool {
    #if canImport(_Differentiation)
    true
    #else
    false
    #endif
  }

  /// The losses it trains with, in table order.
  public static let lossNames = ["softmax CE", "logit-adjusted CE (tau 1)"]

  /// Trains the network once per loss of ``lossNames`` on `train` and scores
  /// it on `test` (argmax of the logits); `nil` where ``isAvailable`` is false.
  ///
  /// - Throws: A ``LossError`` if a loss rejects its input.
  public static func run(
    train: Dataset, test: Dataset, settings: TrainingSettings, seed: UInt64,
    progress: (String) -> Void = { _ in }
  ) throws(LossError) -> [(name: String, scores: MulticlassScores)]? {
    #if canImport(_Differentiation)
    let counts = train.classCounts
    let priors = try ClassPriors(counts: counts)
    let k = train.classCount
    let softmax = try SoftmaxCrossEntropy(classCount: k)
    let adjusted = try LogitAdjustedCrossEntropy(priors: priors, tau: 1)
    var results: [(name: String, scores: MulticlassScores)] = []
    for name in lossNames {
      progress(name)
      var network = TwoLayerNetwork(
        inputCount: train.featureCount, hiddenCount: hiddenCount, outputCount: k, seed: seed)
      try network.train(features: train.features, labels: train.labels, settings: settings) {
        (labels) throws(LossError) in
        name == lossNames[0]
          ? try softmax.differentiable(targets: labels)
          : try adjusted.differentiable(targets: labels)
      }
      let predictions = try priors.predictions(logits: network(test.features), tau: 0)
      let confusion = ConfusionMatrix(labels: test.labels, predictions: predictions, classCount: k)
      results.append((name, MulticlassScores(confusion, trainingCounts: counts)))
    }
    return results
    #else
    return nil
    #endif
  }
}
