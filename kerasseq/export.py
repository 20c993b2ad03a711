"""Export for serving: TensorFlow SavedModels whose signatures take raw input.

`export_saved_model` writes the layout TensorFlow Serving reads,
`PATH/<version>/` (`saved_model.pb`, `variables/`, `assets/`), and the same
model as `PATH/<version>.keras`. It builds on Keras' own
`keras.export.ExportArchive`; what a task adds are its signatures
(`Task.serving_endpoints`): raw input in, outputs in the user's units, the
preprocessing inside the graph.

Example:
>>> export_run("runs/demo", "exported/demo")  # doctest: +SKIP
PosixPath('exported/demo/1')
"""

from pathlib import Path

from kerasseq.validation import ArgumentError


def default_endpoints(model):
    """`{"serving_default": (function, input_signature)}` over `model`'s own
    inputs, its outputs named after the model's output layers."""
    import tensorflow as tf

    specs = [tf.TensorSpec((None, *x.shape[1:]), x.dtype, name=x.name.split(":")[0]) for x in model.inputs]
    names = list(model.output_names) if hasattr(model, "output_names") else ["output_0"]

    def serve(*inputs):
        outputs = model(inputs[0] if len(inputs) == 1 else list(inputs), training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return dict(zip(names, outputs))

    return {"serving_default": (serve, specs)}


def next_version(path):
    """One above the highest numeric version in `path`, or 1."""
    path = Path(path)
    versions = [int(p.name) for p in path.iterdir() if p.name.isdigit()] if path.is_dir() else []
    return max(versions, default=0) + 1


def export_saved_model(model, path, *, version=None, task=None):
    """Writes `model` as a SavedModel for TensorFlow Serving, and as `.keras`.

    Args:
        model: a Keras model.
        path: the model's base directory; the version goes below it.
        version: a positive integer (default: one above those in `path`).
        task: the `kerasseq.tasks.Task` the model belongs to, whose
            `serving_endpoints` give signatures on raw input; None exports
            `serving_default` over the model's own inputs.

    Returns:
        The version directory, `PATH/<version>`.

    Example:
    >>> export_saved_model(model, "exported/weather", task=task)  # doctest: +SKIP
    PosixPath('exported/weather/1')
    """
    import keras
    import tensorflow as tf

    path = Path(path)
    if version is None:
        version = next_version(path)
    elif isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ArgumentError("version", f"export_saved_model received version={version!r}. Pass a "
                                       "positive integer, e.g. version=1 (TensorFlow Serving serves "
                                       "the highest).")
    target = path / str(version)
    if target.exists():
        raise ArgumentError("version", f"{target} already exists. Pass another version, e.g. "
                                       f"version={next_version(path)}, or remove it.")
    endpoints = task.serving_endpoints(model) if task is not None else default_endpoints(model)
    archive = keras.export.ExportArchive()
    archive.track(model)
    for resource in (task.serving_resources(model) if task is not None else ()):
        archive.track(resource)
    for name, (function, signature) in endpoints.items():
        archive.add_endpoint(name=name, fn=function, input_signature=signature)
    path.mkdir(parents=True, exist_ok=True)
    # Serving never differentiates; the fused recurrent loops' custom
    # gradients capture loop state that a SavedModel cannot hold.
    archive.write_out(str(target), options=tf.saved_model.SaveOptions(experimental_custom_gradients=False),
                      verbose=False)
    model.save(path / f"{version}.keras")
    return target


def export_run(directory, path, *, version=None):
    """Exports a finished run's model (its task read from `config.json`).

    Args:
        directory: a run directory written by `kerasseq train`.
        path: the export's base directory.
        version: as in `export_saved_model`.

    Returns:
        The version directory.
    """
    import warnings

    from kerasseq import runs

    run = runs.RunDirectory(directory)
    task = run.load_task()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipping variable loading for optimizer")
        model = task.load_model(run.model_path)
    return export_saved_model(model, path, version=version, task=task)
