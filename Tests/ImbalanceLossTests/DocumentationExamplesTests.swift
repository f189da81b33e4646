import Foundation
import ImbalanceLoss
import Testing

// Every ```swift block that follows a `<!-- snippet: NAME -->` marker in
// README.md or the DocC catalog is a copy of the region between
// `// snippet: NAME` and `// end-snippet` below: the tests run the code, and
// `documentedExamplesMatchTheirTests` fails when a copy drifts.

@Suite struct DocumentationExamplesTests {
  @Test func readmeFloat32() throws {
    // snippet: readme-float32
    let logits: [Float] = [2, -1, 0.5, -3]
    let targets: [Float] = [1, 0, 1, 0]
    let (value, gradient) = try BinaryCrossEntropy(positiveWeight: 3)
      .valueAndGradient(logits: logits, targets: targets)  // (Float, [Float])
    let labels = [0, 2]  // softmax losses take Int labels, K logits per row
    let ce = try SoftmaxCrossEntropy(classCount: 3)
      .value(logits: [2, 0.5, -1, 0.1, 0.2, 0.3] as [Float], targets: labels)
    // end-snippet
    // The quick start's references (Scripts/doc_examples_reference.py), in Float.
    #expect(abs(value - 0.54121600619030061) <= value.ulp)
    let expected: [Float] = [
      -0.089402191516588167, 0.06723535534249878, -0.28315550159860908, 0.011856468294391695,
    ]
    for (g, e) in zip(gradient, expected) { #expect(abs(g - e) <= e.ulp) }
    #expect(ce.isFinite && ce > 0)
  }

  @Test func readmeQuickStart() throws {
    // snippet: readme-quick-start
    // Binary: rare positives, one logit per sample.
    let logits: [Double] = [2.0, -1.0, 0.5, -3.0]
    let targets: [Double] = [1, 0, 1, 0]
    let bce = BinaryCrossEntropy(positiveWeight: 3)
    let (value, gradient) = try bce.valueAndGradient(logits: logits, targets: targets)
    print(value, gradient)  // back-propagate `gradient`

    // F1-weighted cross-entropy: the batch's smooth F1, held constant.
    let f1Loss = try F1WeightedCrossEntropy().value(logits: logits, targets: targets)

    // Long-tailed multiclass: K = 3 logits per sample, row-major.
    let priors = try ClassPriors(counts: [900, 90, 10])
    let adjusted = try LogitAdjustedCrossEntropy(priors: priors, tau: 1)
    var reusable = [Double]()  // training loops reuse one gradient array
    let softmaxValue = try adjusted.valueAndGradient(
      logits: [2.0, 0.5, -1.0, 0.1, 0.2, 0.3], targets: [0, 2], gradient: &reusable)

    // Post-hoc alternative: train with plain cross-entropy, adjust at prediction.
    let predicted = try priors.predictions(logits: [2.0, 0.5, -1.0, 0.1, 0.2, 0.3], tau: 1)
    print(f1Loss, softmaxValue, predicted)
    // end-snippet
    // References: Scripts/doc_examples_reference.py (mpmath, 50 digits, from the
    // documented formulas), rounded to 17 significant digits.
    expectClose(value, 0.54121600619030061, relative: 1e-13)
    expectEachClose(
      gradient,
      [-0.089402191516588167, 0.06723535534249878, -0.28315550159860908, 0.011856468294391695])
    // The batch's smooth F1 is 0.78712277741538575.
    expectClose(f1Loss, 0.12672061125260044, relative: 1e-13)
    expectClose(softmaxValue, 2.2196953052485713, relative: 1e-13)
    expectEachClose(
      reusable,
      [
        -0.011177515464275721, 0.010907103925860952, 2.7041153841476911e-4,
        0.4448049406355895, 0.049158548460681839, -0.49396348909627134,
      ])
    #expect(predicted == [2, 2])
  }

  @Test func doccOverview() throws {
    // snippet: docc-overview
    let loss = BinaryCrossEntropy(positiveWeight: 19)  // positive rate 5 %: (1 - π) / π
    let (value, gradient) = try loss.valueAndGradient(
      logits: [1.2, -0.3, -2.0], targets: [1, 0, 0])
    // end-snippet
    // References: Scripts/doc_examples_reference.py.
    expectClose(value, 1.8945500449780308, relative: 1e-13)
    expectEachClose(gradient, [-1.4660097045062216, 0.14185249439611367, 0.039734307340705852])
  }

  @Test func doccCompareGradients() throws {
    // snippet: docc-compare-gradients
    // A positive the model gets badly wrong, z = -8:
    let accuracyGradient = try SmoothAccuracyLoss().gradient(logits: [-8], targets: [1])
    let crossEntropyGradient = try BinaryCrossEntropy().gradient(logits: [-8], targets: [1])
    // accuracyGradient[0] ≈ -0.000335: almost nothing to learn from.
    // crossEntropyGradient[0] ≈ -0.999665: the full error.
    // end-snippet
    // References: Scripts/doc_examples_reference.py; -p(1 - p) and -(1 - p) at z = -8.
    expectEachClose(accuracyGradient, [-3.3523767075647422e-4])
    expectEachClose(crossEntropyGradient, [-0.99966464986953352])
  }

  @Test func doccPostHoc() throws {
    // snippet: docc-post-hoc
    let priors = try ClassPriors(counts: [5000, 500, 50])
    // Train with SoftmaxCrossEntropy(classCount: 3); then, at prediction:
    let logits: [Double] = [2.0, 1.2, 0.4]
    let plain = try priors.predictions(logits: logits, tau: 0)     // [0]
    let balanced = try priors.predictions(logits: logits, tau: 1)  // [2]
    // end-snippet
    #expect(plain == [0])
    // Scripts/doc_examples_reference.py: adjusted logits 2.10436, 3.60695, 5.10953 at tau = 1.
    #expect(balanced == [2])
  }

  @Test func documentedExamplesMatchTheirTests() throws {
    let root = URL(fileURLWithPath: #filePath)
      .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let tests = try snippets(inSwiftFilesUnder: root.appendingPathComponent("Tests"))
    var documents = [root.appendingPathComponent("README.md")]
    let catalog = root.appendingPathComponent("Sources/ImbalanceLoss/ImbalanceLoss.docc")
    if let items = FileManager.default.enumerator(atPath: catalog.path) {
      for case let item as String in items where item.hasSuffix(".md") {
        documents.append(catalog.appendingPathComponent(item))
      }
    }
    var checked = 0
    for document in documents {
      for (name, code) in try markdownSnippets(in: document) {
        guard let expected = tests[name] else {
          Issue.record("\(document.lastPathComponent): snippet '\(name)' has no test")
          continue
        }
        // The markdown adds the imports a reader needs; the test file has them at the top.
        let body = code.filter { !$0.hasPrefix("import ") }
          .drop(while: { $0.isEmpty })
        #expect(
          Array(body) == expected,
          "\(document.lastPathComponent): snippet '\(name)' differs from its test")
        checked += 1
      }
    }
    #expect(checked >= 4)
  }

  @Test func everySwiftBlockIsCheckedOrAManifestFragment() throws {
    // A ```swift block without a snippet marker would escape the test above.
    // The one exception is a Package.swift fragment, which cannot compile on
    // its own: it must name the library product this manifest really declares.
    let root = URL(fileURLWithPath: #filePath)
      .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let manifest = try String(
      contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
    #expect(manifest.contains(".library(name: \"ImbalanceLoss\""))
    var documents = [root.appendingPathComponent("README.md")]
    let catalog = root.appendingPathComponent("Sources/ImbalanceLoss/ImbalanceLoss.docc")
    if let items = FileManager.default.enumerator(atPath: catalog.path) {
      for case let item as String in items where item.hasSuffix(".md") {
        documents.append(catalog.appendingPathComponent(item))
      }
    }
    for document in documents {
      let lines = try String(contentsOf: document, encoding: .utf8)
        .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
      for (i, line) in lines.enumerated() where line.hasPrefix("```swift") {
        let marker = i > 0 ? lines[i - 1] : ""
        if marker.hasPrefix("<!-- snippet: ") { continue }
        guard marker == "<!-- manifest-fragment -->" else {
          Issue.record("\(document.lastPathComponent):\(i + 1): a swift block no test checks")
          continue
        }
        let block = lines[(i + 1)...].prefix { !$0.hasPrefix("```") }.joined(separator: "\n")
        #expect(
          block.contains(".package(path:") || block.contains(".package(url:"),
          "\(document.lastPathComponent):\(i + 1): the fragment must declare the package")
        // The package is not published: a fragment names a local path or a
        // placeholder for the reader's clone, never a hosting service's URL.
        #expect(
          !block.contains("https://"),
          "\(document.lastPathComponent):\(i + 1): no public URL exists to depend on")
        #expect(
          block.contains("dependencies: [\"ImbalanceLoss\"]"),
          "\(document.lastPathComponent):\(i + 1): the fragment must use the product name")
      }
    }
  }
}

/// Expects `actual` to have the length of `expected` and each element within
/// `relative` of its reference, element by element (not relative to the largest).
func expectEachClose(
  _ actual: [Double], _ expected: [Double], relative tolerance: Double = 1e-13,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(actual.count == expected.count, sourceLocation: sourceLocation)
  for (i, (a, e)) in zip(actual, expected).enumerated() {
    expectClose(a, e, relative: tolerance, "[\(i)]", sourceLocation: sourceLocation)
  }
}

/// `name -> lines` for every `// snippet: name` ... `// end-snippet` region,
/// dedented to the region's first line.
func snippets(inSwiftFilesUnder directory: URL) throws -> [String: [String]] {
  var result: [String: [String]] = [:]
  let files = FileManager.default.enumerator(atPath: directory.path)
  while let file = files?.nextObject() as? String {
    guard file.hasSuffix(".swift") else { continue }
    let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
    var name: String?
    var lines: [String] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
      let trimmed = line.trimmingCharacters(in: .whitespaces)
      if trimmed.hasPrefix("// snippet: ") {
        name = String(trimmed.dropFirst("// snippet: ".count))
        lines = []
      } else if trimmed == "// end-snippet", let n = name {
        let indent = lines.first.map { $0.prefix(while: { $0 == " " }).count } ?? 0
        result[n] = lines.map { String($0.dropFirst(min(indent, $0.prefix(while: { $0 == " " }).count))) }
        name = nil
      } else if name != nil {
        lines.append(String(line))
      }
    }
  }
  return result
}

/// `(name, lines)` for every ```swift block preceded by `<!-- snippet: name -->`.
func markdownSnippets(in file: URL) throws -> [(String, [String])] {
  let text = try String(contentsOf: file, encoding: .utf8)
  var result: [(String, [String])] = []
  var pending: String?
  var inBlock = false
  var lines: [String] = []
  for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
    if inBlock {
      if line.hasPrefix("```") {
        result.append((pending!, lines))
        inBlock = false
        pending = nil
      } else {
        lines.append(line)
      }
    } else if line.hasPrefix("<!-- snippet: "), line.hasSuffix(" -->") {
      pending = String(line.dropFirst("<!-- snippet: ".count).dropLast(" -->".count))
    } else if line.hasPrefix("```swift"), pending != nil {
      inBlock = true
      lines = []
    }
  }
  return result
}
