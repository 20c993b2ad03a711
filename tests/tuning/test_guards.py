import keras
import keras_tuner
import numpy as np
import pytest

from tuning import guards


def test_require_tensorboard_passes_when_installed():
    guards.require_tensorboard()


def test_require_tensorboard_is_fatal_when_missing(monkeypatch):
    monkeypatch.setattr(guards.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(keras_tuner.errors.FatalValueError, match="needs the `tensorboard` package"):
        guards.require_tensorboard()


def _search(tmp_path, build):
    tuner = keras_tuner.RandomSearch(
        build, objective="loss", max_trials=2, directory=str(tmp_path), project_name="p",
        max_consecutive_failed_trials=2,
    )
    x, y = np.zeros((4, 3), "float32"), np.zeros((4, 1), "float32")
    try:
        tuner.search(x, y, epochs=1, verbose=0)
    except RuntimeError:
        pass  # KerasTuner stops after consecutive failures; the guard must still speak.
    return tuner


def test_check_trials_counts_completed_trials(tmp_path):
    def build(hp):
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(hp.Int("units", 1, 4))])
        model.compile("sgd", "mse")
        return model

    assert guards.check_trials(_search(tmp_path, build)) >= 1


def test_check_trials_raises_when_every_trial_failed(tmp_path):
    def build(hp):
        # Built for 5 features, fed 3: every trial fails in fit.
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(hp.Int("units", 1, 4))])
        model.compile("sgd", "mse")
        return model

    tuner = _search(tmp_path, build)
    with pytest.raises(RuntimeError, match=r"no result: 2 of 2 trials failed and none completed"):
        guards.check_trials(tuner)
