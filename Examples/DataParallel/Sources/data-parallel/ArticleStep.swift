// The MPI step of the DocC article "Training on several workers", compiled
// against Open MPI here and run by main.swift on every rank;
// Scripts/data-parallel.sh checks that the article's block is this region.
import CMPI
import ImbalanceLoss

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
