import Testing

@testable import ImbalanceDemoKit

@Test func defaultsRunBothTasks() throws {
  let options = try Options(arguments: [])
  #expect(options == Options())
  #expect(options.task == .all && options.seed == 1 && options.epochs == nil)
  #expect(!options.json && options.plotPath == nil && options.dataPath == nil)
}

@Test func everyOptionParsesInBothForms() throws {
  let options = try Options(arguments: [
    "--task", "binary", "--seed=7", "--epochs", "12", "--imbalance=50", "--json",
    "--plot", "out.svg",
  ])
  #expect(options.task == .binary)
  #expect(options.seed == 7)
  #expect(options.epochs == 12)
  #expect(options.imbalance == 50)
  #expect(options.json)
  #expect(options.plotPath == "out.svg")
  #expect(try Options(arguments: ["--data", "x.csv"]).dataPath == "x.csv")
  #expect(try Options(arguments: ["-h"]).help)
}

@Test(arguments: [
  (["--frobnicate"], OptionsError.unknownOption("--frobnicate")),
  (["--seed"], .missingValue(option: "--seed")),
  (
    ["--task", "both"],
    .invalidValue(
      option: "--task", value: "both", requirement: "binary, multiclass, multilabel or all")
  ),
  (
    ["--seed", "-1"],
    .invalidValue(
      option: "--seed", value: "-1", requirement: "an integer from 0 to 18446744073709551615")
  ),
  (
    ["--epochs=0"],
    .invalidValue(option: "--epochs", value: "0", requirement: "an integer from 1 to 100000")
  ),
  (
    ["--imbalance", "0.5"],
    .invalidValue(option: "--imbalance", value: "0.5", requirement: "a number from 1 to 1000")
  ),
  (
    ["--imbalance", "1001"],
    .invalidValue(option: "--imbalance", value: "1001", requirement: "a number from 1 to 1000")
  ),
  (
    ["--imbalance", "nan"],
    .invalidValue(option: "--imbalance", value: "nan", requirement: "a number from 1 to 1000")
  ),
  (["--data", "a.csv", "--task", "binary"], .conflict("--task", "--data")),
  (["--data", "a.csv", "--imbalance", "3"], .conflict("--imbalance", "--data")),
  (["--task", "multiclass", "--plot", "p.svg"], .conflict("--plot", "--task multiclass")),
  (["--task", "multilabel", "--plot", "p.svg"], .conflict("--plot", "--task multilabel")),
])
func badCommandLinesAreNamed(arguments: [String], expected: OptionsError) {
  #expect(throws: expected) { try Options(arguments: arguments) }
}
