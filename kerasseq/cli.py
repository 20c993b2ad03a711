"""The `kerasseq` command: `train TASK` and `evaluate RUN_DIR`, for every registered task.

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
COMMAND_FLAGS = {"overwrite": "--overwrite"}


def _converter(parse):
    def convert(text):
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def _add_task_parser(subparsers, task_class):
    """`kerasseq train NAME`, its flags generated from the task's options."""
    name = task_class.name
    summary = (task_class.__doc__ or name).strip().splitlines()[0].rstrip(".")
    example = task_class.example or f"kerasseq train {name} --out runs/{name}"
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
    parser.add_argument("--out", required=True, help=f"run directory, e.g. runs/{name}")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run")
    parser.set_defaults(run=train, task_class=task_class)


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
    return parser


def train(args):
    from kerasseq import runs

    task_class = args.task_class
    options = task_class.config_class.options()
    values = {field: getattr(args, field) for field in options if getattr(args, field) is not None}
    task = task_class(task_class.config_class.from_json(values))
    runs.train(task, args.out, overwrite=args.overwrite)


def evaluate(args):
    import kerasseq  # noqa: F401  (registers the layers for load_model)
    from kerasseq import runs

    runs.evaluate(args.run_dir)


def _flag(args, argument):
    """The flag an error about keyword `argument` concerns, or None."""
    if argument in COMMAND_FLAGS and hasattr(args, "out"):
        return COMMAND_FLAGS[argument]
    task_class = getattr(args, "task_class", None)
    field = task_class.option_for(argument) if task_class else None
    return task_class.config_class.options()[field][0] if field else None


def main(argv=None):
    """Entry point of the `kerasseq` command."""
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (ValueError, FileNotFoundError) as error:
        flag = _flag(args, error.argument) if isinstance(error, ArgumentError) else None
        prefix = f"argument {flag}: " if flag else ""
        print(f"kerasseq: error: {prefix}{error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.run is train:
            print(f"\nInterrupted. {args.out}/ keeps the best model so far and the last epoch; "
                  "run the same command again to resume training.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
