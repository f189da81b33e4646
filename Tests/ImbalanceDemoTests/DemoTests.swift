import Testing

@testable import ImbalanceDemoKit

/// A console whose output and errors are collected.
final class Capture: @unchecked Sendable {
  var output = ""
  var errors = ""

  var console: Console {
    Console(output: { self.output += $0 }, errors: { self.errors += $0 }, errorsIsTerminal: false)
  }
}

/// A fresh path in the temporary directory.
func temporaryPath(_ name: String) -> String {
  "/tmp/imbalance-demo-tests-\(name)-\(UInt64.random(in: 0...UInt64.max))"
}

@Test func helpPrintsUsageOnStdout() {
  let capture = Capture()
  #expect(Demo.run(arguments: ["--help"], console: capture.console) == 0)
  #expect(capture.output.contains("--data PATH.csv"))
  #expect(capture.errors.isEmpty)
}

@Test func badCommandLineExitsWithTwo() {
  let capture = Capture()
  #expect(Demo.run(arguments: ["--epochs", "many"], console: capture.console) == 2)
  #expect(capture.output.isEmpty)
  #expect(capture.errors.contains("--epochs 'many'"))
}

@Test func jsonHasTheDocumentedShape() {
  let capture = Capture()
  let status = Demo.run(
    arguments: ["--json", "--epochs", "1", "--task", "all"], console: capture.console)
  #expect(status == 0)
  let json = capture.output
  #expect(json.hasPrefix(#"{"binary": {"bayesBalancedError": 0.0786496035251425"#))
  #expect(json.contains(#""bestF1": 0.73670859578909"#))
  #expect(json.contains(#""losses": {"BCE": {"balancedError": "#))
  #expect(json.contains(#"}, "multiclass": {"bayesBalancedAccuracy": "#))
  #expect(json.contains(#""softmax CE": {"balancedAccuracy": "#))
  for name in [
    "balanced softmax", "LDAM-DRW (beta 0.9999 from 4/5 of the run)", "Poly-1 (epsilon 1)",
    "seesaw (p 0.8, q 2)", "EQLv2 (one-vs-all sigmoid)", "generalized Dice",
  ] {
    #expect(json.contains("\"\(name)\": {\"balancedAccuracy\": "), "\(name)")
  }
  if DifferentiableComparison.isAvailable {
    #expect(json.contains(#""differentiableNetwork": {"network": "two-layer network (16 → 32"#))
  }
  #expect(json.contains(#"}, "multilabel": {"labelRates": {"0": 0.4, "#))
  #expect(json.contains(#""ASL (gamma+ 0, gamma- 4, clip 0.05)": {"macroF1": "#))
  for key in [
    "f1", "precision", "recall", "worstClassRecall", "macroF1", "meanAveragePrecision",
    "tailRecall", "tailF1",
  ] {
    #expect(json.contains("\"\(key)\": "), "\(key)")
  }
  #expect(!json.contains("null") && !json.contains("nan"))
  // Progress went to stderr, never into the JSON.
  #expect(capture.errors.contains("binary task: training"))
}

@Test func dataRunsTheBinaryComparisonOnACSVFileAndPlotsIt() throws {
  var generator = SplitMix64(seed: 2)
  var csv = "u,v,label\n"
  for i in 0..<300 {
    let y = i % 10 == 0 ? 1 : 0
    let shift = y == 1 ? 1.5 : -0.5
    csv += "\(shift + generator.normal()),\(shift + generator.normal()),\(y)\n"
  }
  let path = temporaryPath("binary.csv")
  let plotPath = temporaryPath("plot.svg")
  try Platform.writeFile(path, contents: csv)
  let capture = Capture()
  let status = Demo.run(
    arguments: ["--data", path, "--json", "--epochs", "5", "--plot", plotPath],
    console: capture.console)
  #expect(status == 0, "\(capture.errors)")
  #expect(capture.output.hasPrefix(#"{"data": {"losses": {"BCE": {"balancedAccuracy": "#))
  #expect(capture.output.contains(#""f1": "#))
  #expect(try Platform.readFile(plotPath).hasPrefix("<svg"))
}

@Test func dataRunsTheMulticlassComparisonOnThreeLabels() throws {
  var csv = ""
  for i in 0..<90 { csv += "\(Double(i % 3) + 0.01 * Double(i)),\(i % 3 + 5)\n" }
  let path = temporaryPath("multi.csv")
  try Platform.writeFile(path, contents: csv)
  let capture = Capture()
  #expect(Demo.run(arguments: ["--data", path, "--epochs", "2"], console: capture.console) == 0)
  #expect(capture.output.contains("3 classes"))
  #expect(capture.output.contains("logit-adjusted CE (tau 1)"))
}

@Test func badDataFilesExitWithOneAndNameTheProblem() throws {
  let path = temporaryPath("bad.csv")
  try Platform.writeFile(path, contents: "1,2,0\n3,4,1\n5,six,1\n")
  let capture = Capture()
  #expect(Demo.run(arguments: ["--data", path], console: capture.console) == 1)
  #expect(capture.errors.contains("\(path): line 3, column 2: \"six\" is not a number"))
  #expect(capture.output.isEmpty)

  let missing = temporaryPath("missing.csv")
  let second = Capture()
  #expect(Demo.run(arguments: ["--data", missing], console: second.console) == 1)
  #expect(second.errors.contains("\(missing): No such file or directory"))

  // A class with one row cannot be split.
  try Platform.writeFile(path, contents: "1,0\n2,0\n3,1\n")
  let third = Capture()
  #expect(Demo.run(arguments: ["--data", path], console: third.console) == 1)
  #expect(third.errors.contains("a stratified split needs at least 2 per class"))
}

@Test func anUnwritablePlotPathFailsAfterPrintingTheResults() {
  let capture = Capture()
  let status = Demo.run(
    arguments: ["--task", "binary", "--epochs", "1", "--plot", "/nonexistent-dir/p.svg"],
    console: capture.console)
  #expect(status == 1)
  #expect(capture.output.contains("Bayes-optimal (analytic)"))
  #expect(capture.errors.contains("/nonexistent-dir/p.svg: No such file or directory"))
}

@Test func multilabelTaskRunsAloneWithItsTable() {
  let capture = Capture()
  #expect(
    Demo.run(arguments: ["--task", "multilabel", "--epochs", "1"], console: capture.console) == 0)
  let text = capture.output
  #expect(text.hasPrefix("Long-tailed multi-label task: L = 8 independent labels"))
  #expect(text.contains("label rates 0.4000 0.2362 0.1394 0.0823 0.0486 0.0287 0.0169 0.0100"))
  for name in MultiLabelMethod.standard.map(\.name) { #expect(text.contains(name), "\(name)") }
  #expect(text.contains("Highest tail F1: "))
  #expect(!text.contains("Binary task") && !text.contains("Long-tailed multiclass task"))
}

@Test func floatOptionSaysSoInTheTrainingLine() {
  let capture = Capture()
  let status = Demo.run(
    arguments: ["--float", "--epochs", "1", "--task", "multilabel"], console: capture.console)
  #expect(status == 0)
  #expect(capture.output.contains("losses called with Float32 batches"))
}
