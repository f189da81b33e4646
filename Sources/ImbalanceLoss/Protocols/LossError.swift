/// Invalid input to a loss, a prior or a parameter.
///
/// The inputs of a loss are data (labels read from files, logits from a model
/// gone wrong), so every problem with them is a thrown `LossError` that names
/// what was wrong and where, never a trap and never a NaN.
///
/// Every loss checks all of its inputs before it writes anything: when a call
/// throws, a caller-provided gradient buffer is left exactly as it was.
///
/// Two errors are equal when they have the same case and payload; a `value`
/// payload that is NaN equals another NaN.
public enum LossError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The batch has no samples.
  case emptyBatch

  /// An argument has `actual` elements where `expected` were required.
  ///
  /// `argument` is the parameter label, for example `"targets"`,
  /// `"weights"` or `"gradient"`.
  case lengthMismatch(argument: String, expected: Int, actual: Int)

  /// A softmax loss got a logit count that is not a multiple of its class count.
  case logitCountNotMultipleOfClassCount(logitCount: Int, classCount: Int)

  /// `logits[index]` is NaN or infinite.
  case nonFiniteLogit(index: Int, value: Double)

  /// `targets[index]` of a binary loss is NaN or outside `[0, 1]`.
  case targetOutOfRange(index: Int, value: Double)

  /// `targets[index]` of a softmax loss is not in `0..<classCount`.
  case labelOutOfRange(index: Int, label: Int, classCount: Int)

  /// `weights[index]` is negative, NaN or infinite.
  case invalidWeight(index: Int, value: Double)

  /// Every per-sample weight is zero, so the weighted mean `Σ w l / Σ w` is undefined.
  case zeroTotalWeight

  /// A class prior is zero, negative, NaN or infinite.
  case invalidPrior(index: Int, value: Double)

  /// A class count is zero or negative (a class with no samples has no prior,
  /// and its logarithm would be -inf).
  case invalidClassCount(index: Int, count: Int)

  /// A per-class weight is negative, NaN or infinite.
  case invalidClassWeight(index: Int, value: Double)

  /// A list that needs at least one class (priors, counts, class weights) is empty.
  case noClasses

  /// A hyper-parameter is outside its domain; `requirement` says what it must be.
  case invalidParameter(name: String, value: Double, requirement: String)

  /// `targets[index]` of a loss that needs hard labels is neither 0 nor 1.
  case targetNotBinary(index: Int, value: Double)

  /// What was wrong and where, e.g. `logits[7] is nan; logits must be finite`.
  public var description: String {
    switch self {
    case .emptyBatch:
      return "empty batch: at least one sample is required"
    case let .lengthMismatch(argument, expected, actual):
      return "\(argument) has \(actual) elements, expected \(expected)"
    case let .logitCountNotMultipleOfClassCount(logitCount, classCount):
      return "logits has \(logitCount) elements, not a multiple of the class count \(classCount)"
    case let .nonFiniteLogit(index, value):
      return "logits[\(index)] is \(value); logits must be finite"
    case let .targetOutOfRange(index, value):
      return "targets[\(index)] is \(value); binary targets must lie in [0, 1]"
    case let .labelOutOfRange(index, label, classCount):
      return "targets[\(index)] is \(label); class labels must lie in 0..<\(classCount)"
    case let .invalidWeight(index, value):
      return "weights[\(index)] is \(value); weights must be finite and >= 0"
    case .zeroTotalWeight:
      return "all weights are zero; the weighted mean is undefined"
    case let .invalidPrior(index, value):
      return "priors[\(index)] is \(value); priors must be finite and > 0"
    case let .invalidClassCount(index, count):
      return "counts[\(index)] is \(count); every class needs a count > 0"
    case let .invalidClassWeight(index, value):
      return "classWeights[\(index)] is \(value); class weights must be finite and >= 0"
    case .noClasses:
      return "no classes: at least one class is required"
    case let .invalidParameter(name, value, requirement):
      return "\(name) is \(value); it must be \(requirement)"
    case let .targetNotBinary(index, value):
      return "targets[\(index)] is \(value); this loss needs hard labels 0 or 1"
    }
  }

  /// Same case and payload; NaN payloads compare equal.
  public static func == (lhs: LossError, rhs: LossError) -> Bool {
    // NaN payloads compare equal so that a test can match the error it expects.
    func same(_ a: Double, _ b: Double) -> Bool { a == b || (a.isNaN && b.isNaN) }
    switch (lhs, rhs) {
    case (.emptyBatch, .emptyBatch), (.zeroTotalWeight, .zeroTotalWeight),
      (.noClasses, .noClasses):
      return true
    case let (.lengthMismatch(a1, e1, c1), .lengthMismatch(a2, e2, c2)):
      return a1 == a2 && e1 == e2 && c1 == c2
    case let (
      .logitCountNotMultipleOfClassCount(n1, k1), .logitCountNotMultipleOfClassCount(n2, k2)
    ):
      return n1 == n2 && k1 == k2
    case let (.nonFiniteLogit(i1, v1), .nonFiniteLogit(i2, v2)),
      let (.targetOutOfRange(i1, v1), .targetOutOfRange(i2, v2)),
      let (.invalidWeight(i1, v1), .invalidWeight(i2, v2)),
      let (.invalidPrior(i1, v1), .invalidPrior(i2, v2)),
      let (.invalidClassWeight(i1, v1), .invalidClassWeight(i2, v2)):
      return i1 == i2 && same(v1, v2)
    case let (.labelOutOfRange(i1, l1, k1), .labelOutOfRange(i2, l2, k2)):
      return i1 == i2 && l1 == l2 && k1 == k2
    case let (.invalidClassCount(i1, c1), .invalidClassCount(i2, c2)):
      return i1 == i2 && c1 == c2
    case let (.invalidParameter(n1, v1, r1), .invalidParameter(n2, v2, r2)):
      return n1 == n2 && same(v1, v2) && r1 == r2
    case let (.targetNotBinary(i1, v1), .targetNotBinary(i2, v2)):
      return i1 == i2 && same(v1, v2)
    default:
      return false
    }
  }
}
