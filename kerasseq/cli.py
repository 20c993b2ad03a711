"""The `kerasseq` command: `train TASK`, `evaluate RUN_DIR`, `tune TASK`, `export RUN_DIR` and
`analyze gradients|gates|clusters RUN_DIR`, for every registered task.

Each task's flags come from its config dataclass (`kerasseq.tasks.option`):
the flag `--batch-size` is the field `batch_size`, one to one. A run lives in
its own directory (`kerasseq.runs`), reused only with `--overwrite` or to
resume an interrupted run (the same command again). Library errors name
keyword arguments; when one concerns an option, the command names its flag
through that mapping. Data loading and training code loads only once a
command runs.
"""

import argparse
import sys

from kerasseq import tasks
from kerasseq.validation import ArgumentError

# Options of `train` itself, by the keyword their errors name.
COMMAND_FLAGS = {"overwrite": "--overwrite", "version": "--version", "tuner": "--tuner", "max_trials": "--max-trials",
                 "objective": "--objective", "space": "--space", "workers": "--workers",
                 "executions_per_trial": "--executions-per-trial"}
# Options of `analyze`, by the keyword their errors name.
ANALYZE_FLAGS = {"samples": "--samples", "text": "--text", "layer": "--layer", "split": "--split",
                 "direction": "--direction"}


def _converter(parse):
    def convert(text):
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def _add_task_parser(subparsers, task_class, command="train"):
    """`kerasseq train NAME` (or `tune NAME`), its flags generated from the task's options."""
    name = task_class.name
    summary = (task_class.__doc__ or name).strip().splitlines()[0].rstrip(".")
    example = task_class.example or f"kerasseq train {name} --out runs/{name}"
    if command == "tune":
        summary = f"Tune: {summary[0].lower()}{summary[1:]}"
        example = (f"kerasseq tune {name} --tuner random --max-trials 10 --epochs 10 "
                   f"--out runs/tune-{name}")
    parser = subparsers.add_parser(
        name, help=summary[0].lower() + summary[1:], description=summary + ".",
        epilog=f"example:\n  {example}", formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    config = task_class.config_class()
    options = task_class.config_class.options()
    groups = {}
    for group in dict.fromkeys(["data", "model", "training", *(m["group"] for _, m in options.values())]):
        groups[group] = parser.add_argument_group(group)
    for field, (flag, meta) in options.items():
        default = getattr(config, field)
        shown = ",".join(map(str, default)) if isinstance(default, (list, tuple)) else default
        # A None default means "derived"; its help says from what.
        text = meta["help"] if default is None else f"{meta['help']} (default: {shown})"
        keywords = dict(dest=field, default=None, help=text)
        if isinstance(default, bool):
            keywords["action"] = argparse.BooleanOptionalAction
        else:
            parse = meta["parse"] or (type(default) if default is not None else str)
            keywords.update(type=_converter(parse), choices=meta["choices"],
                            metavar=None if meta["choices"] else flag[2:].upper().replace("-", "_"))
            if meta["repeat"]:
                keywords["action"] = "append"
        groups[meta["group"]].add_argument(flag, **keywords)
    if command == "tune":
        _add_tune_flags(parser, name)
        parser.set_defaults(run=tune, task_class=task_class)
        return
    parser.add_argument("--out", required=True, help=f"run directory, e.g. runs/{name}")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run")
    groups["training"].add_argument("--workers", type=int, default=None,
                                    help="with --local: train as a MultiWorkerMirroredStrategy cluster "
                                         "of this many processes")
    groups["training"].add_argument("--local", action="store_true",
                                    help="start the --workers processes on this machine (loopback ports)")
    parser.set_defaults(run=train, task_class=task_class)


def _add_tune_flags(parser, name):
    """The options of `kerasseq tune NAME` beyond the task's own; a task
    option given on the command line is fixed, not searched."""
    group = parser.add_argument_group("tuning")
    group.add_argument("--tuner", default="bayesian", choices=["bayesian", "random", "hyperband"],
                       help="Keras Tuner's search algorithm (default: bayesian)")
    group.add_argument("--max-trials", type=int, default=None,
                       help="trials to run (default: 10; hyperband sets its own from --epochs)")
    group.add_argument("--executions-per-trial", type=int, default=1,
                       help="models trained per trial, their objective averaged (default: 1)")
    group.add_argument("--objective", default=None,
                       help="logged validation figure to optimize, e.g. val_mae or val_auc:max "
                            "(default: the task's)")
    group.add_argument("--space", default=None, metavar="JSON",
                       help='changes to the search space, as JSON or a .json file, e.g. '
                            '\'{"units": [32, 64], "depth": {"min": 1, "max": 2}}\'')
    group.add_argument("--distributed", action="store_true",
                       help="run Keras Tuner's chief and --workers worker processes on this machine")
    group.add_argument("--workers", type=int, default=2, help="workers with --distributed (default: 2)")
    parser.add_argument("--out", required=True, help=f"job directory, e.g. runs/tune-{name}")
    parser.add_argument("--overwrite", action="store_true", help="start the job afresh")


def build_parser():
    """The argument parser of `kerasseq`, one `train` subcommand per task."""
    parser = argparse.ArgumentParser(
        prog="kerasseq",
        description="Recurrent sequence models for Keras: train and evaluate runs.",
        epilog="example:\n  kerasseq train weather --data nyc --epochs 5 --out runs/demo\n"
        "  kerasseq evaluate runs/demo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    train_parser = commands.add_parser(
        "train", help="train a model for a task",
        epilog="example:\n  kerasseq train weather --data nyc --out runs/demo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    task_parsers = train_parser.add_subparsers(dest="task", required=True)
    for name in tasks.names():
        _add_task_parser(task_parsers, tasks.get(name))
    evaluate_parser = commands.add_parser(
        "evaluate", help="recompute a run's metrics from its saved models",
        epilog="example:\n  kerasseq evaluate runs/demo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate_parser.add_argument("run_dir")
    evaluate_parser.set_defaults(run=evaluate)
    export_parser = commands.add_parser(
        "export", help="write a run's model as a SavedModel for TensorFlow Serving",
        epilog="example:\n  kerasseq export runs/demo --out exported/demo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export_parser.add_argument("run_dir")
    export_parser.add_argument("--out", required=True, help="base directory; the version goes below it")
    export_parser.add_argument("--version", type=int, default=None,
                               help="version number (default: one above those in --out)")
    export_parser.add_argument("--cudnn", action="store_true",
                               help="keep the cuDNN kernel where the recurrent layers use it (exported "
                                    "on a GPU: faster there, but no CPU can run the SavedModel)")
    export_parser.set_defaults(run=export)
    analyze_parser = commands.add_parser(
        "analyze", help="gradient flow, gate traces or hidden-state clusters of a run's model",
        description="Analyses of a run's recurrent layer, written as PNG and JSON into RUN_DIR/analysis/: "
                    "gradients (||dL/dh_t|| through time and the recurrent Jacobian's norm), gates (a "
                    "GRU's or LSTM's gates step by step) or clusters (how the final hidden states "
                    "cluster, against the classes where the task has them).",
        epilog='example:\n  kerasseq analyze gradients runs/demo\n'
               '  kerasseq analyze gates runs/imdb --text "the acting was not good at all"\n'
               "  kerasseq analyze clusters runs/imdb --samples 2000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    analyze_parser.add_argument("analysis", choices=["gradients", "gates", "clusters"])
    analyze_parser.add_argument("run_dir")
    analyze_parser.add_argument("--split", default="test", choices=["val", "test"],
                                help="the examples' split (default: test)")
    analyze_parser.add_argument("--samples", type=int, default=None,
                                help="examples to read (default: 32 for gradients, 2000 for clusters)")
    analyze_parser.add_argument("--text", default=None, help="gates: the text to trace (text tasks)")
    analyze_parser.add_argument("--layer", default=None, help="the recurrent layer (default: the first)")
    analyze_parser.add_argument("--direction", default=None, choices=["forward", "backward"],
                                help="of a bidirectional layer: the direction whose gradients or gates "
                                     "are shown (default: forward)")
    analyze_parser.add_argument("--seed", type=int, default=0, help="seed of the examples drawn (default: 0)")
    analyze_parser.set_defaults(run=analyze)
    tune_parser = commands.add_parser(
        "tune", help="search a task's hyperparameters with Keras Tuner",
        epilog="example:\n  kerasseq tune weather --data nyc --tuner random --max-trials 5 "
        "--epochs 5 --out runs/tune-weather",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tune_tasks = tune_parser.add_subparsers(dest="task", required=True)
    for name in tasks.names():
        _add_task_parser(tune_tasks, tasks.get(name), command="tune")
    return parser


def _given_options(args):
    """The task options given on the command line: `{field: value}`."""
    options = args.task_class.config_class.options()
    return {field: getattr(args, field) for field in options if getattr(args, field) is not None}


def train(args):
    from kerasseq import runs

    if args.workers is not None or args.local:
        from kerasseq.distribute import launch_local

        if not args.local or args.workers is None:
            raise ArgumentError("workers", "--workers N and --local go together: they start N processes "
                                           "on this machine. Across machines, set TF_CONFIG on each and "
                                           "run with --strategy multi_worker.")
        launch_local(args.argv, workers=args.workers, out=args.out)
        return
    task_class = args.task_class
    task = task_class(task_class.config_class.from_json(_given_options(args)))
    runs.train(task, args.out, overwrite=args.overwrite)


def export(args):
    import kerasseq  # noqa: F401  (registers the layers for load_model)
    from kerasseq.export import export_run

    target = export_run(args.run_dir, args.out, version=args.version, portable=not args.cudnn)
    print(f"SavedModel written to {target}/ (serve {args.out} with TensorFlow Serving); "
          f"the same model as {target}.keras")


def _space(text):
    """The `--space` value: JSON text or the path of a .json file."""
    import json
    from pathlib import Path

    source = Path(text).read_text() if text.endswith(".json") else text
    try:
        space = json.loads(source)
    except ValueError as error:
        raise ArgumentError("space", f"--space {text!r} is not JSON ({error}). Give an object, e.g. "
                                     '\'{"units": [32, 64]}\'.') from None
    if not isinstance(space, dict):
        raise ArgumentError("space", f"--space {text!r} is not a JSON object. Give one, e.g. "
                                     '\'{"units": [32, 64]}\'.')
    return space


def tune(args):
    from pathlib import Path

    import tuning
    from tuning import distributed
    from tuning import hypermodels

    if args.distributed:
        distributed.launch(args.argv, workers=args.workers, out=args.out, overwrite=args.overwrite)
        return
    given = _given_options(args)
    task_class = args.task_class
    hypermodel_class = hypermodels.get(task_class.name)
    space = _space(args.space) if args.space else {}
    # A task option on the command line is fixed: it leaves the search.
    space.update({k: v for k, v in given.items() if k in hypermodel_class.default_space() and k not in space})
    task = task_class(task_class.config_class.from_json(given))
    out = Path(args.out)
    tuning.tune(
        hypermodel_class(task, space=space), tuner=args.tuner, objective=args.objective,
        max_trials=args.max_trials, executions_per_trial=args.executions_per_trial,
        directory=out.parent, project_name=out.name, overwrite=args.overwrite,
    )


def analyze(args):
    import kerasseq  # noqa: F401  (registers the layers for load_model)
    from kerasseq.analysis.commands import analyze_run

    analyze_run(args.run_dir, args.analysis, split=args.split, samples=args.samples, text=args.text,
                layer=args.layer, direction=args.direction, seed=args.seed)
    print(f"Written to {args.run_dir}/analysis/{args.analysis}.png and .json")


def evaluate(args):
    import kerasseq  # noqa: F401  (registers the layers for load_model)
    from kerasseq import runs

    runs.evaluate(args.run_dir)


def _flag(args, argument):
    """The flag an error about keyword `argument` concerns, or None."""
    if args.run is analyze:
        # Only a flag that was given: an error about the default layer is the model's.
        return ANALYZE_FLAGS.get(argument) if getattr(args, argument, None) is not None else None
    if argument in COMMAND_FLAGS and hasattr(args, "out"):
        return COMMAND_FLAGS[argument]
    task_class = getattr(args, "task_class", None)
    field = task_class.option_for(argument) if task_class else None
    return task_class.config_class.options()[field][0] if field else None


def main(argv=None):
    """Entry point of the `kerasseq` command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        args.run(args)
    except (ValueError, FileNotFoundError) as error:
        flag = _flag(args, error.argument) if isinstance(error, ArgumentError) else None
        prefix = f"argument {flag}: " if flag else ""
        print(f"kerasseq: error: {prefix}{error}", file=sys.stderr)
        return 2
    except RuntimeError as error:
        if args.run is not tune and not getattr(args, "local", False):
            raise
        # A search with no completed trial, or stopped by failures; a
        # local cluster whose worker failed.
        print(f"kerasseq: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if args.run is train:
            print(f"\nInterrupted. {args.out}/ keeps the best model so far and the last epoch; "
                  "run the same command again to resume training.", file=sys.stderr)
        elif args.run is tune:
            print(f"\nInterrupted. {args.out}/ keeps every finished trial and the running one's "
                  "last epoch; run the same command again to resume the search.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
