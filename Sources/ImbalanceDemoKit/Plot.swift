/// A straight decision boundary `w · x + b = 0` in the plane, drawn as a line.
public struct Boundary: Sendable {
  /// The legend's label.
  public var name: String
  /// The normal `w` (2 components).
  public var normal: (Double, Double)
  /// The offset `b`.
  public var offset: Double
  /// `nil` for a solid line, else an SVG dash pattern.
  public var dash: String?
}

/// An SVG scatter plot of two-feature binary data with decision boundaries:
/// negatives in grey, positives in orange, one coloured line per boundary.
///
/// - Parameters:
///   - data: Two-feature rows with labels 0/1.
///   - boundaries: Lines to draw; a boundary with a zero normal is skipped.
///   - range: The plotted square `[-range, range]²`.
///   - maximumNegatives: Plot at most this many negatives (evenly spaced
///     rows, so the picture stays light); every positive is drawn.
public func scatterPlotSVG(
  title: String, data: Dataset, boundaries: [Boundary], range: Double = 4.5,
  maximumNegatives: Int = 3000
) -> String {
  precondition(data.featureCount == 2)
  let size = 600.0
  let margin = 50.0
  let legendWidth = 330.0
  func px(_ x: Double) -> String { fixed(margin + (x + range) / (2 * range) * size, 1) }
  func py(_ y: Double) -> String { fixed(margin + (range - y) / (2 * range) * size, 1) }
  let palette = [
    "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
    "#ff7f0e", "#7f7f7f",
  ]
  var svg = """
    <svg xmlns="http://www.w3.org/2000/svg" width="\(fixed(2 * margin + size + legendWidth, 0))" \
    height="\(fixed(2 * margin + size, 0))" font-family="sans-serif" font-size="13">
    <title>\(escaped(title))</title>
    <rect width="100%" height="100%" fill="white"/>
    <text x="\(fixed(margin, 0))" y="30" font-size="15">\(escaped(title))</text>
    <defs><clipPath id="area"><rect x="\(fixed(margin, 0))" y="\(fixed(margin, 0))" \
    width="\(fixed(size, 0))" height="\(fixed(size, 0))"/></clipPath></defs>
    <rect x="\(fixed(margin, 0))" y="\(fixed(margin, 0))" width="\(fixed(size, 0))" \
    height="\(fixed(size, 0))" fill="none" stroke="black"/>

    """
  func label(_ x: String, _ y: String, _ anchor: String, _ text: String) -> String {
    "<text x='\(x)' y='\(y)' dy='4' text-anchor='\(anchor)'>\(text)</text>"
  }
  func dot(_ row: Int, radius: String) -> String {
    "<circle cx='\(px(data.features[2 * row]))' cy='\(py(data.features[2 * row + 1]))' "
      + "r='\(radius)'/>"
  }
  // Axes ticks at the integers.
  let lastTick = Int(range.rounded(.down))
  for t in -lastTick...lastTick {
    svg += label(px(Double(t)), fixed(margin + size + 14, 0), "middle", "\(t)")
    svg += label(fixed(margin - 8, 0), py(Double(t)), "end", "\(t)") + "\n"
  }
  svg += label(px(0), fixed(margin + size + 34, 0), "middle", "x1")
  svg += label(fixed(margin - 34, 0), py(0), "middle", "x2") + "\n"
  svg += "<g clip-path='url(#area)'>\n"
  let negatives = data.labels.indices.filter { data.labels[$0] == 0 }
  let stride = max(1, (negatives.count + maximumNegatives - 1) / maximumNegatives)
  svg += "<g fill='#888888' fill-opacity='0.35'>"
  for i in Swift.stride(from: 0, to: negatives.count, by: stride) {
    svg += dot(negatives[i], radius: "1.6")
  }
  svg += "</g>\n<g fill='#ff7f0e' fill-opacity='0.8'>"
  for row in data.labels.indices where data.labels[row] == 1 {
    svg += dot(row, radius: "2.2")
  }
  svg += "</g>\n"
  var legend = ""
  var legendY = margin + 10
  for (index, boundary) in boundaries.enumerated() {
    let (w1, w2) = boundary.normal
    let norm2 = w1 * w1 + w2 * w2
    guard norm2 > 0, norm2.isFinite, boundary.offset.isFinite else { continue }
    // The point of the line nearest the origin, then far along the line both ways.
    let (cx, cy) = (-boundary.offset * w1 / norm2, -boundary.offset * w2 / norm2)
    let length = 10 * range / norm2.squareRoot()
    let (dx, dy) = (-w2 * length, w1 * length)
    let colour = boundary.dash == nil ? palette[index % palette.count] : "#222222"
    let dash = boundary.dash.map { " stroke-dasharray=\"\($0)\"" } ?? ""
    svg +=
      "<line x1=\"\(px(cx - dx))\" y1=\"\(py(cy - dy))\" x2=\"\(px(cx + dx))\" "
      + "y2=\"\(py(cy + dy))\" stroke=\"\(colour)\" stroke-width=\"2\"\(dash)/>\n"
    legend +=
      "<line x1=\"\(fixed(2 * margin + size, 0))\" y1=\"\(fixed(legendY, 0))\" "
      + "x2=\"\(fixed(2 * margin + size + 30, 0))\" y2=\"\(fixed(legendY, 0))\" "
      + "stroke=\"\(colour)\" stroke-width=\"2\"\(dash)/>"
      + "<text x=\"\(fixed(2 * margin + size + 38, 0))\" y=\"\(fixed(legendY + 4, 0))\">"
      + "\(escaped(boundary.name))</text>\n"
    legendY += 22
  }
  svg += "</g>\n" + legend
  svg +=
    "<circle cx=\"\(fixed(2 * margin + size + 15, 0))\" cy=\"\(fixed(legendY + 8, 0))\" "
    + "r=\"3\" fill=\"#ff7f0e\"/><text x=\"\(fixed(2 * margin + size + 38, 0))\" "
    + "y=\"\(fixed(legendY + 12, 0))\">positive (y = 1)</text>\n"
  svg +=
    "<circle cx=\"\(fixed(2 * margin + size + 15, 0))\" cy=\"\(fixed(legendY + 30, 0))\" "
    + "r=\"3\" fill=\"#888888\"/><text x=\"\(fixed(2 * margin + size + 38, 0))\" "
    + "y=\"\(fixed(legendY + 34, 0))\">negative (y = 0)"
    + (stride > 1 ? ", 1 in \(stride) shown" : "") + "</text>\n"
  return svg + "</svg>\n"
}

private func escaped(_ text: String) -> String {
  var out = ""
  for c in text {
    switch c {
    case "&": out += "&amp;"
    case "<": out += "&lt;"
    case ">": out += "&gt;"
    case "\"": out += "&quot;"
    default: out.append(c)
    }
  }
  return out
}
