import Testing

@testable import ImbalanceDemoKit

@Test func fixedRoundsToTheGivenPlaces() {
  #expect(fixed(0.078649603525142565, 4) == "0.0786")
  #expect(fixed(0.99996, 4) == "1.0000")
  #expect(fixed(-0.00004, 4) == "0.0000")
  #expect(fixed(-2.5, 1) == "-2.5")
  #expect(fixed(19, 0) == "19")
  #expect(fixed(.nan, 3) == "n/a")
}

@Test func jsonKeepsKeyOrderAndEscapes() {
  let value = JSON.object([
    ("b", .number(0.5)), ("a \"q\"\n", .string("x\\y")), ("bad", .number(.infinity)),
    ("nested", .object([])),
  ])
  #expect(
    value.rendered()
      == #"{"b": 0.5, "a \"q\"\n": "x\\y", "bad": null, "nested": {}}"#)
}

@Test func tablesAlignColumns() {
  var table = TextTable(["loss", "F1"])
  table.add(["BCE", "0.5"])
  table.add(["smooth F1", ""])
  #expect(table.render() == "loss        F1\nBCE        0.5\nsmooth F1")
}
