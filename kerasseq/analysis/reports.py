"""Reports of a run's results: the comparison table and the plots."""


def metrics_table(models, splits=("val", "test")):
    """Formats `{name: metrics}` (as in a run's `metrics.json`) as a text table.

    Columns are the parameters, the training seconds, and each figure
    (a float) of each split, as the first model has them.

    Args:
        models: dict of model name to `{"params", "train_seconds", split:
            {metric: value}}`.
        splits: the splits to show, in order.

    Returns:
        The table as a string, one model per line, in the given order.

    Example:
    >>> print(metrics_table({"naive": {"params": 0, "train_seconds": 0.0,
    ...     "val": {"mae": 2.44, "rmse": 3.3}, "test": {"mae": 2.62, "rmse": 3.5}}}))
    model               params  train s   val MAE  val RMSE  test MAE  test RMSE
    naive                    0      0.0     2.440     3.300     2.620      3.500
    """
    first = next(iter(models.values()))
    columns = [(split, name) for split in splits
               for name, value in first.get(split, {}).items() if isinstance(value, float)]
    labels = [f"{split} {name.upper()}" for split, name in columns]
    widths = [max(10, len(label) + 2) for label in labels]
    name_width = max(16, *(len(name) + 2 for name in models))
    lines = [f"{'model':<{name_width}}{'params':>10}{'train s':>9}"
             + "".join(f"{label:>{w}}" for label, w in zip(labels, widths))]
    for name, m in models.items():
        lines.append(
            f"{name:<{name_width}}{m['params']:>10,}{m['train_seconds']:>9.1f}"
            + "".join(_cell(m[split].get(metric), w) for (split, metric), w in zip(columns, widths))
        )
    return "\n".join(lines)


def _cell(value, width):
    # A figure that cannot be computed (an AUC with one class present) is None.
    return f"{value:>{width}.3f}" if isinstance(value, float) else f"{'n/a':>{width}}"


def _pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


def plot_losses(histories, path, *, metric="loss", references=None):
    """Training and validation `metric` per epoch, one line pair per model.

    Args:
        histories: dict of model name to a Keras `History.history` dict.
        path: PNG file to write.
        metric: the logged figure, e.g. "loss" or "perplexity".
        references: optional dict of name to a validation value drawn as a
            horizontal line (e.g. the baselines' perplexity).
    """
    plt = _pyplot()

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, history in histories.items():
        epochs = range(1, len(history[metric]) + 1)
        (line,) = ax.plot(epochs, history[metric], label=f"{name} train")
        ax.plot(epochs, history[f"val_{metric}"], "--", color=line.get_color(), label=f"{name} val")
    for name, value in (references or {}).items():
        ax.axhline(value, linestyle=":", color="gray")
        ax.annotate(f"{name} val", (1, value), fontsize=7, color="gray", va="bottom")
    ax.set(xlabel="epoch", ylabel=metric, yscale="log", title="Training curves")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_forecast(stretches, path, *, ylabel):
    """Forecasts against the truth over a stretch of the test split.

    Args:
        stretches: dict of model name to a DataFrame with `truth` and
            `forecast` columns on a time index (`WeatherTask.predict_stretch`).
        path: PNG file to write.
        ylabel: the target's name and units.
    """
    plt = _pyplot()

    fig, ax = plt.subplots(figsize=(9, 4))
    first = next(iter(stretches.values()))
    ax.plot(first.index, first["truth"], color="black", linewidth=1.5, label="truth")
    for name, frame in stretches.items():
        ax.plot(frame.index, frame["forecast"], linewidth=1, label=name)
    ax.set(ylabel=ylabel, title="Test forecasts (first horizon)")
    ax.legend(fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_roc(curves, path):
    """ROC curves of binary classifiers, with their AUC in the legend.

    Args:
        curves: dict of model name to `(fpr, tpr, auc)` (see
            `kerasseq.classification.roc_curve`).
        path: PNG file to write.
    """
    plt = _pyplot()

    fig, ax = plt.subplots(figsize=(5, 5))
    for name, (fpr, tpr, auc) in curves.items():
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], ":", color="gray", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="Test ROC curves",
           xlim=(0, 1), ylim=(0, 1))
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_objective(points, name, direction, path):
    """A tuning job's objective per trial, and the best so far.

    Args:
        points: `(trial id, value)` of the completed trials, in order.
        name: the objective's name, e.g. "val_mae".
        direction: "min" or "max".
        path: PNG file to write.
    """
    import numpy as np

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    if points:
        ids, values = zip(*points)
        best = np.minimum.accumulate(values) if direction == "min" else np.maximum.accumulate(values)
        ax.plot(range(len(ids)), values, "o", label="trial")
        ax.step(range(len(ids)), best, where="post", label="best so far")
        ax.set_xticks(range(len(ids)), ids, rotation=90 if len(ids) > 20 else 0, fontsize=7)
        ax.legend(fontsize=8)
    ax.set(xlabel="trial", ylabel=name, title=f"Tuning: {name} ({direction}) per completed trial")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
