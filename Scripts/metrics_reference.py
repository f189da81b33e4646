#!/usr/bin/env python3
"""Writes Tests/ImbalanceLossTests/Fixtures/MetricsReference.swift: the
classification metrics of small hand-made cases, one per rule of
ClassificationMetrics.swift, as scikit-learn and imbalanced-learn compute them.

    python3 Scripts/metrics_reference.py

Installs scikit-learn and imbalanced-learn with pip if they are missing.

Conventions matched (see ClassificationMetrics.swift):
- per-class precision, recall and F1 over labels=range(K), for each
  zero_division choice: 0, 1 and nan ("warn", sklearn's default, returns 0
  with a warning);
- macro F1 over the classes present in y_true or y_pred, whatever their
  sample weight (sklearn's default `labels`), or over an explicit `labels`,
  for zero_division 0, 1, nan and the default "warn" (nan classes leave the
  mean);
- balanced_accuracy_score (the classes of positive weighted support: a class
  whose samples all have weight 0 gives 0/0 and is dropped, with a warning);
- geometric_mean_score(average="multiclass") with correction 0 and with a
  positive correction, over the classes present in y_true or y_pred whatever
  their weight (a class present with weight 0 has recall 0), or over an
  explicit `labels`.
"""

import subprocess
import sys
import warnings
from pathlib import Path


def ensure(module, package):
    try:
        __import__(module)
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", package])


ensure("sklearn", "scikit-learn")
ensure("imblearn", "imbalanced-learn")

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
import imblearn  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    accuracy_score, balanced_accuracy_score, f1_score, precision_score, recall_score)
from imblearn.metrics import geometric_mean_score  # noqa: E402

# name: (labels, predictions, K, weights or None[, labels= or None[, correction]]).
# One rule each.
CASES = {
    # G-mean: a class that is only predicted (never a true label) has recall 0
    # and makes the mean 0, though every true class has a positive recall.
    "gmeanOnlyPredictedClass": ([0, 0, 1, 1, 1, 0], [0, 2, 1, 1, 2, 0], 3, None),
    # The same in two classes: no positive sample, one predicted positive.
    "gmeanOnlyPredictedBinary": ([0, 0, 0, 0], [0, 1, 0, 0], 2, None),
    # G-mean: a class absent from both is skipped (K = 4, class 3 unused).
    "gmeanAbsentClassSkipped": ([0, 0, 1, 1, 2, 2, 2], [0, 1, 1, 1, 2, 2, 0], 4, None),
    # G-mean with sample weights and every recall positive.
    "gmeanWeighted": ([0, 0, 1, 1, 2], [0, 1, 1, 0, 2], 3, [1.0, 3.0, 0.5, 2.0, 1.5]),
    # Balanced accuracy: a class predicted but never a true label leaves the
    # mean (recall over the true classes only).
    "balancedOnlyPredictedClass": ([0, 0, 0, 1, 1], [0, 2, 0, 1, 2], 3, None),
    # Balanced accuracy: a class absent from both labels and predictions.
    "balancedAbsentClass": ([0, 1, 1, 3, 3, 3], [0, 1, 0, 3, 3, 1], 4, None),
    # Balanced accuracy with weights (class 2 only predicted: left out).
    "balancedWeighted": ([0, 0, 1, 1, 1], [0, 2, 1, 1, 0], 3, [2.0, 1.0, 0.5, 0.25, 4.0]),
    # zero_division for precision: a true class never predicted.
    "precisionNeverPredicted": ([0, 1, 1, 2, 2], [0, 0, 1, 0, 1], 3, None),
    # zero_division for recall: a class predicted but never true.
    "recallNoSupport": ([0, 0, 1, 1], [0, 2, 1, 1], 3, None),
    # zero_division for F1: a class neither true nor predicted (F1 = 0, and
    # left out of the macro mean).
    "f1AbsentClass": ([0, 1, 1, 0], [0, 1, 0, 0], 3, None),
    # Macro F1 counts a class that is only predicted (its F1 is 0).
    "macroF1OnlyPredictedClass": ([0, 0, 1, 1], [0, 1, 1, 2], 3, None),
    # Macro F1 counts a class that is never predicted (its F1 is 0).
    "macroF1NeverPredictedClass": ([0, 1, 2, 2], [0, 1, 1, 1], 3, None),
    # Accuracy (= micro F1) with weights.
    "accuracyWeighted": ([0, 1, 2, 2, 1], [0, 2, 2, 1, 1], 3, [0.5, 1.0, 2.0, 4.0, 0.25]),
    # Everything right: every metric is 1.
    "perfect": ([0, 1, 2, 0], [0, 1, 2, 0], 3, None),
    # Issue 14: a class whose only sample has weight 0 still counts. Macro F1
    # averages its F1 (0/0: the zero_division value, NaN leaves the mean);
    # its recall is 0, so the G-mean is 0 (the correction with one); balanced
    # accuracy drops it (0/0 recall).
    "zeroWeightClass": ([0, 1, 2], [0, 1, 2], 3, [1.0, 1.0, 0.0]),
    # The same class, mispredicted with weight 0, among weighted samples.
    "zeroWeightClassMispredicted": ([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], 3, [1.0, 2.0, 1.0, 1.0, 0.0]),
    # A class only predicted, and only with weight 0: it counts too.
    "zeroWeightPredictionOnly": ([0, 1, 1, 0], [0, 1, 2, 0], 3, [1.0, 1.0, 0.0, 2.0]),
    # Zero weights on samples of classes that also have weighted samples.
    "zeroWeightsMixed": ([0, 0, 1, 1, 2, 2, 1], [0, 1, 1, 0, 2, 1, 2], 3,
                         [0.0, 1.5, 2.0, 0.0, 0.5, 0.0, 1.0]),
    # zero_division for every per-class metric: class 2 only predicted,
    # class 3 never predicted, class 4 absent, all weighted.
    "zeroDivisionEverywhere": ([0, 0, 1, 1, 3, 3], [0, 2, 1, 1, 0, 1], 5,
                               [1.0, 0.5, 2.0, 1.0, 0.25, 3.0]),
    # A positive correction replaces the zero recalls of the G-mean.
    "gmeanCorrection": ([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 0, 1], 4, None, None, 0.5),
    # Explicit labels= (sklearn) / classes: (ours): every class, so an absent
    # class counts (F1 0/0, recall 0).
    "classesEvery": ([0, 1, 1, 0], [0, 1, 0, 0], 3, None, [0, 1, 2]),
    # A subset, in any order, leaving out a present class.
    "classesSubset": ([0, 1, 2, 2, 1], [0, 2, 2, 1, 1], 4, [1.0, 2.0, 0.5, 1.0, 0.0], [2, 0]),
    # A subset made of one absent class only: 0/0 everywhere.
    "classesOnlyAbsent": ([0, 1, 1], [0, 1, 0], 3, None, [2]),
}


# sklearn's zero_division choices, in the order of MetricsCase's arrays
# (ConfusionMatrix.ZeroDivision .zero, .one, .nan).
ZERO_DIVISIONS = [0.0, 1.0, np.nan]
DEFAULT_CORRECTION = 0.001


def metrics(labels, predictions, k, weights, classes=None, correction=DEFAULT_CORRECTION):
    y, p = np.array(labels), np.array(predictions)
    w = None if weights is None else np.array(weights)
    every = list(range(k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")

        def per_class(score):
            return [score(y, p, labels=every, average=None, zero_division=z, sample_weight=w)
                    for z in ZERO_DIVISIONS]

        return {
            "precisions": per_class(precision_score),
            "recalls": per_class(recall_score),
            "f1Scores": per_class(f1_score),
            "accuracy": accuracy_score(y, p, sample_weight=w),
            "macroF1": [f1_score(y, p, labels=classes, average="macro", zero_division=z,
                                 sample_weight=w) for z in ZERO_DIVISIONS],
            # No zero_division argument: sklearn's default, "warn".
            "macroF1Default": f1_score(y, p, labels=classes, average="macro", sample_weight=w),
            "balancedAccuracy": balanced_accuracy_score(y, p, sample_weight=w),
            "geometricMeanRecall": geometric_mean_score(
                y, p, labels=classes, average="multiclass", sample_weight=w),
            "correctedGeometricMeanRecall": geometric_mean_score(
                y, p, labels=classes, average="multiclass", correction=correction,
                sample_weight=w),
        }


def swift(x):
    if x is None:
        return "nil"
    if isinstance(x, (list, tuple, np.ndarray)):
        return "[" + ", ".join(swift(v) for v in x) + "]"
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    x = float(x)
    return ".nan" if np.isnan(x) else repr(x)


def main():
    out = Path(__file__).resolve().parent.parent / "Tests/ImbalanceLossTests/Fixtures/MetricsReference.swift"
    lines = [
        "// Generated by Scripts/metrics_reference.py "
        f"(scikit-learn {sklearn.__version__}, imbalanced-learn {imblearn.__version__}); do not edit.",
        "",
        "/// One metrics case: the inputs of a confusion matrix and the values",
        "/// scikit-learn / imbalanced-learn give for them. Arrays of three hold",
        "/// the values for `zero_division` 0, 1 and NaN, in that order.",
        "struct MetricsCase: Sendable {",
        "  let labels: [Int]",
        "  let predictions: [Int]",
        "  let classCount: Int",
        "  let weights: [Double]?",
        "  /// sklearn's `labels=` for the macro F1 and the G-mean; nil for the default.",
        "  let classes: [Int]?",
        "  /// Per zero_division, `precision_score(labels=range(K), average=None)`.",
        "  let precisions: [[Double]]",
        "  let recalls: [[Double]]",
        "  let f1Scores: [[Double]]",
        "  let accuracy: Double",
        "  /// Per zero_division, `f1_score(average=\"macro\")`.",
        "  let macroF1: [Double]",
        "  /// `f1_score(average=\"macro\")` with sklearn's default `zero_division=\"warn\"`.",
        "  let macroF1Default: Double",
        "  let balancedAccuracy: Double",
        "  /// `geometric_mean_score` with `correction=0` (its default).",
        "  let geometricMeanRecall: Double",
        "  let correction: Double",
        "  /// `geometric_mean_score` with `correction=correction`.",
        "  let correctedGeometricMeanRecall: Double",
        "}",
        "",
        "let metricsReference: [String: MetricsCase] = [",
    ]
    for name, case in CASES.items():
        labels, predictions, k, weights = case[:4]
        classes = case[4] if len(case) > 4 else None
        correction = case[5] if len(case) > 5 else DEFAULT_CORRECTION
        m = metrics(labels, predictions, k, weights, classes, correction)
        lines += [
            f'  "{name}": MetricsCase(',
            f"    labels: {swift(labels)}, predictions: {swift(predictions)}, classCount: {k},",
            f"    weights: {swift(weights)}, classes: {swift(classes)},",
            f"    precisions: {swift(m['precisions'])},",
            f"    recalls: {swift(m['recalls'])},",
            f"    f1Scores: {swift(m['f1Scores'])},",
            f"    accuracy: {swift(m['accuracy'])},",
            f"    macroF1: {swift(m['macroF1'])}, macroF1Default: {swift(m['macroF1Default'])},",
            f"    balancedAccuracy: {swift(m['balancedAccuracy'])},",
            f"    geometricMeanRecall: {swift(m['geometricMeanRecall'])},",
            f"    correction: {swift(correction)},",
            f"    correctedGeometricMeanRecall: {swift(m['correctedGeometricMeanRecall'])}),",
        ]
    lines += ["]", ""]
    out.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {out} ({len(CASES)} cases)")


if __name__ == "__main__":
    main()
