"""Tests for the `kerasseq` command: train and evaluate runs, user errors, help."""

import json
import re
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest

import kerasseq
from kerasseq.cli import main

TRAIN = ["train", "weather", "--data", "nyc", "--past", "12", "--epochs", "1", "--units", "4"]


@pytest.fixture(scope="module")
def nyc_run(tmp_path_factory):
    """A finished run: GRU and the naive and linear baselines, one epoch on nyc."""
    run = tmp_path_factory.mktemp("runs") / "run"
    assert main([*TRAIN, "--baselines", "naive,linear", "--out", str(run)]) == 0
    return run


def error_line(capsys):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("kerasseq: error: ")
    return lines[0]


def test_train_writes_the_run_directory(nyc_run):
    for name in ("config.json", "model.keras", "baselines/naive.keras", "baselines/linear.keras",
                 "metrics.json", "history.csv", "plots/loss.png", "plots/forecast.png"):
        assert (nyc_run / name).is_file(), name
    assert (nyc_run / "logs").is_dir() and any((nyc_run / "logs").iterdir())
    assert not (nyc_run / "backup").exists()
    for png in ("plots/loss.png", "plots/forecast.png"):
        assert (nyc_run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    config = json.loads((nyc_run / "config.json").read_text())
    assert config["data"] == "nyc" and config["past"] == 12 and config["units"] == 4
    assert config["horizons"] == ["24h"] and config["baselines"] == ["naive", "linear"]
    assert "out" not in config and "overwrite" not in config

    metrics = json.loads((nyc_run / "metrics.json").read_text())
    assert metrics["target"] == "temp" and metrics["horizon_rows"] == [24]
    assert list(metrics["models"]) == ["gru", "naive", "linear"]
    for name, model in metrics["models"].items():
        for split in ("val", "test"):
            assert np.isfinite([model[split]["mae"], model[split]["rmse"]]).all(), name
            assert model[split]["rmse"] >= model[split]["mae"] > 0
    assert metrics["models"]["naive"]["params"] == 0

    history = pd.read_csv(nyc_run / "history.csv")
    assert len(history) == 1 and {"loss", "val_loss", "mae", "val_mae"} <= set(history.columns)


def test_saved_model_is_the_configured_forecaster(nyc_run):
    model = keras.saving.load_model(nyc_run / "model.keras")
    gru = model.get_layer("gru_0")
    assert type(gru) is kerasseq.layers.GRU and gru.cell.units == 4
    # 8 weather columns and 2 time-of-day columns, 12 steps: the training half
    # year leaves the time-of-year columns out.
    assert model.input_shape == (None, 12, 10) and model.output_shape == (None, 1, 1)


def test_evaluate_prints_the_saved_metrics(nyc_run, capsys):
    assert main(["evaluate", str(nyc_run)]) == 0
    printed = {}
    for line in capsys.readouterr().out.splitlines():
        fields = line.split()
        if fields and fields[0] in ("gru", "naive", "linear"):
            printed[fields[0]] = (fields[3], fields[5])
    models = json.loads((nyc_run / "metrics.json").read_text())["models"]
    assert printed == {
        name: (f"{m['val']['mae']:.3f}", f"{m['test']['mae']:.3f}") for name, m in models.items()
    }


def test_existing_run_needs_overwrite(nyc_run, capsys):
    before = (nyc_run / "metrics.json").read_text()
    assert main([*TRAIN, "--out", str(nyc_run)]) == 2
    line = error_line(capsys)
    assert line.startswith(f"kerasseq: error: argument --overwrite: {nyc_run} already holds a "
                           "run. Pass overwrite=True to replace it")
    assert (nyc_run / "metrics.json").read_text() == before


def test_overwrite_replaces_the_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "old.txt").write_text("an earlier run")
    args = ["train", "weather", "--past", "4", "--epochs", "1", "--units", "2", "--baselines", "",
            "--out", str(run), "--overwrite"]
    assert main(args) == 0
    assert not (run / "old.txt").exists()
    metrics = json.loads((run / "metrics.json").read_text())
    assert list(metrics["models"]) == ["gru"]


def write_csv(path, nan_row=None):
    frame = pd.DataFrame(
        {
            "time": pd.date_range("2021-03-01", periods=120, freq="h").strftime("%Y-%m-%d %H:%M"),
            "a": np.sin(np.arange(120) / 4.0),
            "b": np.arange(120.0),
        }
    )
    if nan_row is not None:
        frame.loc[nan_row, "a"] = np.nan
    frame.to_csv(path, index=False)
    return path


def test_nan_in_csv_is_a_one_line_error_and_leaves_no_run(tmp_path, capsys):
    csv = write_csv(tmp_path / "station.csv", nan_row=10)
    run = tmp_path / "run"
    args = ["train", "weather", "--data", str(csv), "--time-column", "time", "--target", "a",
            "--no-time-features", "--past", "4", "--horizon", "1", "--epochs", "1", "--units", "2",
            "--baselines", "naive", "--out", str(run)]
    assert main(args) == 2
    line = error_line(capsys)
    # The library's message names the keyword; the command names its flag.
    assert line.startswith("kerasseq: error: argument --missing: Column 'a' of station.csv has "
                           "1 NaN values (first at row 10")
    assert "missing='interpolate'" in line
    assert not run.exists()
    # Fixed input, same command: no --overwrite needed.
    assert main([*args, "--missing", "interpolate"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["missing"] == "interpolate"
    # "--horizon 1" is one row ahead, not a time string.
    assert config["horizons"] == [1]
    assert json.loads((run / "metrics.json").read_text())["horizon_rows"] == [1]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--data", "{csv}"], "argument --time-column: WeatherTask received data='{csv}', a CSV "
                              "file, and no time_column: name its time column"),
        (["--target", "wind"],
         "argument --target: WeatherTask received target='wind', which is not a column of nyc."),
        (["--baselines", "naive,arima"], "argument --baselines: WeatherTask received "
                                         "baselines=['naive', 'arima']; ['arima'] are not baselines."),
        (["--units", "0"], "argument --units: build_weather_model received units=0."),
        (["--ensemble", "0"], "argument --ensemble: WeatherTask received ensemble=0."),
        (["--past", "0"], "argument --past: build_weather_model received sequence_length=0."),
    ],
    ids=["time_column", "target", "baselines", "units", "ensemble", "past"],
)
def test_user_errors(extra, message, tmp_path, capsys):
    csv = str(write_csv(tmp_path / "station.csv"))
    run = tmp_path / "run"
    extra = [e.format(csv=csv) for e in extra]
    assert main(["train", "weather", *extra, "--out", str(run)]) == 2
    assert error_line(capsys).startswith("kerasseq: error: " + message.format(csv=csv))
    assert not run.exists()


def test_evaluate_needs_a_run_directory(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path)]) == 2
    line = error_line(capsys)
    assert re.search(f"{re.escape(str(tmp_path))} is not a finished run directory .* "
                     "`kerasseq train TASK --out DIR`", line)


@pytest.mark.parametrize("command", [["--help"], ["train", "weather", "--help"]])
def test_help_ends_with_an_example(command):
    result = subprocess.run(
        [sys.executable, "-m", "kerasseq.cli", *command], capture_output=True, text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.rstrip().splitlines()
    example = lines.index("example:")
    assert lines[example + 1:] and all(line.startswith("  kerasseq ") for line in lines[example + 1:])


@pytest.mark.parametrize("command", [["train", "--help"], ["evaluate", "--help"]])
def test_subcommand_help_ends_with_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(command)
    assert exit_info.value.code == 0
    lines = capsys.readouterr().out.rstrip().splitlines()
    assert lines[-2] == "example:" and lines[-1].startswith("  kerasseq ")


def test_zero_epochs_is_a_one_line_error(tmp_path, capsys):
    args = [*TRAIN[:-4], "--epochs", "0", "--units", "4", "--out", str(tmp_path / "run")]
    assert main(args) == 2
    assert "argument --epochs: WeatherTask received epochs=0" in error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_text_columns_need_features_or_fail_with_the_fix(tmp_path, capsys):
    csv = write_csv(tmp_path / "station.csv")
    frame = pd.read_csv(csv)
    frame["station"] = "EWR"
    frame.to_csv(csv, index=False)
    args = ["train", "weather", "--data", str(csv), "--time-column", "time", "--target", "a",
            "--no-time-features", "--past", "4", "--horizon", "1", "--epochs", "1", "--units", "2",
            "--baselines", "naive", "--out", str(tmp_path / "run")]
    assert main(args) == 2
    line = error_line(capsys)
    assert line.startswith("kerasseq: error: argument --features: Columns ['station'] of "
                           "station.csv are not numeric")
    assert "select them with columns=['a', 'b']" in line
    assert main([*args, "--features", "a,b"]) == 0


def test_split_flag_sets_the_chronological_split(tmp_path, capsys):
    run = tmp_path / "run"
    assert main([*TRAIN, "--split", "0.6,0.2,0.2", "--baselines", "naive", "--out", str(run)]) == 0
    assert json.loads((run / "config.json").read_text())["split"] == [0.6, 0.2, 0.2]
    assert main([*TRAIN, "--split", "0.6,0.6,0.2", "--out", str(tmp_path / "bad")]) == 2
    assert "argument --split: chronological_split received fractions=(0.6, 0.6, 0.2)" in error_line(capsys)


def test_ensemble_run_averages_its_members(tmp_path, capsys):
    run = tmp_path / "run"
    assert main([*TRAIN, "--ensemble", "2", "--seed", "3", "--baselines", "naive",
                 "--out", str(run)]) == 0
    metrics = json.loads((run / "metrics.json").read_text())["models"]
    assert list(metrics) == ["gru", "gru_seed3", "gru_seed4", "naive"]
    assert metrics["gru"]["train_seconds"] == pytest.approx(
        metrics["gru_seed3"]["train_seconds"] + metrics["gru_seed4"]["train_seconds"])
    ensemble = keras.saving.load_model(run / "model.keras")
    member_paths = [run / "members" / f"seed_{s}" / "model.keras" for s in (3, 4)]
    members = [keras.saving.load_model(p) for p in member_paths]
    x = np.random.default_rng(0).normal(size=(4, *ensemble.input_shape[1:])).astype("float32")
    np.testing.assert_allclose(ensemble(x), (members[0](x) + members[1](x)) / 2, atol=1e-5)
    # Different seeds, different members.
    assert not np.allclose(members[0](x), members[1](x))
    for seed in (3, 4):
        history = pd.read_csv(run / "members" / f"seed_{seed}" / "history.csv")
        assert len(history) == 1
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 0
    lines = capsys.readouterr().out.splitlines()
    printed = [line.split()[0] for line in lines[1:5]]
    assert printed == ["gru", "gru_seed3", "gru_seed4", "naive"]


class Interrupt(keras.callbacks.Callback):
    """Raises KeyboardInterrupt at the end of epoch `epoch` of the `calls`-th fit."""

    fits = 0

    def __init__(self, epoch, call):
        super().__init__()
        self.epoch, self.call = epoch, call
        Interrupt.fits += 1
        self.active = Interrupt.fits == call

    def on_epoch_end(self, epoch, logs=None):
        if self.active and epoch == self.epoch:
            raise KeyboardInterrupt


def interrupt_fit(monkeypatch, *, epoch, call):
    """Makes the `call`-th `WeatherTask.fit` stop like Ctrl-C after `epoch`."""
    from kerasseq.tasks.weather import WeatherTask

    fit = WeatherTask.fit
    Interrupt.fits = 0

    def interrupted(self, model, *, callbacks=(), **kwargs):
        return fit(self, model, callbacks=[*callbacks, Interrupt(epoch, call)], **kwargs)

    monkeypatch.setattr(WeatherTask, "fit", interrupted)


def test_interrupted_run_resumes_from_its_last_epoch(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    args = [*TRAIN[:-4], "--epochs", "3", "--units", "4", "--patience", "10",
            "--baselines", "", "--out", str(run)]
    interrupt_fit(monkeypatch, epoch=1, call=1)
    assert main(args) == 130
    assert "run the same command again to resume" in capsys.readouterr().err
    assert (run / "model.keras").is_file() and (run / "backup").is_dir()
    assert not (run / "metrics.json").exists()
    # Interrupted in epoch 1's end: only epoch 0 was kept.
    assert len(pd.read_csv(run / "history.csv")) == 1
    monkeypatch.undo()
    assert main(args) == 0
    assert f"Resuming the interrupted run in {run}." in capsys.readouterr().out
    # Epoch 0 was kept; epochs 1 and 2 ran, each once.
    assert pd.read_csv(run / "history.csv")["epoch"].tolist() == [0, 1, 2]
    assert not (run / "backup").exists()


def test_interrupted_ensemble_keeps_finished_members(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    args = [*TRAIN, "--ensemble", "2", "--baselines", "", "--out", str(run)]
    interrupt_fit(monkeypatch, epoch=0, call=2)
    assert main(args) == 130
    first = run / "members" / "seed_0" / "model.keras"
    saved = first.read_bytes()
    assert (run / "members" / "seed_0" / "training.json").is_file()
    assert not (run / "members" / "seed_1" / "training.json").exists()
    monkeypatch.undo()
    capsys.readouterr()
    assert main(args) == 0
    assert "Seed 0: trained before, loaded from" in capsys.readouterr().out
    assert first.read_bytes() == saved
    assert list(json.loads((run / "metrics.json").read_text())["models"]) == [
        "gru", "gru_seed0", "gru_seed1"]


def test_interrupted_run_with_other_settings_is_not_resumed(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    interrupt_fit(monkeypatch, epoch=0, call=1)
    assert main([*TRAIN, "--baselines", "", "--out", str(run)]) == 130
    monkeypatch.undo()
    capsys.readouterr()
    assert main([*TRAIN[:-2], "--units", "8", "--baselines", "", "--out", str(run)]) == 2
    assert error_line(capsys) == (
        f"kerasseq: error: argument --units: {run} holds an interrupted run with other settings "
        "(units differ). Run its original command to resume it, pass overwrite=True to replace "
        "it, or choose another directory.")


def test_command_reproduces_the_task_api(tmp_path):
    # bench/quality_weather.py trains through WeatherTask and records the
    # command: both must give the same model, to the last digit.
    from kerasseq.runs import RunDirectory

    run = tmp_path / "run"
    assert main([*TRAIN, "--epochs", "2", "--seed", "4", "--baselines", "", "--out", str(run)]) == 0
    task = RunDirectory(run).load_task()
    assert type(task).__name__ == "WeatherTask" and task.config.seed == 4
    model = task.build_model()
    task.fit(model, verbose=0)
    expected = task.evaluate(model)
    metrics = json.loads((run / "metrics.json").read_text())["models"]["gru"]
    for split in ("val", "test"):
        assert metrics[split]["mae"] == expected[split]["mae"]
