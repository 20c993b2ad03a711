"""Run directories: where a task's trained models, metrics and plots live.

One module for every task, the tuner and export. A run directory holds

    config.json        {"task": NAME, ...the task's config}
    model.keras        the best model (an ensemble's mean model)
    metrics.json       figures per model and split, written last
    history.csv        one row per epoch (an ensemble: in each member's folder)
    training.json      written once the model is trained: seed, seconds, history
    baselines/         the task's baselines (`NAME.keras`, or the task's own format)
    (assets)           what the task saves beside them, e.g. vocabulary.json
    members/seed_N/    an ensemble member's model.keras, history.csv,
                       training.json, logs/
    plots/*.png, logs/ (TensorBoard)
    backup/            while training: what resuming needs (removed after)

`train` fills one; running it again on a directory whose run was
interrupted (no metrics.json) resumes that run where it stopped, and gives
the model, history and metrics the uninterrupted run would have given.
`evaluate` recomputes a finished run's figures.
"""

import json
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

import keras
import numpy as np

from kerasseq.validation import ArgumentError
from kerasseq.validation import check_one_of

CONFIG = "config.json"
METRICS = "metrics.json"
MODEL = "model.keras"
HISTORY = "history.csv"
BACKUP = "backup"
TRAINED = "training.json"


def default_verbose():
    """Keras' progress bar on a terminal, one line per epoch in logs and pipes."""
    return 1 if sys.stdout.isatty() else 2


def _write_atomically(path, write):
    # Written beside the target and renamed, so a kill never leaves half a file.
    temporary = path.with_name(f".{path.name}.partial{path.suffix}")
    write(temporary)
    os.replace(temporary, path)


class RunDirectory:
    """The files of one run.

    Args:
        path: the directory.

    Example:
    >>> run = RunDirectory("runs/demo")
    >>> run.member(3, ensemble=1), run.member(3, ensemble=2)
    (PosixPath('runs/demo'), PosixPath('runs/demo/members/seed_3'))
    """

    def __init__(self, path):
        self.path = Path(path)

    @property
    def model_path(self):
        return self.path / MODEL

    @property
    def baselines(self):
        return self.path / "baselines"

    @property
    def plots(self):
        return self.path / "plots"

    def member(self, seed, *, ensemble):
        """Where the model of `seed` trains: the run itself, or `members/seed_N/`."""
        return self.path if ensemble == 1 else self.path / "members" / f"seed_{seed}"

    @staticmethod
    def member_name(name, seed, *, ensemble):
        """The name of `seed`'s model in metrics: `name`, or `name_seedN`."""
        return name if ensemble == 1 else f"{name}_seed{seed}"

    def read_config(self):
        """The saved `config.json`, or a `ValueError` if this is no run."""
        path = self.path / CONFIG
        if not all(p.is_file() for p in (path, self.model_path, self.path / METRICS)):
            raise ArgumentError(
                "directory",
                f"{self.path} is not a finished run directory (it needs {CONFIG}, {MODEL} and "
                f"{METRICS}); create one with `kerasseq train TASK --out DIR`, or finish an "
                "interrupted one by running its command again.",
            )
        values = json.loads(path.read_text())
        if "task" not in values:
            raise ValueError(f"{path} names no task; it was not written by `kerasseq train`.")
        return values

    def load_task(self):
        """The task of the saved configuration, its data loaded, on one
        process (`evaluate` and `export` train nothing to distribute)."""
        from kerasseq import tasks

        values = self.read_config()
        values["strategy"] = "default"
        task_class = tasks.get(values.pop("task"))
        task = task_class(task_class.config_class.from_json(values))
        task.check_assets(self.path)
        return task

    def prepare(self, task, *, overwrite=False):
        """Creates the directory for `task`'s run; returns True when resuming.

        A directory with `config.json` and no `metrics.json` holds a run
        that was interrupted: the same configuration resumes it, another is
        refused, naming the options that differ.
        """
        config = {"task": task.name, **task.config.to_json()}
        if self.path.exists() and any(self.path.iterdir()):
            saved_path = self.path / CONFIG
            if overwrite:
                shutil.rmtree(self.path)
            elif saved_path.is_file() and not (self.path / METRICS).exists():
                saved = json.loads(saved_path.read_text())
                if saved.get("task") == task.name:
                    saved.pop("task")
                    # Through the config class, so options added since take their defaults.
                    saved = {"task": task.name,
                             **task.config_class.from_json(saved).to_json()}
                changed = [k for k in config if saved.get(k) != config[k]]
                if changed:
                    raise ArgumentError(
                        changed[0],
                        f"{self.path} holds an interrupted run with other settings "
                        f"({', '.join(changed)} differ). Run its original command to resume "
                        "it, pass overwrite=True to replace it, or choose another directory.",
                    )
                print(f"Resuming the interrupted run in {self.path}.")
                return True
            else:
                raise ArgumentError(
                    "overwrite",
                    f"{self.path} already holds a run. Pass overwrite=True to replace it, "
                    "or choose another directory.",
                )
        self.plots.mkdir(parents=True, exist_ok=True)
        self.baselines.mkdir(exist_ok=True)
        (self.path / CONFIG).write_text(json.dumps(config, indent=2))
        return False


class TrainingCheckpoint(keras.callbacks.Callback):
    """Keeps, after every epoch, all that a resumed `fit` needs to continue
    as if it had never stopped.

    In `directory`: the best model so far (`model.keras`, replaced only by a
    better one), `history.csv`, and in `backup/` the last epoch's weights
    and optimizer state, the dropout seed generators, and the counters and
    best values of the `EarlyStopping` and `ReduceLROnPlateau` callbacks
    (restored after their `on_train_begin` resets them). The backup is
    written as a whole and swapped in, so a kill at any moment leaves
    either the previous epoch's or this epoch's state. Put it last in the
    callback list.

    Args:
        directory: the model's directory in the run.
        monitor: the logged figure that picks the best model.
        mode: "min" if lower values of `monitor` are better, "max" if higher.
        callbacks: the other callbacks of the fit; the state of those
            above is kept.
    """

    def __init__(self, directory, *, monitor, mode="min", callbacks=(), saved=None):
        super().__init__()
        self.saved = saved
        self.directory = Path(directory)
        self.monitor = monitor
        check_one_of("mode", mode, ["min", "max"], owner="TrainingCheckpoint")
        self.better = np.less if mode == "min" else np.greater
        self.tracked = [c for c in callbacks if isinstance(c, tuple(_STATE))]
        self.state = _read_backup(self.directory / BACKUP)
        self.rows = self.state["history"] if self.state else []
        self.best = self.state["best"] if self.state else (np.inf if mode == "min" else -np.inf)

    @property
    def initial_epoch(self):
        """The first epoch to run: 0, or the epoch after the last one kept."""
        if self.state is None:
            return 0
        return self.state["epochs_run"] if not self.state["stopped"] else None

    @property
    def prior_seconds(self):
        return self.state["seconds"] if self.state else 0.0

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()
        if self.state is None:
            return
        backup = self.directory / BACKUP
        # Built now (fit builds it at the first step) so that its saved
        # state, the learning rate included, has variables to load into.
        model = self.saved or self.model
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(backup / "last.weights.h5")
        arrays = np.load(backup / "arrays.npz")
        for i, variable in enumerate(_seed_states(model)):
            variable.assign(arrays[f"seed_{i}"])
        # A kill after the backup and before history.csv leaves it a row short.
        _write_atomically(self.directory / HISTORY, self._write_history)
        for i, (callback, values) in enumerate(zip(self.tracked, self.state["callbacks"])):
            for name, value in values.items():
                setattr(callback, name, value)
            if isinstance(callback, keras.callbacks.EarlyStopping) and f"best_{i}_0" in arrays:
                count = sum(1 for k in arrays.files if k.startswith(f"best_{i}_"))
                callback.best_weights = [arrays[f"best_{i}_{j}"] for j in range(count)]

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.rows.append({"epoch": epoch, **{k: float(v) for k, v in logs.items()}})
        current = logs.get(self.monitor)
        if current is not None and self.better(current, self.best):
            self.best = float(current)
            _write_atomically(self.directory / MODEL, (self.saved or self.model).save)
        self._write_backup(epoch)
        _write_atomically(self.directory / HISTORY, self._write_history)

    def _write_backup(self, epoch):
        backup = self.directory / BACKUP
        fresh = self.directory / f"{BACKUP}.new"
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir(parents=True)
        # The saved model's own layout, whatever wraps it for training, so
        # that a resume on another placement (host or device windows) loads it.
        model = self.saved or self.model
        model.save_weights(fresh / "last.weights.h5")
        arrays = {f"seed_{i}": np.asarray(v) for i, v in enumerate(_seed_states(model))}
        values = []
        for i, callback in enumerate(self.tracked):
            attributes = next(a for kind, a in _STATE.items() if isinstance(callback, kind))
            values.append({name: _plain(getattr(callback, name)) for name in attributes})
            for j, weight in enumerate(getattr(callback, "best_weights", None) or []):
                arrays[f"best_{i}_{j}"] = weight
        np.savez(fresh / "arrays.npz", **arrays)
        state = {
            "epochs_run": epoch + 1,
            "stopped": bool(self.model.stop_training),
            "best": self.best,
            "seconds": self.prior_seconds + time.perf_counter() - self.started,
            "callbacks": values,
            "history": self.rows,
        }
        (fresh / "state.json").write_text(json.dumps(state))
        # Swap: a kill between the two renames leaves backup.old, which
        # _read_backup takes.
        old = self.directory / f"{BACKUP}.old"
        if backup.exists():
            os.replace(backup, old)
        os.replace(fresh, backup)
        shutil.rmtree(old, ignore_errors=True)

    def _write_history(self, path):
        columns = list(dict.fromkeys(k for row in self.rows for k in row))
        lines = [",".join(columns)]
        lines += [",".join(repr(row.get(c, "")) for c in columns) for row in self.rows]
        path.write_text("\n".join(lines) + "\n")

    def history(self):
        """Every epoch's logs as a dict of lists, as `History.history`."""
        keys = [k for k in dict.fromkeys(k for row in self.rows for k in row) if k != "epoch"]
        return {k: [row.get(k) for row in self.rows] for k in keys}



# The attributes that carry a callback's progress across epochs.
_STATE = {
    keras.callbacks.EarlyStopping: ("wait", "stopped_epoch", "best", "best_epoch"),
    keras.callbacks.ReduceLROnPlateau: ("wait", "best", "cooldown_counter"),
}


def remove_backup(directory):
    """Removes what `fit` kept in `directory` for resuming, once the trained
    model is recorded elsewhere (until then, `fit` again returns it)."""
    for name in (BACKUP, f"{BACKUP}.old", f"{BACKUP}.new"):
        shutil.rmtree(Path(directory) / name, ignore_errors=True)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _seed_states(model):
    # Dropout masks come from these generators; save_weights leaves them out.
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def _read_backup(backup):
    for directory in (backup, backup.with_name(f"{BACKUP}.old")):
        if (directory / "state.json").is_file():
            if directory != backup:
                os.replace(directory, backup)
            return json.loads((backup / "state.json").read_text())
    return None


def epoch_seed(seed, epoch):
    """The shuffle seed of `epoch` in a run seeded with `seed`.

    Example:
    >>> epoch_seed(0, 3) == epoch_seed(0, 3) != epoch_seed(0, 4)
    True
    """
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def _epoch_stream(train, first, epochs):
    """The batches of epochs `first..epochs-1` as one dataset, and the steps
    of one epoch: epoch `e` is `train(e)`, whatever came before it."""
    import tensorflow as tf

    parts = [train(epoch) for epoch in range(first, max(epochs, first + 1))]
    steps = int(parts[0].cardinality())
    if steps == tf.data.INFINITE_CARDINALITY:
        raise ArgumentError("train", "fit received an endless training dataset (it repeats). An epoch "
                                     "is one pass: drop the .repeat(), or cut it with .take(steps).")
    if steps < 0:
        # Counted on a dataset of its own: a pass over parts[0] would move
        # a reshuffling dataset on to its next order.
        steps = int(train(first).reduce(0, lambda count, _: count + 1))
    stream = parts[0]
    for part in parts[1:]:
        stream = stream.concatenate(part)
    return stream, steps


def fit(model, train, validation, *, epochs, callbacks=(), directory=None, monitor="val_loss",
        mode="min", verbose=None, saved=None):
    """`model.fit`, resumable: with `directory`, a fit that was killed at any
    point continues from its last finished epoch, as if it had not stopped.

    The weights, optimizer state, learning rate, dropout seeds and
    early-stopping counters carry over (see `TrainingCheckpoint`), and so
    does the shuffle when `train` is a function of the epoch: epoch `e`
    trains on `train(e)`, e.g. windows shuffled with `epoch_seed(seed, e)`.

    Args:
        model: a compiled model.
        train: the training dataset, or a function from an epoch number to
            that epoch's dataset.
        validation: the validation dataset.
        epochs: the number of epochs.
        callbacks: Keras callbacks.
        directory: where to keep the checkpoint (`model.keras`, the best
            epoch; `history.csv`; `backup/`, removed by `remove_backup`), or
            None for none.
        monitor: the logged figure that picks the best model.
        mode: "min" if lower values of `monitor` are better, "max" if higher.
        verbose: Keras' verbosity (default: `default_verbose()`).
        saved: the model `model.keras` holds, when `model` wraps it for
            training only (e.g. behind a `pipelines.WindowGather`).

    Returns:
        `(history, seconds)`: every epoch's logs as a dict of lists, and the
        training time, interrupted runs included.
    """
    verbose = default_verbose() if verbose is None else verbose
    checkpoint = None
    initial_epoch = 0
    if directory is not None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        checkpoint = TrainingCheckpoint(directory, monitor=monitor, mode=mode, callbacks=callbacks,
                                        saved=saved)
        initial_epoch = checkpoint.initial_epoch
        initial_epoch = epochs if initial_epoch is None else initial_epoch
        callbacks = [*callbacks, checkpoint]
    steps = None
    if callable(train):
        train, steps = _epoch_stream(train, initial_epoch, epochs)
    start = time.perf_counter()
    history = model.fit(
        train, validation_data=validation, epochs=epochs, initial_epoch=initial_epoch,
        steps_per_epoch=steps, callbacks=list(callbacks), verbose=verbose,
        shuffle=False,  # datasets shuffle themselves
    )
    seconds = time.perf_counter() - start
    if checkpoint is None:
        return history.history, seconds
    # The backup stays: a fit called again returns at once with this result,
    # until `remove_backup` (a run removes it once training.json is written).
    return checkpoint.history(), checkpoint.prior_seconds + seconds


def train(task, directory, *, overwrite=False, trained=None):
    """Trains `task`'s model (or ensemble) and baselines into a run directory.

    Model errors surface before the directory is created, so that fixing
    the input and running again needs no `overwrite`. Running `train` again
    on an interrupted run resumes it (see `fit`); finished ensemble members
    are loaded, not retrained.

    Args:
        task: a `kerasseq.tasks.Task`.
        directory: the run directory.
        overwrite: replace a run already there.
        trained: a directory holding a finished model of this task
            (`model.keras` and `training.json`, e.g. a tuning trial's),
            taken instead of training one; single models only.

    Returns:
        `{model name: {"params", "train_seconds", split: metrics}}`, as
        written to `metrics.json`.

    Example:
    >>> task = kerasseq.tasks.get("weather")({"epochs": 2})  # doctest: +SKIP
    >>> train(task, "runs/demo")  # doctest: +SKIP
    """
    from kerasseq.models import build_ensemble

    run = RunDirectory(directory)
    task.build_model()
    if trained is not None:
        missing = [n for n in (MODEL, TRAINED) if not (Path(trained) / n).is_file()]
        if missing or task.config.ensemble != 1:
            raise ArgumentError("trained", f"train received trained={str(trained)!r}, which "
                                           + (f"lacks {missing}" if missing else
                                              f"is one model for an ensemble of {task.config.ensemble}")
                                           + ". Pass the directory of one finished model (model.keras "
                                             "and training.json).")
    if run.prepare(task, overwrite=overwrite):
        if trained is not None:
            raise ArgumentError("trained", f"train received trained={str(trained)!r} for {run.path}, "
                                           "which holds an interrupted run. Pass overwrite=True.")
        # A resumed run continues only on the data it started on.
        task.check_assets(run.path)
    elif trained is not None:
        for name in (MODEL, TRAINED, HISTORY):
            if (Path(trained) / name).is_file():
                shutil.copy2(Path(trained) / name, run.path / name)
    task.save_assets(run.path)
    name = task.model_name
    trained, results, histories = {}, {}, {}
    for seed in task.seeds:
        member_name = run.member_name(name, seed, ensemble=task.config.ensemble)
        model, seconds, history = _train_member(task, run.member(seed, ensemble=task.config.ensemble), seed)
        trained[member_name] = model
        results[member_name] = {"params": model.count_params(), "train_seconds": seconds}
        histories[member_name] = history
    if task.config.ensemble > 1:
        model = build_ensemble(list(trained.values()), name=f"{name}_ensemble")
        _write_atomically(run.model_path, model.save)
        seconds = sum(r["train_seconds"] for r in results.values())
        trained = {name: model, **trained}
        results = {name: {"params": model.count_params(), "train_seconds": seconds}, **results}
    for baseline_name, baseline in task.build_baselines().items():
        history, seconds = task.fit_baseline(baseline_name, baseline)
        task.save_model(baseline, run.baselines / baseline_name)
        trained[baseline_name] = baseline
        results[baseline_name] = {"params": baseline.count_params(), "train_seconds": seconds}
        histories[baseline_name] = history
    for model_name, model in trained.items():
        results[model_name].update(task.evaluate(model))
    task.write_plots(run.plots, trained, histories)
    _write_atomically(run.path / METRICS, lambda path: path.write_text(
        json.dumps({"task": task.name, **task.summary(), "models": results}, indent=2)))
    print(task.report(results))
    print(f"Run saved in {run.path}/ ({MODEL}, {METRICS}, plots/, logs/)")
    return results


def write_training_record(directory, *, seed, seconds, history):
    """Writes `training.json` (seed, seconds, history): a model in
    `directory` finished training, and a resumed run loads it."""
    _write_atomically(Path(directory) / TRAINED, lambda path: path.write_text(
        json.dumps({"seed": seed, "seconds": seconds, "history": history})))


def _train_member(task, directory, seed):
    """Trains one model in `directory`, or loads it if it finished before an
    interruption; returns `(model, seconds, history)`."""
    done = directory / TRAINED
    if done.exists():
        print(f"Seed {seed}: trained before, loaded from {directory}")
        history = json.loads(done.read_text())
        return keras.saving.load_model(directory / MODEL), history["seconds"], history["history"]
    strategy = task.strategy
    with strategy.scope():
        model = task.build_model(seed=seed)
    print(f"{model.name} (seed {seed}): {model.count_params():,} parameters")
    logs = keras.callbacks.TensorBoard(str(directory / "logs"))
    history, seconds = task.fit(model, seed=seed, callbacks=[logs], directory=directory)
    write_training_record(directory, seed=seed, seconds=seconds, history=history)
    remove_backup(directory)
    if strategy.num_replicas_in_sync > 1:
        # Evaluated, averaged and saved by each process on its own.
        trained = model
        model = task.build_model(seed=seed)
        model.set_weights(trained.get_weights())
    return model, seconds, history


def evaluate(directory):
    """Recomputes the figures of a finished run from its saved models.

    Args:
        directory: a run directory written by `train`.

    Returns:
        `{model name: metrics}` in `metrics.json`'s layout (training
        seconds taken from it).
    """
    run = RunDirectory(directory)
    task = run.load_task()
    saved = json.loads((run.path / METRICS).read_text())["models"]
    name = task.model_name
    paths = {name: run.model_path}
    if task.config.ensemble > 1:
        ensemble = task.config.ensemble
        paths.update({run.member_name(name, seed, ensemble=ensemble): run.member(
            seed, ensemble=ensemble) / MODEL for seed in task.seeds})
    # In metrics.json's order, which is training's.
    baselines = sorted((p for p in run.baselines.iterdir() if p.is_file() and not p.name.startswith(".")),
                       key=lambda p: (list(saved).index(p.stem) if p.stem in saved else len(saved), p.stem))
    paths.update({p.stem: p for p in baselines})
    results = {}
    for model_name, path in paths.items():
        with warnings.catch_warnings():
            # The optimizer state, which evaluation does not use, may not load.
            warnings.filterwarnings("ignore", "Skipping variable loading for optimizer")
            model = task.load_model(path)
        results[model_name] = {
            "params": model.count_params(),
            "train_seconds": saved.get(model_name, {}).get("train_seconds", 0.0),
            **task.evaluate(model),
        }
    print(task.report(results))
    return results
