"""Keras Tuner hypermodels and tuning jobs for kerasseq tasks.

- `tuning.hypermodels`: one `keras_tuner.HyperModel` per task
  (`WeatherHyperModel`, `SentimentHyperModel`, `LanguageModelHyperModel`),
  its default search space, narrowed or fixed by the user;
- `tuning.jobs`: `tune(...)`, a resumable search that reports only trials
  that completed, with its trials table, best hyperparameters and best
  model in a run directory;
- `tuning.distributed`: Keras Tuner's chief/worker mode on this machine;
- `tuning.guards`: the checks a job runs before and after its search.

Example:
>>> from tuning import WeatherHyperModel, tune
>>> result = tune(WeatherHyperModel({"epochs": 5}), tuner="random", max_trials=3)  # doctest: +SKIP
"""

from tuning.hypermodels import LanguageModelHyperModel
from tuning.hypermodels import SentimentHyperModel
from tuning.hypermodels import TaskHyperModel
from tuning.hypermodels import WeatherHyperModel
from tuning.jobs import tune

__all__ = ["LanguageModelHyperModel", "SentimentHyperModel", "TaskHyperModel", "WeatherHyperModel", "tune"]
