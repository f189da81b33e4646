import ImbalanceLoss
import Testing

// Loss values are Sendable and their calls share nothing mutable: many
// training-style calls at once on shared loss values and shared inputs, each
// writing its own gradient buffer, give bit for bit the serial result. The
// large batches take the multi-threaded kernel path (more than 2^16 logits),
// so each task also fans out over Dispatch: this is the test that
// `swift test --sanitize=thread` (.ci/run) checks for races.

/// One workload: a loss of `LossTable`, its inputs and the serial result.
private struct Workload<Target: Sendable>: Sendable {
  let loss: LossCase<Target>
  let logits: [Double]
  let targets: [Target]
  let weights: [Double]?

  /// Value and gradient through the buffer API, as a training step calls it.
  func run(serial: Bool) throws -> (value: Double, gradient: [Double]) {
    var gradient = [Double](repeating: .nan, count: logits.count)
    let value = try logits.withUnsafeBufferPointer { z in
      try targets.withUnsafeBufferPointer { t in
        try gradient.withUnsafeMutableBufferPointer { g in
          if let weights {
            return try weights.withUnsafeBufferPointer { w in try loss.step(z, t, w, g, serial) }
          }
          return try loss.step(z, t, nil, g, serial)
        }
      }
    }
    return (value, gradient)
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
  for loss in LossTable.binary {
    for n in [37, 1 << 17] {  // one chunk, and 8 chunks on several threads
      let logits = rng.uniforms(n, in: -12...12)
      let weights = rng.uniforms(n, in: 0...2)
      workloads.append(
        Workload(
          loss: loss, logits: logits, targets: rng.uniforms(n, in: 0...1), weights: weights))
    }
  }
  try await checkConcurrent(workloads, copies: 6)
}

@Test func concurrentSoftmaxCallsMatchTheSerialResultBitForBit() async throws {
  var rng = SplitMix64(seed: 0xC0C1)
  let k = 10
  var workloads: [Workload<Int>] = []
  for loss in LossTable.softmax(classCount: k) {
    for rows in [5, 1 << 14] {
      workloads.append(
        Workload(
          loss: loss, logits: rng.uniforms(rows * k, in: -12...12),
          targets: rng.classes(rows, classCount: k), weights: rng.uniforms(rows, in: 0...2)))
    }
  }
  try await checkConcurrent(workloads, copies: 6)
}
