"""Tuning jobs: a Keras Tuner search over a task's hypermodel, resumable,
that reports only trials that completed.

A job directory (`directory/project_name`) holds Keras Tuner's own files
(`oracle.json`, `trial_*/`), and ours:
- `job.json`: the task, base config, search space, tuner and objective; a
  job started again with other ones is refused;
- `trial_*/execution_N/`: each model's checkpoint, so that a killed trial
  resumes from its last epoch when the same job runs again;
- `trials.csv` and `trials.md`: one row per trial (hyperparameters,
  objective, epochs, seconds, status, error);
- `best_hyperparameters.json` and `objective.png`;
- `best/`: a run directory of the best trial's model (restored from its
  checkpoint, not retrained), evaluated once on validation and test: a run
  directory like any other (`kerasseq evaluate` reads it).
"""

import json
import math
import shutil
import sys
from pathlib import Path

import keras_tuner

from kerasseq import runs
from kerasseq.validation import ArgumentError
from tuning import guards
from tuning.hypermodels import TaskHyperModel
from tuning.hypermodels import objective_of

JOB = "job.json"
BEST = "best"
TUNERS = {
    "bayesian": keras_tuner.BayesianOptimization,
    "random": keras_tuner.RandomSearch,
    "hyperband": keras_tuner.Hyperband,
}
# The default number of trials of the tuners that take one.
MAX_TRIALS = 10
# Starts of one execution before a trial whose process dies is failed.
MAX_ATTEMPTS = 3
SETTING_DEFAULTS = {"executions_per_trial": 1, "tuner_options": {}, "factor": 3}


class _JobTuner:
    """Mixed into a Keras Tuner class: each execution of a trial trains in
    its own checkpointed directory, from its own seed, and must log the
    objective."""

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self._executions = 0

    def _build_and_fit_model(self, trial, *args, **kwargs):
        execution = getattr(self, "_executions", 0)
        self._executions = execution + 1
        directory = Path(self.get_trial_dir(trial.trial_id)) / f"execution_{execution}"
        # A trial whose process keeps dying (out of memory, a crash) would be
        # handed out again forever: after MAX_ATTEMPTS starts it fails.
        directory.mkdir(parents=True, exist_ok=True)
        attempts = directory / "attempts"
        started = int(attempts.read_text()) if attempts.is_file() else 0
        if started >= MAX_ATTEMPTS and not (directory / runs.TRAINED).is_file():
            raise keras_tuner.errors.FailedTrialError(
                f"The process running this trial died {started} times before it finished.")
        attempts.write_text(str(started + 1))
        kwargs["directory"] = directory
        self.hypermodel.seed = self.hypermodel.task.config.seed + execution
        results = super()._build_and_fit_model(trial, *args, **kwargs)
        name = self.oracle.objective.name
        if name not in results.history:
            # No other trial would log it either.
            raise keras_tuner.errors.FatalValueError(
                f"The objective {name!r} is not among the figures the model logs "
                f"({sorted(results.history)}). Choose one of the 'val_' ones.")
        if not any(math.isfinite(v) for v in results.history[name]):
            # A NaN score would compare as neither better nor worse.
            raise keras_tuner.errors.FailedTrialError(
                f"The objective {name!r} was not finite in any epoch ({results.history[name]}): the "
                "training diverged. A lower learning_rate or clipnorm may help.")
        return results


def tuner_class(name):
    """The Keras Tuner class `name` ("bayesian", "random", "hyperband") with
    the job's per-execution checkpoints."""
    if name not in TUNERS:
        raise ArgumentError("tuner", f"tune received tuner={name!r}. Choose one of {list(TUNERS)}.")
    base = TUNERS[name]
    return type(f"Job{base.__name__}", (_JobTuner, base), {})


def _job_description(hypermodel, tuner, objective, hyperparameters, **settings):
    return {
        **settings,
        "task": hypermodel.task.name,
        "config": hypermodel.task.config.to_json(),
        "space": hypermodel.space,
        "hyperparameters": hyperparameters.get_config() if hyperparameters is not None else None,
        "tuner": tuner,
        "objective": {"name": objective.name, "direction": objective.direction},
    }


def _check_job(path, description):
    """Refuses a job directory that holds a different search."""
    saved = json.loads((path / JOB).read_text())
    # Reordered through JSON so that tuples and lists compare alike.
    description = json.loads(json.dumps(description))
    # Settings recorded since a job was written take their defaults.
    saved = {**SETTING_DEFAULTS, **saved}
    changed = [k for k in description if saved.get(k) != description[k]]
    if changed:
        key = changed[0]
        a, b = saved.get(key), description[key]
        if isinstance(a, dict) and isinstance(b, dict):
            names = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            detail = f"{key}: " + ", ".join(names) + " differ; " + "; ".join(
                f"{n} was {a.get(n)!r}, now {b.get(n)!r}" for n in names)
        else:
            detail = f"{key} differs: it was {a!r}, now {b!r}"
        raise ArgumentError(
            "overwrite",
            f"{path} holds a tuning job with another search ({detail}). Run its original "
            "command to resume it, pass overwrite=True to start it afresh, or choose another "
            "directory.",
        )


def tune(hypermodel, train=None, validation=None, *, tuner="bayesian", objective=None, max_trials=None,
         executions_per_trial=1, directory="runs", project_name="tuning", overwrite=False, callbacks=(),
         hyperparameters=None, factor=3, tuner_options=None, verbose=None):
    """Searches `hypermodel`'s space with Keras Tuner; resumable.

    Run the same call again after an interruption: completed trials are
    kept, the interrupted one is run again from its last finished epoch.

    Args:
        hypermodel: a `tuning.TaskHyperModel` (e.g. `WeatherHyperModel`).
        train: a batched `tf.data.Dataset` to train on, or None for the
            task's training split.
        validation: a batched validation dataset, or None for the task's.
        tuner: "bayesian", "random" or "hyperband".
        objective: a logged validation figure (e.g. "val_mae", or
            "val_auc:max"), or a `keras_tuner.Objective`; default: the
            task's `monitor`.
        max_trials: trials to run (default 10); Hyperband sets its own
            from the config's `epochs` (its `max_epochs`) and `factor`.
        executions_per_trial: models trained per trial, from seeds
            `seed`, `seed + 1`, ...; their objective is averaged.
        directory: where job directories go.
        project_name: the job directory's name in `directory`.
        overwrite: start the job afresh, deleting what is there.
        callbacks: more Keras callbacks for every trial.
        hyperparameters: a `keras_tuner.HyperParameters` whose entries
            replace the space's entries of the same name.
        factor: Hyperband's reduction factor.
        tuner_options: more keyword arguments of the Keras Tuner class,
            e.g. `{"num_initial_points": 4}` for "bayesian" (its default,
            3 per tuned hyperparameter, can exceed a small budget).
        verbose: Keras' verbosity in trials.

    Returns:
        A dict: `best_hyperparameters`, the `best` trial's id, its
        `objective` value, the `run` directory of its model with that
        model's `val` and `test` figures, and the `trials` table rows.

    Example:
    >>> from tuning import WeatherHyperModel, tune
    >>> result = tune(WeatherHyperModel({"epochs": 5}), tuner="random", max_trials=4,
    ...               project_name="weather")  # doctest: +SKIP
    """
    if not isinstance(hypermodel, TaskHyperModel):
        raise ArgumentError("hypermodel", f"tune received hypermodel={hypermodel!r}. Pass a "
                                          "tuning.TaskHyperModel, e.g. tuning.WeatherHyperModel().")
    guards.require_tensorboard()
    task = hypermodel.task
    objective = objective_of(task, objective)
    cls = tuner_class(tuner)
    if tuner == "hyperband":
        if max_trials is not None:
            raise ArgumentError("max_trials", "tune received max_trials with tuner='hyperband', which "
                                              "sets its number of trials from the config's epochs and "
                                              "factor. Leave max_trials unset.")
        sizes = dict(max_epochs=task.config.epochs, factor=factor)
    else:
        max_trials = MAX_TRIALS if max_trials is None else max_trials
        if isinstance(max_trials, bool) or not isinstance(max_trials, int) or max_trials < 1:
            raise ArgumentError("max_trials", f"tune received max_trials={max_trials!r}. Pass a "
                                              "positive integer, e.g. max_trials=10.")
        sizes = dict(max_trials=max_trials)
    if isinstance(executions_per_trial, bool) or not isinstance(executions_per_trial, int) \
            or executions_per_trial < 1:
        raise ArgumentError("executions_per_trial", f"tune received executions_per_trial="
                                                    f"{executions_per_trial!r}. Pass a positive integer, "
                                                    "e.g. executions_per_trial=2.")
    if hyperparameters is not None:
        unknown = [n for n in hyperparameters.values if n not in task.config_class.options()]
        if unknown:
            raise ArgumentError("hyperparameters", f"tune received hyperparameters naming {unknown}, "
                                                   f"which are not options of the {task.name} task. "
                                                   f"Options: {list(task.config_class.options())}.")
        # Their definitions win over the space's (Keras Tuner keeps the
        # first one declared); one the space lacks joins it.
        for name in hyperparameters.values:
            hypermodel.space.setdefault(name, getattr(task.config, name))
    hypermodel.objective = objective
    path = Path(directory) / project_name
    description = _job_description(hypermodel, tuner, objective, hyperparameters,
                                   executions_per_trial=executions_per_trial, tuner_options=tuner_options or {},
                                   **({"factor": factor} if tuner == "hyperband" else {}))
    chief = is_chief()
    if chief:
        if overwrite and path.exists():
            shutil.rmtree(path)
        if (path / JOB).is_file():
            _check_job(path, description)
            print(f"Resuming the tuning job in {path}.")
        # A config error that every trial would hit shows here, before the
        # search: the model of the space's first values is built once.
        hypermodel.build(keras_tuner.HyperParameters())
    from keras_tuner.src.distribute import utils as dist_utils

    options = {
        # Keras Tuner draws a random seed for 0; the job's is fixed.
        "seed": task.config.seed + 1,
        # In a distributed search this limit raises inside the chief's
        # server and jams the job: there, every trial runs and the job
        # reports the first failure.
        **({"max_consecutive_failed_trials": None} if dist_utils.has_chief_oracle() else {}),
        **(tuner_options or {}),
    }
    search = cls(
        hypermodel=hypermodel, objective=objective, executions_per_trial=executions_per_trial,
        directory=str(directory), project_name=project_name, overwrite=False,
        hyperparameters=hyperparameters, **sizes, **options,
    )
    if chief:
        path.mkdir(parents=True, exist_ok=True)
        (path / JOB).write_text(json.dumps(description, indent=2))
        # Saved now, not at the first trial's end, so that a job killed in
        # its first trial reloads the same search.
        search.save()
    try:
        # Keras Tuner's display needs a number; None leaves both defaults.
        extra = {} if verbose is None else {"verbose": verbose}
        search.search(train, validation_data=validation, callbacks=list(callbacks), **extra)
    except RuntimeError as error:
        if "consecutive failures" not in str(error):
            raise
        # Keras Tuner stops after three failed trials in a row.
        write_reports(search, path)
        failed = [search.oracle.trials[t] for t in search.oracle.end_order
                  if search.oracle.trials[t].status == "FAILED"]
        raise RuntimeError(
            f"The search stopped after {search.oracle.max_consecutive_failed_trials} failed trials "
            f"in a row. First failure: {guards.last_line(failed[0].message)}. Trials so far are in "
            f"{path}/trials.md. If the cause was passing (memory, a killed process), run the same "
            "job again to continue; if it was the configuration, fix it and pass overwrite=True "
            "(--overwrite).") from None
    if not chief:
        return None
    return finish(search, path)


def is_chief():
    """Whether this process writes the job's reports: a single process, or
    Keras Tuner's chief in a distributed search."""
    from keras_tuner.src.distribute import utils as dist_utils

    return not dist_utils.has_chief_oracle() or dist_utils.is_chief_oracle()


def trial_rows(search, path):
    """One row per trial in start order: id, status, hyperparameters,
    objective, epochs, seconds and error."""
    oracle = search.oracle
    names = list(search.hypermodel.space)
    rows = []
    for trial_id in sorted(oracle.trials, key=int):
        trial = oracle.trials[trial_id]
        executions = sorted((path / f"trial_{trial_id}").glob(f"execution_*/{runs.TRAINED}"))
        records = [json.loads(p.read_text()) for p in executions]
        error = (trial.message or "").strip().splitlines()
        rows.append({
            "trial": trial_id,
            "status": trial.status,
            **{n: None for n in names},
            **search.hypermodel.config_values(trial.hyperparameters.values),
            oracle.objective.name: trial.score if trial.status == "COMPLETED" else None,
            "epochs": sum(len(r["history"].get("loss", [])) for r in records) or None,
            "seconds": round(sum(r["seconds"] for r in records), 1) if records else None,
            "error": error[-1] if error and trial.status != "COMPLETED" else "",
        })
    return rows


def best_trial(search):
    """The completed trial with the best objective (never a failed one)."""
    guards.check_trials(search)
    oracle = search.oracle
    completed = [t for t in oracle.trials.values()
                 if t.status == "COMPLETED" and t.score is not None and math.isfinite(t.score)]
    pick = max if oracle.objective.direction == "max" else min
    return pick(completed, key=lambda t: t.score)


def write_reports(search, path):
    """Writes `trials.csv`, `trials.md` and `objective.png`; returns the rows."""
    import pandas as pd

    from kerasseq import analysis

    rows = trial_rows(search, path)
    table = pd.DataFrame(rows)
    table.to_csv(path / "trials.csv", index=False)
    (path / "trials.md").write_text(_markdown(table) + "\n")
    analysis.plot_objective(
        [(r["trial"], r[search.oracle.objective.name]) for r in rows if r["status"] == "COMPLETED"],
        search.oracle.objective.name, search.oracle.objective.direction, path / "objective.png",
    )
    return rows


def _markdown(table):
    def cell(value):
        if value is None or (isinstance(value, float) and value != value):
            return ""
        return f"{value:.4g}" if isinstance(value, float) else str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def finish(search, path):
    """After the search: the reports, the best hyperparameters, and the best
    trial's model restored into a run directory and evaluated once."""
    rows = write_reports(search, path)
    best = best_trial(search)  # raises if no trial completed
    hypermodel = search.hypermodel
    values = hypermodel.config_values(best.hyperparameters.values)
    task = hypermodel.trial_task(best.hyperparameters)
    run = path / BEST
    saved = json.loads((run / "tuning.json").read_text()) if (run / "tuning.json").is_file() else {}
    if saved.get("trial") != best.trial_id or not (run / runs.METRICS).is_file():
        # The execution whose own objective is best stands for the trial.
        executions = sorted((path / f"trial_{best.trial_id}").glob(f"execution_*/{runs.TRAINED}"))
        source = _best_execution(executions, search.oracle.objective).parent
        results = runs.train(task, run, overwrite=True, trained=source)
        (run / "tuning.json").write_text(json.dumps({"trial": best.trial_id, "execution": source.name}))
    else:
        results = json.loads((run / runs.METRICS).read_text())["models"]
    model = results[task.model_name]
    summary = {
        "trial": best.trial_id,
        "objective": {"name": search.oracle.objective.name, "direction": search.oracle.objective.direction,
                      "value": float(best.score)},
        "hyperparameters": values,
        "run": str(run),
        "val": model.get("val"),
        "test": model.get("test"),
        "completed": sum(r["status"] == "COMPLETED" for r in rows),
        "failed": sum(r["status"] != "COMPLETED" for r in rows),
    }
    (path / "best_hyperparameters.json").write_text(json.dumps(summary, indent=2))
    print(f"Best trial {best.trial_id}: {search.oracle.objective.name} = {best.score:.4g} with {values}")
    print(f"Its model: {run}/ (test figures computed once, after the search); trials in "
          f"{path}/trials.md", file=sys.stdout)
    return {"best_hyperparameters": values, "best": best.trial_id, "objective": float(best.score),
            "run": run, "val": model.get("val"), "test": model.get("test"), "trials": rows}


def _best_execution(paths, objective):
    def score(p):
        history = json.loads(p.read_text())["history"].get(objective.name) or [float("nan")]
        value = max(history) if objective.direction == "max" else min(history)
        return -value if objective.direction == "max" else value

    return min(paths, key=score)
