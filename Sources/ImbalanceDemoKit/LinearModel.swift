import ImbalanceLoss

/// What a training run minimises, evaluated once per step on the logits of a
/// batch whose training-set row indices are `rows`, in pass `epoch` (from 0):
/// returns the loss and writes `∂L/∂logits` into `gradient` (a reusable
/// array, resized by the loss).
///
/// A comparison makes a fresh objective for each training run, so whatever
/// it captures (a running average, a stateful loss's state) belongs to that
/// run: two runs from the same settings take the same steps.
public typealias Objective =
  (_ logits: [Double], _ rows: [Int], _ epoch: Int, _ gradient: inout [Double])
  throws(LossError) -> Double

/// A linear model `z_i = W x_i + b` with `outputCount` logits per row: one for
/// logistic regression, K for a softmax classifier.
public struct LinearModel: Sendable, Equatable {
  /// The number of features per row.
  public let inputCount: Int
  /// The number of logits per row.
  public let outputCount: Int
  /// `W` (`outputCount × inputCount`, row-major) followed by `b` (`outputCount`).
  public var parameters: [Double]

  /// The all-zero model (every class equally likely): training is deterministic.
  public init(inputCount: Int, outputCount: Int) {
    self.inputCount = inputCount
    self.outputCount = outputCount
    parameters = [Double](repeating: 0, count: (inputCount + 1) * outputCount)
  }

  /// The weights of output `k`.
  public func weights(_ k: Int) -> ArraySlice<Double> {
    parameters[(k * inputCount)..<((k + 1) * inputCount)]
  }

  /// The bias of output `k`.
  public func bias(_ k: Int) -> Double { parameters[outputCount * inputCount + k] }

  /// The logits of every row of `data`, row-major (`count × outputCount`).
  public func logits(_ data: Dataset) -> [Double] { logits(features: data.features) }

  /// The logits of rows of `inputCount` features, row-major (`rows × outputCount`).
  public func logits(features: [Double]) -> [Double] {
    var z = [Double](repeating: 0, count: features.count / inputCount * outputCount)
    logits(features, into: &z)
    return z
  }

  func logits(_ features: [Double], into z: inout [Double]) {
    let (d, k) = (inputCount, outputCount)
    let n = features.count / d
    parameters.withUnsafeBufferPointer { p in
      features.withUnsafeBufferPointer { x in
        z.withUnsafeMutableBufferPointer { z in
          for i in 0..<n {
            for c in 0..<k {
              var s = p[k * d + c]
              for j in 0..<d { s += p[c * d + j] * x[i * d + j] }
              z[i * k + c] = s
            }
          }
        }
      }
    }
  }

  /// Writes `∂L/∂W` and `∂L/∂b` into `result` from `∂L/∂z`: `Gᵀ X` and `Σ_i g_i`.
  func parameterGradient(
    _ features: [Double], logitGradient g: [Double], into result: inout [Double]
  ) {
    let (d, k) = (inputCount, outputCount)
    let n = features.count / d
    features.withUnsafeBufferPointer { x in
      g.withUnsafeBufferPointer { g in
        result.withUnsafeMutableBufferPointer { r in
          for m in r.indices { r[m] = 0 }
          for i in 0..<n {
            for c in 0..<k {
              let gic = g[i * k + c]
              if gic == 0 { continue }
              for j in 0..<d { r[c * d + j] += gic * x[i * d + j] }
              r[k * d + c] += gic
            }
          }
        }
      }
    }
  }

  /// Trains the model with Adam (Kingma and Ba 2015; β1 = 0.9, β2 = 0.999,
  /// ε = 1e-8) on `features`: `settings.epochs` passes, each over the rows in
  /// an order drawn from `settings.shuffleSeed`, cut into mini-batches of
  /// `settings.batchSize` rows (the last one may be smaller), or one step on
  /// the whole set per epoch when `batchSize` is `nil`.
  ///
  /// - Throws: Whatever `objective` throws (a ``LossError``).
  public mutating func train(
    features: [Double], settings: TrainingSettings, objective: Objective
  ) throws(LossError) {
    let n = features.count / inputCount
    let batchSize = min(n, max(1, settings.batchSize ?? n))
    var shuffler = SplitMix64(seed: settings.shuffleSeed)
    var batchFeatures: [Double] = []
    var z: [Double] = []
    var g: [Double] = []
    var gradient = parameters
    var m = [Double](repeating: 0, count: parameters.count)
    var v = m
    var (beta1Power, beta2Power) = (1.0, 1.0)
    let (beta1, beta2, epsilon) = (0.9, 0.999, 1e-8)
    let rate = settings.learningRate
    for epoch in 0..<settings.epochs {
      let order = batchSize == n ? Array(0..<n) : shuffler.permutation(n)
      for start in stride(from: 0, to: n, by: batchSize) {
        let rows = Array(order[start..<min(n, start + batchSize)])
        batchFeatures.removeAll(keepingCapacity: true)
        for i in rows {
          batchFeatures.append(contentsOf: features[(i * inputCount)..<((i + 1) * inputCount)])
        }
        if z.count != rows.count * outputCount {
          z = [Double](repeating: 0, count: rows.count * outputCount)
        }
        logits(batchFeatures, into: &z)
        _ = try objective(z, rows, epoch, &g)
        parameterGradient(batchFeatures, logitGradient: g, into: &gradient)
        beta1Power *= beta1
        beta2Power *= beta2
        for j in parameters.indices {
          m[j] = beta1 * m[j] + (1 - beta1) * gradient[j]
          v[j] = beta2 * v[j] + (1 - beta2) * gradient[j] * gradient[j]
          let mHat = m[j] / (1 - beta1Power)
          let vHat = v[j] / (1 - beta2Power)
          parameters[j] -= rate * mHat / (vHat.squareRoot() + epsilon)
        }
      }
    }
  }
}

/// Which entry points of the losses the training steps call.
public enum Precision: String, Sendable {
  /// The `Double` entry points.
  case double
  /// The `Float32` ones (`--float`): the batch's logits, targets and weights
  /// rounded to `Float`, the `Float` gradient widened back for the model's
  /// `Double` update.
  case float32
}

/// How a comparison trains each of its models.
public struct TrainingSettings: Sendable, Equatable {
  /// Passes over the training set.
  public var epochs: Int
  /// Adam's step size.
  public var learningRate: Double
  /// Rows per Adam step, or `nil` for full-batch steps.
  public var batchSize: Int?
  /// The seed of the row order in each epoch.
  public var shuffleSeed: UInt64
  /// The losses' entry points each step calls.
  public var precision: Precision

  /// Settings with `epochs` passes of `batchSize`-row Adam steps of size `learningRate`.
  public init(
    epochs: Int, learningRate: Double, batchSize: Int?, shuffleSeed: UInt64,
    precision: Precision = .double
  ) {
    self.epochs = epochs
    self.learningRate = learningRate
    self.batchSize = batchSize
    self.shuffleSeed = shuffleSeed
    self.precision = precision
  }
}

/// One training step of `loss` in `precision`: its value, the gradient in
/// `gradient` (resized as needed).
func step<L: Loss>(
  _ loss: L, logits z: [Double], targets: [L.Target], weights: [Double]? = nil,
  gradient: inout [Double], precision: Precision
) throws(LossError) -> Double where L.Target: LossTarget {
  guard precision == .float32 else {
    return try loss.valueAndGradient(
      logits: z, targets: targets, weights: weights, gradient: &gradient)
  }
  let (value, g) = try loss.valueAndGradient(
    logits: z.map { Float($0) }, targets: targets.map(\.float32),
    weights: weights.map { $0.map { Float($0) } })
  gradient = g.map { Double($0) }
  return Double(value)
}

/// One step of a stateful loss in `precision`, as ``step(_:logits:targets:weights:gradient:precision:)``.
func step<L: StatefulLoss>(
  _ loss: L, logits z: [Double], targets: [Int], weights: [Double]?,
  gradient: inout [Double], state: inout L.State, precision: Precision
) throws(LossError) -> Double {
  guard precision == .float32 else {
    return try loss.valueAndGradient(
      logits: z, targets: targets, weights: weights, gradient: &gradient, state: &state)
  }
  let (value, g) = try loss.valueAndGradient(
    logits: z.map { Float($0) }, targets: targets, weights: weights.map { $0.map { Float($0) } },
    state: &state)
  gradient = g.map { Double($0) }
  return Double(value)
}
