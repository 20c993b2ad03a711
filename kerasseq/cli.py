"""The `kerasseq` command: `train` and `evaluate` runs, each in its own directory.

A run directory holds `config.json`, `model.keras`, `baselines/*.keras`,
`metrics.json`, `history.csv`, `plots/*.png` and TensorBoard `logs/`; an
ensemble's members train in `members/seed_N/`, each with its own model,
history and logs. It is reused only with `--overwrite`, or to resume a run
that was interrupted (the same command again).
Data loading, training and plotting code loads only once a command runs
(importing kerasseq loads Keras and TensorFlow, nothing more).
"""

import argparse
import json
import shutil
import sys
from pathlib import Path


class UserError(Exception):
    """An error in the command's input: printed on one line, exit status 2."""


def _horizon(text):
    """A --horizon value: rows if a whole number ("24"), else a time ("24h").

    resolve_horizons reads any string as a time, where "24" is not one.
    """
    return int(text) if text.isdigit() else text


def _fractions(text):
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected three fractions such as 0.5,0.25,0.25, got {text!r}"
        ) from None


def _weather_parser(subparsers):
    parser = subparsers.add_parser(
        "weather",
        help="forecast a weather variable from past hours",
        description="Train a kerasseq recurrent forecaster and its baselines on weather data.",
        epilog="example:\n  kerasseq train weather --data nyc --target temp --past 48 "
        "--horizon 24h --cell gru --units 32 --epochs 30 --out runs/nyc-gru",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument("--data", default="nyc",
                      help="'nyc' (embedded, offline), 'jena', or a CSV path (default: nyc)")
    data.add_argument("--target", help="column to forecast (default: temp / T (degC))")
    data.add_argument("--features", type=lambda s: s.split(","),
                      help="comma-separated input columns (default: all)")
    data.add_argument("--time-column", help="time column of a CSV file")
    data.add_argument("--missing", choices=["error", "interpolate", "drop"], default="error",
                      help="what to do with NaN or gaps in a CSV file (default: error)")
    data.add_argument("--no-time-features", dest="time_features", action="store_false",
                      help="do not add time-of-day/year sin/cos inputs")
    data.add_argument("--past", type=int, default=48, help="steps per input window (default: 48)")
    data.add_argument("--sampling-rate", type=int, default=1,
                      help="rows between window steps (default: 1)")
    data.add_argument("--horizon", dest="horizons", action="append", type=_horizon,
                      help="how far ahead, in rows or as time ('24h'); repeat for several "
                           "(default: 24h)")
    data.add_argument("--output-steps", type=int, default=1,
                      help="forecast the next N sampled steps from the horizon (default: 1)")
    data.add_argument("--split", type=_fractions, default=(0.5, 0.25, 0.25),
                      help="train,validation,test fractions, in time order (default: 0.5,0.25,0.25)")
    model = parser.add_argument_group("model")
    model.add_argument("--cell", default="gru",
                       choices=["elman", "gru", "gru_reset_before", "lstm"])
    model.add_argument("--units", type=int, default=32)
    model.add_argument("--depth", type=int, default=1)
    model.add_argument("--dropout", type=float, default=0.0)
    model.add_argument("--recurrent-dropout", type=float, default=0.0)
    model.add_argument("--bidirectional", action="store_true")
    model.add_argument("--residual", action="store_true",
                       help="forecast the change from the last observed target value")
    model.add_argument("--baselines", type=lambda s: [b for b in s.split(",") if b],
                       default="naive,seasonal_naive,linear,dense",
                       help="comma-separated baselines, or '' for none")
    fit = parser.add_argument_group("training")
    fit.add_argument("--epochs", type=int, default=30)
    fit.add_argument("--batch-size", type=int, default=64)
    fit.add_argument("--learning-rate", type=float, default=1e-3)
    fit.add_argument("--loss", choices=["mse", "mae", "huber"], default="mse",
                     help="training loss of the recurrent model (default: mse)")
    fit.add_argument("--patience", type=int, default=5,
                     help="early-stopping patience in epochs (default: 5)")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--ensemble", type=int, default=1,
                     help="train N models from seeds SEED..SEED+N-1 and forecast their mean "
                          "(default: 1)")
    parser.add_argument("--out", required=True, help="run directory, e.g. runs/nyc-gru")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    parser.set_defaults(run=train_weather)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="kerasseq",
        description="Recurrent sequence models for Keras: train and evaluate runs.",
        epilog="example:\n  kerasseq train weather --data nyc --epochs 5 --out runs/demo\n"
        "  kerasseq evaluate runs/demo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser(
        "train", help="train a model for a task",
        epilog="example:\n  kerasseq train weather --data nyc --out runs/demo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _weather_parser(train.add_subparsers(dest="task", required=True))
    evaluate = commands.add_parser(
        "evaluate", help="recompute a run's metrics from its saved models",
        epilog="example:\n  kerasseq evaluate runs/demo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("run_dir")
    evaluate.set_defaults(run=evaluate_run)
    return parser


def _prepare_run_dir(out, overwrite, config):
    """Creates the run directory; returns True when resuming an interrupted run.

    A directory with `config.json` but no `metrics.json` holds a run that
    was interrupted: the same configuration resumes it.
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if overwrite:
            shutil.rmtree(out)
        elif (out / "config.json").exists() and not (out / "metrics.json").exists():
            # Through WeatherConfig, so that fields added since fill in their defaults.
            saved = _jsonable(type(config).from_json(json.loads((out / "config.json").read_text())))
            current = _jsonable(config)
            changed = sorted(k for k in current if saved.get(k) != current[k])
            if changed:
                raise UserError(
                    f"{out} holds an interrupted run with other settings ({', '.join(changed)} "
                    "differ). Run its original command to resume it, pass --overwrite to "
                    "replace it, or choose another --out."
                )
            print(f"Resuming the interrupted run in {out}.")
            return True
        else:
            raise UserError(
                f"{out} already holds a run. Pass --overwrite to replace it, "
                "or choose another --out."
            )
    (out / "plots").mkdir(parents=True, exist_ok=True)
    (out / "baselines").mkdir(exist_ok=True)
    return False


def _jsonable(config):
    # As config.json stores it: tuples become lists.
    return json.loads(json.dumps(config.to_json()))


def _config_from_args(args):
    from kerasseq.tasks.weather import WeatherConfig

    values = {k: v for k, v in vars(args).items() if v is not None}
    return WeatherConfig.from_json(values)


def _member_dirs(out, task):
    """Where each model of the run trains: the run directory itself, or one
    `members/seed_N/` folder per seed of an ensemble."""
    if task.config.ensemble == 1:
        return {task.config.seed: out}
    return {seed: out / "members" / f"seed_{seed}" for seed in task.seeds}


def _train_member(task, directory, seed, resuming):
    """Trains (or, if finished before an interruption, loads) one model.

    Returns `(model, seconds)`. The best model so far is kept in
    `directory/model.keras` and the last epoch in `directory/backup/`, so an
    interrupted run resumes where it stopped.
    """
    import keras

    directory.mkdir(parents=True, exist_ok=True)
    done = directory / "training.json"
    if done.exists():
        print(f"Seed {seed}: trained before the interruption, loaded from {directory}")
        return keras.saving.load_model(directory / "model.keras"), json.loads(done.read_text())["seconds"]
    model = task.build_model(seed=seed)
    print(f"{model.name} (seed {seed}): {model.count_params():,} parameters, inputs {task.features}")
    callbacks = [
        keras.callbacks.ModelCheckpoint(directory / "model.keras", monitor="val_mae",
                                        save_best_only=True),
        keras.callbacks.BackupAndRestore(str(directory / "backup")),
        keras.callbacks.CSVLogger(str(directory / "history.csv"), append=resuming),
        keras.callbacks.TensorBoard(str(directory / "logs")),
    ]
    _, seconds = task.fit(model, seed=seed, callbacks=callbacks)
    model.save(directory / "model.keras")
    done.write_text(json.dumps({"seed": seed, "seconds": seconds}))
    return model, seconds


def _read_history(path):
    import pandas as pd

    # history.csv holds every epoch, also those before a resumed interruption.
    return pd.read_csv(path).drop(columns="epoch").to_dict("list") if path.exists() else None


def train_weather(args):
    from kerasseq import analysis
    from kerasseq.models import build_ensemble
    from kerasseq.tasks.weather import WeatherTask

    out = Path(args.out)
    if args.horizons is None:
        args.horizons = ["24h"]
    config = _config_from_args(args)
    # Data and model errors come before the run directory exists, so that
    # fixing the input and running the same command again needs no --overwrite.
    task = WeatherTask(config)
    task.build_model()
    resuming = _prepare_run_dir(out, args.overwrite, config)
    (out / "config.json").write_text(json.dumps(config.to_json(), indent=2))

    trained, results, histories = {}, {}, {}
    members = []
    for seed, directory in _member_dirs(out, task).items():
        member, seconds = _train_member(task, directory, seed, resuming)
        members.append(member)
        name = config.cell if config.ensemble == 1 else f"{config.cell}_seed{seed}"
        trained[name] = member
        results[name] = {"params": member.count_params(), "train_seconds": seconds}
        histories[name] = _read_history(directory / "history.csv")
    if config.ensemble > 1:
        model = build_ensemble(members, name=f"{config.cell}_ensemble")
        model.save(out / "model.keras")
        trained = {config.cell: model, **trained}
        results = {
            config.cell: {"params": model.count_params(),
                          "train_seconds": sum(r["train_seconds"] for r in results.values())},
            **results,
        }

    for name, baseline in task.build_baselines().items():
        if baseline.trainable_weights:
            print(f"Training the {name} baseline")
        baseline_history, baseline_seconds = task.fit(baseline, verbose=2)
        baseline.save(out / "baselines" / f"{name}.keras")
        trained[name] = baseline
        results[name] = {"params": baseline.count_params(), "train_seconds": baseline_seconds}
        if baseline_history is not None:
            histories[name] = baseline_history.history
    for name, m in trained.items():
        results[name].update(task.evaluate(m))
    _write_metrics(out, task, results)
    analysis.plot_losses({k: v for k, v in histories.items() if v}, out / "plots" / "loss.png")
    stretches = {name: task.predict_stretch(m) for name, m in trained.items()}
    analysis.plot_forecast(stretches, out / "plots" / "forecast.png", ylabel=task.target)
    print(analysis.metrics_table(results))
    print(f"Run saved in {out}/ (model.keras, metrics.json, plots/, logs/)")


def _write_metrics(out, task, results):
    metrics = {
        "target": task.target,
        "horizon_rows": task.horizon_rows,
        "models": results,
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))


def evaluate_run(args):
    import keras

    import kerasseq  # noqa: F401  (registers the layers for load_model)
    from kerasseq import analysis
    from kerasseq.tasks.weather import WeatherConfig
    from kerasseq.tasks.weather import WeatherTask

    out = Path(args.run_dir)
    if not (out / "config.json").exists() or not (out / "model.keras").exists():
        raise UserError(
            f"{out} is not a finished run directory (it needs config.json and model.keras); "
            "create one with `kerasseq train weather --out DIR`."
        )
    config = WeatherConfig.from_json(json.loads((out / "config.json").read_text()))
    task = WeatherTask(config)
    saved = json.loads((out / "metrics.json").read_text())["models"] if (out / "metrics.json").exists() else {}
    paths = {config.cell: out / "model.keras"}
    if config.ensemble > 1:
        paths.update({f"{config.cell}_seed{seed}": out / "members" / f"seed_{seed}" / "model.keras"
                      for seed in task.seeds})
    paths.update({p.stem: p for p in sorted((out / "baselines").glob("*.keras"))})
    results = {}
    for name, path in paths.items():
        model = keras.saving.load_model(path, compile=False)
        results[name] = {
            "params": model.count_params(),
            "train_seconds": saved.get(name, {}).get("train_seconds", 0.0),
            **task.evaluate(model),
        }
    print(analysis.metrics_table(results))


def main(argv=None):
    """Entry point of the `kerasseq` command."""
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (UserError, ValueError, FileNotFoundError) as error:
        # Library messages name keyword arguments; here the user typed flags.
        message = str(error).replace("missing='interpolate'", "--missing interpolate")
        message = message.replace("missing='drop'", "--missing drop")
        message = message.replace("select them with columns=", "select them with --features, e.g. ")
        print(f"kerasseq: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        out = getattr(args, "out", None) or getattr(args, "run_dir", "")
        print(
            f"\nInterrupted. {out}/ keeps the best model so far and the last epoch; run the "
            "same command again to resume training.",
            file=sys.stderr,
        )
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
