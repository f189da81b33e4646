/// The demo's command-line options.
public struct Options: Sendable, Equatable {
  /// Which built-in comparison to run.
  public enum Task: String, Sendable, Equatable {
    /// The binary task only.
    case binary
    /// The long-tailed multiclass task only.
    case multiclass
    /// The long-tailed multi-label task only.
    case multilabel
    /// Every task.
    case all
  }

  /// The built-in comparisons to run (ignored with `dataPath`).
  public var task: Task = .all
  /// The seed of the built-in data, the row order and the `--data` split.
  public var seed: UInt64 = 1
  /// Passes over the training set; `nil` for the default.
  public var epochs: Int?
  /// The ratio of the largest to the smallest class; `nil` for each task's default.
  public var imbalance: Double?
  /// One JSON object on stdout instead of tables.
  public var json = false
  /// Train through the losses' Float32 entry points (`--float`).
  public var float32 = false
  /// Where to write the SVG plot of the binary task, if anywhere.
  public var plotPath: String?
  /// A CSV file to run the comparison on instead of the built-in data.
  public var dataPath: String?
  /// Print the usage and exit.
  public var help = false

  /// The default options: every built-in task, seed 1, tables on stdout.
  public init() {}

  /// Reads options from `arguments` (without the program name). Options take
  /// their value as the next argument or after `=`.
  ///
  /// - Throws: ``OptionsError`` for an unknown option, a missing or invalid
  ///   value, or options that cannot be combined.
  public init(arguments: [String]) throws(OptionsError) {
    var remaining = arguments[...]
    var taskGiven = false
    while let argument = remaining.popFirst() {
      var name = argument
      var inlineValue: String?
      if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
        name = String(argument[..<equals])
        inlineValue = String(argument[argument.index(after: equals)...])
      }
      func value() throws(OptionsError) -> String {
        if let inlineValue { return inlineValue }
        guard let next = remaining.popFirst() else { throw .missingValue(option: name) }
        return next
      }
      switch name {
      case "--help", "-h":
        help = true
      case "--json":
        json = true
      case "--float":
        float32 = true
      case "--task":
        let text = try value()
        guard let parsed = Task(rawValue: text) else {
          throw .invalidValue(
            option: name, value: text, requirement: "binary, multiclass, multilabel or all")
        }
        task = parsed
        taskGiven = true
      case "--seed":
        let text = try value()
        guard let parsed = UInt64(text) else {
          throw .invalidValue(
            option: name, value: text, requirement: "an integer from 0 to 18446744073709551615")
        }
        seed = parsed
      case "--epochs":
        let text = try value()
        guard let parsed = Int(text), parsed >= 1, parsed <= 100_000 else {
          throw .invalidValue(option: name, value: text, requirement: "an integer from 1 to 100000")
        }
        epochs = parsed
      case "--imbalance":
        let text = try value()
        guard let parsed = Double(text), parsed >= 1, parsed <= 1000 else {
          throw .invalidValue(option: name, value: text, requirement: "a number from 1 to 1000")
        }
        imbalance = parsed
      case "--plot":
        plotPath = try value()
      case "--data":
        dataPath = try value()
      default:
        throw .unknownOption(argument)
      }
    }
    if dataPath != nil && taskGiven { throw .conflict("--task", "--data") }
    if dataPath != nil && imbalance != nil { throw .conflict("--imbalance", "--data") }
    if plotPath != nil && dataPath == nil && task != .binary && task != .all {
      throw .conflict("--plot", "--task \(task.rawValue)")
    }
  }

  /// The usage text printed by `--help`.
  public static let usage = """
    imbalance-demo: train small models with each loss of ImbalanceLoss on imbalanced
    data and compare what they get right.

    USAGE: swift run -c release imbalance-demo [options]

    Built-in tasks (deterministic for a given --seed):
      binary      x | y ~ N(±(1,1), I) in R², P(y = 1) = 1 / (1 + imbalance) (5 %),
                  10000 training and 100000 test rows (more at high imbalance),
                  logistic regression; balanced error, F1, precision and recall of
                  each loss next to the analytic Bayes-optimal balanced error and the
                  best achievable F1.
      multiclass  10 Gaussian classes in R^16, training counts n_max · imbalance^(-k/9)
                  (n_max = 1000, imbalance 100), balanced test set, linear softmax
                  classifier; balanced accuracy, worst-class, head and tail recall,
                  macro-F1.
      multilabel  8 independent labels with rates 0.4 · imbalance^(-l/7) (imbalance
                  40: 40 % down to 1 %), x = sum of the present labels' means +
                  N(0, I) in R^16, 5000 training and 10000 test rows (more at high
                  imbalance), one sigmoid output per label; macro-F1, head and
                  tail recall and tail F1 at probability 0.5, mean average
                  precision.

    OPTIONS:
      --task binary|multiclass|multilabel|all
                                     which built-in task to run (default: all)
      --seed N                       seed of the data, the row order and the --data
                                     split (default: 1)
      --epochs N                     passes of mini-batch Adam (batch 128, step 0.01)
                                     over the training set (default: 50; with --data,
                                     at least enough passes for 2000 steps)
      --imbalance R                  largest / smallest class size (label rate for
                                     multilabel), 1 to 1000 (default: 19 for binary,
                                     100 for multiclass, 40 for multilabel)
      --json                         print one JSON object with every figure instead
                                     of tables
      --float                        train through the losses' Float32 entry points
                                     ([Float] logits, targets and weights)
      --plot PATH.svg                draw the binary task's data, each loss's decision
                                     boundary and the Bayes boundaries into an SVG file
      --data PATH.csv                run the comparison on your own data: numeric
                                     feature columns, an integer class label last,
                                     optional header; two labels run the binary
                                     comparison (the larger label is positive), more
                                     the multiclass one; stratified 70/30 split with
                                     --seed; features standardised on the training rows
      -h, --help                     show this help

    Results go to stdout, progress to stderr.
    """
}

/// A command line the demo cannot run.
public enum OptionsError: Error, Equatable, CustomStringConvertible {
  /// An argument that is not a known option.
  case unknownOption(String)
  /// An option given without its value.
  case missingValue(option: String)
  /// An option whose value is out of its domain.
  case invalidValue(option: String, value: String, requirement: String)
  /// Two options that cannot be used together.
  case conflict(String, String)

  /// The message shown to the user.
  public var description: String {
    switch self {
    case .unknownOption(let argument):
      return "unknown option '\(argument)' (see --help)"
    case .missingValue(let option):
      return "\(option) needs a value (see --help)"
    case .invalidValue(let option, let value, let requirement):
      return "\(option) '\(value)': expected \(requirement)"
    case .conflict(let a, let b):
      return "\(a) cannot be combined with \(b)"
    }
  }
}
