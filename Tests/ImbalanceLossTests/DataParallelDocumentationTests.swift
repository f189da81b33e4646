import ImbalanceLoss
import Testing

// The Swift blocks of the article "Training on several workers" (see
// DocumentationExamplesTests for how the copies are matched). The MPI block
// runs here against a one-rank stand-in for the C module CMPI;
// Examples/DataParallel compiles the same block against Open MPI and
// Scripts/data-parallel.sh runs it on 4 ranks.

@Suite struct DataParallelDocumentationTests {
  @Test func doccDataParallelStep() throws {
    // snippet: docc-data-parallel-step
    /// One worker's step: its share of the batch's loss, and its rows of the
    /// batch's gradient in `gradient`. `allReduceSum` returns, on every worker,
    /// the elementwise sum over the workers of the array each one passes.
    func shardStep<L: DataParallelLoss>(
      _ loss: L, logits: [Double], targets: [L.Target], weights: [Double]?,
      gradient: inout [Double], allReduceSum: ([Double]) -> [Double]
    ) throws -> Double {
      let local = try loss.statistics(logits: logits, targets: targets, weights: weights)
      let global = try BatchStatistics(scalars: allReduceSum(local.scalars))
      return try loss.valueAndGradient(
        logits: logits, targets: targets, weights: weights, gradient: &gradient,
        statistics: global)
    }
    // end-snippet

    // Three uneven shards of one weighted batch, the all-reduce simulated by
    // the sum of the three shards' scalars.
    let logits: [Double] = [1.2, -0.3, -2.0, 0.4, -1.1, 2.5, 0.1, -0.7, 0.9]
    let targets: [Double] = [1, 0, 0, 1, 0, 1, 0, 0, 1]
    let weights: [Double] = [1, 2, 0.5, 1, 1, 3, 0.25, 1, 2]
    let shards = [0..<2, 2..<7, 7..<9]
    for loss in [F1WeightedCrossEntropy(), F1WeightedCrossEntropy(f1: 0.6)] {
      let scalars = try shards.map {
        try loss.statistics(
          logits: Array(logits[$0]), targets: Array(targets[$0]), weights: Array(weights[$0])
        ).scalars
      }
      let summed = scalars.dropFirst().reduce(scalars[0]) { zip($0, $1).map(+) }
      var value = 0.0
      var rows: [Double] = []
      for (s, range) in shards.enumerated() {
        var gradient: [Double] = []
        value += try shardStep(
          loss, logits: Array(logits[range]), targets: Array(targets[range]),
          weights: Array(weights[range]), gradient: &gradient,
          allReduceSum: { local in
            #expect(local == scalars[s])
            return summed
          })
        rows += gradient
      }
      let whole = try loss.valueAndGradient(logits: logits, targets: targets, weights: weights)
      expectClose(value, whole.value, relative: 1e-14)
      expectClose(rows, whole.gradient, relative: 1e-14)
    }
  }

  @Test func doccDataParallelAccumulation() throws {
    // snippet: docc-data-parallel-accumulation
    let loss = F1WeightedCrossEntropy()  // holds the batch's F
    let microBatches: [(logits: [Double], targets: [Double])] = [
      ([1.2, -0.3, -2.0], [1, 0, 0]),
      ([0.4, -1.1], [1, 0]),
    ]
    // Phase 1: the statistics of the whole batch.
    var merged = try loss.statistics(
      logits: microBatches[0].logits, targets: microBatches[0].targets)
    for batch in microBatches.dropFirst() {
      merged = merged + (try loss.statistics(logits: batch.logits, targets: batch.targets))
    }
    // Phase 2: each micro-batch's rows of the whole batch's gradient.
    var value = 0.0
    var gradient: [Double] = []
    var rows: [Double] = []
    for batch in microBatches {
      value += try loss.valueAndGradient(
        logits: batch.logits, targets: batch.targets, gradient: &gradient, statistics: merged)
      rows += gradient  // back-propagate here and accumulate the model's gradient
    }
    // `value` and `rows` are the loss and the gradient of all five rows at once.
    // end-snippet
    let whole = try loss.valueAndGradient(
      logits: [1.2, -0.3, -2.0, 0.4, -1.1], targets: [1, 0, 0, 1, 0])
    expectClose(value, whole.value, relative: 1e-14)
    expectClose(rows, whole.gradient, relative: 1e-14)
  }

  @Test func doccDataParallelMPI() throws {
    // snippet: docc-data-parallel-mpi
    /// `values` summed elementwise over every rank, on every rank.
    func allReduceSum(_ values: [Double]) -> [Double] {
      var sum = values
      sum.withUnsafeMutableBufferPointer { buffer in
        _ = MPI_Allreduce(
          UnsafeRawPointer(cmpi_in_place()), buffer.baseAddress, Int32(buffer.count),
          cmpi_double(), cmpi_sum(), cmpi_comm_world())
      }
      return sum
    }

    /// One gradient-descent step on this rank's rows `x`, `y` of the batch;
    /// returns the loss of the whole batch, the same on every rank.
    func step(
      _ loss: F1WeightedCrossEntropy, w: inout [Double], b: inout Double,
      x: [[Double]], y: [Double], learningRate: Double
    ) throws -> Double {
      let z = x.map { row in zip(w, row).reduce(b) { $0 + $1.0 * $1.1 } }
      // Phase 1: the batch's statistics (here its soft confusion counts).
      let local = try loss.statistics(logits: z, targets: y)
      let global = try BatchStatistics(scalars: allReduceSum(local.scalars))
      // Phase 2: this rank's share of the loss and its rows of ∂L/∂z.
      var g: [Double] = []
      let share = try loss.valueAndGradient(logits: z, targets: y, gradient: &g, statistics: global)
      // ∂L/∂(w, b) from this rank's rows, and the share, summed over the ranks.
      var partial = [Double](repeating: 0, count: w.count + 2)
      for (row, gi) in zip(x, g) {
        for j in w.indices { partial[j] += gi * row[j] }
        partial[w.count] += gi
      }
      partial[w.count + 1] = share
      let total = allReduceSum(partial)
      for j in w.indices { w[j] -= learningRate * total[j] }
      b -= learningRate * total[w.count]
      return total[w.count + 1]
    }
    // end-snippet

    // One rank: the step is the single-process step.
    let x: [[Double]] = [[1, 2], [-1, 0.5], [0.3, -2], [2, 1]]
    let y: [Double] = [1, 0, 0, 1]
    var w = [0.1, -0.2]
    var b = 0.05
    let z = x.map { 0.05 + 0.1 * $0[0] - 0.2 * $0[1] }
    let loss = F1WeightedCrossEntropy()
    let whole = try loss.valueAndGradient(logits: z, targets: y)
    let value = try step(loss, w: &w, b: &b, x: x, y: y, learningRate: 0.5)
    expectClose(value, whole.value, relative: 1e-14)
    let gw = (0..<2).map { j in zip(x, whole.gradient).reduce(0) { $0 + $1.1 * $1.0[j] } }
    expectClose(w, [0.1 - 0.5 * gw[0], -0.2 - 0.5 * gw[1]], relative: 1e-14)
    expectClose(b, 0.05 - 0.5 * whole.gradient.reduce(0, +), relative: 1e-14)
  }
}

// A one-rank stand-in for the C module CMPI (Examples/DataParallel): with one
// rank, an in-place MPI_Allreduce with MPI_SUM leaves the buffer as it is.
private func cmpi_in_place() -> UnsafeMutableRawPointer? { UnsafeMutableRawPointer(bitPattern: 1) }
private func cmpi_double() -> Int { 1 }
private func cmpi_sum() -> Int { 2 }
private func cmpi_comm_world() -> Int { 3 }
private func MPI_Allreduce(
  _ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, _ count: Int32,
  _ type: Int, _ op: Int, _ communicator: Int
) -> Int32 {
  precondition(send == UnsafeRawPointer(bitPattern: 1) && receive != nil && count >= 0)
  precondition(type == 1 && op == 2 && communicator == 3)
  return 0
}
