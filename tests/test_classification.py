"""Tests for `kerasseq.classification` against brute-force definitions."""

import itertools

import numpy as np
import pytest

from kerasseq.classification import binary_metrics
from kerasseq.classification import roc_auc
from kerasseq.classification import roc_curve


def brute_force_auc(labels, scores):
    pairs = [(p, n) for p, n in itertools.product(scores[labels == 1], scores[labels == 0])]
    return np.mean([1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs])


@pytest.mark.parametrize("seed", range(5))
def test_auc_and_counts_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=60)
    # Rounded, so that ties occur.
    scores = np.round(rng.uniform(size=60), 1)
    assert roc_auc(labels, scores) == pytest.approx(brute_force_auc(labels, scores), abs=1e-12)
    m = binary_metrics(labels, scores, threshold=0.5)
    predicted = scores >= 0.5
    (tn, fp), (fn, tp) = m["confusion_matrix"]
    assert (tn, fp, fn, tp) == (
        sum(~predicted & (labels == 0)), sum(predicted & (labels == 0)),
        sum(~predicted & (labels == 1)), sum(predicted & (labels == 1)),
    )
    assert m["accuracy"] == pytest.approx((tp + tn) / 60)
    assert m["precision"] == pytest.approx(tp / (tp + fp))
    assert m["recall"] == pytest.approx(tp / (tp + fn))
    assert m["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert m["num_examples"] == 60


def test_roc_curve_area_is_the_auc():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=200)
    scores = np.round(labels * 0.3 + rng.uniform(size=200), 2)
    fpr, tpr = roc_curve(labels, scores)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    # Trapezoids between thresholds count ties as half, as the AUC does.
    area = np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)
    assert area == pytest.approx(roc_auc(labels, scores), abs=1e-12)


def test_degenerate_inputs():
    m = binary_metrics([0, 0, 1], [0.1, 0.2, 0.3])
    assert (m["precision"], m["recall"], m["f1"]) == (0.0, 0.0, 0.0)
    assert np.isnan(roc_auc([1, 1], [0.2, 0.9]))
    # In metrics (written as JSON), a missing AUC is None.
    assert binary_metrics([1, 1], [0.2, 0.9])["auc"] is None
    with pytest.raises(ValueError, match="Received 2 labels and 3 probabilities"):
        binary_metrics([0, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="Received 0 labels and 0 probabilities"):
        roc_auc([], [])
