"""What the quality scripts share: the CLI command of a row, training one
candidate (an ensemble's members too), and the rows an earlier run kept."""

import dataclasses
import json
import shlex


def cli_command(config, task_name, *, always=("data",), out):
    """The `kerasseq train TASK` command that trains `config`: every option
    that differs from its default, plus those in `always`."""
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
    return shlex.join([*args, "--out", out])


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
