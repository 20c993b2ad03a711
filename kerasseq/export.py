"""Export for serving: TensorFlow SavedModels whose signatures take raw input.

`export_saved_model` writes the layout TensorFlow Serving reads,
`PATH/<version>/` (`saved_model.pb`, `variables/`, `assets/`), and the same
model as `PATH/<version>.keras`. It builds on Keras' own
`keras.export.ExportArchive`; what a task adds are its signatures
(`Task.serving`): raw input in, outputs in the user's units, the
preprocessing inside the graph, and files the graph reads (a text task's
vocabulary) in `assets/`.

Example:
>>> export_run("runs/demo", "exported/demo")  # doctest: +SKIP
PosixPath('exported/demo/1')
"""

import contextlib
import dataclasses
import tempfile
from pathlib import Path

from kerasseq.validation import ArgumentError

# A character vocabulary holds line breaks, which a one-token-per-line file
# cannot: they are written as two characters, which no character token is.
LINE_BREAKS = {"\n": "\\n", "\r": "\\r"}


@dataclasses.dataclass
class Serving:
    """What a task exports for a model.

    Attributes:
        endpoints: `{name: (function, input_signature)}`, one signature each.
        resources: lookup tables, models and `tf.saved_model.Asset`s the
            functions use beyond the exported model's own layers.
    """

    endpoints: dict
    resources: tuple = ()


def default_serving(model):
    """`serving_default` over `model`'s own inputs, its outputs named after
    the model's output layers."""
    import tensorflow as tf

    specs = [tf.TensorSpec((None, *x.shape[1:]), x.dtype, name=x.name.split(":")[0]) for x in model.inputs]
    names = list(model.output_names) if hasattr(model, "output_names") else ["output_0"]

    def serve(*inputs):
        outputs = model(inputs[0] if len(inputs) == 1 else list(inputs), training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return dict(zip(names, outputs))

    return Serving({"serving_default": (serve, specs)})


def vocabulary_asset(tokens, directory, *, name="vocabulary.txt"):
    """Writes `tokens` one per line for a SavedModel's `assets/`, line
    breaks as in `LINE_BREAKS`.

    Args:
        tokens: the vocabulary, in id order.
        directory: where to write the file (the export copies it).
        name: the file's name.

    Returns:
        `(asset, lines)`: the `tf.saved_model.Asset` to track and the
        escaped tokens as written, for lookups that map input the same way.
    """
    import tensorflow as tf

    lines = [LINE_BREAKS.get(token, token) for token in tokens]
    for line in lines:
        if not line:
            raise ValueError("The vocabulary holds an empty token, which a vocabulary file cannot; "
                             "leave out the padding token \"\", as Keras' vocabulary files do.")
        if "\n" in line or "\r" in line:
            raise ValueError(f"The vocabulary holds the token {line!r}, with a line break inside; "
                             "a one-token-per-line file cannot. Split such tokens when building it.")
    seen = set()
    for line in lines:
        if line in seen:
            raise ValueError(f"vocabulary.txt would hold {line!r} twice (a token repeated, or spelled "
                             "as a line break's escape), so a lookup would be ambiguous. Rename or "
                             "drop that token before exporting.")
        seen.add(line)
    path = Path(directory) / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return tf.saved_model.Asset(str(path)), lines


def next_version(path):
    """One above the highest numeric version in `path`, or 1."""
    path = Path(path)
    versions = [int(p.name) for p in path.iterdir() if p.name.isdigit()] if path.is_dir() else []
    return max(versions, default=0) + 1


def export_saved_model(model, path, *, version=None, task=None, portable=True):
    """Writes `model` as a SavedModel for TensorFlow Serving, and as `.keras`.

    Args:
        model: a Keras model.
        path: the model's base directory; the version goes below it.
        version: a positive integer (default: one above those in `path`).
        task: the `kerasseq.tasks.Task` the model belongs to, whose
            `serving` gives signatures on raw input; None exports
            `serving_default` over the model's own inputs.
        portable: trace the recurrent layers' TensorFlow loop, which runs on
            any device; False keeps the cuDNN kernel where the layers use it
            (exported on a GPU: faster there, but no CPU can run it).

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
    from kerasseq.layers import portable_loops

    with tempfile.TemporaryDirectory() as assets, (portable_loops() if portable else contextlib.nullcontext()):
        serving = task.serving(model, assets) if task is not None else default_serving(model)
        archive = keras.export.ExportArchive()
        archive.track(model)
        for resource in serving.resources:
            archive.track(resource)
        for name, (function, signature) in serving.endpoints.items():
            archive.add_endpoint(name=name, fn=function, input_signature=signature)
        path.mkdir(parents=True, exist_ok=True)
        # Serving never differentiates; the fused recurrent loops' custom
        # gradients capture loop state that a SavedModel cannot hold.
        archive.write_out(str(target), verbose=False,
                          options=tf.saved_model.SaveOptions(experimental_custom_gradients=False))
    model.save(path / f"{version}.keras")
    return target


def export_run(directory, path, *, version=None, portable=True):
    """Exports a finished run's model (its task read from `config.json`).

    Args:
        directory: a run directory written by `kerasseq train`.
        path: the export's base directory.
        version, portable: as in `export_saved_model`.

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
    return export_saved_model(model, path, version=version, task=task, portable=portable)
