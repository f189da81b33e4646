import ImbalanceLoss
import Testing

@Suite struct ClassWeightsTests {
  // References: Tests/References/class_weights.py, mpmath at 50 digits on the
  // exact doubles passed here, cross-checked with numpy's naive
  // (1 - b) / (1 - b ** n) (which agrees to 1e-13 at beta = 0.9999 and only to
  // 1e-7 at beta = 1 - 2^-52, the cancellation expm1 avoids).
  @Test func effectiveNumberMatchesMpmath() throws {
    let cases: [(counts: [Int], beta: Double, expected: [Double])] = [
      ([5000, 500, 50, 5], 0.999,
       [0.017942582437694620412, 0.045277019863677300886, 0.36524680355035232711,
        3.5715335941482757516]),
      ([5000, 500, 50, 5], 0.9999,
       [0.004570989919122912724, 0.036877276550552512114, 0.36060481044022279764,
        3.5979469230901017775]),
      ([1, 10, 100], 0.5,
       [1.4996335206450036648, 0.75054971903249450281, 0.7498167603225018324]),
      ([1_000_000, 1], 0.9999999999999998,
       [1.9999980002240439368e-6, 1.999998000001999776]),
      ([1, 2, 3], 0, [1, 1, 1]),
    ]
    for (counts, beta, expected) in cases {
      let got = try ClassWeights.effectiveNumber(classCounts: counts, beta: beta)
      #expect(got.count == expected.count)
      for (g, e) in zip(got, expected) {
        // A few roundings in log, Kahan's expm1, the sum and the scaling.
        expectClose(g, e, relative: 2e-15, "counts \(counts) beta \(beta)")
      }
    }
  }

  @Test func effectiveNumberSumsToClassCountAndOrdersByRarity() throws {
    var rng = SplitMix64(seed: 5)
    for _ in 0..<20 {
      let counts = (0..<7).map { _ in Int.random(in: 1...100_000, using: &rng) }
      let beta = rng.uniform(0...0.99999)
      let w = try ClassWeights.effectiveNumber(classCounts: counts, beta: beta)
      expectClose(w.reduce(0, +), 7, relative: 1e-14, "seed 5 beta \(beta)")
      for i in 0..<7 {
        for j in 0..<7 where counts[i] < counts[j] {
          #expect(w[i] >= w[j], "seed 5 counts \(counts) beta \(beta)")
        }
      }
    }
  }

  @Test func balancedMatchesScikitLearn() throws {
    // sklearn.utils.class_weight.compute_class_weight("balanced", classes=np.arange(K),
    // y=labels with these counts) (Tests/References/class_weights.py):
    // [0.27775, 2.7775, 27.775, 277.75] and [0.6666666666666666, 2.0, 1.0].
    #expect(
      try ClassWeights.balanced(classCounts: [5000, 500, 50, 5])
        == [0.27775, 2.7775, 27.775, 277.75])
    #expect(try ClassWeights.balanced(classCounts: [3, 1, 2]) == [0.6666666666666666, 2.0, 1.0])
    #expect(try ClassWeights.balanced(classCounts: [Int.max, Int.max]) == [1, 1])
  }

  @Test func badInputThrows() throws {
    #expect(throws: LossError.noClasses) { try ClassWeights.balanced(classCounts: []) }
    #expect(throws: LossError.noClasses) {
      try ClassWeights.effectiveNumber(classCounts: [], beta: 0.9)
    }
    #expect(throws: LossError.invalidClassCount(index: 2, count: 0)) {
      try ClassWeights.balanced(classCounts: [4, 5, 0])
    }
    #expect(throws: LossError.invalidClassCount(index: 0, count: -3)) {
      try ClassWeights.effectiveNumber(classCounts: [-3, 1], beta: 0.9)
    }
    for beta in [-0.1, 1, 1.5, .nan, .infinity] {
      #expect(throws: LossError.invalidParameter(name: "beta", value: beta, requirement: "in [0, 1)")) {
        try ClassWeights.effectiveNumber(classCounts: [1, 2], beta: beta)
      }
    }
  }

  @Test func weightsPlugIntoTheLosses() throws {
    var loss = try SoftmaxCrossEntropy(classCount: 3)
    loss.classWeights = try ClassWeights.balanced(classCounts: [3, 1, 2])
    // Rows [0, 0, 0] (every l = log 3) weigh v = a_c; the mean is log 3 whatever a.
    let value = try loss.value(logits: [0, 0, 0, 0, 0, 0], targets: [0, 1])
    expectClose(value, 1.0986122886681098, relative: 1e-15)  // log 3
  }
}
