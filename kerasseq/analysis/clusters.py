"""How well hidden representations cluster: the silhouette, Dunn and
Davies-Bouldin indices of k-means partitions over a range of k, and the BIC
of Gaussian mixtures (scikit-learn has all but Dunn's index, which is ours).

Example:
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> blobs = np.concatenate([rng.normal(c, 0.1, size=(50, 2)) for c in (0, 3, 6)])
>>> cluster_report(blobs, k_range=[2, 3, 4])["best_k"]["silhouette"]
3
"""

import numpy as np

from kerasseq.validation import ArgumentError

# Silhouette and Dunn's index need every pairwise distance: beyond this
# many points both are estimated on a sample of this size.
SAMPLE = 5000


def dunn_index(points, labels):
    """Dunn's index of a partition: the smallest distance between two
    points of different clusters over the largest distance between two
    points of one cluster (its diameter). Higher is better.

    Args:
        points: array `(n, d)`.
        labels: `n` cluster labels, at least two distinct.

    Returns:
        The index, a float (`inf` when every cluster is a single point).

    Example:
    >>> dunn_index([[0.0], [1.0], [4.0], [5.0]], [0, 0, 1, 1])
    3.0
    """
    from scipy.spatial.distance import cdist
    from scipy.spatial.distance import pdist

    points, labels = _check(points, labels, owner="dunn_index")
    groups = [points[labels == c] for c in np.unique(labels)]
    if len(groups) < 2:
        raise ArgumentError("labels", "dunn_index received labels with one cluster. Pass a partition "
                                      "into two or more clusters.")
    diameter = max((pdist(g).max() for g in groups if len(g) > 1), default=0.0)
    separation = min(cdist(a, b).min() for i, a in enumerate(groups) for b in groups[i + 1:])
    return float(separation / diameter) if diameter > 0 else float("inf")


def cluster_report(embeddings, labels=None, *, k_range=range(2, 9), seed=0):
    """Clusters `embeddings` with k-means for each k in `k_range` and
    scores each partition; fits a Gaussian mixture for each k too.

    Args:
        embeddings: array `(n, d)`, e.g. a model's final hidden states.
        labels: optional `n` class labels (e.g. the reviews' sentiment):
            their own partition is scored the same way, and each k-means
            partition is compared with it (adjusted Rand index).
        k_range: the numbers of clusters, each at least 2 and below `n`.
        seed: seed of k-means, the mixtures and the silhouette's sample.

    Returns:
        A JSON-ready dict: `k`, and per k the lists `silhouette` (higher is
        better), `dunn` (higher; both on a sample of `SAMPLE` points when
        there are more), `davies_bouldin` (lower), `bic` (of a
        Gaussian mixture with diagonal covariances; lower), and with
        `labels` `adjusted_rand`; `best_k`, the k each measure prefers; and
        with `labels`, `labels`: the class partition's scores.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score
    from sklearn.mixture import GaussianMixture

    owner = "cluster_report"
    points, given = _check(embeddings, labels, owner=owner)
    ks = [int(k) for k in k_range]
    bad = [k for k in ks if not 2 <= k < len(points)]
    if not ks or bad:
        raise ArgumentError("k_range", f"{owner} received k_range={list(k_range)!r} for {len(points)} "
                                       f"points. Each k must be 2 to {len(points) - 1}, e.g. "
                                       "k_range=range(2, 9).")
    report = {"k": ks, "silhouette": [], "dunn": [], "davies_bouldin": [], "bic": []}
    if given is not None:
        report["adjusted_rand"] = []
    for k in ks:
        assigned = KMeans(k, n_init=10, random_state=seed).fit_predict(points)
        for name, value in _scores(points, assigned, seed).items():
            report[name].append(value)
        mixture = GaussianMixture(k, covariance_type="diag", random_state=seed).fit(points)
        report["bic"].append(float(mixture.bic(points)))
        if given is not None:
            report["adjusted_rand"].append(float(adjusted_rand_score(given, assigned)))
    best = {"silhouette": np.argmax, "dunn": np.argmax, "davies_bouldin": np.argmin, "bic": np.argmin}
    report["best_k"] = {name: ks[int(pick(report[name]))] for name, pick in best.items()}
    if given is not None:
        report["labels"] = _scores(points, given, seed) if len(np.unique(given)) > 1 else None
    return report


def _scores(points, assigned, seed):
    from sklearn.metrics import davies_bouldin_score
    from sklearn.metrics import silhouette_score

    sample = SAMPLE if len(points) > SAMPLE else None
    rows = np.random.default_rng(seed).choice(len(points), SAMPLE, replace=False) if sample else slice(None)
    return {
        "silhouette": float(silhouette_score(points, assigned, sample_size=sample, random_state=seed)),
        "dunn": dunn_index(points[rows], np.asarray(assigned)[rows]),
        "davies_bouldin": float(davies_bouldin_score(points, assigned)),
    }


def _check(points, labels, *, owner):
    try:
        points = np.asarray(points, dtype="float64")
    except (TypeError, ValueError):
        raise ArgumentError("embeddings", f"{owner} received embeddings that are not numbers. Pass an "
                                          "array of shape (num_points, dims).") from None
    if points.ndim != 2 or len(points) < 3:
        raise ArgumentError("embeddings", f"{owner} received embeddings of shape {points.shape}. Pass "
                                          "an array of shape (num_points, dims) with 3 or more points.")
    if not np.isfinite(points).all():
        raise ArgumentError("embeddings", f"{owner} received embeddings with NaN or infinite values "
                                          f"(row {int(np.argwhere(~np.isfinite(points))[0, 0])}). "
                                          "Drop or fix those rows.")
    if labels is None:
        return points, None
    labels = np.asarray(labels)
    if labels.shape != (len(points),):
        raise ArgumentError("labels", f"{owner} received {labels.size} labels for {len(points)} points. "
                                      "Pass one label per point.")
    return points, labels


def plot_cluster_report(report, path, *, embeddings=None, labels=None, title=None):
    """The measures of a `cluster_report` over k and, given the points, a
    2-D projection of them (principal components) colored by `labels`.

    Args:
        report: a `cluster_report` result.
        path: PNG file to write.
        embeddings: optional points `(n, d)` to project.
        labels: optional class labels of the points (their colors).
        title: optional title.
    """
    from kerasseq.analysis.reports import _pyplot

    pyplot = _pyplot()
    panels = 3 if embeddings is not None else 2
    figure, axes = pyplot.subplots(1, panels, figsize=(4.2 * panels, 3.6))
    ks = report["k"]
    for name, style in (("silhouette", "o-"), ("davies_bouldin", "s-"), ("dunn", "^-")):
        axes[0].plot(ks, report[name], style, label=name.replace("_", "-"))
    if "adjusted_rand" in report:
        axes[0].plot(ks, report["adjusted_rand"], "x--", label="adjusted Rand vs labels")
    axes[0].set_xlabel("k (k-means)")
    axes[0].legend(fontsize=8)
    axes[1].plot(ks, report["bic"], "o-")
    axes[1].set_xlabel("k (Gaussian mixture)")
    axes[1].set_ylabel("BIC (lower is better)")
    if embeddings is not None:
        points = np.asarray(embeddings, dtype="float64")
        centered = points - points.mean(axis=0)
        _, _, basis = np.linalg.svd(centered, full_matrices=False)
        projected = centered @ basis[:2].T
        colors = {} if labels is None else {"c": np.asarray(labels), "cmap": "coolwarm"}
        axes[2].scatter(projected[:, 0], projected[:, 1], s=4, alpha=0.5, **colors)
        axes[2].set_xlabel("first principal component")
        axes[2].set_ylabel("second")
    figure.suptitle(title or "Clusters of the hidden states")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
