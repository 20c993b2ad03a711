"""Tests for `tuning.hypermodels`: search spaces, narrowing, trial configs,
shared data, objectives, and the hypermodels of all three tasks."""

import keras_tuner
import numpy as np
import pytest

import kerasseq  # noqa: F401
from kerasseq import tasks
from kerasseq.validation import ArgumentError
from tests.tasks.test_lm_task import write_corpus
from tests.tasks.test_sentiment_task import write_reviews
from tuning import hypermodels
from tuning.hypermodels import LanguageModelHyperModel
from tuning.hypermodels import SentimentHyperModel
from tuning.hypermodels import TaskHyperModel
from tuning.hypermodels import WeatherHyperModel
from tuning.hypermodels import declare
from tuning.hypermodels import objective_of

WEATHER = {"data": "nyc", "past": 24, "epochs": 2, "baselines": ["naive"]}


@pytest.fixture(scope="module")
def weather():
    return tasks.get("weather")(WEATHER)


@pytest.mark.parametrize("name", ["weather", "sentiment", "lm"])
def test_default_spaces_tune_config_fields_with_the_issue_s_ranges(name):
    space = hypermodels.get(name).default_space()
    assert set(space) <= set(tasks.get(name).config_class.options())
    assert space["cell"] == ["elman", "gru", "lstm"]
    assert space["units"] == {"min": 16, "max": 256, "step": 2, "sampling": "log"}
    assert space["depth"] == {"min": 1, "max": 3}
    assert {"dropout", "learning_rate"} <= set(space)
    assert ("bidirectional" in space) == (name != "lm")
    if name == "lm":
        assert space["tie_weights"] == [False, True]
    if name == "sentiment":
        assert space["window"]["when"] == {"head": ["windowed_attention"]}


def test_declare_maps_values_lists_and_ranges_to_keras_tuner_kinds():
    hp = keras_tuner.HyperParameters()
    assert declare(hp, "cell", "gru") == "gru"
    assert declare(hp, "units", [32, 64]) == 32
    assert declare(hp, "depth", {"min": 1, "max": 3}) == 1
    assert declare(hp, "dropout", {"min": 0, "max": 1}, integer=False) == 0.0
    assert declare(hp, "learning_rate", {"min": 1e-4, "max": 1e-2, "sampling": "log"}) == 1e-4
    assert declare(hp, "head", ["max", "windowed_attention"]) == "max"
    # Inactive while head is "max".
    assert declare(hp, "window", {"min": 1, "max": 9, "when": {"head": ["windowed_attention"]}}) is None
    kinds = {p.name: type(p).__name__ for p in hp.space}
    assert kinds == {"cell": "Fixed", "units": "Choice", "depth": "Int", "dropout": "Float", "learning_rate": "Float",
                     "head": "Choice", "window": "Int"}


def test_space_changes_narrow_fix_and_drop_entries(weather):
    hypermodel = WeatherHyperModel(weather, space={"cell": "gru", "units": [8, 16], "dropout": None})
    assert hypermodel.space["cell"] == "gru" and hypermodel.space["units"] == [8, 16]
    assert "dropout" not in hypermodel.space and "learning_rate" in hypermodel.space


def test_space_errors_name_the_entry_and_the_fix(weather):
    with pytest.raises(ArgumentError, match=r"^WeatherHyperModel received a search space with 'unit', "
                                            r"which is not an option of the weather task\. Options: "):
        WeatherHyperModel(weather, space={"unit": [8]})
    with pytest.raises(ArgumentError, match=r"received units=\{'min': 8\}\. A range is a dict with 'min' "
                                            r"and 'max'"):
        WeatherHyperModel(weather, space={"units": {"min": 8}})
    with pytest.raises(ArgumentError, match=r"received units=\{'min': 9, 'max': 8\}: 'min' is above 'max'"):
        WeatherHyperModel(weather, space={"units": {"min": 9, "max": 8}})
    with pytest.raises(ArgumentError, match=r"received units=\[\]\. Give at least one value"):
        WeatherHyperModel(weather, space={"units": []})
    with pytest.raises(ArgumentError, match=r"'step' must be a number above 0, or left out\."):
        WeatherHyperModel(weather, space={"units": {"min": 8, "max": 16, "step": 0}})
    with pytest.raises(ArgumentError, match=r"With log sampling 'step' is a factor above 1"):
        WeatherHyperModel(weather, space={"units": {"min": 8, "max": 16, "step": 1, "sampling": "log"}})
    with pytest.raises(ArgumentError, match=r"units is a whole number, so 'step' must be one too"):
        WeatherHyperModel(weather, space={"units": {"min": 8, "max": 16, "step": 2.5}})
    with pytest.raises(ArgumentError, match=r"whose 'when' names 'head', which is not an option of the "
                                            r"weather task\."):
        WeatherHyperModel(weather, space={"units": {"min": 8, "max": 16, "when": {"head": ["max"]}}})


def test_a_keras_tuner_hyperparameters_object_gives_the_same_space_as_a_dict(weather):
    hp = keras_tuner.HyperParameters()
    hp.Int("units", 16, 64, step=16)
    hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
    hp.Choice("cell", ["gru", "lstm"])
    hp.Fixed("depth", 1)
    hp.Boolean("bidirectional")
    with hp.conditional_scope("cell", ["gru"]):
        hp.Float("dropout", 0.0, 0.5)
    assert hypermodels.space_of(hp) == {
        "units": {"min": 16, "max": 64, "step": 16, "sampling": "linear"},
        "learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log"},
        "cell": ["gru", "lstm"], "depth": 1, "bidirectional": [False, True],
        "dropout": {"min": 0.0, "max": 0.5, "sampling": "linear", "when": {"cell": ["gru"]}},
    }
    from_hp = WeatherHyperModel(weather, space=hp)
    from_dict = WeatherHyperModel(weather, space=hypermodels.space_of(hp))
    assert from_hp.space == from_dict.space and from_hp.space["units"]["max"] == 64
    values = from_hp.values(keras_tuner.HyperParameters())
    assert values["units"] == 16 and values["cell"] == "gru" and values["dropout"] == 0.0
    wrong = keras_tuner.HyperParameters()
    wrong.Int("unit", 8, 16)
    with pytest.raises(ArgumentError, match=r"received a search space with 'unit', which is not an option"):
        WeatherHyperModel(weather, space=wrong)
    nested = keras_tuner.HyperParameters()
    nested.Choice("cell", ["gru", "lstm"])
    with nested.conditional_scope("cell", ["gru"]):
        nested.Choice("units", [8, 16])
    with pytest.raises(ArgumentError, match=r"entry 'units' with conditions a search space cannot hold .* "
                                            r"Pass it as tune\(\.\.\., hyperparameters=hp\) instead\."):
        WeatherHyperModel(weather, space=nested)
    with pytest.raises(ArgumentError, match=r"received space=\[8\]\. Pass a dict of options"):
        WeatherHyperModel(weather, space=[8])


def test_early_stopping_patience_and_batch_size_can_be_tuned(weather):
    hypermodel = WeatherHyperModel(weather, space={"patience": [1, 3], "batch_size": [32, 128]})
    hp = keras_tuner.HyperParameters()
    hp.Fixed("patience", 3)
    hp.Fixed("batch_size", 128)
    config = hypermodel.trial_task(hp).config
    assert (config.patience, config.batch_size) == (3, 128)


def test_trial_values_are_config_fields_with_booleans_restored(weather):
    hypermodel = WeatherHyperModel(weather, space={"bidirectional": [True, False]})
    hp = keras_tuner.HyperParameters()
    values = hypermodel.values(hp)
    assert values["bidirectional"] is True
    assert hypermodel.config_values({"bidirectional": 0, "tuner/epochs": 3}) == {"bidirectional": False}


def test_trial_tasks_share_the_loaded_data_unless_a_source_option_changes(weather):
    hypermodel = WeatherHyperModel(weather, space={"units": [8, 16]})
    hp = keras_tuner.HyperParameters()
    trial = hypermodel.trial_task(hp)
    assert trial.config.units == 8 and trial.source is weather.source
    assert hypermodel.trial_task(hp) is trial  # build and fit of a trial share it
    other = weather.replace(features=["temp", "dewp"])
    assert other.source is not weather.source and other.features == ["temp", "dewp"]
    with pytest.raises(ArgumentError, match=r"WeatherTask.replace received unknown option\(s\) \['unit'\]"):
        weather.replace(unit=3)


def test_fit_trains_on_given_pipelines_rebatched_to_the_trial_s_batch_size(weather, tmp_path):
    hypermodel = WeatherHyperModel(weather, space={"units": 4, "depth": 1, "cell": "gru",
                                                   "batch_size": [128], "bidirectional": False})
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    train = weather.dataset("train").take(3)
    history = hypermodel.fit(hp, model, train, weather.dataset("val"), directory=tmp_path, verbose=0)
    assert len(history.epoch) == 2 and "val_mae" in history.history
    assert [x.shape[0] for x, _ in train.rebatch(128)][0] == 128
    record = (tmp_path / "training.json").read_text()
    assert '"seconds"' in record and '"history"' in record
    with pytest.raises(keras_tuner.errors.FatalTypeError, match=r"received \['steps_per_epoch'\]"):
        hypermodel.fit(hp, model, steps_per_epoch=3)


def test_objective_defaults_to_the_task_monitor_and_must_be_a_validation_figure(weather):
    assert (objective_of(weather).name, objective_of(weather).direction) == ("val_mae", "min")
    assert objective_of(weather, "val_rmse:min").direction == "min"
    assert objective_of(weather, keras_tuner.Objective("val_rmse", "min")).name == "val_rmse"
    assert objective_of(weather, "val_accuracy").direction == "max"
    with pytest.raises(ArgumentError, match=r"received objective='mae'\. The objective is a validation "
                                            r"figure: a logged name starting with 'val_', e\.g\. "
                                            r"objective='val_mae'\."):
        objective_of(weather, "mae")
    with pytest.raises(ArgumentError, match=r"objective='val_skill'; its direction is unknown\. Say it: "
                                            r"objective='val_skill:min' or 'val_skill:max'\."):
        objective_of(weather, "val_skill")


def test_ensembles_and_other_tasks_are_refused(weather):
    with pytest.raises(ArgumentError, match=r"received a task with ensemble=2\. Tune single models"):
        WeatherHyperModel(weather.replace(ensemble=2))
    with pytest.raises(ArgumentError, match=r"WeatherHyperModel received task="):
        WeatherHyperModel(object())


def test_registry_gives_each_task_its_hypermodel():
    assert hypermodels.get("weather") is WeatherHyperModel
    assert hypermodels.get("sentiment") is SentimentHyperModel
    assert hypermodels.get("lm") is LanguageModelHyperModel

    @tasks.register("toy_tuned")
    class ToyTask(tasks.Task):
        def dataset(self, split, *, shuffle=False, seed=None): ...

        def build_model(self, *, seed=None): ...

    try:
        toy = hypermodels.get("toy_tuned")
        assert issubclass(toy, TaskHyperModel) and toy.task_name == "toy_tuned"
    finally:
        tasks.TASKS.pop("toy_tuned")


def test_sentiment_hypermodel_tunes_the_head_and_its_window(tmp_path):
    data = write_reviews(tmp_path / "reviews.csv")
    task = tasks.get("sentiment")({"data": str(data), "text_column": "review",
                                    "label_column": "sentiment", "embedding_dim": 8, "baselines": []})
    hypermodel = SentimentHyperModel(task, space={"units": 4, "head": ["windowed_attention"],
                                                  "window": {"min": 2, "max": 2, "when": {"head": [
                                                      "windowed_attention"]}}})
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    trial = hypermodel.trial_task(hp)
    assert (trial.config.head, trial.config.window, trial.config.units) == ("windowed_attention", 2, 4)
    assert trial.source is task.source
    assert model.count_params() > 0
    # A head fixed by the config keeps the window only where it applies.
    fixed = task.replace(head="max")
    assert "window" not in SentimentHyperModel(fixed, space={"head": None}).space
    windowed = SentimentHyperModel(task.replace(head="windowed_attention"), space={"head": None, "units": 4})
    assert windowed.space["window"] == {"min": 1, "max": 10}
    assert 1 <= windowed.values(keras_tuner.HyperParameters())["window"] <= 10
    with pytest.raises(ArgumentError, match=r"'when' maps one option to the values it applies to"):
        SentimentHyperModel(task, space={"window": {"min": 1, "max": 3, "when": "head"}})


def test_language_model_hypermodel_tunes_weight_tying(tmp_path):
    corpus = write_corpus(tmp_path / "corpus.txt")
    task = tasks.get("lm")({"data": str(corpus), "batch_size": 4, "seq_len": 10, "embedding_dim": 8,
                            "baselines": [], "samples": 0})
    hypermodel = LanguageModelHyperModel(task, space={"units": 8, "depth": 1, "tie_weights": [True]})
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    assert any(layer.name == "projection" for layer in model.layers) is False
    assert hypermodel.trial_task(hp).config.tie_weights is True
    tokens = np.zeros((4, 10), "int32")
    assert model.predict(tokens, verbose=0).shape[:2] == (4, 10)
