"""What the quality scripts share: their command-line options, the CLI
command of a row, training one candidate (an ensemble's members too), the
rows an earlier run kept, and the machine line of a results file."""

import argparse
import dataclasses
import json
import os
import platform
import shlex


def quality_parser(description, tables):
    """The options every quality script takes: `--only`, `--tables`,
    `--epochs` (a smoke run) and `--rerun`; a script may add its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--only", nargs="*", help="row names to run (default: all)")
    parser.add_argument("--tables", default=tables)
    parser.add_argument("--epochs", type=int, help="override the epoch budget (smoke runs)")
    parser.add_argument("--rerun", action="store_true",
                        help="train the chosen rows again even if the results hold them")
    return parser


def machine():
    """Where the figures were measured: architecture, CPUs, TensorFlow and Keras."""
    import keras
    import tensorflow as tf

    return (f"{platform.machine()}, {os.cpu_count()} CPUs, tensorflow {tf.__version__}, "
            f"keras {keras.__version__}")


def row_head(name, table, candidate, model, seconds, epochs):
    """The fields every quality row starts with: name, table, whether it may
    be the headline, size, training time and epochs."""
    return {
        "name": name,
        "table": table,
        "candidate": candidate,
        "params": model.count_params(),
        "train_seconds": round(seconds, 1),
        "epochs": epochs,
        "seconds_per_epoch": round(seconds / epochs, 1) if epochs else 0.0,
    }


def cli_command(config, task_name, *, always=("data",), out, baseline=None):
    """The `kerasseq train TASK` command that trains `config`: every option
    that differs from its default, plus those in `always`; for a baseline,
    which row of the run's metrics.json is the figure."""
    default = type(config)()
    args = ["kerasseq", "train", task_name]
    for field, (flag, metadata) in type(config).options().items():
        value = getattr(config, field)
        if value == getattr(default, field) and field not in always:
            continue
        if isinstance(value, bool):
            args.append(flag if value else "--no-" + flag[2:])
        elif metadata.get("repeat"):
            for item in value:
                args += [flag, str(item)]
        elif isinstance(value, (list, tuple)):
            args += [flag, ",".join(map(str, value))]
        else:
            args += [flag, str(value)]
    command = shlex.join([*args, "--out", out])
    return command + f"  # metrics.json row '{baseline}'" if baseline else command


def train_candidate(name, task, baseline, result_row, directory=None):
    """Trains one candidate of `task` and returns its rows: the model (or
    `baseline`), and with an ensemble one row per member after the mean's.

    `result_row(name, model, seconds, epochs, config)` evaluates a trained
    model into a row. With `directory`, training keeps checkpoints there
    (`kerasseq.runs.fit`), so a killed script resumes a long row.
    """
    from kerasseq.models import build_ensemble

    config = task.config
    if baseline:
        models = {config.seed: task.build_baselines()[baseline]}
    else:
        models = {seed: task.build_model(seed=seed) for seed in task.seeds}
    rows = []
    for seed, model in models.items():
        # A baseline may have no size before it is fitted (an n-gram model).
        size = "" if baseline else f": {model.count_params():,} parameters"
        print(f"\n== {name}, seed {seed}{size}", flush=True)
        if baseline:
            history, seconds = task.fit_baseline(baseline, model)
        else:
            history, seconds = task.fit(model, seed=seed, verbose=2,
                                        directory=directory and directory / f"seed_{seed}")
        epochs = len(history["loss"]) if history else 0
        member = dataclasses.replace(config, seed=seed, ensemble=1)
        rows.append(result_row(f"{name}_seed{seed}" if config.ensemble > 1 else name,
                               model, seconds, epochs, member))
    if config.ensemble > 1:
        model = build_ensemble(list(models.values()))
        ensemble = result_row(name, model, sum(r["train_seconds"] for r in rows),
                              sum(r["epochs"] for r in rows), config)
        ensemble["members"] = [r["name"] for r in rows]
        rows.insert(0, ensemble)
    return rows


def kept_rows(saved, protocol, names, *, rerun):
    """The rows of an earlier run (`saved`, the results file's content) that
    are not trained again: all of them if it ran `protocol`, except those
    `names` when `rerun` (after a change to the code they train)."""
    same = saved.get("protocol") == json.loads(json.dumps(protocol))
    done = {r["name"]: r for r in saved.get("rows", [])} if same else {}
    if rerun:
        for name in names:
            for member in [name, *done.get(name, {}).get("members", [])]:
                done.pop(member, None)
    return done


def ordered_rows(candidates, done):
    """`(rows in CANDIDATES order, members after their ensemble; {row name:
    table})`."""
    tables = {n: table for name, (table, _) in candidates.items()
              for n in [name, *done.get(name, {}).get("members", [])]}
    return [done[n] for n in tables if n in done], tables


def chosen_rows(candidates, args):
    """`(tables, names)`: the tables asked for and, in CANDIDATES order, the
    rows of those tables that `--only` keeps."""
    tables = args.tables.split(",")
    return tables, [n for n, (t, _) in candidates.items()
                    if t in tables and (not args.only or n in args.only)]


def train_rows(names, candidates, done, results, train, written):
    """Trains each row of `names` that `done` lacks, in order: `train(name,
    table, overrides)` gives its rows, added to `done`; then `written(name)`
    is called (it writes the results file). Returns the rows trained."""
    trained = 0
    for name in names:
        table, overrides = candidates[name]
        if name in done:
            print(f"{name}: in {results.name} already")
            continue
        for row in train(name, table, overrides):
            done[row["name"]] = row
            trained += 1
        written(name)
    return trained
