/// A problem with a CSV file, naming the line and column (both from 1).
public enum CSVError: Error, Equatable, CustomStringConvertible {
  /// The file has no data rows.
  case noRows
  /// A row has fewer than two fields (at least one feature and the label).
  case tooFewColumns(line: Int, count: Int)
  /// A row has a different number of fields from the first row.
  case columnCountMismatch(line: Int, expected: Int, actual: Int)
  /// A feature field is not a number.
  case notANumber(line: Int, column: Int, text: String)
  /// A feature field is NaN or infinite.
  case nonFiniteValue(line: Int, column: Int, text: String)
  /// The last field is not an integer class label.
  case labelNotAnInteger(line: Int, column: Int, text: String)
  /// Every row has the same label: there is nothing to classify.
  case singleClass(label: Int)

  /// The message shown to the user.
  public var description: String {
    switch self {
    case .noRows:
      return "the file has no data rows"
    case .tooFewColumns(let line, let count):
      return "line \(line): \(count) field\(count == 1 ? "" : "s"); each row needs at least "
        + "one feature and a label, separated by commas"
    case .columnCountMismatch(let line, let expected, let actual):
      return "line \(line): \(actual) fields, expected \(expected) like the first row"
    case .notANumber(let line, let column, let text):
      return "line \(line), column \(column): \(quoted(text)) is not a number"
    case .nonFiniteValue(let line, let column, let text):
      return "line \(line), column \(column): \(quoted(text)) is not a finite number"
    case .labelNotAnInteger(let line, let column, let text):
      return "line \(line), column \(column): \(quoted(text)) is not an integer class label"
    case .singleClass(let label):
      return "every row has label \(label); at least two classes are needed"
    }
  }

  private func quoted(_ text: String) -> String {
    text.isEmpty ? "an empty field" : "\"\(text)\""
  }
}

/// A labelled table read from CSV: numeric feature columns, then an integer
/// class label in the last column.
public struct LabelledTable: Sendable, Equatable {
  /// The rows, with labels renumbered `0..<K` in increasing order of the file's labels.
  public var dataset: Dataset
  /// The file's label of each class: `classLabels[k]` was renumbered `k`.
  public var classLabels: [Int]
  /// The header's fields, when the first row is a header.
  public var header: [String]?
}

/// Reads comma-separated text: one row per line, numeric features, an integer
/// label last.
///
/// The first non-blank line is a header when none of its fields is a number.
/// Fields are trimmed of spaces and tabs; blank lines are skipped; `\n`,
/// `\r\n` and `\r` line ends and a leading byte-order mark are accepted.
/// Quoted fields are not supported (a quoted number is reported as not a
/// number).
///
/// - Throws: ``CSVError`` for the first problem, with its line and column.
/// - Complexity: O(size of `text`).
public func parseLabelledCSV(_ text: String) throws(CSVError) -> LabelledTable {
  var features: [Double] = []
  var rawLabels: [Int] = []
  var header: [String]?
  var columns = 0
  var lineNumber = 0
  // A byte-order mark, as some spreadsheets write, is not part of the first field.
  let text = text.hasPrefix("\u{FEFF}") ? text.dropFirst() : text[...]
  // "\r\n" is one Character in Swift, and a newline like "\n" and "\r".
  for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
    lineNumber += 1
    let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(trimmed)
    if fields.count == 1 && fields[0].isEmpty { continue }  // blank line
    if columns == 0 {
      if header == nil && rawLabels.isEmpty && fields.allSatisfy({ Double($0) == nil }) {
        header = fields.map(String.init)
        if fields.count < 2 { throw .tooFewColumns(line: lineNumber, count: fields.count) }
        columns = fields.count
        continue
      }
      if fields.count < 2 { throw .tooFewColumns(line: lineNumber, count: fields.count) }
      columns = fields.count
    }
    guard fields.count == columns else {
      throw .columnCountMismatch(line: lineNumber, expected: columns, actual: fields.count)
    }
    for (j, field) in fields.dropLast().enumerated() {
      guard let x = Double(field) else {
        throw .notANumber(line: lineNumber, column: j + 1, text: String(field))
      }
      guard x.isFinite else {
        throw .nonFiniteValue(line: lineNumber, column: j + 1, text: String(field))
      }
      features.append(x)
    }
    guard let label = integerLabel(fields[columns - 1]) else {
      throw .labelNotAnInteger(line: lineNumber, column: columns, text: String(fields[columns - 1]))
    }
    rawLabels.append(label)
  }
  if rawLabels.isEmpty { throw .noRows }
  let classLabels = Array(Set(rawLabels)).sorted()
  if classLabels.count == 1 { throw .singleClass(label: classLabels[0]) }
  var index: [Int: Int] = [:]
  for (k, label) in classLabels.enumerated() { index[label] = k }
  let dataset = Dataset(
    features: features, labels: rawLabels.map { index[$0]! }, featureCount: columns - 1,
    classCount: classLabels.count)
  return LabelledTable(dataset: dataset, classLabels: classLabels, header: header)
}

private func trimmed(_ field: Substring) -> Substring {
  var field = field
  while let c = field.first, c == " " || c == "\t" { field.removeFirst() }
  while let c = field.last, c == " " || c == "\t" { field.removeLast() }
  return field
}

/// An integer label: digits with an optional sign, or a number with no
/// fractional part such as `1.0` (as many tools write labels).
private func integerLabel(_ field: Substring) -> Int? {
  if let n = Int(field) { return n }
  guard let x = Double(field), x.isFinite, x == x.rounded(),
    abs(x) < 0x1p53
  else { return nil }
  return Int(x)
}
