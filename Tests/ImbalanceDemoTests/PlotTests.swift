import Testing

@testable import ImbalanceDemoKit

@Test func plotDrawsEveryPointAndDrawableBoundary() {
  let data = Dataset(
    features: [0, 0, 1, 1, -1, 2, 3, -3], labels: [0, 1, 0, 1], featureCount: 2, classCount: 2)
  let svg = scatterPlotSVG(
    title: "a <test> & more", data: data,
    boundaries: [
      Boundary(name: "diagonal", normal: (1, 1), offset: 0, dash: nil),
      Boundary(name: "degenerate", normal: (0, 0), offset: 1, dash: nil),
      Boundary(name: "Bayes", normal: (1, 0), offset: -1, dash: "4 4"),
    ])
  #expect(svg.hasPrefix("<svg"))
  #expect(svg.hasSuffix("</svg>\n"))
  // 4 data points + 2 legend markers; 2 drawable boundaries, each line + legend swatch.
  #expect(svg.occurrences(of: "<circle") == 6)
  #expect(svg.occurrences(of: "<line") == 4)
  #expect(!svg.contains("degenerate"))
  #expect(svg.contains("a &lt;test&gt; &amp; more"))
}

extension String {
  /// How many times `needle` occurs, without overlaps.
  func occurrences(of needle: String) -> Int {
    var count = 0
    var rest = self[...]
    while let range = rest.firstRange(of: needle) {
      count += 1
      rest = rest[range.upperBound...]
    }
    return count
  }
}
