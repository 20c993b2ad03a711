"""Keras Tuner hypermodels of the kerasseq tasks.

A `TaskHyperModel` wraps one registered task: each trial's hyperparameters
are fields of the task's config (`units`, `cell`, `batch_size`, ...), the
model comes from the task's builder and trains with the task's own `fit`
(early stopping, learning-rate decay, resumable checkpoints). The default
search space of each task is in `SPACES`; narrow or fix any part of it.

A search space maps config fields to:
- a value: fixed (`"cell": "gru"`);
- a list: one of these (`"units": [32, 64]`);
- a dict: a range, `{"min": 16, "max": 256}` with optional `"step"`,
  `"sampling"` ("linear", "log") and `"when": {"head": ["windowed_attention"]}`
  (tuned only when that field takes one of those values); integers give
  `hp.Int`, otherwise `hp.Float`.
"""

import json
import math

import keras_tuner

from kerasseq import tasks
from kerasseq.validation import ArgumentError

# What every recurrent task tunes, then each task's own choices.
_RECURRENT = {
    "cell": ["elman", "gru", "lstm"],
    "units": {"min": 16, "max": 256, "step": 2, "sampling": "log"},
    "depth": {"min": 1, "max": 3},
    # Choices, not a stepped float range: Keras Tuner's gives values such
    # as 0.30000000000000004 and never draws the top of the range.
    "dropout": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5],
    "learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log"},
}
SPACES = {
    "weather": {**_RECURRENT, "bidirectional": [False, True], "batch_size": [32, 64, 128, 256]},
    "sentiment": {
        **_RECURRENT,
        "bidirectional": [False, True],
        "head": ["last", "max", "attention", "windowed_attention", "token_scores"],
        "window": {"min": 1, "max": 10, "when": {"head": ["windowed_attention"]}},
        "batch_size": [32, 64, 128],
    },
    # A language model reads left to right (no bidirectional), and a
    # stateful one's batch size is the number of rows of its stream.
    "lm": {**_RECURRENT, "tie_weights": [False, True]},
}


def _check_spec(name, spec, owner):
    """Raises `ArgumentError` unless `spec` is a value, list or range dict."""
    if isinstance(spec, list):
        if not spec:
            raise ArgumentError(name, f"{owner} received {name}=[]. Give at least one value, "
                                      f"e.g. {name}=[32, 64].")
        return
    if not isinstance(spec, dict):
        return
    unknown = sorted(set(spec) - {"min", "max", "step", "sampling", "when"})
    if unknown or "min" not in spec or "max" not in spec:
        raise ArgumentError(name, f"{owner} received {name}={spec!r}. A range is a dict with "
                                  "'min' and 'max' (and optionally 'step', 'sampling', 'when'), "
                                  f"e.g. {name}={{'min': 16, 'max': 256, 'sampling': 'log'}}.")
    if not spec["min"] <= spec["max"]:
        raise ArgumentError(name, f"{owner} received {name}={spec!r}: 'min' is above 'max'. Swap them, "
                                  f"e.g. {name}={{'min': {spec['max']!r}, 'max': {spec['min']!r}}}.")
    when = spec.get("when")
    if when is not None and not (isinstance(when, dict) and len(when) == 1
                                 and isinstance(next(iter(when.values())), list)):
        raise ArgumentError(name, f"{owner} received {name}={spec!r}. 'when' maps one option to the "
                                  f"values it applies to, e.g. 'when': {{'head': ['windowed_attention']}}.")
    step = spec.get("step")
    if step is not None and (isinstance(step, bool) or not isinstance(step, (int, float))
                             or not math.isfinite(step) or step <= 0):
        raise ArgumentError(name, f"{owner} received {name}={spec!r}. 'step' must be a number above 0, "
                                  "or left out.")
    if step is not None and spec.get("sampling") in ("log", "reverse_log") and step <= 1:
        raise ArgumentError(name, f"{owner} received {name}={spec!r}. With log sampling 'step' is a "
                                  "factor above 1 (e.g. 2: 16, 32, 64), or left out.")
    if spec.get("sampling", "linear") not in ("linear", "log", "reverse_log"):
        raise ArgumentError(name, f"{owner} received {name}={spec!r}. 'sampling' is one of "
                                  "'linear', 'log', 'reverse_log'.")


def declare(hp, name, spec, *, integer=None):
    """Declares config field `name` in `hp` from a search-space entry.

    Args:
        hp: a `keras_tuner.HyperParameters`.
        name: the config field.
        spec: a fixed value, a list of choices or a range dict (see the
            module's docstring).
        integer: whether a range is of integers (`hp.Int`) or floats;
            None: integers when its bounds are.

    Returns:
        The value `hp` holds for this trial, or None when the entry is
        inactive (its `when` condition does not hold).

    Example:
    >>> hp = keras_tuner.HyperParameters()
    >>> declare(hp, "units", {"min": 16, "max": 256, "step": 2, "sampling": "log"})
    16
    """
    if isinstance(spec, dict) and "when" in spec:
        (parent, values), = spec["when"].items()
        with hp.conditional_scope(parent, list(values)):
            value = declare(hp, name, {k: v for k, v in spec.items() if k != "when"}, integer=integer)
        return value if hp.is_active(name) else None
    if isinstance(spec, list):
        return hp.Choice(name, spec)
    if isinstance(spec, dict):
        if integer is None:
            integer = all(isinstance(spec.get(k, 1), int) and not isinstance(spec.get(k), bool)
                          for k in ("min", "max", "step"))
        kind = hp.Int if integer else hp.Float
        return kind(name, spec["min"], spec["max"], step=spec.get("step"),
                    sampling=spec.get("sampling", "linear"))
    return hp.Fixed(name, spec)


def space_of(hp, *, owner="space_of"):
    """The search-space entries of a `keras_tuner.HyperParameters`: a
    `Fixed` is its value, a `Choice` or `Boolean` a list, an `Int` or
    `Float` a range dict; one parent condition becomes `when`.

    Example:
    >>> hp = keras_tuner.HyperParameters()
    >>> _ = hp.Int("units", 16, 64, step=16)
    >>> space_of(hp)
    {'units': {'min': 16, 'max': 64, 'step': 16, 'sampling': 'linear'}}
    """
    space = {}
    for item in hp.space:
        config = item.get_config()
        # By class name: Keras Tuner exports the classes from a private module only.
        kind = type(item).__name__
        if kind == "Fixed":
            spec = config["value"]
        elif kind == "Boolean":
            spec = [False, True]
        elif kind == "Choice":
            spec = list(config["values"])
        elif kind not in ("Int", "Float"):
            raise ArgumentError("space", f"{owner} received a HyperParameters entry {item.name!r} of kind "
                                         f"{kind}. Use Fixed, Boolean, Choice, Int or Float.")
        else:
            spec = {"min": config["min_value"], "max": config["max_value"],
                    **({"step": config["step"]} if config.get("step") is not None else {}),
                    "sampling": config.get("sampling") or "linear"}
        conditions = config.get("conditions") or []
        if conditions:
            if len(conditions) != 1 or not isinstance(spec, dict) or conditions[0]["class_name"] != "Parent":
                raise ArgumentError("space", f"{owner} received a HyperParameters entry {item.name!r} "
                                             "with conditions a search space cannot hold (one parent "
                                             "condition on an Int or Float range). Pass it as "
                                             "tune(..., hyperparameters=hp) instead.")
            parent = conditions[0]["config"]
            spec["when"] = {parent["name"]: list(parent["values"])}
        space[item.name] = spec
    return space


class TaskHyperModel(keras_tuner.HyperModel):
    """A Keras Tuner hypermodel of a kerasseq task: one trial, one config.

    Args:
        task: a `kerasseq.tasks.Task` of the base configuration (its data
            loaded once and shared by every trial), a dict of its config
            fields, or None for the task's defaults.
        space: changes to the default search space: config fields mapped to
            a fixed value, a list of choices or a range dict (see the
            module's docstring); None as a value drops a default entry. A
            `keras_tuner.HyperParameters` gives the same as entries.
        name: the hypermodel's name (default: the task's).
        tunable: as in `keras_tuner.HyperModel`.

    Example:
    >>> hypermodel = WeatherHyperModel({"data": "nyc", "epochs": 5},
    ...                                space={"cell": "gru", "units": [16, 32]})  # doctest: +SKIP
    """

    # The registry name of the task; subclasses set it.
    task_name = None

    def __init__(self, task=None, *, space=None, name=None, tunable=True):
        task_class = tasks.get(self.task_name)
        if task is None or isinstance(task, dict):
            task = task_class(task or {})
        elif not isinstance(task, task_class):
            raise ArgumentError("task", f"{type(self).__name__} received task={task!r}. Pass a "
                                        f"{task_class.__name__}, a dict of its options, or None.")
        if task.config.ensemble != 1:
            raise ArgumentError("ensemble", f"{type(self).__name__} received a task with ensemble="
                                            f"{task.config.ensemble}. Tune single models (ensemble=1), "
                                            "then train an ensemble of the best configuration.")
        super().__init__(name=name or self.task_name, tunable=tunable)
        self.task = task
        self.space = self.search_space(space)
        # The seed of the next model's weights, shuffle and dropout (the
        # tuner sets one per execution); None: the config's.
        self.seed = None
        # The search's `keras_tuner.Objective` (set by `tune`); None: the
        # task's monitor.
        self.objective = None
        self._trial = (None, None)

    @classmethod
    def default_space(cls):
        """The task's default search space (a copy): for a task without one
        of its own, the recurrent entries its config has."""
        fields = tasks.get(cls.task_name).config_class.options()
        space = json.loads(json.dumps(SPACES.get(cls.task_name, _RECURRENT)))
        return {name: spec for name, spec in space.items() if name in fields}

    def search_space(self, changes=None):
        """The default space updated with `changes` (a dict, or a
        `keras_tuner.HyperParameters`), checked against the task's config
        fields."""
        owner = type(self).__name__
        fields = self.task.config_class.options()
        space = self.default_space()
        if isinstance(changes, keras_tuner.HyperParameters):
            changes = space_of(changes, owner=owner)
        elif changes is not None and not isinstance(changes, dict):
            raise ArgumentError("space", f"{owner} received space={changes!r}. Pass a dict of options "
                                         "(e.g. {'units': [32, 64]}) or a keras_tuner.HyperParameters.")
        for name, spec in (changes or {}).items():
            if name not in fields:
                raise ArgumentError(name, f"{owner} received a search space with {name!r}, which "
                                          f"is not an option of the {self.task_name} task. Options: "
                                          f"{list(fields)}.")
            if spec is None:
                space.pop(name, None)
            else:
                _check_spec(name, spec, owner)
                step = spec.get("step") if isinstance(spec, dict) else None
                if step is not None and self._is_int(name) and not float(step).is_integer():
                    raise ArgumentError(name, f"{owner} received {name}={spec!r}: {name} is a whole "
                                              f"number, so 'step' must be one too, e.g. 2.")
                space[name] = spec
        for name, spec in space.items():
            if isinstance(spec, dict) and "when" in spec:
                (parent, _), = spec["when"].items()
                if parent not in fields:
                    raise ArgumentError(name, f"{owner} received {name}={spec!r}, whose 'when' names "
                                              f"{parent!r}, which is not an option of the {self.task_name} "
                                              f"task. Options: {list(fields)}.")
                if parent not in space:
                    # The condition's field is fixed by the config: keep the
                    # entry only where the config's value allows it.
                    allowed = spec["when"][parent]
                    space[name] = ({k: v for k, v in spec.items() if k != "when"}
                                   if getattr(self.task.config, parent) in allowed else None)
        return {name: spec for name, spec in space.items() if spec is not None}

    def values(self, hp):
        """The config fields of this trial: `{field: value}` for every active entry."""
        declared = {name: declare(hp, name, spec, integer=self._is_int(name))
                    for name, spec in self.space.items()}
        return self.config_values({k: v for k, v in declared.items() if v is not None})

    def _is_int(self, name):
        default = getattr(self.task.config, name)
        return isinstance(default, int) and not isinstance(default, bool) if default is not None else None

    def config_values(self, values):
        """Keras Tuner's values of a trial as config fields: the space's
        entries only, booleans as booleans (Keras Tuner keeps 0 and 1)."""
        return {name: bool(value) if isinstance(getattr(self.task.config, name), bool) else value
                for name, value in values.items() if name in self.space}

    def trial_task(self, hp):
        """The task of this trial's config (its data shared with `task`)."""
        values = self.values(hp)
        key = json.dumps(values, sort_keys=True)
        if self._trial[0] != key:
            self._trial = (key, self.task.replace(**values))
        return self._trial[1]

    def build(self, hp):
        """The trial's model from the task's builder."""
        return self.trial_task(hp).build_model(seed=self.seed)

    def fit(self, hp, model, x=None, validation_data=None, *, callbacks=(), epochs=None,
            initial_epoch=0, directory=None, seed=None, verbose=None, **kwargs):
        """Trains a trial's model with the task's `fit`.

        Args:
            hp: the trial's `keras_tuner.HyperParameters`.
            model: the model `build` returned.
            x: a batched training dataset, or None for the task's split.
                When `batch_size` is tuned it is rebatched.
            validation_data: a batched validation dataset, or None.
            callbacks: Keras callbacks (Keras Tuner adds its own).
            epochs: the last epoch (Hyperband sets it), or None for the
                config's `epochs`.
            initial_epoch: the epochs already trained (Hyperband).
            directory: where the trial keeps its checkpoint, so that an
                interrupted trial resumes.
            seed: the seed of the shuffle and dropout (default: `self.seed`,
                else the config's).
            verbose: Keras' verbosity.
            **kwargs: other `model.fit` arguments are refused.

        Returns:
            A `keras.callbacks.History` of every epoch.
        """
        import keras

        from kerasseq import runs

        if kwargs:
            raise keras_tuner.errors.FatalTypeError(
                f"{type(self).__name__}.fit received {sorted(kwargs)}; it trains with the task's "
                "settings. Set them in the task's config or the search space instead.")
        task = self.trial_task(hp)
        if "batch_size" in self.space and hp.is_active("batch_size"):
            x, validation_data = (None if d is None else d.rebatch(hp.get("batch_size"))
                                  for d in (x, validation_data))
        seed = self.seed if seed is None else seed
        history, seconds = task.fit(
            model, seed=seed, callbacks=list(callbacks), directory=directory, verbose=verbose,
            train=x, validation=validation_data,
            epochs=None if epochs is None else max(1, epochs - initial_epoch),
            # The search's objective also picks each trial's best epoch.
            monitor=None if self.objective is None else self.objective.name,
            mode=None if self.objective is None else self.objective.direction,
        )
        if directory is not None:
            runs.write_training_record(directory, seed=seed, seconds=seconds, history=history)
        result = keras.callbacks.History()
        result.history = history
        result.epoch = list(range(len(next(iter(history.values()), []))))
        return result


class WeatherHyperModel(TaskHyperModel):
    """`TaskHyperModel` of the weather task: cell, units, depth, dropout,
    bidirectional, learning rate and batch size by default."""

    task_name = "weather"


class SentimentHyperModel(TaskHyperModel):
    """`TaskHyperModel` of the sentiment task: the recurrent choices plus
    the head and, for windowed attention, its window."""

    task_name = "sentiment"


class LanguageModelHyperModel(TaskHyperModel):
    """`TaskHyperModel` of the language-model task: the recurrent choices
    plus weight tying."""

    task_name = "lm"


HYPERMODELS = {"weather": WeatherHyperModel, "sentiment": SentimentHyperModel,
               "lm": LanguageModelHyperModel}


def get(name):
    """The hypermodel class of registered task `name`; a task registered by
    a user gets a `TaskHyperModel` subclass with the recurrent default space.

    Example:
    >>> get("weather").__name__
    'WeatherHyperModel'
    """
    if name in HYPERMODELS:
        return HYPERMODELS[name]
    task_class = tasks.get(name)
    return type(f"{task_class.__name__}HyperModel", (TaskHyperModel,), {"task_name": name})


def objective_of(task, objective=None):
    """The `keras_tuner.Objective` of a search: the task's `monitor` by
    default; always a validation figure.

    Args:
        task: the task searched.
        objective: None, a logged metric's name, or a `keras_tuner.Objective`.

    Returns:
        A `keras_tuner.Objective`.
    """
    if objective is None:
        return keras_tuner.Objective(task.monitor, task.monitor_mode)
    if isinstance(objective, keras_tuner.Objective):
        name, direction = objective.name, objective.direction
    else:
        name, direction = str(objective), None
        if ":" in name:
            name, direction = name.split(":", 1)
    if not name.startswith("val_"):
        raise ArgumentError("objective", f"tune received objective={objective!r}. The objective is a "
                                         f"validation figure: a logged name starting with 'val_', "
                                         f"e.g. objective={task.monitor!r}.")
    if direction is None:
        direction = task.monitor_mode if name == task.monitor else _inferred_direction(name)
    if direction not in ("min", "max"):
        raise ArgumentError("objective", f"tune received objective={objective!r}; its direction is "
                                         f"unknown. Say it: objective='{name}:min' or '{name}:max'.")
    return keras_tuner.Objective(name, direction)


def _inferred_direction(name):
    from keras_tuner.src.engine import metrics_tracking

    return metrics_tracking.infer_metric_direction(name)

