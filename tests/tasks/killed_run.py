"""A check every task's tests share: a run killed mid-training and started
again with the same command ends as the uninterrupted run did."""

import json
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pandas as pd


def assert_killed_run_resumes(args, tmp_path):
    """Trains `kerasseq ARGS` once whole and once killed (SIGKILL) after its
    second epoch, then resumed; asserts equal metrics, history and weights.

    Args:
        args: the `kerasseq` arguments without `--out`.
        tmp_path: where the two runs go.
    """
    def command(run):
        return [sys.executable, "-m", "kerasseq.cli", *args, "--out", str(run)]

    whole = tmp_path / "whole"
    subprocess.run(command(whole), check=True, capture_output=True, timeout=600)
    run = tmp_path / "run"
    process = subprocess.Popen(command(run), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while (not (run / "history.csv").is_file() or len(pd.read_csv(run / "history.csv")) < 2) \
            and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=120) == -signal.SIGKILL, "the run ended before it was killed"
    result = subprocess.run(command(run), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"Resuming the interrupted run in {run}." in result.stdout

    def figures(path):
        models = json.loads((path / "metrics.json").read_text())["models"]
        return {n: {k: v for k, v in m.items() if k != "train_seconds"} for n, m in models.items()}

    assert figures(run) == figures(whole)
    pd.testing.assert_frame_equal(pd.read_csv(run / "history.csv"), pd.read_csv(whole / "history.csv"))
    for a, b in zip(keras.saving.load_model(run / "model.keras").get_weights(),
                    keras.saving.load_model(whole / "model.keras").get_weights()):
        np.testing.assert_array_equal(a, b)
