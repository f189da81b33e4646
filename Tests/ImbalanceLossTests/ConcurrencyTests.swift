import ImbalanceLoss
import Testing

// Loss values are Sendable and their calls share nothing mutable: many
// training-style calls at once on shared loss values and shared inputs, each
// writing its own gradient buffer, give bit for bit the serial result. The
// large batches take the multi-threaded kernel path (more than 2^15 logits),
// so each task also fans out over Dispatch: this is the test that
// `swift test --sanitize=thread` (.ci/run) checks for races. Every loss of
// `LossTable.onePerType` (all 21 types) runs, the large batches just above
// the threshold (debug-build kernels are slow); MacroSmoothF1Loss computes on
// the calling thread whatever its `parallelism`, which this test also covers.

/// One workload: a loss of `LossTable`, its inputs and the serial result.
private struct Workload<Target: Sendable>: Sendable {
  let loss: LossCase<Target>
  let logits: [Double]
  let targets: [Target]
  let weights: [Double]?

  /// Value and gradient through the buffer API, as a training step calls it.
  func run(serial: Bool) throws -> (value: Double, gradient: [Double]) {
    try loss.bufferValueAndGradient(serial ? .serial : .automatic, logits, targets, weights)
  }
}

private func bitsEqual(
  _ a: (value: Double, gradient: [Double]), _ b: (value: Double, gradient: [Double])
) -> Bool {
  a.value.bitPattern == b.value.bitPattern
    && a.gradient.elementsEqual(b.gradient) { $0.bitPattern == $1.bitPattern }
}

/// Runs `copies` concurrent calls of every workload and compares each with the serial result.
private func checkConcurrent<T>(_ workloads: [Workload<T>], copies: Int) async throws {
  let serial = try workloads.map { try $0.run(serial: true) }
  try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
    for copy in 0..<copies {
      for (i, workload) in workloads.enumerated() {
        group.addTask {
          // Alternate so that serial and parallel kernels also overlap.
          let result = try workload.run(serial: copy % 3 == 2)
          return (i, bitsEqual(result, serial[i]))
        }
      }
    }
    for try await (i, same) in group {
      #expect(same, "\(workloads[i].loss), N·K = \(workloads[i].logits.count)")
    }
  }
}

@Test func concurrentBinaryCallsMatchTheSerialResultBitForBit() async throws {
  var rng = SplitMix64(seed: 0xC0C0)
  var workloads: [Workload<Double>] = []
  for loss in LossTable.onePerType(LossTable.binary) {
    for n in [37, 40_000] {  // one chunk, and 5 chunks on several threads
      let logits = rng.uniforms(n, in: -12...12)
      let weights = rng.uniforms(n, in: 0...2)
      workloads.append(
        Workload(
          loss: loss, logits: logits, targets: rng.uniforms(n, in: 0...1), weights: weights))
    }
  }
  try await checkConcurrent(workloads, copies: 4)
}

@Test func concurrentSoftmaxCallsMatchTheSerialResultBitForBit() async throws {
  var rng = SplitMix64(seed: 0xC0C1)
  let k = 10
  var workloads: [Workload<Int>] = []
  for loss in LossTable.onePerType(LossTable.softmax(classCount: k)) {
    for rows in [5, 3_500] {
      workloads.append(
        Workload(
          loss: loss, logits: rng.uniforms(rows * k, in: -12...12),
          targets: rng.classes(rows, classCount: k), weights: rng.uniforms(rows, in: 0...2)))
    }
  }
  try await checkConcurrent(workloads, copies: 4)
}

@Test func concurrentMultiLabelCallsMatchTheSerialResultBitForBit() async throws {
  var rng = SplitMix64(seed: 0xC0C2)
  let l = 10
  var workloads: [Workload<Double>] = []
  for loss in LossTable.multiLabel(labelCount: l) {
    for rows in [5, 3_500] {
      workloads.append(
        Workload(
          loss: loss, logits: rng.uniforms(rows * l, in: -12...12),
          targets: rng.labels(rows * l, positiveRate: 0.3),
          weights: rng.uniforms(rows * loss.layout.weights, in: 0...2)))
    }
  }
  try await checkConcurrent(workloads, copies: 4)
}
