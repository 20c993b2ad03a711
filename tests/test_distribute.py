"""Tests for `kerasseq.distribute` and `kerasseq train --strategy/--workers`:
a local MultiWorkerMirroredStrategy cluster trains as one process does,
only its chief writes, a killed worker's job resumes, and a bad cluster
configuration is a clear error, never a hang."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from kerasseq.cli import main
from kerasseq.distribute import cluster_config

WEATHER = ["train", "weather", "--data", "nyc", "--past", "24", "--units", "8", "--baselines", ""]


def kerasseq(*arguments, timeout=600):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("TF_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "kerasseq.cli", *arguments], capture_output=True, text=True,
                          timeout=timeout, env=env)


def metrics(run):
    return json.loads((run / "metrics.json").read_text())["models"]["gru"]


def assert_same_run(distributed, single):
    # Two workers add their halves of each batch's gradient in another order
    # than one process sums the whole batch: float32 rounding, a few units
    # in the 7th digit per step, compounded over the steps.
    for split in ("val", "test"):
        for name in ("mae", "rmse"):
            assert metrics(distributed)[split][name] == pytest.approx(metrics(single)[split][name], rel=1e-4)
    assert len((distributed / "history.csv").read_text().splitlines()) == \
        len((single / "history.csv").read_text().splitlines())


@pytest.fixture(scope="module")
def single_run(tmp_path_factory):
    # Two workers with batches of 32 each train on global batches of 64.
    run = tmp_path_factory.mktemp("single") / "run"
    result = kerasseq(*WEATHER, "--epochs", "2", "--batch-size", "64", "--out", str(run))
    assert result.returncode == 0, result.stderr[-3000:]
    return run


def test_two_local_workers_train_as_one_process_and_only_the_chief_writes(single_run, tmp_path):
    run = tmp_path / "run"
    result = kerasseq(*WEATHER, "--epochs", "2", "--batch-size", "32", "--workers", "2", "--local",
                      "--out", str(run))
    assert result.returncode == 0, result.stderr[-3000:]
    assert_same_run(run, single_run)
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in single_run.iterdir())
    assert json.loads((run / "config.json").read_text())["strategy"] == "multi_worker"
    # The other worker's scratch copy is gone; nothing else was written.
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    pids = re.search(r"process ids (\d+), (\d+)", result.stdout)
    assert pids, result.stdout[-2000:]
    # Evaluated again in one process, as kerasseq evaluate and export do.
    assert main(["evaluate", str(run)]) == 0
    assert_same_run(run, single_run)


def test_workers_that_all_fail_fail_the_command(tmp_path):
    from tests.tasks.test_lm_task import write_corpus

    corpus = write_corpus(tmp_path / "corpus.txt")
    result = kerasseq("train", "lm", "--data", str(corpus), "--units", "4", "--epochs", "1", "--baselines", "",
                      "--workers", "2", "--local", "--out", str(tmp_path / "run"))
    assert result.returncode == 1, result.stderr[-3000:]
    assert "A stateful language model carries its state from batch to batch, which 2 replicas cannot " \
           "share. Train with --no-stateful" in result.stderr
    assert "the other workers were stopped" in result.stderr and "Fix it and run again." in result.stderr
    assert not (tmp_path / "run").exists()


def test_a_killed_worker_stops_the_job_and_the_same_command_resumes_it(single_run, tmp_path):
    run = tmp_path / "run"
    command = [sys.executable, "-m", "kerasseq.cli", *WEATHER, "--epochs", "2", "--batch-size", "32",
               "--workers", "2", "--local", "--out", str(run)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("TF_CONFIG", None)
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    worker = None
    deadline = time.monotonic() + 300
    for line in job.stdout:
        found = re.search(r"process ids (\d+), (\d+)", line)
        worker = int(found.group(2)) if found else worker
        if worker and "Epoch 2/2" in line:
            break
        assert time.monotonic() < deadline
    assert worker, "the launcher did not say which processes it started"
    os.kill(worker, signal.SIGKILL)  # mid-training, after the first epoch's backup
    _, stderr = job.communicate(timeout=300)
    assert job.returncode == 1
    assert "Worker 1 exited (-9); the other workers were stopped." in stderr
    assert "Run the same command to resume from the last finished epoch." in stderr
    assert not (run / "metrics.json").exists() and (run / "backup").is_dir()
    resumed = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resuming the interrupted run" in resumed.stdout
    assert_same_run(run, single_run)


@pytest.mark.parametrize("config,message", [
    ("{not json", "TF_CONFIG is not JSON"),
    ('{"cluster": {"worker": ["127.0.0.1:1"]}}', "TF_CONFIG needs a 'cluster' and a 'task' object"),
    ('{"cluster": {"ps": ["a:1"]}, "task": {"type": "ps", "index": 0}}',
     "MultiWorkerMirroredStrategy takes 'worker' (and at most one 'chief') only"),
    ('{"cluster": {"worker": ["nohost"]}, "task": {"type": "worker", "index": 0}}',
     "each address must be 'host:port'"),
    ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 2}}',
     "TF_CONFIG's task index 2 is out of range: the cluster's 'worker' job has 2 address(es), so the "
     "index is 0 to 1."),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}',
     "TF_CONFIG's task type 'chief' is not a job of its cluster (['worker'])"),
])
def test_a_malformed_tf_config_names_the_fix(config, message, monkeypatch, capsys):
    monkeypatch.setenv("TF_CONFIG", config)
    with pytest.raises(ValueError, match=re.escape(message)):
        cluster_config()
    assert main([*WEATHER, "--epochs", "1", "--out", "unused"]) == 2
    assert message in capsys.readouterr().err


def test_a_port_in_use_is_named(monkeypatch, capsys, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": [f"127.0.0.1:{port}", "127.0.0.1:1"]},
                                                    "task": {"type": "worker", "index": 0}}))
        assert main([*WEATHER, "--epochs", "1", "--out", str(tmp_path / "run")]) == 2
    assert f"Port {port} of this worker's address 127.0.0.1:{port} (TF_CONFIG) is in use" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("flags,message", [
    (["--strategy", "multi_worker"], "strategy='multi_worker' needs the cluster in TF_CONFIG"),
    (["--workers", "2"], "--workers N and --local go together"),
    (["--workers", "1", "--local"], "received --workers 1. Pass 2 or more"),
])
def test_distribution_flags_that_cannot_work_are_refused(flags, message, capsys, tmp_path):
    assert main([*WEATHER, "--epochs", "1", *flags, "--out", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_local_cluster_refuses_a_tf_config_already_set(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]},
                                                "task": {"type": "worker", "index": 0}}))
    assert main([*WEATHER, "--epochs", "1", "--workers", "2", "--local", "--out", str(tmp_path / "r")]) == 2
    assert "writes each worker's TF_CONFIG, but TF_CONFIG is set" in capsys.readouterr().err



def test_a_mirrored_run_on_one_device_is_the_default_run(tmp_path):
    # One replica: the same steps as without a strategy, to the last bit,
    # the first batch included (Keras would read it from a pass of its own).
    for strategy in ("default", "mirrored"):
        assert main([*WEATHER, "--epochs", "2", "--strategy", strategy, "--out", str(tmp_path / strategy)]) == 0
    assert metrics(tmp_path / "mirrored")["val"] == metrics(tmp_path / "default")["val"]
    assert (tmp_path / "mirrored" / "history.csv").read_text() == (tmp_path / "default" / "history.csv").read_text()
