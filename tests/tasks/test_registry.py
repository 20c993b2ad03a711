"""Tests for the `Task` base and registry: a new task runs through the
`kerasseq` command without a line of the CLI changed."""

import dataclasses
import inspect
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasseq
from kerasseq import cli
from kerasseq import tasks
from kerasseq.tasks import Task
from kerasseq.tasks import TaskConfig
from kerasseq.tasks import option


@dataclasses.dataclass
class ToyConfig(TaskConfig):
    units: int = option(4, help="hidden units")


class ToyTask(Task):
    """Sum a short sequence of pairs."""

    config_class = ToyConfig

    def dataset(self, split, *, shuffle=False, seed=None):
        x = np.random.default_rng(["train", "val", "test"].index(split)).normal(size=(64, 5, 2))
        data = tf.data.Dataset.from_tensor_slices((x.astype("float32"), x.sum(axis=(1, 2))))
        return (data.shuffle(64, seed=seed) if shuffle else data).batch(self.config.batch_size)

    def build_model(self, *, seed=None):
        keras.utils.set_random_seed(self.config.seed if seed is None else seed)
        model = keras.Sequential([keras.Input((5, 2)), kerasseq.layers.GRU(self.config.units),
                                  keras.layers.Dense(1)])
        model.compile("adam", "mse", metrics=["mae"])
        return model


@pytest.fixture
def toy():
    tasks.register("toy")(ToyTask)
    yield ToyTask
    del tasks.TASKS["toy"]


def test_a_registered_task_trains_and_evaluates_through_the_cli(toy, tmp_path, capsys):
    run = tmp_path / "run"
    assert cli.main(["train", "toy", "--units", "3", "--epochs", "2", "--batch-size", "16",
                     "--out", str(run)]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["task"] == "toy" and config["units"] == 3 and config["batch_size"] == 16
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["task"] == "toy" and list(metrics["models"]) == ["model"]
    assert set(metrics["models"]["model"]["val"]) == {"loss", "mae"}
    assert keras.saving.load_model(run / "model.keras").layers[0].cell.units == 3
    capsys.readouterr()
    assert cli.main(["evaluate", str(run)]) == 0
    line = capsys.readouterr().out.splitlines()[1].split()
    assert line[0] == "model" and float(line[3]) == pytest.approx(
        metrics["models"]["model"]["val"]["loss"], abs=1e-3)
    # The command knows tasks only through the registry.
    source = inspect.getsource(cli)
    assert "toy" not in source and "kerasseq.tasks.weather" not in source


def test_a_task_error_names_the_flag(toy, tmp_path, capsys):
    assert cli.main(["train", "toy", "--epochs", "0", "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.strip() == (
        "kerasseq: error: argument --epochs: ToyTask received epochs=0. `epochs` must be a "
        "positive integer, e.g. epochs=3.")


def test_get_names_the_known_tasks():
    assert tasks.get("weather").__name__ == "WeatherTask"
    with pytest.raises(ValueError, match=r"Unknown task 'wether'; known: \['lm', 'sentiment', 'weather'\]"):
        tasks.get("wether")
    with pytest.raises(ValueError, match="Register a Task subclass"):
        tasks.register("bad")(dict)


def test_flags_and_config_fields_map_one_to_one():
    parser = cli.build_parser()
    weather = tasks.get("weather")
    options = weather.config_class.options()
    flags = [flag for flag, _ in options.values()]
    assert len(set(flags)) == len(flags)
    args = parser.parse_args(["train", "weather", "--batch-size", "7", "--no-residual",
                              "--horizon", "1", "--horizon", "6h", "--split", "0.6,0.2,0.2",
                              "--features", "temp,dewp", "--out", "runs/x"])
    assert (args.batch_size, args.residual, args.horizons, args.split, args.features) == (
        7, False, [1, "6h"], (0.6, 0.2, 0.2), ["temp", "dewp"])
    untouched = [field for field in options if field not in (
        "batch_size", "residual", "horizons", "split", "features")]
    assert all(getattr(args, field) is None for field in untouched)
    # Library keywords with another name map to the option they concern.
    assert weather.option_for("sequence_length") == "past"
    assert weather.option_for("units") == "units" and weather.option_for("nothing") is None
