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
  expectClose(actual, expected, relative: 1e-15, what, sourceLocation: sourceLocation)
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
    #expect(c.precisions[2] == 0)
    #expect(m.precision(of: 2) == 0)
    for k in 0..<c.classCount { expectMatches(m.precision(of: k), c.precisions[k], "precision \(k)") }
  }

  @Test func recallOfAClassWithNoSupportIsZero() throws {
    let (m, c) = try matrix("recallNoSupport")
    #expect(m.support(of: 2) == 0)
    #expect(c.recalls[2] == 0)
    #expect(m.recall(of: 2) == 0)
    for k in 0..<c.classCount { expectMatches(m.recall(of: k), c.recalls[k], "recall \(k)") }
  }

  @Test func f1OfAClassNeitherTrueNorPredictedIsZeroAndLeavesTheMacroMean() throws {
    let (m, c) = try matrix("f1AbsentClass")
    #expect(m.f1(of: 2) == 0 && c.f1Scores[2] == 0)
    expectMatches(m.macroF1, c.macroF1, "macro F1")
    expectMatches(m.macroF1, (m.f1(of: 0) + m.f1(of: 1)) / 2, "macro F1 over two classes")
  }

  // Macro F1 (scikit-learn without `labels`): classes in labels or predictions.

  @Test func macroF1CountsAClassThatIsOnlyPredicted() throws {
    let (m, c) = try matrix("macroF1OnlyPredictedClass")
    expectMatches(m.macroF1, c.macroF1, "macro F1")
  }

  @Test func macroF1CountsAClassThatIsNeverPredicted() throws {
    let (m, c) = try matrix("macroF1NeverPredictedClass")
    expectMatches(m.macroF1, c.macroF1, "macro F1")
  }

  @Test func weightedAccuracyIsMicroF1() throws {
    let (m, c) = try matrix("accuracyWeighted")
    expectMatches(m.accuracy, c.accuracy, "accuracy")
    #expect(m.microF1 == m.accuracy)
  }

  @Test func perfectPredictionsScoreOneEverywhere() throws {
    let (m, c) = try matrix("perfect")
    for value in [m.accuracy, m.macroF1, m.balancedAccuracy, m.geometricMeanRecall, c.macroF1] {
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

  /// Every metric of every case, in one place.
  @Test func everyCaseMatchesScikitLearn() throws {
    for name in metricsReference.keys.sorted() {
      let (m, c) = try matrix(name)
      for k in 0..<c.classCount {
        expectMatches(m.precision(of: k), c.precisions[k], "\(name) precision[\(k)]")
        expectMatches(m.recall(of: k), c.recalls[k], "\(name) recall[\(k)]")
        expectMatches(m.f1(of: k), c.f1Scores[k], "\(name) f1[\(k)]")
      }
      expectMatches(m.accuracy, c.accuracy, "\(name) accuracy")
      expectMatches(m.macroF1, c.macroF1, "\(name) macro F1")
      expectMatches(m.balancedAccuracy, c.balancedAccuracy, "\(name) balanced accuracy")
      expectMatches(m.geometricMeanRecall, c.geometricMeanRecall, "\(name) G-mean")
    }
  }
}
