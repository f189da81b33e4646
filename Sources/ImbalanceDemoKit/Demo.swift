import ImbalanceLoss

/// Where the demo writes: results to `output`, progress and errors to `errors`.
public struct Console {
  /// Receives results (stdout).
  public var output: (String) -> Void
  /// Receives progress and errors (stderr).
  public var errors: (String) -> Void
  /// Whether `errors` is a terminal: progress then redraws one line.
  public var errorsIsTerminal: Bool

  /// A console over explicit sinks (tests capture the text).
  public init(
    output: @escaping (String) -> Void, errors: @escaping (String) -> Void,
    errorsIsTerminal: Bool
  ) {
    self.output = output
    self.errors = errors
    self.errorsIsTerminal = errorsIsTerminal
  }

  /// The process's stdout and stderr.
  public static var standard: Console {
    Console(
      output: { print($0) }, errors: Platform.writeStandardError,
      errorsIsTerminal: Platform.standardErrorIsTerminal)
  }

  /// Reports that `phase` has started and, on a terminal, which `step` runs.
  func progress(_ phase: String, step: String? = nil) {
    if errorsIsTerminal {
      errors("\r\u{1B}[K" + phase + (step.map { ": " + $0 } ?? "") + " ...")
    } else if step == nil {
      errors(phase + " ...\n")
    }
  }

  /// Clears the progress line of a terminal.
  func progressDone() {
    if errorsIsTerminal { errors("\r\u{1B}[K") }
  }
}

/// The `imbalance-demo` command.
public enum Demo {
  /// Mini-batch size of every training run.
  public static let batchSize = 128
  /// Adam's step size in every training run.
  public static let learningRate = 0.01
  /// Default passes over the training set.
  public static let defaultEpochs = 50
  /// The test fraction of the `--data` split.
  public static let testFraction = 0.3

  /// Runs the command on `CommandLine.arguments` and exits with its status.
  public static func main() -> Never {
    let status = run(arguments: Array(CommandLine.arguments.dropFirst()), console: .standard)
    Platform.exit(status)
  }

  /// Runs the command: 0 on success, 1 when the data or a file fails, 2 for a
  /// bad command line.
  public static func run(arguments: [String], console: Console) -> Int32 {
    let options: Options
    do {
      options = try Options(arguments: arguments)
    } catch {
      console.errors("imbalance-demo: \(error)\n")
      return 2
    }
    if options.help {
      console.output(Options.usage)
      return 0
    }
    do {
      var sections: [String] = []
      var json: [(String, JSON)] = []
      var svg: String?
      if let path = options.dataPath {
        let (text, value, plot) = try runData(path: path, options: options, console: console)
        sections.append(text)
        json.append(("data", value))
        if options.plotPath != nil {
          if let plot {
            svg = plot
          } else {
            console.errors(
              "imbalance-demo: --plot needs two features and two labels; no plot written\n")
          }
        }
      } else {
        if options.task == .all || options.task == .binary {
          let (text, value, plot) = try runBinary(options: options, console: console)
          sections.append(text)
          json.append(("binary", value))
          svg = plot
        }
        if options.task == .all || options.task == .multiclass {
          let (text, value) = try runMulticlass(options: options, console: console)
          sections.append(text)
          json.append(("multiclass", value))
        }
        if options.task == .all || options.task == .multilabel {
          let (text, value) = try runMultiLabel(options: options, console: console)
          sections.append(text)
          json.append(("multilabel", value))
        }
      }
      console.progressDone()
      console.output(
        options.json ? JSON.object(json).rendered() : sections.joined(separator: "\n\n"))
      // Written after the results, so a bad path does not lose them.
      if let plotPath = options.plotPath, let svg {
        try Platform.writeFile(plotPath, contents: svg)
        console.errors("plot written to \(plotPath)\n")
      }
      return 0
    } catch let error as FileError {
      console.progressDone()
      console.errors("imbalance-demo: \(error)\n")
      return 1
    } catch {
      console.progressDone()
      console.errors("imbalance-demo: \(options.dataPath.map { $0 + ": " } ?? "")\(error)\n")
      return 1
    }
  }

  static func settings(_ options: Options, trainingRows: Int, minimumSteps: Int = 0)
    -> TrainingSettings
  {
    let stepsPerEpoch = (trainingRows + batchSize - 1) / batchSize
    let epochs =
      options.epochs ?? max(defaultEpochs, (minimumSteps + stepsPerEpoch - 1) / stepsPerEpoch)
    return TrainingSettings(
      epochs: epochs, learningRate: learningRate, batchSize: batchSize,
      shuffleSeed: options.seed &+ 0x5EED, precision: options.float32 ? .float32 : .double)
  }

  // MARK: Built-in binary task

  static func runBinary(options: Options, console: Console) throws(LossError)
    -> (text: String, json: JSON, plot: String)
  {
    let task = BinaryTask(imbalance: options.imbalance ?? 19)
    let data = task.data(seed: options.seed)
    let settings = settings(options, trainingRows: data.train.count)
    let phase = "binary task: training \(BinaryMethod.standard.count) models"
    console.progress(phase)
    let results = try runBinaryComparison(
      train: data.train, test: data.test, settings: settings
    ) { console.progress(phase, step: $0) }
    let bayes = task.bayes
    let best = bayes.bestF1
    let positives = data.train.classCounts[1]
    var text = """
      Binary task: x | y ~ N(±(1,1), I) in R², P(y = 1) = \(fixed(task.positiveRate, 4)) \
      (imbalance \(fixed(task.imbalance, 1)) : 1), seed \(options.seed)
      \(data.train.count) training rows (\(positives) positive), \(data.test.count) test rows; \
      logistic regression,
      \(trainingDescription(settings))


      """
    var table = TextTable(["loss", "balanced error", "F1", "precision", "recall"])
    table.add([
      "Bayes-optimal (analytic)", fixed(bayes.balancedError, 4), fixed(best.f1, 4), "", "",
    ])
    for r in results {
      let s = r.scores
      table.add([
        r.name, fixed(s.balancedError, 4), fixed(s.f1, 4), fixed(s.precision, 4),
        fixed(s.recall, 4),
      ])
    }
    text += table.render() + "\n\n"
    if let lowestError = results.min(by: { $0.scores.balancedError < $1.scores.balancedError }),
      let highestF1 = results.max(by: { $0.scores.f1 < $1.scores.f1 })
    {
      // A finite test set can score a little better than the population optimum.
      // `shortfall` >= 0 is the expected case; below 0 the test set got lucky.
      func gap(_ shortfall: Double, _ worse: String, _ better: String) -> String {
        shortfall >= 0
          ? "\(fixed(shortfall, 4)) \(worse)"
          : "\(fixed(-shortfall, 4)) \(better) (test-set noise)"
      }
      let errorGap = lowestError.scores.balancedError - bayes.balancedError
      let f1Gap = best.f1 - highestF1.scores.f1
      text += """
        Lowest balanced error: \(lowestError.name), \
        \(gap(errorGap, "above Bayes", "below Bayes")).
        Highest F1: \(highestF1.name), \(gap(f1Gap, "below the best", "above the best")).
        No rule is best for both: the balanced-error rule thresholds the posterior at
        π = \(fixed(task.positiveRate, 3)), the F1 rule at F1*/2 = \(fixed(best.f1 / 2, 3)).
        """
    }
    let json = JSON.object([
      ("bayesBalancedError", .number(bayes.balancedError)),
      ("bestF1", .number(best.f1)),
      ("losses", .object(results.map { ($0.name, binaryJSON($0.scores)) })),
    ])
    let plot = binaryPlot(
      title: "Binary task, P(y = 1) = \(fixed(task.positiveRate, 3)), seed \(options.seed): "
        + "training data and decision boundaries",
      data: data.train, results: results,
      bayes: [
        Boundary(
          name: "Bayes: balanced error (x1 + x2 = 0)", normal: (1, 1), offset: 0, dash: "8 5"),
        Boundary(
          name: "Bayes: best F1 (x1 + x2 = \(fixed(2.0.squareRoot() * best.threshold, 2)))",
          normal: (1, 1), offset: -(2.0.squareRoot() * best.threshold), dash: "2 4"),
      ])
    return (text, json, plot)
  }

  static func binaryJSON(_ s: BinaryScores) -> JSON {
    .object([
      ("balancedError", .number(s.balancedError)), ("f1", .number(s.f1)),
      ("precision", .number(s.precision)), ("recall", .number(s.recall)),
    ])
  }

  static func binaryPlot(
    title: String, data: Dataset, results: [BinaryResult], bayes: [Boundary]
  ) -> String {
    let lines = results.map { r in
      let w = r.model.weights(0)
      return Boundary(
        name: r.name, normal: (w[w.startIndex], w[w.startIndex + 1]),
        offset: r.model.bias(0) - r.decisionOffset, dash: nil)
    }
    return scatterPlotSVG(title: title, data: data, boundaries: lines + bayes)
  }

  static func trainingDescription(_ s: TrainingSettings) -> String {
    "\(s.epochs) epochs of Adam (batch \(s.batchSize.map(String.init) ?? "all"), "
      + "step \(s.learningRate))"
      + (s.precision == .float32 ? ", losses called with Float32 batches" : "")
  }

  // MARK: Built-in multiclass task

  static func runMulticlass(options: Options, console: Console) throws(LossError)
    -> (text: String, json: JSON)
  {
    let task = MulticlassTask(imbalance: options.imbalance ?? 100)
    let (means, data) = task.data(seed: options.seed &+ 0x4D43)
    let settings = settings(options, trainingRows: data.train.count)
    let phase = "multiclass task: training \(MulticlassMethod.standard.count) models"
    console.progress(phase)
    let results = try runMulticlassComparison(
      train: data.train, test: data.test, settings: settings
    ) { console.progress(phase, step: $0) }
    let bayes = MulticlassTask.bayesBalancedAccuracy(means: means, test: data.test)
    let counts = task.trainingCounts
    var text = """
      Long-tailed multiclass task: K = \(task.classCount) Gaussian classes in \
      R^\(task.dimension), imbalance \(fixed(task.imbalance, 1)), seed \(options.seed)
      training counts \(counts.map(String.init).joined(separator: " ")), \
      balanced test set (\(task.testCountPerClass) per class);
      linear softmax classifier, \(trainingDescription(settings))


      """
    text += multiclassTable(
      results.map { ($0.name, $0.scores) }, reference: ("Bayes rule (nearest true mean)", bayes),
      groupSize: max(1, task.classCount / 3))
    text +=
      "\n\n"
      + leaders(
        results.map { ($0.name, $0.scores) },
        [
          ("balanced accuracy", \.balancedAccuracy), ("tail recall", \.tailRecall),
          ("macro-F1", \.macroF1),
        ])
    var json: [(String, JSON)] = [
      ("bayesBalancedAccuracy", .number(bayes)),
      ("losses", .object(results.map { ($0.name, multiclassJSON($0.scores)) })),
    ]
    let network = "two-layer network (\(task.dimension) → \(DifferentiableComparison.hiddenCount)"
      + " ReLU → \(task.classCount))"
    let networkPhase = "multiclass task: training a \(network) through differentiable Swift"
    console.progress(networkPhase)
    if let networkResults = try DifferentiableComparison.run(
      train: data.train, test: data.test, settings: settings, seed: options.seed &+ 0x4E4E,
      progress: { console.progress(networkPhase, step: $0) })
    {
      text += """


        The same task, a \(network) trained through differentiable Swift:
        gradient(at:in:) chains the layers' pullbacks with each loss's exact
        gradient (ImbalanceLossDifferentiation), \(trainingDescription(settings))


        """
      text += multiclassTable(
        networkResults, reference: ("Bayes rule (nearest true mean)", bayes),
        groupSize: max(1, task.classCount / 3))
      json.append(
        (
          "differentiableNetwork",
          .object([
            ("network", .string(network)),
            ("losses", .object(networkResults.map { ($0.name, multiclassJSON($0.scores)) })),
          ])
        ))
    } else {
      text += "\n\n(The \(network) through differentiable Swift needs a toolchain with the"
        + " _Differentiation module; this one has none.)"
    }
    return (text, .object(json))
  }

  static func multiclassTable(
    _ results: [(name: String, scores: MulticlassScores)], reference: (String, Double)?,
    groupSize: Int
  ) -> String {
    var table = TextTable([
      "loss", "balanced acc", "worst class", "head \(groupSize)", "tail \(groupSize)", "macro-F1",
    ])
    if let (name, value) = reference { table.add([name, fixed(value, 4), "", "", "", ""]) }
    for r in results {
      let s = r.scores
      table.add([
        r.name, fixed(s.balancedAccuracy, 4), fixed(s.worstClassRecall, 4),
        fixed(s.headRecall, 4), fixed(s.tailRecall, 4), fixed(s.macroF1, 4),
      ])
    }
    return table.render() + "\n(head / tail: mean recall of the classes with the most / "
      + "fewest training rows)"
  }

  static func multiclassJSON(_ s: MulticlassScores) -> JSON {
    .object([
      ("balancedAccuracy", .number(s.balancedAccuracy)),
      ("worstClassRecall", .number(s.worstClassRecall)), ("macroF1", .number(s.macroF1)),
      ("headRecall", .number(s.headRecall)), ("tailRecall", .number(s.tailRecall)),
    ])
  }

  /// A line per metric naming the row with its highest value (the first on
  /// ties), e.g. "Highest macro-F1: BCE (0.6123)".
  static func leaders<Scores>(
    _ results: [(name: String, scores: Scores)], _ metrics: [(String, KeyPath<Scores, Double>)]
  ) -> String {
    metrics.compactMap { (label, key) -> String? in
      guard
        let best = results.enumerated().max(by: {
          ($0.element.scores[keyPath: key], $1.offset) < (
            $1.element.scores[keyPath: key], $0.offset
          )
        })?.element
      else { return nil }
      return "Highest \(label): \(best.name) (\(fixed(best.scores[keyPath: key], 4)))"
    }.joined(separator: "\n")
  }

  // MARK: Built-in multi-label task

  static func runMultiLabel(options: Options, console: Console) throws(LossError)
    -> (text: String, json: JSON)
  {
    let task = MultiLabelTask(imbalance: options.imbalance ?? 40)
    let (_, train, test) = task.data(seed: options.seed &+ 0x4D4C)
    let settings = settings(options, trainingRows: train.count)
    let phase = "multi-label task: training \(MultiLabelMethod.standard.count) models"
    console.progress(phase)
    let results = try runMultiLabelComparison(train: train, test: test, settings: settings) {
      console.progress(phase, step: $0)
    }
    let groupSize = max(1, task.labelCount / 3)
    var text = """
      Long-tailed multi-label task: L = \(task.labelCount) independent labels, \
      x = Σ_l y_l μ_l + N(0, I) in R^\(task.dimension),
      label rates \(task.labelRates.map { fixed($0, 4) }.joined(separator: " ")) \
      (imbalance \(fixed(task.imbalance, 1))), seed \(options.seed);
      \(train.count) training rows (label counts \
      \(train.labelCounts.map(String.init).joined(separator: " "))), \(test.count) test rows;
      one sigmoid output per label (linear), \(trainingDescription(settings))


      """
    var table = TextTable([
      "loss", "macro-F1", "mAP", "head \(groupSize) recall", "tail \(groupSize) recall",
      "tail \(groupSize) F1",
    ])
    for r in results {
      let s = r.scores
      table.add([
        r.name, fixed(s.macroF1, 4), fixed(s.meanAveragePrecision, 4), fixed(s.headRecall, 4),
        fixed(s.tailRecall, 4), fixed(s.tailF1, 4),
      ])
    }
    text +=
      table.render() + "\n(labels predicted at probability 0.5; mAP: mean average "
      + "precision, threshold-free;\nhead / tail: the labels with the most / fewest training rows; "
      + "EQLv2 takes one label per row,\nso it runs on the multiclass task only)\n\n"
    text += leaders(
      results.map { ($0.name, $0.scores) },
      [
        ("macro-F1", \.macroF1), ("mAP", \.meanAveragePrecision), ("tail recall", \.tailRecall),
        ("tail F1", \.tailF1),
      ])
    let json = JSON.object([
      (
        "labelRates",
        .object(task.labelRates.enumerated().map { ("\($0.offset)", .number($0.element)) })
      ),
      ("losses", .object(results.map { ($0.name, multiLabelJSON($0.scores)) })),
    ])
    return (text, json)
  }

  static func multiLabelJSON(_ s: MultiLabelScores) -> JSON {
    .object([
      ("macroF1", .number(s.macroF1)), ("meanAveragePrecision", .number(s.meanAveragePrecision)),
      ("headRecall", .number(s.headRecall)), ("tailRecall", .number(s.tailRecall)),
      ("tailF1", .number(s.tailF1)),
    ])
  }

  // MARK: --data

  static func runData(path: String, options: Options, console: Console) throws
    -> (text: String, json: JSON, plot: String?)
  {
    let table = try parseLabelledCSV(try Platform.readFile(path))
    let split = try table.dataset.stratifiedSplit(testFraction: testFraction, seed: options.seed)
    let (mean, deviation) = split.train.featureMoments()
    let train = split.train.standardized(mean: mean, deviation: deviation)
    let test = split.test.standardized(mean: mean, deviation: deviation)
    let settings = settings(options, trainingRows: train.count, minimumSteps: 2000)
    let counts = table.dataset.classCounts
    let k = table.dataset.classCount
    var text = """
      Your data: \(path), \(table.dataset.count) rows, \(table.dataset.featureCount) \
      feature\(table.dataset.featureCount == 1 ? "" : "s"), \(k) classes
      rows per label: \
      \(zip(table.classLabels, counts).map { "\($0): \($1)" }.joined(separator: ", "))\
      \(k == 2 ? "; positive class: label \(table.classLabels[1])" : "")
      stratified \(fixed(100 * (1 - testFraction), 0))/\(fixed(100 * testFraction, 0)) split \
      (seed \(options.seed)): \(train.count) training rows, \(test.count) test rows;
      features standardised on the training rows; \(trainingDescription(settings))


      """
    if k == 2 {
      let phase = "data: training \(BinaryMethod.standard.count) models"
      console.progress(phase)
      let results = try runBinaryComparison(train: train, test: test, settings: settings) {
        console.progress(phase, step: $0)
      }
      var out = TextTable(["loss", "balanced acc", "F1", "precision", "recall"])
      for r in results {
        let s = r.scores
        out.add([
          r.name, fixed(1 - s.balancedError, 4), fixed(s.f1, 4), fixed(s.precision, 4),
          fixed(s.recall, 4),
        ])
      }
      text += out.render()
      let json = JSON.object([("losses", .object(results.map { ($0.name, dataJSON($0.scores)) }))])
      let plot =
        train.featureCount == 2
        ? binaryPlot(
          title: "\(path): standardised training data and decision boundaries", data: train,
          results: results, bayes: [])
        : nil
      return (text, json, plot)
    }
    let phase = "data: training \(MulticlassMethod.standard.count) models"
    console.progress(phase)
    let results = try runMulticlassComparison(train: train, test: test, settings: settings) {
      console.progress(phase, step: $0)
    }
    text += multiclassTable(
      results.map { ($0.name, $0.scores) }, reference: nil, groupSize: max(1, k / 3))
    let json = JSON.object([("losses", .object(results.map { ($0.name, dataJSON($0.scores)) }))])
    return (text, json, nil)
  }

  /// `--data` scores of a binary comparison: `f1` is the F1 of the positive label.
  static func dataJSON(_ s: BinaryScores) -> JSON {
    .object([
      ("balancedAccuracy", .number(1 - s.balancedError)), ("f1", .number(s.f1)),
      ("precision", .number(s.precision)), ("recall", .number(s.recall)),
      ("balancedError", .number(s.balancedError)),
    ])
  }

  /// `--data` scores of a multiclass comparison: `f1` is the macro-F1.
  static func dataJSON(_ s: MulticlassScores) -> JSON {
    .object([
      ("balancedAccuracy", .number(s.balancedAccuracy)), ("f1", .number(s.macroF1)),
      ("worstClassRecall", .number(s.worstClassRecall)),
      ("headRecall", .number(s.headRecall)), ("tailRecall", .number(s.tailRecall)),
    ])
  }
}
