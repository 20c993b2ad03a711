"""Tuning on Jena: a budgeted Keras Tuner search against the builder's
defaults and the hand-chosen headline, and trials per hour with 1 process
and with a chief and 2 workers.

The weather protocol of `bench/quality_weather.py` (the hourly 6-variable
Jena file, temperature 24 hours ahead from the last 120 hours, 50/25/25
chronological split, batches of 256), with a per-trial budget of EPOCHS
epochs and early stopping after PATIENCE. Rows of `results/tuning.json`:
- `builder_defaults`: `kerasseq train weather` with the protocol alone;
- `headline`: the hand-chosen headline of `results/weather.json`, quoted
  from that file (`source`), not trained here;
- one row per trial of the search (`candidate: true`), with its
  hyperparameters, `val_mae`, `train_seconds`, `epochs` and `status`.
`"selected"` is the completed trial with the lowest validation MAE; its
`test_mae` is computed once, after the search (the job's `best/` run).
`"speed"` holds trials per hour of a small fixed search run by 1 process
and by Keras Tuner's chief with 2 workers on this machine.

The search is a tuning job in `runs/bench_tuning/jena`: a killed script
resumes it. Run: `python bench/tuning.py [--trials N] [--rerun-speed | --speed-only]`.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from quality_common import machine

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Python puts this script's folder first on the path, and the script's
# name is the `tuning` package's: drop the folder once quality_common is in.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results" / "tuning.json"
JOBS = ROOT / "runs" / "bench_tuning"
PROTOCOL = dict(data="jena", target="T (degC)", past=120, sampling_rate=1, horizons=[24],
                split=[0.5, 0.25, 0.25], batch_size=256, baselines=[])
EPOCHS, PATIENCE = 20, 4
# Random trials before the Bayesian model guides the search (Keras Tuner's
# default, 3 per tuned hyperparameter, would be the whole budget).
INITIAL = 5
# The default space, narrowed to what trains within the budget on 2 CPU
# cores (a 3-layer 256-unit model takes minutes per epoch here), plus the
# loss, which the headline's choice (MAE) showed matters.
SPACE = {
    "cell": ["elman", "gru", "lstm"],
    "units": {"min": 16, "max": 128, "step": 2, "sampling": "log"},
    "depth": {"min": 1, "max": 2},
    "dropout": [0.0, 0.1, 0.2, 0.3],
    "learning_rate": {"min": 3e-4, "max": 3e-3, "sampling": "log"},
    "loss": ["mse", "mae"],
    "bidirectional": False,
    "batch_size": 256,
}
# The speed comparison: the same small search both ways.
SPEED_TRIALS = 6
# Alternated rounds of the speed comparison with --speed-only.
SPEED_ROUNDS = 3
SPEED_FLAGS = ["--epochs", "2", "--patience", "2", "--cell", "gru", "--depth", "1", "--batch-size", "256",
               "--no-bidirectional", "--space", '{"units": [8, 16, 24, 32, 48, 64]}', "--tuner", "random",
               "--max-trials", str(SPEED_TRIALS)]


def defaults_row(task):
    """The builder's defaults under the same budget, resumable."""
    from kerasseq import runs

    task = task.replace(epochs=EPOCHS, patience=PATIENCE)
    model = task.build_model()
    history, seconds = task.fit(model, directory=JOBS / "defaults", verbose=2)
    metrics = task.evaluate(model)
    runs.remove_backup(JOBS / "defaults")
    c = task.config
    return {"name": "builder_defaults", "candidate": False, "cell": c.cell, "units": c.units,
            "depth": c.depth, "dropout": c.dropout, "learning_rate": c.learning_rate, "loss": c.loss,
            "val_mae": round(metrics["val"]["mae"], 4), "test_mae": round(metrics["test"]["mae"], 4),
            "train_seconds": round(seconds, 1), "epochs": len(history["loss"]), "status": "COMPLETED"}


def headline_row():
    """The hand-chosen headline, as `results/weather.json` reports it."""
    weather = json.loads((ROOT / "results" / "weather.json").read_text())
    row = next(r for r in weather["rows"] if r["name"] == weather["selected"])
    return {"name": "headline", "candidate": False, "model": row["name"], "val_mae": row["val_mae"],
            "test_mae": row["test_mae"], "train_seconds": row["train_seconds"], "epochs": row["epochs"],
            "source": "results/weather.json", "command": row["command"]}


def trials_per_hour(distributed):
    """Wall time of the speed search, by `kerasseq tune` in a subprocess."""
    out = JOBS / ("speed_distributed" if distributed else "speed_single")
    command = [sys.executable, "-m", "kerasseq.cli", "tune", "weather", "--data", "jena", "--target",
               "T (degC)", "--past", "120", "--horizon", "24", "--baselines", "", *SPEED_FLAGS,
               "--out", str(out), "--overwrite"]
    if distributed:
        command += ["--distributed", "--workers", "2"]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    trials = sum(1 for line in (out / "trials.csv").read_text().splitlines()[1:] if ",COMPLETED," in line)
    return {"processes": "chief + 2 workers" if distributed else "1", "trials": trials,
            "seconds": round(seconds, 1), "trials_per_hour": round(3600 * trials / seconds, 1)}


def alternated_speed(rounds):
    """`trials_per_hour` of 1 process and of a chief with 2 workers,
    alternated `rounds` times (this machine's speed changes by ~2x for
    seconds at a time): the median round of each, with every round kept."""
    import statistics

    measured = {False: [], True: []}
    for _ in range(rounds):
        for distributed in (False, True):
            measured[distributed].append(trials_per_hour(distributed))
    speed = []
    for distributed, runs in measured.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        trials = runs[0]["trials"]
        speed.append({"processes": runs[0]["processes"], "trials": trials, "seconds": seconds,
                      "trials_per_hour": round(3600 * trials / seconds, 1),
                      "rounds_seconds": [r["seconds"] for r in runs]})
    return speed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12, help="trials of the search (default 12)")
    parser.add_argument("--rerun-speed", action="store_true", help="measure trials per hour again")
    parser.add_argument("--speed-only", action="store_true",
                        help="measure trials per hour again and keep the search's rows as they are")
    args = parser.parse_args()
    if args.speed_only:
        # The search takes hours here; its rows stay, the speed rows are replaced.
        saved = json.loads(RESULTS.read_text())
        saved["speed"] = alternated_speed(SPEED_ROUNDS)
        saved["speed_machine"] = machine()
        RESULTS.write_text(json.dumps(saved, indent=2) + "\n")
        print(markdown(saved))
        return

    import kerasseq  # noqa: F401
    from kerasseq import tasks
    from tuning import WeatherHyperModel
    from tuning import tune

    saved = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    task = tasks.get("weather")(PROTOCOL)
    rows = {r["name"]: r for r in saved.get("rows", []) if not r.get("candidate")}
    if "builder_defaults" not in rows:
        rows["builder_defaults"] = defaults_row(task)
    rows["headline"] = headline_row()
    hypermodel = WeatherHyperModel(task.replace(epochs=EPOCHS, patience=PATIENCE), space=SPACE)
    result = tune(hypermodel, tuner="bayesian", max_trials=args.trials, directory=JOBS,
                  project_name="jena", tuner_options={"num_initial_points": INITIAL}, verbose=2)
    selected = f"trial_{result['best']}"
    trial_rows = []
    for trial in result["trials"]:
        row = {"name": f"trial_{trial['trial']}", "candidate": True,
               **{k: trial[k] for k in SPACE if k in trial},
               "val_mae": None if trial["val_mae"] is None else round(float(trial["val_mae"]), 4),
               "train_seconds": trial["seconds"], "epochs": trial["epochs"], "status": trial["status"]}
        if row["name"] == selected:
            row["test_mae"] = round(result["test"]["mae"], 4)
        trial_rows.append(row)
    speed = saved.get("speed") if not args.rerun_speed else None
    if not speed:
        speed = [trials_per_hour(False), trials_per_hour(True)]
    RESULTS.write_text(json.dumps({
        "protocol": {**PROTOCOL, "epochs": EPOCHS, "patience": PATIENCE, "tuner": "bayesian",
                     "num_initial_points": INITIAL,
                     "max_trials": args.trials, "space": SPACE,
                     "file": "jena_climate_2009_2016.hourly-6cols.csv.gz"},
        "machine": machine(),
        "selected_by": "val_mae",
        "selection_rule": "the completed trial with the lowest validation MAE; test MAE computed once, "
                          "for it, after the search",
        "selected": selected,
        "rows": [rows["builder_defaults"], rows["headline"], *trial_rows],
        "speed": speed,
        "speed_protocol": {"trials": SPEED_TRIALS, "flags": SPEED_FLAGS},
    }, indent=2) + "\n")
    print(markdown(json.loads(RESULTS.read_text())))


def markdown(results):
    lines = ["| row | model | val MAE | test MAE | train s | epochs | status |",
             "|---|---|---:|---:|---:|---:|---|"]
    for r in results["rows"]:
        model = r.get("model") or f"{r.get('cell')} {r.get('units')}x{r.get('depth')} dropout " \
                                  f"{r.get('dropout')} lr {r.get('learning_rate', 0):.2g} {r.get('loss')}"
        mark = " (selected)" if r["name"] == results["selected"] else ""
        val = "" if r.get("val_mae") is None else f"{r['val_mae']:.4f}"
        test = f"{r['test_mae']:.4f}" if "test_mae" in r else ""
        lines.append(f"| {r['name']}{mark} | {model} | {val} | {test} | {r.get('train_seconds') or 0:.0f} "
                     f"| {r.get('epochs') or ''} | {r.get('status', '')} |")
    lines += ["", "| processes | trials | seconds | trials per hour |", "|---|---:|---:|---:|"]
    lines += [f"| {s['processes']} | {s['trials']} | {s['seconds']:.0f} | {s['trials_per_hour']:.0f} |"
              for s in results["speed"]]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
