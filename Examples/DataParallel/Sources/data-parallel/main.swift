// Data-parallel training with Open MPI (issue 13): every rank computes its
// slice of each batch's gradient with the two-phase step of
// `DataParallelLoss`; rank 0 also trains the same model on whole batches in
// one process and checks, epoch by epoch, that the two agree.
//
//   mpirun -np 4 .build/release/data-parallel      (see Scripts/data-parallel.sh)
import ImbalanceLoss

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The agreement required of the distributed run, relative: 1e-12.
///
/// Why not bit-for-bit: the ranks' statistics and model-gradient partials are
/// added in another order than the single process adds its rows. The library
/// carries its sums as compensated (hi, lo) pairs and the example sums the
/// model gradient the same way (Neumaier), so each step's gradient differs
/// from the reference by a few ulps (2.2e-16 each) of its terms' magnitudes;
/// gradient descent with a small step on these smooth losses does not amplify
/// such a perturbation much, so after S ≤ 100 steps the weights can differ by
/// about S × a few ulps ≈ 1e-13. 1e-12 leaves a factor of ten; a wrong
/// gradient (a shard's own batch F or Σ w) differs by 1e-3 or more.
let tolerance = 1e-12

let comm = Communicator.initialize()
let isRoot = comm.rank == 0
/// `--local-statistics`: the naive data-parallel step, the average over the
/// ranks of each shard's own loss and gradient (its own batch F, its own Σ w),
/// as PyTorch's DistributedDataParallel averages. Another loss than the whole
/// batch's with several ranks, so the check must FAIL: Scripts/data-parallel.sh
/// runs it to show that the check tells a wrong gradient from rounding.
let localStatistics = CommandLine.arguments.contains("--local-statistics")

func table(_ name: String, _ reports: [EpochReport]) -> Bool {
  guard isRoot else { return true }
  print("\n\(name)")
  print("(loss: mean over the epoch's batches; Δloss: largest over its batches; Δweights: at its end)")
  print(
    [
      pad("epoch", 5), pad("loss, \(comm.size) rank(s)", 22), pad("loss, 1 process", 22),
      pad("Δloss rel", 10), pad("Δweights rel", 12), "verdict",
    ].joined(separator: "  "))
  var ok = true
  for r in reports {
    let pass = r.lossDifference <= tolerance && r.weightDifference <= tolerance
      && r.distributedLoss.isFinite
    ok = ok && pass
    let line = [
      pad(String(r.epoch), 5),
      pad(String(r.distributedLoss), 22),
      pad(String(r.referenceLoss), 22),
      pad(sci(r.lossDifference), 10),
      pad(sci(r.weightDifference), 12),
      pass ? "PASS" : "FAIL",
    ]
    print(line.joined(separator: "  "))
  }
  return ok
}

func pad(_ s: String, _ width: Int) -> String {
  s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}

func sci(_ x: Double) -> String {
  if x == 0 { return "0" }
  let e = Int(floor(log10(x)))
  let m = x / pow(10, Double(e))
  return "\(Double(Int(m * 100)) / 100)e\(e)"
}

var passed = true
let how = localStatistics ? "each shard's own statistics" : "the all-reduced statistics"
do {
  // Binary: 5 % positives, F1-weighted cross-entropy with each batch's F,
  // which needs the whole batch's soft confusion counts.
  var g = SplitMix64(seed: 13)
  let binary = gaussianPair(count: 20_000, positiveRate: 0.05, using: &g)
  let f1Loss = F1WeightedCrossEntropy()
  let batch = 2_503  // uneven slices on 4 ranks: 626, 626, 626, 625
  if isRoot {
    print("\(comm.size) rank(s); binary batch of \(batch) rows split as "
      + (0..<comm.size).map { String(shard(count: batch, rank: $0, size: comm.size).count) }
      .joined(separator: "/"))
  }
  let (binaryModel, binaryReports) = try train(
    loss: f1Loss, data: binary, model: LinearModel(outputs: 1, featureCount: 2),
    batchSize: batch, epochs: 6, learningRate: 1, seed: 1, localStatistics: localStatistics,
    communicator: comm)
  passed = table(
    "Binary: F1WeightedCrossEntropy, batch F from \(how), N = 20000, batch 2503",
    binaryReports) && passed

  // Long-tailed 10 classes with per-sample weights: logit-adjusted softmax
  // cross-entropy, whose weighted mean divides by the whole batch's Σ w.
  let (multi, counts) = longTailedClasses(
    classCount: 10, featureCount: 6, largest: 3_000, imbalance: 100, using: &g)
  let adjusted = try LogitAdjustedCrossEntropy(priors: ClassPriors(counts: counts))
  let (multiModel, multiReports) = try train(
    loss: adjusted, data: multi, model: LinearModel(outputs: 10, featureCount: 6),
    batchSize: 1_001, epochs: 6, learningRate: 0.5, seed: 2, localStatistics: localStatistics,
    communicator: comm)
  passed = table(
    "Multi-class: LogitAdjustedCrossEntropy, Σ w from \(how), K = 10, "
      + "counts \(counts), weighted, batch 1001", multiReports) && passed

  // The article's MPI step (ArticleStep.swift, plain sums) on this rank's rows
  // of the first 4001 binary rows, 5 full-batch steps, against one process.
  let articleRows = 4_001
  let row = { (i: Int) in [binary.features[2 * i], binary.features[2 * i + 1]] }
  let mine = shard(count: articleRows, rank: comm.rank, size: comm.size)
  var (w, b) = ([0.0, 0.0], 0.0)
  var (referenceW, referenceB) = ([0.0, 0.0], 0.0)
  var articleDifference = 0.0
  for _ in 1...5 {
    let value = try step(
      f1Loss, w: &w, b: &b, x: mine.map(row), y: mine.map { binary.targets[$0] },
      learningRate: 1)
    if isRoot {
      let x = (0..<articleRows).map(row)
      let z = x.map { r in zip(referenceW, r).reduce(referenceB) { $0 + $1.0 * $1.1 } }
      let whole = try f1Loss.valueAndGradient(
        logits: z, targets: Array(binary.targets[0..<articleRows]))
      var total = [0.0, 0.0, 0.0]
      for (r, g) in zip(x, whole.gradient) {
        total[0] += g * r[0]
        total[1] += g * r[1]
        total[2] += g
      }
      referenceW = [referenceW[0] - total[0], referenceW[1] - total[1]]
      referenceB -= total[2]
      articleDifference = max(
        articleDifference, abs(value - whole.value) / abs(whole.value),
        relativeDifference(w + [b], referenceW + [referenceB]))
    }
  }
  if isRoot {
    let pass = articleDifference <= tolerance
    passed = passed && pass
    print(
      "\nThe article's MPI step (ArticleStep.swift), 5 steps on 4001 rows: largest relative "
        + "difference of loss and weights \(sci(articleDifference)) \(pass ? "PASS" : "FAIL")")

    // How good the distributed models are (on the training data).
    let zb = binaryModel.logits(binary, rows: Array(0..<binary.count)[...])
    var tp = 0.0, fp = 0.0, fn = 0.0
    for (z, y) in zip(zb, binary.targets) {
      if z > 0 && y == 1 { tp += 1 } else if z > 0 { fp += 1 } else if y == 1 { fn += 1 }
    }
    let zm = multiModel.logits(multi, rows: Array(0..<multi.count)[...])
    var hits = [Double](repeating: 0, count: 10)
    for i in 0..<multi.count {
      let row = zm[(i * 10)..<(i * 10 + 10)]
      if row.firstIndex(of: row.max()!)! - i * 10 == multi.targets[i] { hits[multi.targets[i]] += 1 }
    }
    let balanced = zip(hits, counts).map { $0 / Double($1) }.reduce(0, +) / 10
    let f1 = 2 * tp / (2 * tp + fp + fn)
    print("\ntrained (distributed): binary F1 at z > 0 = \(round(f1 * 1000) / 1000), "
      + "10-class balanced accuracy = \(round(balanced * 1000) / 1000)")
  }
} catch {
  print("rank \(comm.rank): \(error)")
  comm.abort(2)
}

let verdict = comm.broadcast(passed ? 0 : 1)
if isRoot { print(verdict == 0 ? "\nPASS (tolerance \(tolerance))" : "\nFAIL (tolerance \(tolerance))") }
comm.finalize()
exit(verdict)
