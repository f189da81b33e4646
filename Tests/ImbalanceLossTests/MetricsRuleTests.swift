import ImbalanceLoss
import Testing

// One isolated case per rule of ClassificationMetrics.swift, each against
// scikit-learn / imbalanced-learn (Fixtures/MetricsReference.swift, written by
// Scripts/metrics_reference.py). The metrics are a few roundings each: within
// 4 ulps (relative 1e-15) of the reference.

private func matrix(_ name: String) throws -> (ConfusionMatrix, MetricsCase) {
  let c = try #require(metricsReference[name], "no reference case \(name)")
  let m = try ConfusionMatrix(
    predictions: c.predictions, labels: c.labels, classCount: c.classCount, weights: c.weights)
  return (m, c)
}

private func expectMatches(
  _ actual: Double, _ expected: Double, _ what: String,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  if expected.isNaN {
    #expect(actual.isNaN, "\(what): \(actual), expected NaN", sourceLocation: sourceLocation)
  } else {
    expectClose(actual, expected, relative: 1e-15, what, sourceLocation: sourceLocation)
  }
}

@Suite struct MetricsRuleTests {
  // Geometric mean of recalls (imbalanced-learn, multiclass, correction 0).

  @Test func geometricMeanIsZeroWithAClassThatIsOnlyPredicted() throws {
    // Both true classes have recall 2/3; class 2 is predicted but never true:
    // its recall is 0, so the mean is 0 (skipping it would give 2/3).
    let (m, c) = try matrix("gmeanOnlyPredictedClass")
    #expect(c.geometricMeanRecall == 0)
    #expect(m.geometricMeanRecall == 0)
    #expect(m.recalls.allSatisfy { $0 > 0 } == false)
    #expect(m.recall(of: 0) > 0 && m.recall(of: 1) > 0)
  }

  @Test func geometricMeanOfTwoClassesWithNoPositiveSample() throws {
    // All labels 0, one sample predicted 1: specificity 3/4, sensitivity of
    // the only-predicted class 0, so G = 0.
    let (m, c) = try matrix("gmeanOnlyPredictedBinary")
    #expect(c.geometricMeanRecall == 0)
    #expect(m.geometricMeanRecall == 0)
  }

  @Test func geometricMeanSkipsAClassAbsentFromLabelsAndPredictions() throws {
    let (m, c) = try matrix("gmeanAbsentClassSkipped")
    #expect(c.geometricMeanRecall > 0)
    expectMatches(m.geometricMeanRecall, c.geometricMeanRecall, "G-mean")
  }

  @Test func geometricMeanWithSampleWeights() throws {
    let (m, c) = try matrix("gmeanWeighted")
    expectMatches(m.geometricMeanRecall, c.geometricMeanRecall, "G-mean")
  }

  // Balanced accuracy (scikit-learn): the mean recall over the true classes.

  @Test func balancedAccuracyLeavesOutAClassThatIsOnlyPredicted() throws {
    // (2/3 + 1/2) / 2, not / 3.
    let (m, c) = try matrix("balancedOnlyPredictedClass")
    expectMatches(m.balancedAccuracy, c.balancedAccuracy, "balanced accuracy")
    expectMatches(m.balancedAccuracy, (2.0 / 3 + 0.5) / 2, "balanced accuracy")
  }

  @Test func balancedAccuracyLeavesOutAnAbsentClass() throws {
    // Classes 0, 1, 3 occur; class 2 in neither: (1 + 1/2 + 2/3) / 3.
    let (m, c) = try matrix("balancedAbsentClass")
    expectMatches(m.balancedAccuracy, c.balancedAccuracy, "balanced accuracy")
  }

  @Test func balancedAccuracyWithSampleWeights() throws {
    let (m, c) = try matrix("balancedWeighted")
    expectMatches(m.balancedAccuracy, c.balancedAccuracy, "balanced accuracy")
  }

  // Zero division: the library's only convention is sklearn's zero_division=0.

  @Test func precisionOfAClassNeverPredictedIsZero() throws {
    let (m, c) = try matrix("precisionNeverPredicted")
    #expect(m.predictedCount(of: 2) == 0)
    #expect(c.precisions[0][2] == 0)
    #expect(m.precision(of: 2) == 0)
    for k in 0..<c.classCount { expectMatches(m.precision(of: k), c.precisions[0][k], "precision \(k)") }
  }

  @Test func recallOfAClassWithNoSupportIsZero() throws {
    let (m, c) = try matrix("recallNoSupport")
    #expect(m.support(of: 2) == 0)
    #expect(c.recalls[0][2] == 0)
    #expect(m.recall(of: 2) == 0)
    for k in 0..<c.classCount { expectMatches(m.recall(of: k), c.recalls[0][k], "recall \(k)") }
  }

  @Test func f1OfAClassNeitherTrueNorPredictedIsZeroAndLeavesTheMacroMean() throws {
    let (m, c) = try matrix("f1AbsentClass")
    #expect(m.f1(of: 2) == 0 && c.f1Scores[0][2] == 0)
    expectMatches(m.macroF1, c.macroF1Default, "macro F1")
    expectMatches(m.macroF1, (m.f1(of: 0) + m.f1(of: 1)) / 2, "macro F1 over two classes")
  }

  // Macro F1 (scikit-learn without `labels`): classes in labels or predictions.

  @Test func macroF1CountsAClassThatIsOnlyPredicted() throws {
    let (m, c) = try matrix("macroF1OnlyPredictedClass")
    expectMatches(m.macroF1, c.macroF1Default, "macro F1")
  }

  @Test func macroF1CountsAClassThatIsNeverPredicted() throws {
    let (m, c) = try matrix("macroF1NeverPredictedClass")
    expectMatches(m.macroF1, c.macroF1Default, "macro F1")
  }

  @Test func weightedAccuracyIsMicroF1() throws {
    let (m, c) = try matrix("accuracyWeighted")
    expectMatches(m.accuracy, c.accuracy, "accuracy")
    #expect(m.microF1 == m.accuracy)
  }

  @Test func perfectPredictionsScoreOneEverywhere() throws {
    let (m, c) = try matrix("perfect")
    for value in [m.accuracy, m.macroF1, m.balancedAccuracy, m.geometricMeanRecall, c.macroF1Default] {
      #expect(value == 1)
    }
  }

  // Post-hoc logit adjustment (Menon et al. 2020): predict argmax_k z_k - tau log π_k.

  @Test func postHocAdjustmentSubtractsTheLogPriors() throws {
    // Row [1, 0] with priors (0.9, 0.1): 1 - log 0.9 = 1.1054 < 0 - log 0.1 =
    // 2.3026, so the rare class wins; adding the log priors would keep class 0.
    let priors = try ClassPriors([0.9, 0.1])
    let adjusted = try priors.adjustedLogits(logits: [1, 0, 3, 0], tau: 1)
    expectMatches(adjusted[0], 1.10536051565782627655587821139139, "1 - log 0.9")
    expectMatches(adjusted[1], 2.3025850929940456285068402234265387, "-log 0.1")
    expectMatches(adjusted[2], 3.10536051565782627655587821139139, "3 - log 0.9")
    let m = try ConfusionMatrix(logits: [1, 0, 3, 0], labels: [1, 0], priors: priors, tau: 1)
    #expect(m.counts == [1, 0, 0, 1])  // row 0 (label 1) predicted 1, row 1 (label 0) predicted 0
    #expect(try priors.predictions(logits: [1, 0, 3, 0], tau: 0.5) == [1, 0])
  }

  // Issue 14: a class seen only with weight 0 still counts where sklearn and
  // imblearn count it (macro F1, G-mean) and is dropped where they drop it
  // (balanced accuracy: its recall is 0/0).

  @Test func aClassSeenOnlyWithWeightZeroCountsInMacroF1AndGMean() throws {
    // Labels = predictions = [0, 1, 2], weights [1, 1, 0].
    let (m, c) = try matrix("zeroWeightClass")
    #expect(m.support(of: 2) == 0 && m.predictedCount(of: 2) == 0)
    expectMatches(m.macroF1, 2.0 / 3, "macro F1 = (1 + 1 + 0) / 3")
    expectMatches(m.macroF1, c.macroF1Default, "sklearn default (warn)")
    expectMatches(try m.macroF1(zeroDivision: .zero), c.macroF1[0], "zero_division=0")
    #expect(try m.macroF1(zeroDivision: .one) == 1 && c.macroF1[1] == 1)
    #expect(try m.macroF1(zeroDivision: .nan) == 1 && c.macroF1[2] == 1)  // NaN leaves the mean
    #expect(m.geometricMeanRecall == 0 && c.geometricMeanRecall == 0)
    expectMatches(
      try m.geometricMeanRecall(correction: c.correction), c.correctedGeometricMeanRecall,
      "corrected G-mean")
    #expect(m.balancedAccuracy == 1 && c.balancedAccuracy == 1)
    #expect(m.f1(of: 2, zeroDivision: .nan).isNaN && c.f1Scores[2][2].isNaN)
  }

  @Test func aClassPredictedOnlyWithWeightZeroCounts() throws {
    let (m, c) = try matrix("zeroWeightPredictionOnly")
    expectMatches(m.macroF1, c.macroF1Default, "macro F1")
    #expect(m.macroF1 < 1)
    #expect(m.geometricMeanRecall == 0 && c.geometricMeanRecall == 0)
    expectMatches(m.balancedAccuracy, c.balancedAccuracy, "balanced accuracy")
  }

  @Test func zeroWeightSamplesStillMarkTheirClassesPresent() throws {
    // The same counts without the weight-0 sample of class 2: class 2 is gone.
    let with = try ConfusionMatrix(
      predictions: [0, 1, 2], labels: [0, 1, 2], classCount: 3, weights: [1, 1, 0])
    let without = try ConfusionMatrix(predictions: [0, 1], labels: [0, 1], classCount: 3)
    #expect(with.counts == without.counts)
    #expect(with != without)
    #expect(without.macroF1 == 1 && without.geometricMeanRecall == 1)
  }

  // zero_division (sklearn) and correction (imblearn).

  @Test func zeroDivisionChoicesGiveZeroOneOrNaN() throws {
    let (m, c) = try matrix("zeroDivisionEverywhere")
    // Class 2 is only predicted (recall 0/0), class 3 never predicted
    // (precision 0/0), class 4 absent (all three 0/0).
    for (i, z) in ConfusionMatrix.ZeroDivision.allCases.enumerated() {
      let expected: Double = [0, 1, .nan][i]
      for (value, reference) in [
        (m.recall(of: 2, zeroDivision: z), c.recalls[i][2]),
        (m.precision(of: 3, zeroDivision: z), c.precisions[i][3]),
        (m.f1(of: 4, zeroDivision: z), c.f1Scores[i][4]),
        (m.recall(of: 4, zeroDivision: z), c.recalls[i][4]),
      ] {
        expectMatches(value, expected, "\(z)")
        expectMatches(reference, expected, "sklearn \(z)")
      }
    }
    #expect(m.precision(of: 2) == 0 && m.recall(of: 3) == 0)
  }

  @Test func theDefaultIsScikitLearnsDefault() throws {
    for name in metricsReference.keys.sorted() {
      let (m, c) = try matrix(name)
      guard c.classes == nil else { continue }
      expectMatches(m.macroF1, c.macroF1Default, "\(name)")
      expectMatches(try m.macroF1(zeroDivision: .zero), c.macroF1Default, "\(name) .zero")
    }
  }

  @Test func correctionReplacesZeroRecalls() throws {
    // Class 2 has recall 0; correction 0.5: (1/2 · 1 · 1/2)^(1/3).
    let (m, c) = try matrix("gmeanCorrection")
    #expect(m.geometricMeanRecall == 0)
    expectMatches(try m.geometricMeanRecall(correction: 0.5), c.correctedGeometricMeanRecall, "G")
    let g = c.correctedGeometricMeanRecall
    expectClose(g * g * g, 0.25, relative: 1e-15, "G^3 = 1/2 · 1 · 1/2")
  }

  @Test func explicitClassesFollowScikitLearnsLabels() throws {
    for name in ["classesEvery", "classesSubset", "classesOnlyAbsent"] {
      let (m, c) = try matrix(name)
      let classes = try #require(c.classes)
      for (i, z) in ConfusionMatrix.ZeroDivision.allCases.enumerated() {
        expectMatches(try m.macroF1(zeroDivision: z, classes: classes), c.macroF1[i], "\(name) \(z)")
      }
      expectMatches(try m.geometricMeanRecall(correction: 0, classes: classes),
        c.geometricMeanRecall, "\(name) G")
      expectMatches(try m.geometricMeanRecall(correction: c.correction, classes: classes),
        c.correctedGeometricMeanRecall, "\(name) corrected G")
    }
    // Only an absent class, NaN for 0/0: no class left, NaN (sklearn too).
    let (m, c) = try matrix("classesOnlyAbsent")
    #expect(try m.macroF1(zeroDivision: .nan, classes: [2]).isNaN && c.macroF1[2].isNaN)
  }

  @Test func invalidClassesOrCorrectionThrow() throws {
    let m = try ConfusionMatrix(predictions: [0, 1], labels: [0, 1], classCount: 3)
    #expect(throws: LossError.invalidParameter(
      name: "classes.count", value: 0, requirement: "at least 1")) {
      try m.macroF1(zeroDivision: .zero, classes: [])
    }
    #expect(throws: LossError.invalidParameter(
      name: "classes[1]", value: 3, requirement: "a class in 0..<3")) {
      try m.macroF1(zeroDivision: .zero, classes: [0, 3])
    }
    #expect(throws: LossError.invalidParameter(
      name: "classes[0]", value: -1, requirement: "a class in 0..<3")) {
      try m.geometricMeanRecall(correction: 0, classes: [-1])
    }
    #expect(throws: LossError.invalidParameter(
      name: "classes[2]", value: 1, requirement: "a class not listed before")) {
      try m.macroF1(zeroDivision: .one, classes: [1, 2, 1])
    }
    for bad in [-0.5, .nan, .infinity] {
      #expect(throws: LossError.self) { try m.geometricMeanRecall(correction: bad) }
    }
    #expect(throws: LossError.invalidParameter(
      name: "correction", value: -1, requirement: "finite and >= 0")) {
      try m.geometricMeanRecall(correction: -1)
    }
  }

  /// Every metric of every case, for every zero_division, in one place.
  @Test func everyCaseMatchesScikitLearn() throws {
    for name in metricsReference.keys.sorted() {
      let (m, c) = try matrix(name)
      for (i, z) in ConfusionMatrix.ZeroDivision.allCases.enumerated() {
        for k in 0..<c.classCount {
          expectMatches(m.precision(of: k, zeroDivision: z), c.precisions[i][k],
            "\(name) \(z) precision[\(k)]")
          expectMatches(m.recall(of: k, zeroDivision: z), c.recalls[i][k],
            "\(name) \(z) recall[\(k)]")
          expectMatches(m.f1(of: k, zeroDivision: z), c.f1Scores[i][k], "\(name) \(z) f1[\(k)]")
        }
        expectMatches(try m.macroF1(zeroDivision: z, classes: c.classes), c.macroF1[i],
          "\(name) \(z) macro F1")
      }
      #expect(m.precisions == (0..<c.classCount).map { m.precision(of: $0, zeroDivision: .zero) })
      #expect(m.recalls == (0..<c.classCount).map { m.recall(of: $0) })
      #expect(m.f1Scores == (0..<c.classCount).map { m.f1(of: $0) })
      expectMatches(m.accuracy, c.accuracy, "\(name) accuracy")
      expectMatches(m.balancedAccuracy, c.balancedAccuracy, "\(name) balanced accuracy")
      expectMatches(try m.geometricMeanRecall(correction: 0, classes: c.classes),
        c.geometricMeanRecall, "\(name) G-mean")
      expectMatches(try m.geometricMeanRecall(correction: c.correction, classes: c.classes),
        c.correctedGeometricMeanRecall, "\(name) corrected G-mean")
      if c.classes == nil {
        expectMatches(m.macroF1, c.macroF1Default, "\(name) macro F1 (default)")
        expectMatches(m.geometricMeanRecall, c.geometricMeanRecall, "\(name) G-mean (default)")
      }
    }
  }
}
