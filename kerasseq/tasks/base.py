"""`Task`: the contract every kerasseq task (weather, sentiment, lm, ...) fulfils.

A task owns its configuration (a `TaskConfig` dataclass whose fields are
the task's options: keyword arguments in Python, flags on the command
line), its data and splits, its model and baselines, training, evaluation,
report and plots. `kerasseq.runs` (run directories, resume, ensembles), the
`kerasseq` command, tuning and export speak to `Task` only, so a new task is
a new module with a registered subclass and nothing else.
"""

import abc
import dataclasses

from kerasseq.validation import ArgumentError
from kerasseq.validation import check_positive_int


def option(default, *, help, group="model", flag=None, parse=None, choices=None, repeat=False):
    """A configuration field that is also a command-line option.

    Args:
        default: the default value; a list is copied for each config.
        help: one line for `--help`.
        group: the `--help` section: "data", "model" or "training".
        flag: the flag, if not `--` and the field's name with dashes.
        parse: converts one flag value (e.g. a comma-separated list).
        choices: the values allowed.
        repeat: the flag may be given several times; values are collected.

    Returns:
        A `dataclasses.field`.

    Example:
    >>> @dataclasses.dataclass
    ... class ToyConfig(TaskConfig):
    ...     units: int = option(8, help="hidden units")
    >>> ToyConfig().units
    8
    """
    metadata = dict(help=help, group=group, flag=flag, parse=parse, choices=choices, repeat=repeat)
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass
class TaskConfig:
    """Options every task has; a task's config subclasses this dataclass.

    Saved as a run's `config.json`. Field names are the keywords of the
    task's builders and the flags of `kerasseq train TASK` (`batch_size`
    is `--batch-size`).
    """

    epochs: int = option(30, group="training", help="most training epochs")
    batch_size: int = option(64, group="training", help="windows or examples per batch")
    patience: int = option(5, group="training",
                           help="epochs without a better validation figure before stopping")
    seed: int = option(0, group="training", help="seed of the weights, shuffle and dropout")
    ensemble: int = option(1, group="training",
                           help="train N models from seeds SEED..SEED+N-1 and average them")
    strategy: str = option("auto", group="training", choices=["auto", "default", "mirrored", "multi_worker"],
                           help="tf.distribute strategy: default (one device), mirrored (this machine's "
                                "GPUs), multi_worker (the cluster in TF_CONFIG); auto picks multi_worker "
                                "with TF_CONFIG, mirrored with several GPUs, else default. batch_size is "
                                "per replica: a batch holds batch_size x replicas")

    def to_json(self):
        """The fields as a JSON-ready dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_json(cls, values):
        """A config from `values` (e.g. a loaded `config.json`); fields not
        given take their defaults, and an unknown key is an error."""
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ArgumentError(
                unknown[0],
                f"{cls.__name__} received unknown option(s) {unknown}. Known options: {known}.",
            )
        defaults = cls()
        # JSON has no tuples: fields whose default is one get theirs back.
        return cls(**{k: tuple(v) if isinstance(getattr(defaults, k), tuple) and isinstance(v, list)
                      else v for k, v in values.items()})

    @classmethod
    def options(cls):
        """`{field name: (flag, metadata)}` for every field, in order."""
        return {
            f.name: (f.metadata.get("flag") or "--" + f.name.replace("_", "-"), f.metadata)
            for f in dataclasses.fields(cls)
        }


class Task(abc.ABC):
    """Base of every task: data, models, training and evaluation of one config.

    Subclasses set `config_class` (a `TaskConfig` subclass) and implement
    `dataset` and `build_model`; everything else has a default that works
    for a compiled Keras model: `fit` trains with early stopping on
    `monitor`, `evaluate` reports the compiled metrics per split.
    Register a subclass with `kerasseq.tasks.register(name)`.

    Args:
        config: a `config_class` instance, or a dict of its fields.

    Example:
    >>> task = kerasseq.tasks.get("weather")({"data": "nyc"})  # doctest: +SKIP
    >>> model = task.build_model()  # doctest: +SKIP
    >>> task.fit(model)  # doctest: +SKIP
    >>> task.evaluate(model)  # doctest: +SKIP
    """

    name = None
    config_class = TaskConfig
    # The logged figure that picks the best epoch: early stopping, the
    # checkpoint kept as model.keras, the ensemble members' best weights.
    monitor = "val_loss"
    # "min" if lower values of `monitor` are better (losses, errors), "max"
    # if higher (accuracy, AUC).
    monitor_mode = "min"
    # The logged figure whose plateaus halve the learning rate (lower is better).
    plateau_monitor = "val_loss"
    # Builder and loader keywords that a config field sets under another
    # name, so that an error about one names the right option.
    keywords = {}
    # The command `kerasseq train NAME --help` ends with (default: the
    # shortest one, `kerasseq train NAME --out runs/NAME`).
    example = None
    # The baselines a config's `baselines` field may name, checked on entry
    # (they are built only after the main model has trained).
    baseline_names = ()
    # The config fields the loaded data (`source`) depends on: `replace`
    # shares it with the new task unless one of them changes (None: any).
    source_options = None

    def __init__(self, config):
        if isinstance(config, dict):
            config = self.config_class.from_json(config)
        self.config = config
        # The loaded data a subclass takes as its second argument, if any.
        self.source = None
        for field in ("epochs", "batch_size", "ensemble"):
            check_positive_int(field, getattr(config, field), owner=type(self).__name__,
                               example=f"{field}=3")
        from kerasseq.distribute import cluster_config
        from kerasseq.distribute import get_strategy

        if config.strategy == "multi_worker" or (config.strategy == "auto" and cluster_config()):
            # TensorFlow sets up collective ops only before its first op,
            # which loading the data may run.
            get_strategy(config.strategy)
        unknown = [b for b in getattr(config, "baselines", None) or [] if b not in self.baseline_names]
        if unknown:
            raise ArgumentError(
                "baselines",
                f"{type(self).__name__} received baselines={config.baselines!r}; {unknown} are not "
                f"baselines. Choose from {list(self.baseline_names)}, e.g. "
                f"baselines={list(self.baseline_names[:2])!r}.",
            )

    def replace(self, **changes):
        """This task with `changes` to its config, as `dataclasses.replace`;
        the data is loaded again only if a field in `source_options` changes.

        Args:
            **changes: config fields and their new values.

        Returns:
            A new task of the same class.

        Example:
        >>> wide = task.replace(units=128)  # doctest: +SKIP
        """
        unknown = sorted(set(changes) - set(self.config_class.options()))
        if unknown:
            raise ArgumentError(unknown[0], f"{type(self).__name__}.replace received unknown option(s) "
                                            f"{unknown}. Known options: {list(self.config_class.options())}.")
        config = dataclasses.replace(self.config, **changes)
        if self.source is None:
            return type(self)(config)
        # Without `source_options` any change may concern the data.
        fields = self.config_class.options() if self.source_options is None else self.source_options
        reload = any(getattr(config, f) != getattr(self.config, f) for f in fields)
        return type(self)(config, None if reload else self.source)

    @classmethod
    def option_for(cls, argument):
        """The config field an error about keyword `argument` concerns, or None."""
        options = cls.config_class.options()
        return argument if argument in options else cls.keywords.get(argument)

    @property
    def strategy(self):
        """The `tf.distribute.Strategy` of the config's `strategy`."""
        from kerasseq.distribute import get_strategy

        return get_strategy(self.config.strategy)

    def global_batch_size(self, model):
        """Examples per step of `model`'s strategy: `batch_size` per replica,
        or None for one replica (the config's `batch_size`)."""
        replicas = model.distribute_strategy.num_replicas_in_sync
        return self.config.batch_size * replicas if replicas > 1 else None

    @property
    def seeds(self):
        """One seed per ensemble member: `seed`, `seed + 1`, ..."""
        return [self.config.seed + k for k in range(self.config.ensemble)]

    @property
    def model_name(self):
        """The main model's name in metrics and reports."""
        return "model"

    @abc.abstractmethod
    def dataset(self, split, *, shuffle=False, seed=None, batch_size=None):
        """The `tf.data.Dataset` of `split` ("train", "val" or "test"),
        batched (`batch_size`, default: the config's)."""

    @abc.abstractmethod
    def build_model(self, *, seed=None):
        """The configured model, compiled, its weights drawn from `seed`."""

    def build_baselines(self):
        """Untrained baselines by name, built after the model trains."""
        return {}

    def fit_baseline(self, name, model, *, verbose=2):
        """Trains baseline `name`; returns `(history dict or None, seconds)`."""
        return self.fit(model, verbose=verbose)

    def fit(self, model, *, seed=None, callbacks=(), directory=None, verbose=None, train=None,
            validation=None, epochs=None, monitor=None, mode=None, saved=None):
        """Trains `model` with early stopping on `monitor` (the best epoch's
        weights restored) and a halved learning rate on plateaus.

        Args:
            model: a compiled model of this task.
            seed: seed of the shuffle and dropout (default: the config's).
            callbacks: more Keras callbacks.
            directory: where to keep what a resumed fit needs (see
                `kerasseq.runs.fit`); None trains without checkpoints.
            verbose: Keras' verbosity (default: a progress bar on a
                terminal, one line per epoch otherwise).
            train: a batched `tf.data.Dataset` to train on instead of the
                task's training split (the same batches every epoch), or a
                function from an epoch number to that epoch's dataset.
            validation: a batched dataset instead of the validation split.
            epochs: the most epochs (default: the config's).
            monitor: the logged figure that picks the best epoch and stops
                training, with `mode` ("min" or "max"); default: the task's
                `monitor` (a tuning job passes its objective).
            saved: the model the checkpoints save, when `model` wraps it
                for training only (see `kerasseq.runs.fit`).

        Under a strategy with several replicas the task's own batches hold
        `batch_size` examples per replica; batches given as `train` or
        `validation` are taken as global batches.

        Returns:
            `(history, seconds)`: the history as a dict of lists over every
            epoch (also those before a resume), or None for a model with
            nothing to train.
        """
        import keras

        from kerasseq import runs

        if not model.trainable_weights:
            return None, 0.0
        seed = self.config.seed if seed is None else seed
        verbose = runs.default_verbose() if verbose is None else verbose
        keras.utils.set_random_seed(seed)
        monitor, mode = (self.monitor, self.monitor_mode) if monitor is None else (monitor, mode)
        stop = keras.callbacks.EarlyStopping(
            monitor=monitor, mode=mode, patience=self.config.patience,
            restore_best_weights=True,
        )
        # Halving the step size once validation stalls settles the last epochs.
        slow_down = keras.callbacks.ReduceLROnPlateau(
            monitor=self.plateau_monitor, mode="min", factor=0.5,
            patience=max(1, self.config.patience // 2), verbose=verbose,
        )
        batch_size = self.global_batch_size(model)
        # Only when distributed, so that tasks whose `dataset` predates the
        # keyword train as before on one replica.
        batches = {} if batch_size is None else {"batch_size": batch_size}
        if train is None:
            # A new order each epoch, drawn from the seed and the epoch alone,
            # so that a resumed fit shuffles as the uninterrupted one.
            def train(epoch):
                return self.dataset("train", shuffle=True, seed=runs.epoch_seed(seed, epoch), **batches)
        elif not callable(train):
            given = train

            def train(epoch):
                return given
        validation = self.dataset("val", **batches) if validation is None else validation
        if batch_size is not None:
            train, validation = _sharded_by_batch(train), _sharded_by_batch(validation)
        return runs.fit(
            model, train, validation,
            epochs=epochs or self.config.epochs, callbacks=[stop, slow_down, *callbacks],
            directory=directory, monitor=monitor, mode=mode, verbose=verbose, saved=saved,
        )

    def evaluate(self, model, splits=("val", "test")):
        """`{split: {metric: value}}` of the model's compiled metrics."""
        return {
            split: {k: float(v) for k, v in model.evaluate(self.dataset(split), verbose=0,
                                                           return_dict=True).items()}
            for split in splits
        }

    def save_model(self, model, path):
        """Saves a model or baseline of this task at `path` plus its format's
        suffix (`.keras` for Keras models); returns the file written."""
        path = path.with_suffix(".keras")
        model.save(path)
        return path

    def load_model(self, path):
        """Loads a model or baseline written by `save_model`."""
        import keras

        return keras.saving.load_model(path)

    def save_assets(self, directory):
        """Writes what the run needs besides its models (e.g. a vocabulary)
        into the run directory, before training."""

    def check_assets(self, directory):
        """Raises if a saved run's assets do not match this task's data."""

    def summary(self):
        """Facts about the data for `metrics.json` (e.g. the target)."""
        return {}

    def analysis_examples(self, split="test", count=32, *, seed=None):
        """Examples for `kerasseq analyze` (gradients, clusters).

        Args:
            split: "val" or "test".
            count: how many (fewer if the split has fewer).
            seed: seed of the draw (default: the config's).

        Returns:
            `(inputs, targets)` as the model takes them; by default the
            first batch of `count` of the shuffled `dataset(split)`.
        """
        batch = next(iter(self.dataset(split, shuffle=True, seed=seed, batch_size=count)))
        return batch[0], batch[1]

    def analysis_sequence(self, model, text=None, *, split="test", seed=None):
        """One input for `kerasseq analyze gates`.

        Args:
            model: the run's model (a text task reads `text` as it does).
            text: the text to trace, where the task reads text.
            split: the split of the example traced without `text`.
            seed: seed of that example's draw.

        Returns:
            `(inputs, step labels or None)`: a batch of one, and a label
            per step (e.g. the tokens).
        """
        if text is not None:
            raise ArgumentError("text", f"The {self.name} task reads no text. Leave out --text to trace "
                                        f"an example of the {split} split.")
        inputs, _ = self.analysis_examples(split, 1, seed=seed)
        return inputs, None

    def analysis_labels(self, targets):
        """The class of each example for `cluster_report`.

        Args:
            targets: the targets `analysis_examples` returned.

        Returns:
            An integer array, or None for a task without classes.
        """
        return None

    def serving(self, model, assets):
        """What `kerasseq.export` writes for `model`: a
        `kerasseq.export.Serving` (signatures on raw input, and the
        resources they use). Files the signatures read go in the directory
        `assets`, which the SavedModel copies into its `assets/`. By default
        `serving_default` over the model's own inputs."""
        from kerasseq.export import default_serving

        return default_serving(model)

    def report(self, results):
        """The text table `kerasseq train` and `evaluate` print."""
        from kerasseq import analysis

        return analysis.metrics_table(results)

    def write_plots(self, directory, models, histories):
        """Writes the run's plots into `directory`; by default the loss curves."""
        from kerasseq import analysis

        analysis.plot_losses({k: v for k, v in histories.items() if v}, directory / "loss.png")


def _sharded_by_batch(datasets):
    """`datasets` (a dataset, or a function from an epoch to one) sharded
    batch by batch: under a strategy each replica takes its part of every
    global batch, whole windows or texts."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    if callable(datasets):
        return lambda epoch: datasets(epoch).with_options(options)
    return datasets.with_options(options)
