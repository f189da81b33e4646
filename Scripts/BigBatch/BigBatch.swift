// Big-batch memory check (issue 7), built by Scripts/big_batch.sh together
// with the library's sources; not part of the package's products.
//
//     big-batch binary N        N logits, N targets, N gradient entries
//     big-batch softmax N K     N*K logits, N labels, N*K gradient entries
//
// Inputs and the gradient are allocated here, once; the loss is called
// through the buffer API. Peak RSS minus these buffers is what the loss
// itself allocated (the script measures it with /usr/bin/time -v).

#if canImport(Glibc)
import Glibc
#endif

@main
struct BigBatch {
  static func main() throws {
    let args = CommandLine.arguments
    guard args.count >= 3, let n = Int(args[2]) else {
      fputs("usage: big-batch binary N | softmax N K\n", stderr)
      exit(2)
    }
    if args[1] == "binary" {
      let z = UnsafeMutableBufferPointer<Double>.allocate(capacity: n)
      let y = UnsafeMutableBufferPointer<Double>.allocate(capacity: n)
      let g = UnsafeMutableBufferPointer<Double>.allocate(capacity: n)
      for i in 0..<n {
        z[i] = Double(i % 2001) / 100 - 10
        y[i] = i % 7 == 0 ? 1 : 0
      }
      report("inputs + gradient", bytes: 3 * n * 8)
      try run(BinaryCrossEntropy(), z, y, g)
      try run(SmoothAccuracyLoss(), z, y, g)
      try run(SmoothF1Loss(), z, y, g)
      try run(F1WeightedCrossEntropy(), z, y, g)
    } else {
      let k = args.count > 3 ? Int(args[3])! : 10
      let z = UnsafeMutableBufferPointer<Double>.allocate(capacity: n * k)
      let c = UnsafeMutableBufferPointer<Int>.allocate(capacity: n)
      let g = UnsafeMutableBufferPointer<Double>.allocate(capacity: n * k)
      for i in 0..<(n * k) { z[i] = Double(i % 2003) / 100 - 10 }
      for i in 0..<n { c[i] = i % k }
      report("inputs + gradient", bytes: 2 * n * k * 8 + n * 8)
      let priors = (0..<k).map { 1 / Double($0 + 1) }
      try run(SoftmaxCrossEntropy(classCount: k), z, c, g)
      try run(LogitAdjustedCrossEntropy(priors: priors), z, c, g)
    }
  }

  /// One call through the buffer API (value and gradient).
  static func run<L: Loss>(
    _ loss: L, _ z: UnsafeMutableBufferPointer<Double>, _ t: UnsafeMutableBufferPointer<L.Target>,
    _ g: UnsafeMutableBufferPointer<Double>
  ) throws {
    let v = try loss.valueAndGradient(
      logits: UnsafeBufferPointer(z), targets: UnsafeBufferPointer(t), weights: nil, gradient: g)
    print(L.self, "value", v, "g[7]", g[7])
  }

  static func report(_ what: String, bytes: Int) {
    print(what, "=", bytes, "bytes =", Double(bytes) / 1_048_576, "MiB")
  }
}
