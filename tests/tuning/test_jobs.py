"""Tests for `tuning.tune` and `kerasseq tune`: the job directory, resume
(completed trials kept, an interrupted one continued), failed trials never
reported as best, refused configurations, and the distributed mode."""

import json
import signal
import subprocess
import sys
import time

import keras_tuner
import pandas as pd
import pytest

import kerasseq  # noqa: F401
from kerasseq import runs
from kerasseq import tasks
from kerasseq.cli import main
from kerasseq.validation import ArgumentError
from tuning import WeatherHyperModel
from tuning import distributed
from tuning import tune

WEATHER = {"data": "nyc", "past": 24, "epochs": 2, "baselines": ["naive"]}
# A small space over models that train in a second or two.
SPACE = {"cell": ["gru", "lstm"], "units": [4, 8], "depth": 1, "batch_size": 256, "bidirectional": False}
CLI = ["tune", "weather", "--past", "24", "--epochs", "2", "--baselines", "naive", "--depth", "1",
       "--batch-size", "256", "--no-bidirectional", "--space", '{"units": [4, 8], "cell": ["gru", "lstm"]}',
       "--tuner", "random"]


@pytest.fixture(scope="module")
def weather():
    return tasks.get("weather")(WEATHER)


@pytest.fixture(scope="module")
def job(weather, tmp_path_factory):
    root = tmp_path_factory.mktemp("tuning")
    result = tune(WeatherHyperModel(weather, space=SPACE), tuner="random", max_trials=3,
                  directory=root, project_name="job", verbose=0)
    return root / "job", result


def test_job_directory_holds_trials_best_hyperparameters_plot_and_a_run(job):
    path, result = job
    for name in ("job.json", "trials.csv", "trials.md", "best_hyperparameters.json", "objective.png",
                 "best/model.keras", "best/metrics.json", "best/config.json", "best/history.csv"):
        assert (path / name).is_file(), name
    trials = pd.read_csv(path / "trials.csv")
    names = list(WeatherHyperModel.default_space())
    assert list(trials.columns) == ["trial", "status", *names, "val_mae", "epochs", "seconds", "error"]
    assert len(trials) == 3 and set(trials["status"]) == {"COMPLETED"}
    assert (trials["epochs"] == 2).all() and (trials["seconds"] > 0).all()
    best = trials.loc[trials["val_mae"].idxmin()]
    summary = json.loads((path / "best_hyperparameters.json").read_text())
    assert summary["trial"] == f"{best['trial']}" and summary["objective"]["value"] == pytest.approx(best["val_mae"])
    assert summary["hyperparameters"] == {k: best[k].item() if hasattr(best[k], "item") else best[k]
                                          for k in names}
    assert summary["hyperparameters"]["bidirectional"] is False
    # The restored model is the trial's: its validation figure is the objective.
    assert summary["val"]["mae"] == pytest.approx(summary["objective"]["value"], rel=1e-5)
    assert set(summary["test"]) >= {"mae", "rmse"}
    assert result["run"] == path / "best" and result["best_hyperparameters"] == summary["hyperparameters"]
    assert "| trial | status | cell | units |" in (path / "trials.md").read_text()


def test_best_run_is_a_run_directory_that_evaluate_accepts(job):
    path, _ = job
    saved = json.loads((path / "best" / "metrics.json").read_text())["models"]
    again = runs.evaluate(path / "best")
    config = json.loads((path / "best" / "config.json").read_text())
    assert config["task"] == "weather" and config["units"] in (4, 8)
    for name, metrics in again.items():
        assert metrics["val"]["mae"] == pytest.approx(saved[name]["val"]["mae"], rel=1e-6)


def test_best_run_is_a_run_directory_that_export_accepts(job, tmp_path):
    from kerasseq.export import export_run

    path, _ = job
    target = export_run(path / "best", tmp_path / "served")
    assert (target / "saved_model.pb").is_file() and target.with_suffix(".keras").is_file()


def test_running_the_job_again_keeps_its_trials_and_more_trials_extend_it(job, weather):
    path, first = job
    records = sorted(path.glob("trial_*/execution_*/training.json"))
    stamps = [p.stat().st_mtime_ns for p in records]
    again = tune(WeatherHyperModel(weather, space=SPACE), tuner="random", max_trials=3,
                 directory=path.parent, project_name="job", verbose=0)
    assert [p.stat().st_mtime_ns for p in records] == stamps  # nothing retrained
    assert again["best"] == first["best"] and again["objective"] == first["objective"]
    more = tune(WeatherHyperModel(weather, space=SPACE), tuner="random", max_trials=4,
                directory=path.parent, project_name="job", verbose=0)
    assert len(more["trials"]) == 4 and [p.stat().st_mtime_ns for p in records] == stamps


def test_a_job_with_another_search_space_is_refused(job, weather):
    path, _ = job
    with pytest.raises(ArgumentError, match=r"holds a tuning job with another search \(space: units "
                                            r"differ; units was \[4, 8\], now \[4, 16\]\)\. Run its "
                                            r"original command to resume it, pass overwrite=True to start "
                                            r"it afresh, or choose another directory\."):
        tune(WeatherHyperModel(weather, space={**SPACE, "units": [4, 16]}), tuner="random", max_trials=3,
             directory=path.parent, project_name="job")


def test_overwrite_starts_a_refused_job_afresh(weather, tmp_path):
    tune(WeatherHyperModel(weather, space={**SPACE, "cell": "gru"}), tuner="random", max_trials=1,
         directory=tmp_path, project_name="job", verbose=0)
    other = {**SPACE, "cell": "gru", "units": [16]}
    with pytest.raises(ArgumentError, match="pass overwrite=True to start it afresh"):
        tune(WeatherHyperModel(weather, space=other), tuner="random", max_trials=1, directory=tmp_path,
             project_name="job", verbose=0)
    result = tune(WeatherHyperModel(weather, space=other), tuner="random", max_trials=1, directory=tmp_path,
                  project_name="job", overwrite=True, verbose=0)
    assert len(result["trials"]) == 1 and result["best_hyperparameters"]["units"] == 16
    assert json.loads((tmp_path / "job" / "job.json").read_text())["space"]["units"] == [16]


class DivergesForFour(WeatherHyperModel):
    """Every model with 4 units logs a NaN objective in every epoch."""

    def fit(self, hp, model, *args, **kwargs):
        result = super().fit(hp, model, *args, **kwargs)
        if self.trial_task(hp).config.units == 4:
            result.history["val_mae"] = [float("nan")] * len(result.history["val_mae"])
        return result


def test_a_trial_whose_objective_is_never_finite_is_failed_and_never_best(weather, tmp_path):
    space = {**SPACE, "cell": "gru", "units": [4, 8]}
    result = tune(DivergesForFour(weather, space=space), tuner="random", max_trials=2, directory=tmp_path,
                  project_name="job", verbose=0)
    trials = pd.read_csv(tmp_path / "job" / "trials.csv")
    failed = trials[trials["status"] == "FAILED"]
    assert list(failed["units"]) == [4] and failed["error"].str.contains("was not finite in any epoch").all()
    assert result["best_hyperparameters"]["units"] == 8


class FailsForFour(WeatherHyperModel):
    """Every model with 4 units fails to build."""

    def build(self, hp):
        model = super().build(hp)
        if self.trial_task(hp).config.units == 4:
            raise ValueError("four units are not enough")
        return model


def test_failed_trials_are_recorded_and_never_best(weather, tmp_path):
    space = {**SPACE, "cell": "gru", "units": [8, 4]}
    result = tune(FailsForFour(weather, space=space), tuner="random", max_trials=2, directory=tmp_path,
                  project_name="job", verbose=0)
    trials = pd.read_csv(tmp_path / "job" / "trials.csv")
    failed = trials[trials["status"] == "FAILED"]
    assert list(failed["units"]) == [4] and list(failed["error"]) == ["ValueError: four units are not enough"]
    assert result["best_hyperparameters"]["units"] == 8
    summary = json.loads((tmp_path / "job" / "best_hyperparameters.json").read_text())
    assert (summary["completed"], summary["failed"]) == (1, 1)


class FailsInTraining(WeatherHyperModel):
    """Every trial fails while it trains."""

    def fit(self, hp, model, *args, **kwargs):
        raise ValueError(f"trial with {self.trial_task(hp).config.cell} diverged")


def test_a_job_whose_trials_all_failed_raises_with_the_first_error(weather, tmp_path):
    with pytest.raises(RuntimeError, match=r"Tuning produced no result: 2 of 2 trials failed and none "
                                           r"completed\. First failure: ValueError: trial with \w+ diverged\."):
        tune(FailsInTraining(weather, space=SPACE), tuner="random", max_trials=2, directory=tmp_path,
             project_name="job", verbose=0)
    assert not (tmp_path / "job" / "best").exists()
    trials = pd.read_csv(tmp_path / "job" / "trials.csv")
    assert list(trials["status"]) == ["FAILED", "FAILED"] and trials["error"].str.contains("diverged").all()


def test_a_config_error_every_trial_would_hit_is_raised_before_the_search(weather, tmp_path):
    with pytest.raises(ArgumentError, match="units"):
        tune(WeatherHyperModel(weather, space={**SPACE, "units": 0}), tuner="random", max_trials=2,
             directory=tmp_path, project_name="job")
    assert not list((tmp_path / "job").glob("trial_*"))


def test_an_objective_that_is_not_logged_stops_the_search_at_once(weather, tmp_path):
    with pytest.raises(keras_tuner.errors.FatalValueError, match=r"The objective 'val_skill' is not among "
                                                                 r"the figures the model logs"):
        tune(WeatherHyperModel(weather, space=SPACE), tuner="random", objective="val_skill:max",
             max_trials=3, directory=tmp_path, project_name="job", verbose=0)
    assert len(list((tmp_path / "job").glob("trial_*"))) == 1


def test_missing_tensorboard_is_reported_before_the_first_trial(weather, tmp_path, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorboard" else find_spec(name, *a))
    with pytest.raises(keras_tuner.errors.FatalValueError, match="needs the `tensorboard` package"):
        tune(WeatherHyperModel(weather, space=SPACE), tuner="random", max_trials=2, directory=tmp_path,
             project_name="job")
    assert not (tmp_path / "job").exists()


def test_argument_errors_name_the_fix(weather, tmp_path):
    hypermodel = WeatherHyperModel(weather, space=SPACE)
    with pytest.raises(ArgumentError, match=r"tune received tuner='grid'\. Choose one of \['bayesian', "
                                            r"'random', 'hyperband'\]\."):
        tune(hypermodel, tuner="grid", directory=tmp_path)
    with pytest.raises(ArgumentError, match=r"max_trials with tuner='hyperband'"):
        tune(hypermodel, tuner="hyperband", max_trials=3, directory=tmp_path)
    with pytest.raises(ArgumentError, match=r"tune received max_trials=0\. Pass a positive integer"):
        tune(hypermodel, tuner="random", max_trials=0, directory=tmp_path)
    with pytest.raises(ArgumentError, match=r"tune received hypermodel=3\. Pass a tuning.TaskHyperModel"):
        tune(3)
    with pytest.raises(ArgumentError, match=r"tune received executions_per_trial=0\. Pass a positive "
                                            r"integer, e\.g\. executions_per_trial=2\."):
        tune(hypermodel, tuner="random", executions_per_trial=0, directory=tmp_path)


def test_a_trial_whose_process_keeps_dying_is_failed_not_handed_out_forever(weather, tmp_path):
    execution = tmp_path / "job" / "trial_0" / "execution_0"
    execution.mkdir(parents=True)
    (execution / "attempts").write_text("3")  # three starts, none finished
    result = tune(WeatherHyperModel(weather, space=SPACE), tuner="random", max_trials=2, directory=tmp_path,
                  project_name="job", verbose=0)
    trials = pd.read_csv(tmp_path / "job" / "trials.csv")
    assert list(trials["status"]) == ["FAILED", "COMPLETED"] and result["best"] == "1"
    assert trials["error"].iloc[0] == ("keras_tuner.src.errors.FailedTrialError: The process running this "
                                       "trial died 3 times before it finished.")


def test_hyperband_and_bayesian_searches_run_with_several_executions(weather, tmp_path):
    hypermodel = WeatherHyperModel(weather.replace(epochs=3), space={**SPACE, "cell": "gru"})
    result = tune(hypermodel, tuner="hyperband", factor=3, directory=tmp_path, project_name="hb", verbose=0)
    assert result["trials"] and all(r["status"] == "COMPLETED" for r in result["trials"])
    result = tune(WeatherHyperModel(weather, space=SPACE), tuner="bayesian", max_trials=2,
                  executions_per_trial=2, directory=tmp_path, project_name="bo", verbose=0)
    seeds = [json.loads(p.read_text())["seed"]
             for p in sorted((tmp_path / "bo" / "trial_0").glob("execution_*/training.json"))]
    assert seeds == [0, 1] and result["trials"][0]["epochs"] == 4


def _command(out):
    return [sys.executable, "-m", "kerasseq.cli", *CLI, "--max-trials", "2", "--out", str(out)]


def test_a_killed_job_resumes_its_interrupted_trial_and_ends_as_an_uninterrupted_one(tmp_path):
    whole = tmp_path / "whole"
    subprocess.run(_command(whole), check=True, capture_output=True, timeout=600)
    out = tmp_path / "killed"
    process = subprocess.Popen(_command(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    history = out / "trial_1" / "execution_0" / "history.csv"
    deadline = time.monotonic() + 300
    # Killed during the second trial, after its first epoch.
    while not history.is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=120) == -signal.SIGKILL, "the job ended before it was killed"
    assert not (out / "trials.csv").exists()
    result = subprocess.run(_command(out), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"Resuming the tuning job in {out}." in result.stdout
    columns = ["trial", "status", "units", "cell", "val_mae", "epochs"]
    pd.testing.assert_frame_equal(pd.read_csv(out / "trials.csv")[columns],
                                  pd.read_csv(whole / "trials.csv")[columns])


def test_cli_fixes_the_options_it_is_given_and_reports_errors(tmp_path, capsys):
    out = tmp_path / "job"
    assert main([*CLI, "--max-trials", "1", "--units", "4", "--out", str(out)]) == 0
    space = json.loads((out / "job.json").read_text())["space"]
    # --space's entries win; a task option given outside it is fixed.
    assert space["units"] == [4, 8] and space["depth"] == 1 and space["batch_size"] == 256
    assert main([*CLI[:-2], "--tuner", "random", "--space", "{units", "--out", str(out)]) == 2
    assert "kerasseq: error: argument --space: --space '{units' is not JSON" in capsys.readouterr().err
    assert main([*CLI, "--max-trials", "1", "--objective", "mae", "--out", str(out)]) == 2
    assert "argument --objective: tune received objective='mae'" in capsys.readouterr().err


def test_cli_exits_1_with_the_first_failure_when_every_trial_failed(tmp_path, capsys):
    # A step size no model survives: every trial's weights, and objective, become NaN.
    diverging = ["--space", '{"units": [4, 8], "cell": ["gru"], "learning_rate": NaN}']
    assert main([*CLI[:-4], *diverging, "--tuner", "random", "--max-trials", "2",
                 "--out", str(tmp_path / "job")]) == 1
    # Keras Tuner prints each failed trial's traceback before.
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("kerasseq: error: Tuning produced no result: 2 of 2 trials failed and none "
                            "completed. First failure: keras_tuner.src.errors.FailedTrialError: The "
                            "objective 'val_mae' was not finite in any epoch"), error
    assert not (tmp_path / "job" / "best").exists()


def test_cli_help_lists_the_tuning_options(capsys):
    with pytest.raises(SystemExit):
        main(["tune", "weather", "--help"])
    text = capsys.readouterr().out
    for flag in ("--tuner", "--max-trials", "--executions-per-trial", "--objective", "--space",
                 "--distributed", "--workers", "--units", "--out"):
        assert flag in text


def test_distributed_search_survives_a_killed_worker_and_runs_every_trial_once(tmp_path):
    out = tmp_path / "job"
    command = [*_command(out)[:-4], "--max-trials", "3", "--epochs", "4", "--distributed", "--workers", "2",
               "--out", str(out)]
    launcher = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not list(out.glob("trial_*/execution_0/history.csv")) and time.monotonic() < deadline:
        time.sleep(0.05)
    # Both workers are training now; one is killed mid-trial.
    worker = int((out / "logs" / "tuner_0.pid").read_text())
    subprocess.run(["kill", "-KILL", str(worker)], check=True)
    stdout, stderr = launcher.communicate(timeout=900)
    assert launcher.returncode == 0, stderr[-3000:]
    assert "Tuning chief listening on 127.0.0.1:" in stdout
    assert "Tuning worker tuner0 exited (-9); starting it again (1 of 2) to finish its trial." in stdout
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 3 and set(trials["status"]) == {"COMPLETED"}
    # Every trial ran once, whole: one execution each, all four epochs in its history.
    assert (trials["epochs"] == 4).all()
    assert len(list(out.glob("trial_*/execution_*"))) == 3
    assert {"tuner_0.log", "tuner_1.log"} <= {p.name for p in (out / "logs").iterdir()}
    summary = json.loads((out / "best_hyperparameters.json").read_text())
    best = trials.loc[trials["val_mae"].idxmin()]
    assert summary["objective"]["value"] == pytest.approx(best["val_mae"])
    assert (out / "best" / "metrics.json").is_file()


def test_launcher_helpers():
    assert distributed.worker_arguments(["tune", "weather", "--distributed", "--workers", "3",
                                         "--overwrite", "--workers=2", "--out", "x"]) == \
        ["tune", "weather", "--out", "x"]
    env = distributed.environment("chief", 1234)
    assert (env["KERASTUNER_TUNER_ID"], env["KERASTUNER_ORACLE_IP"], env["KERASTUNER_ORACLE_PORT"]) == \
        ("chief", "127.0.0.1", "1234")
    assert 0 < distributed.free_port() < 65536
    with pytest.raises(ArgumentError, match="workers"):
        distributed.launch([], workers=0, out="x")


@pytest.mark.parametrize("name", ["sentiment", "lm"])
def test_cli_tunes_the_text_tasks_end_to_end(name, tmp_path):
    from tests.tasks.test_lm_task import write_corpus
    from tests.tasks.test_sentiment_task import write_reviews

    if name == "sentiment":
        data = write_reviews(tmp_path / "reviews.csv")
        flags = ["--text-column", "review", "--label-column", "sentiment", "--embedding-dim", "8",
                 "--batch-size", "16", "--space", '{"head": ["max", "windowed_attention"], "units": [4]}']
    else:
        data = write_corpus(tmp_path / "corpus.txt")
        flags = ["--embedding-dim", "8", "--batch-size", "4", "--seq-len", "10", "--samples", "0",
                 "--space", '{"units": [8], "tie_weights": [false, true]}']
    out = tmp_path / "job"
    assert main(["tune", name, "--data", str(data), "--epochs", "2", "--depth", "1", "--baselines", "",
                 *flags, "--tuner", "random", "--max-trials", "2", "--out", str(out)]) == 0
    trials = pd.read_csv(out / "trials.csv")
    assert list(trials["status"]) == ["COMPLETED", "COMPLETED"]
    objective = {"sentiment": "val_accuracy", "lm": "val_perplexity"}[name]
    summary = json.loads((out / "best_hyperparameters.json").read_text())
    pick = trials[objective].idxmax() if name == "sentiment" else trials[objective].idxmin()
    assert summary["objective"]["name"] == objective
    assert summary["trial"] == str(trials["trial"][pick])
    assert (out / "best" / "metrics.json").is_file()
