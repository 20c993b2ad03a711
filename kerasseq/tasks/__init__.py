"""Tasks: one `Task` subclass per problem, looked up by name.

`get("weather")` returns the task class registered under that name, as
`keras.optimizers.get("adam")` does for optimizers. The built-in tasks are
imported on first lookup; a user's own task registers itself with
`@register("name")` and is then reachable from `kerasseq train name`.

Example:
>>> import dataclasses
>>> @register("toy")
... class ToyTask(Task):
...     def dataset(self, split, *, shuffle=False, seed=None): ...
...     def build_model(self, *, seed=None): ...
>>> get("toy") is ToyTask
True
>>> _ = TASKS.pop("toy")
"""

import importlib

from kerasseq.tasks.base import Task
from kerasseq.tasks.base import TaskConfig
from kerasseq.tasks.base import option

# Built-in tasks by name and module, imported when first asked for.
BUILTIN = {"weather": "kerasseq.tasks.weather", "sentiment": "kerasseq.tasks.sentiment",
           "lm": "kerasseq.tasks.lm"}
TASKS = {}


def register(name):
    """Class decorator: registers a `Task` subclass under `name`.

    Args:
        name: the task's name, as typed after `kerasseq train`.

    Returns:
        The decorator; it sets `cls.name` and returns the class.
    """

    def add(cls):
        if not (isinstance(cls, type) and issubclass(cls, Task)):
            raise ValueError(f"register({name!r}) received {cls!r}. Register a Task subclass.")
        cls.name = name
        TASKS[name] = cls
        return cls

    return add


def names():
    """Every task name: the built-ins and those registered since."""
    return sorted(set(BUILTIN) | set(TASKS))


def get(name):
    """Returns the task class registered under `name`.

    Args:
        name: e.g. "weather".

    Returns:
        A `Task` subclass.

    Example:
    >>> get("weather").__name__
    'WeatherTask'
    """
    if name not in TASKS and name in BUILTIN:
        importlib.import_module(BUILTIN[name])
    if name not in TASKS:
        raise ValueError(f"Unknown task {name!r}; known: {names()}.")
    return TASKS[name]


__all__ = ["BUILTIN", "TASKS", "Task", "TaskConfig", "get", "names", "option", "register"]
