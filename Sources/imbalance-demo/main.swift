import ImbalanceLoss

// Placeholder demo: replaced by the full training comparison (issue 4).
let logits: [Double] = [2.0, -1.0, 0.5, -3.0]
let targets: [Double] = [1, 0, 1, 0]
do {
  let bce = try BinaryCrossEntropy().valueAndGradient(logits: logits, targets: targets)
  print("binary cross-entropy:", bce.value, bce.gradient)
} catch {
  print("error:", error)
}
