"""Measures of a binary classifier: accuracy, precision, recall, F1, ROC AUC.

The measures of the course report, computed from labels and predicted
probabilities with NumPy, the same code for every model and baseline.
"""

import numpy as np


def binary_metrics(labels, probabilities, *, threshold=0.5):
    """Accuracy, precision, recall, F1 and ROC AUC of binary predictions.

    Args:
        labels: 0/1 labels.
        probabilities: predicted probabilities of class 1.
        threshold: a probability at or above it predicts class 1.

    Returns:
        `{"accuracy", "precision", "recall", "f1", "auc", "confusion_matrix",
        "num_examples"}`; the confusion matrix is `[[TN, FP], [FN, TP]]`
        (rows: true class). Precision and F1 are 0 when nothing is
        predicted positive; the AUC is None when the labels hold one class.

    Example:
    >>> m = binary_metrics([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    >>> m["accuracy"], m["auc"], m["confusion_matrix"]
    (0.5, 0.75, [[1, 1], [1, 1]])
    """
    labels, probabilities = _check(labels, probabilities)
    predicted = probabilities >= threshold
    positive = labels == 1
    tp = int(np.sum(predicted & positive))
    fp = int(np.sum(predicted & ~positive))
    fn = int(np.sum(~predicted & positive))
    tn = int(np.sum(~predicted & ~positive))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": (tp + tn) / len(labels),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        # None, not NaN (which JSON lacks), when a class is missing.
        "auc": None if np.isnan(auc := roc_auc(labels, probabilities)) else auc,
        "confusion_matrix": [[tn, fp], [fn, tp]],
        "num_examples": int(len(labels)),
    }


def roc_auc(labels, probabilities):
    """Area under the ROC curve: the probability that a random positive
    scores above a random negative (ties count half), from average ranks.

    Example:
    >>> roc_auc([0, 1, 0, 1], [0.2, 0.8, 0.5, 0.5])
    0.875
    """
    labels, probabilities = _check(labels, probabilities)
    positives = int(np.sum(labels == 1))
    negatives = len(labels) - positives
    if not positives or not negatives:
        return float("nan")
    order = np.argsort(probabilities, kind="stable")
    ranks = np.empty(len(order))
    ranks[order] = np.arange(1, len(order) + 1)
    # Tied scores share their average rank.
    values, inverse = np.unique(probabilities, return_inverse=True)
    ranks = (np.bincount(inverse, ranks) / np.bincount(inverse))[inverse]
    return float((ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def roc_curve(labels, probabilities):
    """False and true positive rates at every distinct threshold.

    Returns:
        `(fpr, tpr)`, arrays from (0, 0) to (1, 1).

    Example:
    >>> fpr, tpr = roc_curve([0, 1], [0.3, 0.7])
    >>> fpr.tolist(), tpr.tolist()
    ([0.0, 0.0, 1.0], [0.0, 1.0, 1.0])
    """
    labels, probabilities = _check(labels, probabilities)
    order = np.argsort(-probabilities, kind="stable")
    labels, probabilities = labels[order], probabilities[order]
    # One point per distinct threshold: the last index of each run of ties.
    last = np.r_[np.flatnonzero(np.diff(probabilities)), len(labels) - 1]
    tp = np.cumsum(labels == 1)[last]
    fp = np.cumsum(labels == 0)[last]
    return (np.r_[0, fp / max(fp[-1], 1)], np.r_[0, tp / max(tp[-1], 1)])


def _check(labels, probabilities):
    labels = np.asarray(labels).reshape(-1)
    probabilities = np.asarray(probabilities, dtype="float64").reshape(-1)
    if len(labels) != len(probabilities) or not len(labels):
        raise ValueError(
            f"Received {len(labels)} labels and {len(probabilities)} probabilities: "
            "expected one probability per label, and at least one."
        )
    return labels, probabilities
