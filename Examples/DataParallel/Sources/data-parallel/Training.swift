import ImbalanceLoss

/// A linear model with `outputs` logits per sample: `z = W x + b`, W row-major
/// `outputs × featureCount`, stored as `[W..., b...]`.
struct LinearModel {
  var parameters: [Double]
  let outputs: Int
  let featureCount: Int

  init(outputs: Int, featureCount: Int) {
    self.outputs = outputs
    self.featureCount = featureCount
    parameters = [Double](repeating: 0, count: outputs * (featureCount + 1))
  }

  /// Row-major logits of `rows`, `outputs` per row.
  func logits<T>(_ data: DataSet<T>, rows: ArraySlice<Int>) -> [Double] {
    let d = featureCount
    var z = [Double](repeating: 0, count: rows.count * outputs)
    for (r, i) in rows.enumerated() {
      for k in 0..<outputs {
        var s = parameters[outputs * d + k]
        for j in 0..<d { s += parameters[k * d + j] * data.features[i * d + j] }
        z[r * outputs + k] = s
      }
    }
    return z
  }

  /// `∂L/∂θ = Σ_rows (∂L/∂z_i) ⊗ (x_i, 1)` from the logits' gradient, as a
  /// compensated sum (Neumaier): `(hi, lo)` with the sum `hi + lo` carrying
  /// the rounding error of adding the rows, so that the result barely depends
  /// on the order of the rows (or on how they are split across ranks).
  func gradient<T>(
    _ data: DataSet<T>, rows: ArraySlice<Int>, logitGradient g: [Double]
  ) -> (hi: [Double], lo: [Double]) {
    let d = featureCount
    var hi = [Double](repeating: 0, count: parameters.count)
    var lo = hi
    func add(_ x: Double, at p: Int) {
      let t = hi[p] + x
      lo[p] += abs(hi[p]) >= abs(x) ? (hi[p] - t) + x : (x - t) + hi[p]
      hi[p] = t
    }
    for (r, i) in rows.enumerated() {
      for k in 0..<outputs {
        let gk = g[r * outputs + k]
        for j in 0..<d { add(gk * data.features[i * d + j], at: k * d + j) }
        add(gk, at: outputs * d + k)
      }
    }
    return (hi, lo)
  }

  mutating func step(gradient: [Double], learningRate: Double) {
    for p in parameters.indices { parameters[p] -= learningRate * gradient[p] }
  }
}

/// The rows `lo..<hi` of a batch of `count` rows that `rank` of `size` owns:
/// contiguous, sizes differing by at most one (the first `count % size` ranks
/// get one more).
func shard(count: Int, rank: Int, size: Int) -> Range<Int> {
  let base = count / size
  let extra = count % size
  let lo = rank * base + min(rank, extra)
  return lo..<(lo + base + (rank < extra ? 1 : 0))
}

/// The largest `|a_p - b_p|` over the largest `|b_p|`: a difference relative to
/// the size of the weights, not to each weight (a weight near 0 would make an
/// elementwise ratio meaningless).
func relativeDifference(_ a: [Double], _ b: [Double]) -> Double {
  let scale = b.map(abs).max() ?? 0
  let diff = zip(a, b).map { abs($0 - $1) }.max() ?? 0
  return scale > 0 ? diff / scale : diff
}

func gatherTargets<T>(_ data: DataSet<T>, _ rows: ArraySlice<Int>) -> [T] {
  rows.map { data.targets[$0] }
}

func gatherWeights<T>(_ data: DataSet<T>, _ rows: ArraySlice<Int>) -> [Double]? {
  data.weights.map { w in rows.map { w[$0] } }
}

/// One epoch's comparison of the distributed run with the single-process
/// reference (the reference fields only on rank 0).
struct EpochReport {
  var epoch: Int
  var distributedLoss = 0.0  // mean over the epoch's batches of Σ_ranks share
  var referenceLoss = 0.0  // mean over the batches of the whole-batch value
  var lossDifference = 0.0  // largest relative difference of a batch's value
  var weightDifference = 0.0  // relativeDifference(distributed, reference) after the epoch
}

/// Trains `model` by mini-batch gradient descent on `data`, each rank taking a
/// contiguous slice of every batch; on rank 0 also trains a copy the
/// single-process way on whole batches, from the same initial model, and
/// returns one report per epoch (empty reports on the other ranks).
func train<L: DataParallelLoss>(
  loss: L, data: DataSet<L.Target>, model initial: LinearModel,
  batchSize: Int, epochs: Int, learningRate: Double, seed: UInt64,
  localStatistics: Bool = false, communicator comm: Communicator
) throws(LossError) -> (model: LinearModel, reports: [EpochReport]) {
  var model = initial
  var reference = initial  // used on rank 0 only
  let isRoot = comm.rank == 0
  let parameterCount = model.parameters.count
  var shuffle = SplitMix64(seed: seed)  // the same order on every rank
  var logitGradient: [Double] = []
  var referenceGradient: [Double] = []
  var reports: [EpochReport] = []

  for epoch in 1...epochs {
    let order = shuffle.permutation(data.count)
    // Batches of `batchSize` rows; a short last batch joins the one before,
    // so every rank owns at least one row of every batch.
    var starts = Array(stride(from: 0, to: data.count, by: batchSize))
    if starts.count > 1 && data.count - starts.last! < comm.size { starts.removeLast() }
    var report = EpochReport(epoch: epoch)
    for (b, start) in starts.enumerated() {
      let end = b + 1 < starts.count ? starts[b + 1] : data.count
      let batch = order[start..<end]
      let mine = shard(count: batch.count, rank: comm.rank, size: comm.size)
      let rows = batch[(batch.startIndex + mine.lowerBound)..<(batch.startIndex + mine.upperBound)]
      let targets = gatherTargets(data, rows)
      let weights = gatherWeights(data, rows)

      // Phase 1: this shard's statistics, summed over the ranks.
      let logits = model.logits(data, rows: rows)
      let local = try loss.statistics(logits: logits, targets: targets, weights: weights)
      var scalars = local.scalars
      comm.allReduceSum(&scalars)
      let global = localStatistics ? local : try BatchStatistics(scalars: scalars)

      // Phase 2: this shard's share of the value and its rows of the whole
      // batch's gradient; then the model gradient, summed over the ranks as
      // (hi, lo) pairs, with the value shares in the same call.
      let share = try loss.valueAndGradient(
        logits: logits, targets: targets, weights: weights, gradient: &logitGradient,
        statistics: global)
      let (hi, lo) = model.gradient(data, rows: rows, logitGradient: logitGradient)
      var reduced = hi + lo + [share]
      comm.allReduceSum(&reduced)
      // The naive step averages the shards' own losses and gradients, as
      // PyTorch's DistributedDataParallel does.
      let scale = localStatistics ? 1 / Double(comm.size) : 1
      let gradient = (0..<parameterCount).map {
        scale * (reduced[$0] + reduced[parameterCount + $0])
      }
      let value = scale * reduced[2 * parameterCount]
      model.step(gradient: gradient, learningRate: learningRate)

      if isRoot {
        // The single-process reference: the plain loss on the whole batch.
        let all = batch[...]
        let referenceLogits = reference.logits(data, rows: all)
        let referenceValue = try loss.valueAndGradient(
          logits: referenceLogits, targets: gatherTargets(data, all),
          weights: gatherWeights(data, all), gradient: &referenceGradient)
        let (rhi, rlo) = reference.gradient(data, rows: all, logitGradient: referenceGradient)
        reference.step(gradient: zip(rhi, rlo).map { $0 + $1 }, learningRate: learningRate)

        report.distributedLoss += value / Double(starts.count)
        report.referenceLoss += referenceValue / Double(starts.count)
        report.lossDifference = max(
          report.lossDifference, abs(value - referenceValue) / abs(referenceValue))
      }
    }
    if isRoot {
      report.weightDifference = relativeDifference(model.parameters, reference.parameters)
    }
    reports.append(report)
  }
  return (model, reports)
}
