import Testing

@testable import ImbalanceDemoKit

@Test func csvWithHeaderAndIntegerLabels() throws {
  let text = "x1, x2 ,label\n1.5,-2,0\n\n3e2,4,1\r\n-0.25, 0 ,1\r\n\t\n"
  let table = try parseLabelledCSV(text)
  #expect(table.header == ["x1", "x2", "label"])
  #expect(table.dataset.featureCount == 2)
  #expect(table.dataset.features == [1.5, -2, 300, 4, -0.25, 0])
  #expect(table.dataset.labels == [0, 1, 1])
  #expect(table.classLabels == [0, 1])
}

@Test func csvWithoutHeaderRenumbersLabels() throws {
  // Labels 7, -2, 3.0 become classes 2, 0, 1 (sorted file labels).
  let table = try parseLabelledCSV("1,7\n2,-2\n3,3.0\n4,7")
  #expect(table.header == nil)
  #expect(table.dataset.featureCount == 1)
  #expect(table.dataset.labels == [2, 0, 1, 2])
  #expect(table.classLabels == [-2, 3, 7])
  #expect(table.dataset.classCount == 3)
}

@Test func csvByteOrderMarkIsIgnored() throws {
  let table = try parseLabelledCSV("\u{FEFF}1,2,0\n3,4,1\n")
  #expect(table.dataset.features == [1, 2, 3, 4])
}

@Test(arguments: [
  ("1,2,0\n3,x,1\n", CSVError.notANumber(line: 2, column: 2, text: "x")),
  ("1,2,0\r\n\r\n3,4,1\r\n5,6,0,\r\n", .columnCountMismatch(line: 4, expected: 3, actual: 4)),
  ("a,b,y\n1,2,0\n\n3,,1\n", .notANumber(line: 4, column: 2, text: "")),
  ("1,2,0\n3,4\n", .columnCountMismatch(line: 2, expected: 3, actual: 2)),
  ("1,2,0\n3,4,1,5\n", .columnCountMismatch(line: 2, expected: 3, actual: 4)),
  ("1,2,0\nnan,4,1\n", .nonFiniteValue(line: 2, column: 1, text: "nan")),
  ("1,inf,0\n", .nonFiniteValue(line: 1, column: 2, text: "inf")),
  ("1,2,0\n3,4,1.5\n", .labelNotAnInteger(line: 2, column: 3, text: "1.5")),
  ("1,2,0\n3,4,yes\n", .labelNotAnInteger(line: 2, column: 3, text: "yes")),
  ("1,2,0,\n", .labelNotAnInteger(line: 1, column: 4, text: "")),
  (
    "1,99999999999999999999\n", .labelNotAnInteger(line: 1, column: 2, text: "99999999999999999999")
  ),
  ("1\n2\n", .tooFewColumns(line: 1, count: 1)),
  ("1;2;0\n", .tooFewColumns(line: 1, count: 1)),
  ("", .noRows),
  ("x,y\n\n", .noRows),
  ("1,0\n2,0\n", .singleClass(label: 0)),
  ("\"1\",0\n", .notANumber(line: 1, column: 1, text: "\"1\"")),
])
func badCSVNamesLineAndColumn(text: String, expected: CSVError) {
  #expect(throws: expected) { try parseLabelledCSV(text) }
}

@Test func csvErrorMessagesNameLineAndColumn() {
  #expect(
    CSVError.notANumber(line: 3, column: 2, text: "x").description
      == "line 3, column 2: \"x\" is not a number")
  #expect(
    CSVError.notANumber(line: 4, column: 1, text: "").description
      == "line 4, column 1: an empty field is not a number")
  #expect(
    CSVError.columnCountMismatch(line: 5, expected: 3, actual: 2).description
      == "line 5: 2 fields, expected 3 like the first row")
}
