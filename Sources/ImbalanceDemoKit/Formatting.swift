/// `x` rounded to `decimals` places, without exponent ("0.0786"); "n/a" when
/// not finite.
public func fixed(_ x: Double, _ decimals: Int) -> String {
  guard x.isFinite else { return "n/a" }
  var scale = 1.0
  for _ in 0..<decimals { scale *= 10 }
  let scaled = (abs(x) * scale).rounded()
  guard scaled < 0x1p62 else { return "\(x)" }
  let units = Int(scaled)
  let whole = units / Int(scale)
  let fraction = String(units % Int(scale))
  let sign = x < 0 && units != 0 ? "-" : ""
  if decimals == 0 { return "\(sign)\(whole)" }
  return "\(sign)\(whole)." + String(repeating: "0", count: decimals - fraction.count) + fraction
}

/// A plain-text table with a left-aligned first column and right-aligned others.
struct TextTable {
  var header: [String]
  var rows: [[String]] = []

  init(_ header: [String]) { self.header = header }

  mutating func add(_ row: [String]) { rows.append(row) }

  func render() -> String {
    let all = [header] + rows
    let widths = header.indices.map { j in all.map { $0[j].count }.max() ?? 0 }
    func line(_ row: [String]) -> String {
      row.enumerated().map { j, cell in
        let pad = String(repeating: " ", count: widths[j] - cell.count)
        return j == 0 ? cell + pad : pad + cell
      }.joined(separator: "  ").trimmingTrailingSpaces()
    }
    return ([line(header)] + rows.map(line)).joined(separator: "\n")
  }
}

/// A JSON value whose objects keep their keys in insertion order.
public indirect enum JSON: Equatable, Sendable {
  /// A number; written as `null` when not finite.
  case number(Double)
  /// A string, escaped when written.
  case string(String)
  /// An object whose members keep their order.
  case object([(String, JSON)])

  /// Values are equal when they render to the same text.
  public static func == (a: JSON, b: JSON) -> Bool { a.rendered() == b.rendered() }

  /// Compact JSON text; a non-finite number is written as `null`.
  public func rendered() -> String {
    switch self {
    case .number(let x):
      return x.isFinite ? "\(x)" : "null"
    case .string(let s):
      return JSON.quote(s)
    case .object(let members):
      return "{" + members.map { JSON.quote($0.0) + ": " + $0.1.rendered() }.joined(separator: ", ")
        + "}"
    }
  }

  static func quote(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      default:
        if scalar.value < 0x20 {
          let hex = String(scalar.value, radix: 16)
          out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out + "\""
  }
}

extension String {
  func trimmingTrailingSpaces() -> String {
    var s = Substring(self)
    while s.last == " " { s.removeLast() }
    return String(s)
  }
}
