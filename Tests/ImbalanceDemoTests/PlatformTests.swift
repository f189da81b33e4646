import Testing

@testable import ImbalanceDemoKit

@Test func filesRoundTripAndMissingFilesAreNamed() throws {
  let path = temporaryPath("roundtrip.txt")
  let text = "x,y\n1,2 é\n" + String(repeating: "z", count: 70_000)  // longer than one read chunk
  try Platform.writeFile(path, contents: text)
  #expect(try Platform.readFile(path) == text)
  try Platform.writeFile(path, contents: "")
  #expect(try Platform.readFile(path) == "")
  #expect(throws: FileError(path: "/nonexistent-dir/x.csv", reason: "No such file or directory")) {
    try Platform.readFile("/nonexistent-dir/x.csv")
  }
  #expect(throws: FileError.self) { try Platform.writeFile("/nonexistent-dir/x.svg", contents: "") }
}

@Test func elementaryFunctionsComeFromTheCLibrary() {
  #expect(Platform.exp(0) == 1)
  #expect(Platform.log(1) == 0)
  #expect(Platform.erfc(0) == 1)
  // erfc(3) = 2.209049699858544137e-05 (mpmath, 20 digits).
  expectClose(Platform.erfc(3), 2.209049699858544137e-05, relative: 1e-15)
}
