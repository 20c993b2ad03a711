"""Tests for `kerasseq.runs`: resuming killed runs exactly, the best checkpoint,
crash-safe backups and the run directory's rules."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pandas as pd
import pytest

from kerasseq import runs

# Dropout, recurrent dropout and a short patience, so that the seed
# generators, the learning-rate schedule and the early-stopping counters
# all have state to carry over a resume.
TRAIN = ["train", "weather", "--data", "nyc", "--past", "12", "--units", "8", "--dropout", "0.2",
         "--recurrent-dropout", "0.2", "--epochs", "6", "--patience", "3", "--baselines", "naive"]


def command(run):
    return [sys.executable, "-m", "kerasseq.cli", *TRAIN, "--out", str(run)]


def figures(run):
    metrics = json.loads((run / "metrics.json").read_text())["models"]
    # Everything but the time it took.
    return {name: {k: v for k, v in m.items() if k != "train_seconds"}
            for name, m in metrics.items()}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "whole"
    subprocess.run(command(run), check=True, capture_output=True, timeout=600)
    return run


def history_rows(run):
    path = run / "history.csv"
    return len(pd.read_csv(path)) if path.is_file() else 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_killed_run_resumes_to_the_uninterrupted_result(sig, uninterrupted, tmp_path):
    run = tmp_path / "run"
    process = subprocess.Popen(command(run), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while history_rows(run) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(sig)
    assert process.wait(timeout=120) in (130, -sig), "the run ended before it was killed"
    assert not (run / "metrics.json").exists()

    result = subprocess.run(command(run), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"Resuming the interrupted run in {run}." in result.stdout
    assert figures(run) == figures(uninterrupted)
    # One row per epoch, and the same rows.
    pd.testing.assert_frame_equal(pd.read_csv(run / "history.csv"),
                                  pd.read_csv(uninterrupted / "history.csv"))
    for a, b in zip(keras.saving.load_model(run / "model.keras").get_weights(),
                    keras.saving.load_model(uninterrupted / "model.keras").get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not any(p.name.startswith("backup") for p in run.iterdir())


def tiny_model():
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1, name="out")(inputs))
    model.compile("adam", "mse")
    return model


def started_checkpoint(directory, model):
    """A `TrainingCheckpoint` in `directory`, begun on `model` (restored if resuming)."""
    checkpoint = runs.TrainingCheckpoint(directory, monitor="val_loss")
    checkpoint.set_model(model)
    checkpoint.on_train_begin()
    return checkpoint


def end_epochs(checkpoint, model, values, first=0):
    """Runs `on_epoch_end` with weights `k` and val_loss `values[k]`."""
    for epoch, value in enumerate(values, start=first):
        model.get_layer("out").set_weights([np.full((2, 1), epoch, "float32"), np.zeros(1, "float32")])
        checkpoint.on_epoch_end(epoch, {"loss": value, "val_loss": value})


def saved_epoch(directory):
    return float(keras.saving.load_model(directory / "model.keras").get_layer("out").kernel[0, 0])


def test_best_model_is_never_replaced_by_a_worse_one(tmp_path):
    model = tiny_model()
    checkpoint = started_checkpoint(tmp_path, model)
    end_epochs(checkpoint, model, [3.0, 2.0, 5.0])
    assert saved_epoch(tmp_path) == 1.0
    # Resumed after epoch 2: the best value of before the interruption holds.
    resumed = runs.TrainingCheckpoint(tmp_path, monitor="val_loss")
    assert resumed.initial_epoch == 3 and resumed.best == 2.0
    model = tiny_model()
    resumed.set_model(model)
    resumed.on_train_begin()
    end_epochs(resumed, model, [4.0], first=3)
    assert saved_epoch(tmp_path) == 1.0
    end_epochs(resumed, model, [1.0], first=4)
    assert saved_epoch(tmp_path) == 4.0
    assert pd.read_csv(tmp_path / "history.csv")["epoch"].tolist() == [0, 1, 2, 3, 4]


def test_higher_is_better_for_mode_max(tmp_path):
    # Accuracy-like figures: the best model is the one with the highest value.
    model = tiny_model()
    checkpoint = runs.TrainingCheckpoint(tmp_path, monitor="val_accuracy", mode="max")
    checkpoint.set_model(model)
    checkpoint.on_train_begin()
    for epoch, value in enumerate([0.6, 0.8, 0.7]):
        model.get_layer("out").set_weights([np.full((2, 1), epoch, "float32"), np.zeros(1, "float32")])
        checkpoint.on_epoch_end(epoch, {"loss": 1.0, "val_accuracy": value})
    assert saved_epoch(tmp_path) == 1.0
    resumed = runs.TrainingCheckpoint(tmp_path, monitor="val_accuracy", mode="max")
    assert resumed.best == 0.8
    with pytest.raises(ValueError, match="TrainingCheckpoint received mode='up'. Expected one of 'min', 'max'"):
        runs.TrainingCheckpoint(tmp_path / "other", monitor="val_accuracy", mode="up")


def test_a_kill_between_the_backup_swaps_keeps_the_last_state(tmp_path):
    model = tiny_model()
    checkpoint = started_checkpoint(tmp_path, model)
    end_epochs(checkpoint, model, [3.0, 2.0])
    # Killed after the old backup was moved aside, before the new one moved in.
    os.replace(tmp_path / "backup", tmp_path / "backup.old")
    resumed = runs.TrainingCheckpoint(tmp_path, monitor="val_loss")
    assert resumed.initial_epoch == 2 and (tmp_path / "backup" / "state.json").is_file()


def test_stopped_run_resumes_to_its_end(tmp_path):
    model = tiny_model()
    checkpoint = started_checkpoint(tmp_path, model)
    model.stop_training = True  # as EarlyStopping does
    end_epochs(checkpoint, model, [3.0])
    # None: no epoch is left to run; fit goes straight to the end.
    assert runs.TrainingCheckpoint(tmp_path, monitor="val_loss").initial_epoch is None


def test_epoch_seeds_differ_by_epoch_and_seed():
    seeds = {runs.epoch_seed(seed, epoch) for seed in range(3) for epoch in range(10)}
    assert len(seeds) == 30 and runs.epoch_seed(1, 2) == runs.epoch_seed(1, 2)


def test_progress_is_one_line_per_epoch_outside_a_terminal(capsys):
    # pytest captures stdout: not a terminal.
    assert runs.default_verbose() == 2


def test_run_directory_refuses_another_command(tmp_path):
    from kerasseq.tasks.weather import WeatherTask

    class Task:
        name = "weather"
        config_class = WeatherTask.config_class
        config = WeatherTask.config_class(units=8)

    run = runs.RunDirectory(tmp_path / "run")
    assert run.prepare(Task()) is False
    assert json.loads((tmp_path / "run" / "config.json").read_text())["task"] == "weather"
    # No metrics.json yet: an interrupted run; the same config resumes it.
    assert run.prepare(Task()) is True
    Task.config = WeatherTask.config_class(units=8, depth=2, cell="lstm")
    with pytest.raises(ValueError, match=r"holds an interrupted run with other settings "
                                         r"\(cell, depth differ\)") as error:
        run.prepare(Task())
    assert error.value.argument == "cell"
    (tmp_path / "run" / "metrics.json").write_text("{}")
    with pytest.raises(ValueError, match="already holds a run. Pass overwrite=True"):
        run.prepare(Task())
    assert run.prepare(Task(), overwrite=True) is False
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_history_short_of_the_backup_is_rewritten_on_resume(tmp_path):
    model = tiny_model()
    checkpoint = started_checkpoint(tmp_path, model)
    end_epochs(checkpoint, model, [3.0, 2.0])
    # Killed after epoch 1's backup, before its history.csv row.
    (tmp_path / "history.csv").write_text("epoch,loss,val_loss\n0,3.0,3.0\n")
    started_checkpoint(tmp_path, tiny_model())
    assert pd.read_csv(tmp_path / "history.csv")["epoch"].tolist() == [0, 1]


def test_a_finished_fit_called_again_returns_its_result(tmp_path):
    from kerasseq.tasks.weather import WeatherTask

    task = WeatherTask({"past": 12, "units": 4, "epochs": 2, "baselines": []})
    history, _ = task.fit(task.build_model(), directory=tmp_path, verbose=0)
    model = task.build_model(seed=9)
    again, _ = task.fit(model, directory=tmp_path, verbose=0)
    assert again == history
    # The best epoch's weights, not those of seed 9.
    for a, b in zip(model.get_weights(), keras.saving.load_model(tmp_path / "model.keras").get_weights()):
        np.testing.assert_array_equal(a, b)
    runs.remove_backup(tmp_path)
    assert not (tmp_path / "backup").exists()


def test_a_trained_model_is_restored_into_a_run_and_bad_sources_are_refused(tmp_path):
    from kerasseq.tasks.weather import WeatherTask
    from kerasseq.validation import ArgumentError

    task = WeatherTask({"past": 12, "units": 4, "epochs": 2, "baselines": []})
    source = tmp_path / "trained"
    history, seconds = task.fit(task.build_model(), directory=source, verbose=0)
    runs.write_training_record(source, seed=0, seconds=seconds, history=history)
    results = runs.train(task, tmp_path / "run", trained=source)
    assert results["gru"]["val"]["mae"] == pytest.approx(history["val_mae"][int(np.argmin(history["val_mae"]))])
    assert json.loads((tmp_path / "run" / "training.json").read_text())["history"] == history
    with pytest.raises(ArgumentError, match=r"train received trained='.*empty', which lacks \['model.keras', "
                                            r"'training.json'\]\. Pass the directory of one finished model"):
        runs.train(task, tmp_path / "other", trained=tmp_path / "empty")
    with pytest.raises(ArgumentError, match=r"is one model for an ensemble of 2"):
        runs.train(WeatherTask({"past": 12, "units": 4, "ensemble": 2, "baselines": []}), tmp_path / "e",
                   trained=source)


def test_an_endless_training_dataset_is_refused(tmp_path):
    from kerasseq.tasks.weather import WeatherTask
    from kerasseq.validation import ArgumentError

    task = WeatherTask({"past": 12, "units": 4, "epochs": 1, "baselines": []})
    with pytest.raises(ArgumentError, match=r"fit received an endless training dataset \(it repeats\)\. An "
                                            r"epoch is one pass: drop the \.repeat\(\), or cut it with "
                                            r"\.take\(steps\)\."):
        task.fit(task.build_model(), train=task.dataset("train").repeat(), verbose=0)
