import ImbalanceLoss
import Testing

@Suite struct BinaryFocalLossTests {
  /// Per-sample values, gradients and Hessians (sum reduction, no weights) at
  /// z = [-30, -3, -0.5, 0, 0.7, 4, 30], y = [1, 0, 0.3, 1, 0.8, 0, 1], for
  /// (gamma, "none": a_pos = a_neg = 1 | "alpha": alpha = 0.25).
  /// Source: mpmath at 60 digits, the loss written directly as
  /// `y a_pos (1-p)^g (-log p) + (1-y) a_neg p^g (-log(1-p))` with
  /// `p = 1/(1+exp(-z))`, and its derivatives by `mpmath.diff` (numerical, at
  /// 60 digits: independent of the closed forms in the kernel):
  ///
  ///     from mpmath import mp, mpf, exp, log, diff; mp.dps = 60
  ///     def loss(z, y, g, ap, an):
  ///         p = 1/(1+exp(-z)); q = 1/(1+exp(z))
  ///         return y*ap*q**g*(-log(p)) + (1-y)*an*p**g*(-log(q))
  ///     # for each z, y: loss(...), diff(f, z), diff(f, z, 2), printed with nstr(x, 17)
  static let references: [(Double, String, [Double], [Double], [Double])] = [
    (0, "none", [30.000000000000094, 0.048587351573742059, 0.62407698418010668, 0.69314718055994531,
      0.54318604888545789, 4.0181499279178097, 9.3576229688397368e-14],
      [-0.99999999999990642, 0.047425873177566781, 0.077540668798145435, -0.5, -0.13181222783183389,
        0.98201379003790844, -9.357622968839299e-14],
      [9.3576229688384233e-14, 0.045176659730912133, 0.23500371220159449, 0.25, 0.22171287329310905,
        0.017662706213291116, 9.3576229688384233e-14]),
    (0, "alpha", [7.5000000000000234, 0.036440513680306544, 0.32194619050806401,
      0.17328679513998633, 0.24611511710991026, 3.0136124459383573, 2.3394057422099342e-14],
      [-0.24999999999997661, 0.035569404883175086, 0.15152440127888726, -0.125,
        0.033865720258858137, 0.73651034252843133, -2.3394057422098247e-14],
      [2.3394057422096058e-14, 0.033882494798184099, 0.14100222732095669, 0.0625,
        0.077599505652588168, 0.013247029659968337, 2.3394057422096058e-14]),
    (0.25, "none", [29.999999999999392, 0.022673943538656303, 0.51969114541145413,
      0.58286497937607722, 0.44428588966979424, 3.9999589468642791, 5.1755550058015053e-17],
      [-1.0000000000005849, 0.027531576957171136, 0.057272458975585472, -0.49330633004886692,
        -0.10498987286780282, 0.99555403946838434, -6.4694437572515184e-17],
      [-5.6145737813027803e-13, 0.032653256394546651, 0.26543315595735254, 0.28801435981188933,
        0.24564159235524215, 8.7924655020708278e-3, 8.0868046965635807e-17]),
    (0.25, "alpha", [7.4999999999998479, 0.017005457653992227, 0.25998700939220361,
      0.14571624484401931, 0.21081239751251577, 2.9999692101482093, 1.2938887514503763e-17],
      [-0.25000000000014621, 0.020648682717878352, 0.13813727712901131, -0.12332658251221673,
        0.042438338218171858, 0.74666552960128826, -1.6173609393128796e-17],
      [-1.4036434453256951e-13, 0.024489942295909988, 0.15857732405209927, 0.072003589952972333,
        0.086636430911727266, 6.5943491265531208e-3, 2.0217011741408952e-17]),
    (0.5, "none", [29.99999999999869, 0.010581101849395962, 0.43445802729314303, 0.4901290717342736,
      0.36615320462986427, 3.9818503200776688, 2.8625185805491258e-20],
      [-1.0000000000012633, 0.015367803025701346, 0.034995255546055895, -0.47608565852684216,
        -0.075820487654074212, 1.0089515630479657, -4.2937778708234208e-20],
      [-1.2164909859488768e-12, 0.021837984914974591, 0.29031733022041199, 0.32292032360988166,
        0.26194778963927322, 1.6319548542628399e-4, 6.4406668062344616e-20]),
    (0.5, "alpha", [7.4999999999996725, 7.9358263870469716e-3, 0.21056721962452489,
      0.1225322679335684, 0.18171576622666691, 2.9863877400582516, 7.1562964513728145e-21],
      [-0.25000000000031582, 0.011525852269276009, 0.12167160038614646, -0.11902141463171054,
        0.050625379116190227, 0.75671367228597425, -1.0734444677058552e-20],
      [-3.041227464872192e-13, 0.016378488686230943, 0.1715527703050981, 0.080730080902470416,
        0.094219156563530259, 1.2239661406971299e-4, 1.6101667015586154e-20]),
    (1, "none", [29.999999999997286, 2.3042975737701406e-3, 0.3071853316019763, 0.34657359027997265,
      0.25445273454747392, 3.945878639655117, 8.7565107626952912e-27],
      [-1.0000000000026201, 4.4442276959277913e-3, -7.147432452066872e-3, -0.42328679513998633,
        -0.021379624016987675, 1.0353224855223865, -1.7513021525389353e-26],
      [-2.5265582015858839e-12, 8.4144409194081641e-3, 0.3202525128522157, 0.375,
        0.27304884618686362, -0.016383325420768745, 3.5026043050775019e-26]),
    (1, "alpha", [7.4999999999993216, 1.7282231803276055e-3, 0.13944050248470193,
      0.086643397569993164, 0.13732672646604605, 2.9594089797413377, 2.1891276906738228e-27],
      [-0.25000000000065503, 3.3331707719458435e-3, 0.087094524598857692, -0.10582169878499658,
        0.0637616387507855, 0.77649186414178986, -4.3782553813473383e-27],
      [-6.3163955039647098e-13, 6.3108306895561231e-3, 0.1827729829243541, 0.09375,
        0.10447853291171702, -0.012287494065576559, 8.7565107626937549e-27]),
    (2, "none", [29.999999999994479, 1.0928332449699752e-4, 0.16052492362007548,
      0.17328679513998633, 0.13402139491634785, 3.8749072379573478, 8.1940126239885985e-40],
      [-1.0000000000053338, 3.148718464882813e-4, -0.061289648416734816, -0.29828679513998633,
        0.048355001174347864, 1.0863958530848355, -2.4582037871963879e-39],
      [-5.1466926328591363e-12, 8.9483928895408355e-4, 0.31623381724081413, 0.39914339756999316,
        0.24400718593014179, -0.046703258824343811, 7.3746113615883968e-39]),
    (2, "alpha", [7.4999999999986198, 8.1962493372748142e-5, 0.063781952586145142,
      0.043321698784996582, 0.082759836690737819, 2.9061804284680109, 2.0485031559971496e-40],
      [-0.25000000000133346, 2.3615388486621097e-4, 0.032955536968636343, -0.074571698784996582,
        0.074608139856963356, 0.8147968898136266, -6.1455094679909697e-40],
      [-1.2866731582147841e-12, 6.7112946671556266e-4, 0.16321610893332261, 0.099785849392498291,
        0.11034725405769073, -0.035027444118257858, 1.8436528403970992e-39]),
    (5, "none", [29.999999999986057, 1.1657351854458273e-8, 0.029852170355417805,
      0.021660849392498291, 0.030685441752171975, 3.6695606469541016, 6.7141842882081376e-79],
      [-1.000000000013475, 6.6901142215689781e-8, -0.059047303467252487, -0.069777123481245727,
        0.061154628777494939, 1.226827924216136, -4.028510572924537e-78],
      [-1.3007095926672799e-11, 3.8104252096251091e-7, 0.17323220513792427, 0.19424174696249145,
        0.13417090267620106, -0.11695952601183857, 2.4171063437544803e-77]),
    (5, "alpha", [7.4999999999965143, 8.7430138908437049e-9, 8.735770650893508e-3,
      5.4152123481245727e-3, 0.022365405926869884, 2.7521704852155762, 1.6785460720520344e-79],
      [-0.25000000000336874, 5.0175856661767336e-8, -9.7871561798126555e-3, -0.017444280870311432,
        0.048567000323795505, 0.92012094316210202, -1.0071276432311343e-78],
      [-3.2517739816681998e-12, 2.8578189072188318e-7, 0.061080628245104088, 0.048560436740622864,
        0.090183055620019963, -0.087719644508878924, 6.0427658593862008e-78]),
  ]
  static let z = [-30.0, -3, -0.5, 0, 0.7, 4, 30]
  static let y = [1.0, 0, 0.3, 1, 0.8, 0, 1]

  @Test func valuesGradientsAndHessiansMatchMpmath() throws {
    for (gamma, tag, values, gradient, hessian) in Self.references {
      var loss = tag == "alpha" ? BinaryFocalLoss(gamma: gamma, alpha: 0.25)
        : BinaryFocalLoss(gamma: gamma)
      loss.reduction = .sum
      let v = try loss.perSampleValues(logits: Self.z, targets: Self.y)
      let r = try loss.valueGradientAndHessianDiagonal(logits: Self.z, targets: Self.y)
      let g1 = try loss.gradient(logits: Self.z, targets: Self.y)
      let note = "gamma \(gamma) \(tag)"
      for j in Self.z.indices {
        // 1e-13 relative: a few dozen roundings of the terms, each ~1e-16.
        expectClose(v[j], values[j], relative: 1e-13, "value[\(j)] \(note)")
        expectClose(r.gradient[j], gradient[j], relative: 1e-13, "gradient[\(j)] \(note)")
        expectClose(g1[j], gradient[j], relative: 1e-13, "gradient[\(j)] \(note)")
        // The Hessian sums terms of both signs (it crosses 0), so its error is
        // relative to the larger term: 1e-12 relative with an absolute floor of 1e-15.
        expectClose(r.hessianDiagonal[j], hessian[j], relative: 1e-12, floor: 1e-15,
          "hessian[\(j)] \(note)")
      }
      expectClose(r.value, values.reduce(0, +), relative: 1e-13, note)
    }
  }

  @Test func gradientAndHessianMatchFiniteDifferences() throws {
    for seed: UInt64 in [21, 22] {
      for gamma in [0.25, 0.5, 1, 2, 5] {
        for reduction in [Reduction.mean, .sum] {
          var loss = BinaryFocalLoss(gamma: gamma, positiveWeight: 2, negativeWeight: 0.7)
          loss.reduction = reduction
          var rng = SplitMix64(seed: seed)
          let z = rng.uniforms(19, in: -6...6)
          let y = rng.uniforms(19, in: 0...1).map { $0 < 0.3 ? 0 : ($0 > 0.7 ? 1 : $0) }
          let w = rng.uniforms(19, in: 0...2)
          let g = try loss.gradient(logits: z, targets: y, weights: w)
          let fd = try centralDifferences(at: z) {
            try loss.value(logits: $0, targets: y, weights: w)
          }
          // 1e-7 relative to the largest entry (see `centralDifferences`).
          expectClose(g, fd, relative: 1e-7, "seed \(seed) gamma \(gamma)")
          try checkSecondOrder(loss, seed: seed, range: -6...6)
        }
      }
    }
  }

  @Test func gammaZeroIsBinaryCrossEntropyBitForBit() throws {
    var rng = SplitMix64(seed: 5)
    let z = rng.uniforms(37, in: -20...20) + [1e300, -1e300]
    let y = rng.uniforms(39, in: 0...1)
    let w = rng.uniforms(39, in: 0...3)
    for (focal, bce) in [
      (BinaryFocalLoss(gamma: 0), BinaryCrossEntropy()),
      (BinaryFocalLoss(gamma: 0, alpha: 0.25), BinaryCrossEntropy(positiveWeight: 0.25,
        negativeWeight: 0.75)),
    ] {
      let a = try focal.valueAndGradient(logits: z, targets: y, weights: w)
      let b = try bce.valueAndGradient(logits: z, targets: y, weights: w)
      #expect(a.value == b.value && a.gradient == b.gradient)
      let ha = try focal.valueGradientAndHessianDiagonal(logits: z, targets: y, weights: w)
      let hb = try bce.valueGradientAndHessianDiagonal(logits: z, targets: y, weights: w)
      #expect(ha.value == hb.value && ha.gradient == hb.gradient)
      expectClose(ha.hessianDiagonal, hb.hessianDiagonal, relative: 1e-15)
      #expect(try focal.perSampleValues(logits: z, targets: y)
        == bce.perSampleValues(logits: z, targets: y))
    }
    // And gamma -> 0 is continuous: gamma = 1e-9 is within ~1e-8 of BCE.
    let tiny = try BinaryFocalLoss(gamma: 1e-9).valueAndGradient(logits: z, targets: y)
    let bce = try BinaryCrossEntropy().valueAndGradient(logits: z, targets: y)
    expectClose(tiny.value, bce.value, relative: 1e-7)
    expectClose(tiny.gradient, bce.gradient, relative: 1e-7)
  }

  @Test func saturatedLogitsGiveFiniteExactResults() throws {
    // By hand: at z = -1e300 a positive has p = 0, 1 - p = 1, -log p = 1e300,
    // so l = a_pos 1e300, slope = -a_pos, curvature 0; at z = +1e300 it has
    // (1 - p)^g = exp(-g 1e300) = 0 for g > 0: l = slope = curvature = 0.
    // Mirrored for a negative; y = 1/2 at z = 1e300 gives l = 1e300 / 2, slope 1/2.
    let z = [-1e300, 1e300, 1e300, -1e300, 1e300, -Double.greatestFiniteMagnitude]
    let y = [1.0, 1, 0, 0, 0.5, 1]
    for gamma in [0.25, 0.5, 1, 2, 5] {
      var loss = BinaryFocalLoss(gamma: gamma, positiveWeight: 1.5, negativeWeight: 1)
      loss.reduction = .sum
      let v = try loss.perSampleValues(logits: Array(z[0..<5]), targets: Array(y[0..<5]))
      #expect(v == [1.5e300, 0, 1e300, 0, 0.5e300], "gamma \(gamma)")
      // The largest finite logit, with a_pos = 1 so the value 1.8e308 stays finite.
      let top = try BinaryFocalLoss(gamma: gamma).valueGradientAndHessianDiagonal(
        logits: [z[5]], targets: [1])
      #expect(top.value == Double.greatestFiniteMagnitude && top.gradient == [-1])
      let r = try loss.valueGradientAndHessianDiagonal(
        logits: Array(z[0..<5]), targets: Array(y[0..<5]))
      #expect(r.gradient == [-1.5, 0, 1, 0, 0.5], "gamma \(gamma)")
      #expect(r.hessianDiagonal.allSatisfy { $0 == 0 }, "gamma \(gamma)")
    }
  }

  @Test func fractionalGammaNearSaturationMatchesMpmath() throws {
    // A confidently right positive, where naive code takes (1 - p)^(gamma - 1)
    // of a vanishing 1 - p. Source: mpmath at 250 digits, l = q^g (-log p)
    // with q = 1/(1+exp(z)), p = 1/(1+exp(-z)); derivatives by mpmath.diff.
    typealias Reference = (
      gamma: Double, z: Double, value: Double, slope: Double, curvature: Double
    )
    let references: [Reference] = [
      (0.25, 40, 1.9287498479639178e-22, -2.4109373099548972e-22, 3.0136716374436215e-22),
      (0.25, 200, 2.6691902155412764e-109, -3.3364877694265955e-109, 4.1706097117832444e-109),
      (0.5, 40, 8.7565107626965203e-27, -1.313476614404478e-26, 1.9702149216067171e-26),
      (0.5, 200, 5.1482002224120138e-131, -7.7223003336180207e-131, 1.1583450500427031e-130),
    ]
    for r in references {
      let loss = BinaryFocalLoss(gamma: r.gamma)
      let out = try loss.valueGradientAndHessianDiagonal(logits: [r.z], targets: [1])
      expectClose(out.value, r.value, relative: 1e-13, "gamma \(r.gamma) z \(r.z)")
      expectClose(out.gradient[0], r.slope, relative: 1e-13, "gamma \(r.gamma) z \(r.z)")
      expectClose(out.hessianDiagonal[0], r.curvature, relative: 1e-13, "gamma \(r.gamma) z \(r.z)")
      // The mirror image: a confidently right negative at -z.
      let mirror = try loss.valueGradientAndHessianDiagonal(logits: [-r.z], targets: [0])
      expectClose(mirror.value, r.value, relative: 1e-13)
      expectClose(mirror.gradient[0], -r.slope, relative: 1e-13)
      expectClose(mirror.hessianDiagonal[0], r.curvature, relative: 1e-13)
    }
  }

  @Test func hessianFloorBoundsTheCurvatureBeforeWeighting() throws {
    // gamma = 2, a positive at z = -5 (p_t = 0.0067) has negative curvature
    // (the mpmath table above has negative entries of the same kind).
    var loss = BinaryFocalLoss(gamma: 2)
    let z = [-5.0, -1, 0, 3]
    let y = [1.0, 1, 0, 1]
    let w = [1.0, 2, 0.5, 1]
    let exact = try loss.valueGradientAndHessianDiagonal(logits: z, targets: y, weights: w)
    #expect(exact.hessianDiagonal[0] < 0)
    loss.hessianFloor = 1e-3
    let floored = try loss.valueGradientAndHessianDiagonal(logits: z, targets: y, weights: w)
    #expect(floored.value == exact.value && floored.gradient == exact.gradient)
    let f = w.map { $0 / 4.5 }
    for j in z.indices {
      let curvature = exact.hessianDiagonal[j] / f[j]
      expectClose(floored.hessianDiagonal[j], f[j] * max(curvature, 1e-3), relative: 1e-14)
    }
  }

  @Test func ignoredSamplesAreSkipped() throws {
    var loss = BinaryFocalLoss(gamma: 2, alpha: 0.25)
    loss.ignoredTarget = -1
    let z = [0.3, -2, 5, 1]
    let masked = try loss.valueGradientAndHessianDiagonal(
      logits: z, targets: [1, -1, 0, 0.5], weights: [1, 9, 2, 1])
    var plain = loss
    plain.ignoredTarget = nil
    let kept = try plain.valueGradientAndHessianDiagonal(
      logits: [0.3, 5, 1], targets: [1, 0, 0.5], weights: [1, 2, 1])
    #expect(masked.value == kept.value)
    #expect(masked.gradient == [kept.gradient[0], 0, kept.gradient[1], kept.gradient[2]])
    #expect(masked.hessianDiagonal
      == [kept.hessianDiagonal[0], 0, kept.hessianDiagonal[1], kept.hessianDiagonal[2]])
    #expect(try loss.perSampleValues(logits: z, targets: [1, -1, 0, 0.5])[1] == 0)
  }

  @Test func invalidParametersAndInputsThrow() throws {
    let z = [0.5, 1]
    let y = [1.0, 0]
    func error(_ loss: BinaryFocalLoss) -> LossError? {
      do { _ = try loss.valueGradientAndHessianDiagonal(logits: z, targets: y) } catch {
        return error
      }
      return nil
    }
    #expect(error(BinaryFocalLoss(gamma: -0.5))
      == .invalidParameter(name: "gamma", value: -0.5, requirement: "in [0, 1000]"))
    #expect(error(BinaryFocalLoss(gamma: .nan))
      == .invalidParameter(name: "gamma", value: .nan, requirement: "in [0, 1000]"))
    #expect(error(BinaryFocalLoss(gamma: 1001))
      == .invalidParameter(name: "gamma", value: 1001, requirement: "in [0, 1000]"))
    #expect(error(BinaryFocalLoss(gamma: 2, alpha: 1.5))
      == .invalidParameter(name: "alpha", value: 1.5, requirement: "in [0, 1]"))
    #expect(error(BinaryFocalLoss(gamma: 2, alpha: .nan))
      == .invalidParameter(name: "alpha", value: .nan, requirement: "in [0, 1]"))
    #expect(error(BinaryFocalLoss(gamma: 2, positiveWeight: -1, negativeWeight: 1))
      == .invalidParameter(name: "positiveWeight", value: -1, requirement: "finite and >= 0"))
    #expect(error(BinaryFocalLoss(gamma: 2, positiveWeight: 1, negativeWeight: .infinity))
      == .invalidParameter(
        name: "negativeWeight", value: .infinity, requirement: "finite and >= 0"))
    var floored = BinaryFocalLoss()
    floored.hessianFloor = .infinity
    #expect(error(floored)
      == .invalidParameter(name: "hessianFloor", value: .infinity, requirement: "finite"))
    let loss = BinaryFocalLoss(gamma: 0.5)
    #expect(throws: LossError.nonFiniteLogit(index: 1, value: .infinity)) {
      try loss.value(logits: [0, .infinity], targets: y)
    }
    #expect(throws: LossError.targetOutOfRange(index: 0, value: -0.1)) {
      try loss.value(logits: z, targets: [-0.1, 0])
    }
    #expect(throws: LossError.invalidWeight(index: 1, value: .nan)) {
      try loss.value(logits: z, targets: y, weights: [1, .nan])
    }
    #expect(throws: LossError.zeroTotalWeight) {
      try loss.value(logits: z, targets: y, weights: [0, 0])
    }
    #expect(throws: LossError.lengthMismatch(argument: "weights", expected: 2, actual: 1)) {
      try loss.value(logits: z, targets: y, weights: [1])
    }
    #expect(throws: LossError.emptyBatch) { try loss.value(logits: [], targets: []) }
    var values = [Double](repeating: 7, count: 1)
    #expect(throws: LossError.lengthMismatch(argument: "values", expected: 2, actual: 1)) {
      try z.withUnsafeBufferPointer { zb in
        try y.withUnsafeBufferPointer { yb in
          try values.withUnsafeMutableBufferPointer { vb in
            try loss.perSampleValues(logits: zb, targets: yb, into: vb)
          }
        }
      }
    }
    #expect(values == [7])
  }

  @Test func resultIsTheSameBitsForAnyThreadCount() throws {
    var rng = SplitMix64(seed: 99)
    let n = 200_003
    let z = rng.uniforms(n, in: -10...10)
    let y = rng.uniforms(n, in: 0...1)
    var serial = BinaryFocalLoss(gamma: 0.5, alpha: 0.25)
    serial.parallelism = .serial
    var threaded = serial
    threaded.parallelism = .maximumThreads(2)
    let a = try serial.valueGradientAndHessianDiagonal(logits: z, targets: y)
    let b = try threaded.valueGradientAndHessianDiagonal(logits: z, targets: y)
    #expect(a.value == b.value && a.gradient == b.gradient
      && a.hessianDiagonal == b.hessianDiagonal)
  }

  // Regression: as for BCE, the weight multiplies the class weight before the
  // focal term `(1 - p)^γ softplus(-z)` (1e308 here). Reference:
  // Tests/References/binary_overflow.py (mpmath, 50 digits).
  @Test func tinyWeightTimesHugeFocalTermStaysFinite() throws {
    let loss = BinaryFocalLoss(gamma: 2, positiveWeight: 10, negativeWeight: 1)
    let (z, y, w): ([Double], [Double], [Double]) = ([0, -1e308], [1, 1], [1, 1e-300])
    let r = try loss.valueAndGradient(logits: z, targets: y, weights: w)
    let h = try loss.valueGradientAndHessianDiagonal(logits: z, targets: y, weights: w)
    for (value, gradient) in [(r.value, r.gradient), (h.value, h.gradient)] {
      expectClose(value, 1000000001.7328679514, relative: 1e-15)
      expectClose(gradient, [-2.9828679513998632735, -1.0e-299], relative: 1e-15)
    }
    #expect(h.hessianDiagonal.allSatisfy { $0.isFinite })
  }
}
