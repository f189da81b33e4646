import ImbalanceLoss
import Testing

@Test func packageBuildsAndEvaluates() throws {
  // log(1 + e^-2) = 0.12692801104297249 (two logs by hand: log1p(0.1353352832366127)).
  let v = try BinaryCrossEntropy().value(logits: [2.0], targets: [1])
  #expect(abs(v - 0.12692801104297249) < 1e-15)
}
