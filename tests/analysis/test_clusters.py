"""Tests for `kerasseq.analysis.clusters`: Dunn's index and the silhouette
against brute-force NumPy, and the report on data with a known number of
clusters."""

import itertools

import numpy as np
import pytest

from kerasseq.analysis import cluster_report
from kerasseq.analysis import dunn_index


def brute_dunn(points, labels):
    distance = lambda a, b: float(np.sqrt(((a - b) ** 2).sum()))  # noqa: E731
    pairs = list(itertools.combinations(range(len(points)), 2))
    inside = [distance(points[i], points[j]) for i, j in pairs if labels[i] == labels[j]]
    between = [distance(points[i], points[j]) for i, j in pairs if labels[i] != labels[j]]
    return min(between) / max(inside)


def brute_silhouette(points, labels):
    scores = []
    for i, point in enumerate(points):
        distances = np.sqrt(((points - point) ** 2).sum(axis=1))
        own = labels == labels[i]
        if own.sum() == 1:
            scores.append(0.0)  # a cluster of one point scores 0, as in Rousseeuw's definition
            continue
        a = distances[own].sum() / (own.sum() - 1)
        b = min(distances[labels == c].mean() for c in np.unique(labels) if c != labels[i])
        scores.append((b - a) / max(a, b))
    return float(np.mean(scores))


@pytest.mark.parametrize("seed", range(5))
def test_dunn_and_silhouette_equal_brute_force(seed):
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(seed)
    points = rng.normal(size=(30, 3))
    labels = rng.integers(0, 3, size=30)
    assert dunn_index(points, labels) == pytest.approx(brute_dunn(points, labels), rel=1e-12)
    assert silhouette_score(points, labels) == pytest.approx(brute_silhouette(points, labels), rel=1e-9)
    report = cluster_report(points, labels, k_range=[2, 3])
    assert report["labels"]["dunn"] == pytest.approx(brute_dunn(points, labels), rel=1e-12)
    assert report["labels"]["silhouette"] == pytest.approx(brute_silhouette(points, labels), rel=1e-9)


def test_the_report_finds_well_separated_clusters():
    rng = np.random.default_rng(0)
    centers = [(0, 0, 0), (5, 0, 0), (0, 5, 0), (0, 0, 5)]
    points = np.concatenate([rng.normal(c, 0.3, size=(40, 3)) for c in centers])
    labels = np.repeat(np.arange(4), 40)
    report = cluster_report(points, labels, k_range=range(2, 7))
    assert report["k"] == [2, 3, 4, 5, 6]
    assert report["best_k"] == {"silhouette": 4, "dunn": 4, "davies_bouldin": 4, "bic": 4}
    assert report["adjusted_rand"][2] == pytest.approx(1.0)
    assert all(len(report[m]) == 5 for m in ("silhouette", "dunn", "davies_bouldin", "bic"))


def test_dunn_index_edge_cases_and_errors():
    assert dunn_index([[0.0], [4.0], [9.0]], [0, 1, 2]) == float("inf")  # single points: no diameter
    with pytest.raises(ValueError, match="dunn_index received labels with one cluster"):
        dunn_index([[0.0], [1.0], [2.0]], [0, 0, 0])
    with pytest.raises(ValueError, match=r"received 2 labels for 3 points\. Pass one label per point"):
        dunn_index([[0.0], [1.0], [2.0]], [0, 1])


@pytest.mark.parametrize("embeddings,keywords,message", [
    (np.zeros((10,)), {}, r"embeddings of shape \(10,\)\. Pass an array of shape \(num_points, dims\)"),
    (np.array([[0.0], [np.nan], [1.0]]), {}, r"NaN or infinite values \(row 1\)"),
    (np.zeros((5, 2)), {"k_range": [2, 5]}, r"k_range=\[2, 5\] for 5 points\. Each k must be 2 to 4"),
    ([["a", "b"], ["c", "d"], ["e", "f"]], {}, "embeddings that are not numbers"),
])
def test_cluster_report_refuses_bad_input(embeddings, keywords, message):
    with pytest.raises(ValueError, match=message):
        cluster_report(embeddings, **keywords)
