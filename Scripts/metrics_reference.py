#!/usr/bin/env python3
"""Writes Tests/ImbalanceLossTests/Fixtures/MetricsReference.swift: the
classification metrics of small hand-made cases, one per rule of
ClassificationMetrics.swift, as scikit-learn and imbalanced-learn compute them.

    python3 Scripts/metrics_reference.py

Installs scikit-learn and imbalanced-learn with pip if they are missing.

Conventions matched (see ClassificationMetrics.swift):
- per-class precision, recall and F1 over labels=range(K), zero_division=0
  (also what sklearn's default "warn" returns, with a warning);
- macro F1 without `labels` (the classes present in y_true or y_pred);
- balanced_accuracy_score (the classes present in y_true);
- geometric_mean_score(average="multiclass", correction=0) (the classes
  present in y_true or y_pred).

Left out on purpose: a class whose only samples have weight 0. scikit-learn
counts it as present (it is in y_true) and the library does not (its support
is 0); a separate issue aligns the two.
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

# name: (labels, predictions, K, weights or None). One rule each.
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
}


def metrics(labels, predictions, k, weights):
    y, p = np.array(labels), np.array(predictions)
    w = None if weights is None else np.array(weights)
    every = list(range(k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "precisions": precision_score(y, p, labels=every, average=None, zero_division=0,
                                          sample_weight=w),
            "recalls": recall_score(y, p, labels=every, average=None, zero_division=0,
                                    sample_weight=w),
            "f1Scores": f1_score(y, p, labels=every, average=None, zero_division=0,
                                 sample_weight=w),
            "accuracy": accuracy_score(y, p, sample_weight=w),
            "macroF1": f1_score(y, p, average="macro", zero_division=0, sample_weight=w),
            "balancedAccuracy": balanced_accuracy_score(y, p, sample_weight=w),
            "geometricMeanRecall": geometric_mean_score(
                y, p, average="multiclass", correction=0.0, sample_weight=w),
        }


def swift(x):
    if isinstance(x, (list, tuple, np.ndarray)):
        return "[" + ", ".join(swift(v) for v in x) + "]"
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    return repr(float(x))


def main():
    out = Path(__file__).resolve().parent.parent / "Tests/ImbalanceLossTests/Fixtures/MetricsReference.swift"
    lines = [
        "// Generated by Scripts/metrics_reference.py "
        f"(scikit-learn {sklearn.__version__}, imbalanced-learn {imblearn.__version__}); do not edit.",
        "",
        "/// One metrics case: the inputs of a confusion matrix and the values",
        "/// scikit-learn / imbalanced-learn give for them.",
        "struct MetricsCase: Sendable {",
        "  let labels: [Int]",
        "  let predictions: [Int]",
        "  let classCount: Int",
        "  let weights: [Double]?",
        "  let precisions: [Double]",
        "  let recalls: [Double]",
        "  let f1Scores: [Double]",
        "  let accuracy: Double",
        "  let macroF1: Double",
        "  let balancedAccuracy: Double",
        "  let geometricMeanRecall: Double",
        "}",
        "",
        "let metricsReference: [String: MetricsCase] = [",
    ]
    for name, (labels, predictions, k, weights) in CASES.items():
        m = metrics(labels, predictions, k, weights)
        lines += [
            f'  "{name}": MetricsCase(',
            f"    labels: {swift(labels)}, predictions: {swift(predictions)}, classCount: {k},",
            f"    weights: {'nil' if weights is None else swift(weights)},",
            f"    precisions: {swift(m['precisions'])},",
            f"    recalls: {swift(m['recalls'])},",
            f"    f1Scores: {swift(m['f1Scores'])},",
            f"    accuracy: {swift(m['accuracy'])}, macroF1: {swift(m['macroF1'])},",
            f"    balancedAccuracy: {swift(m['balancedAccuracy'])},",
            f"    geometricMeanRecall: {swift(m['geometricMeanRecall'])}),",
        ]
    lines += ["]", ""]
    out.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {out} ({len(CASES)} cases)")


if __name__ == "__main__":
    main()
