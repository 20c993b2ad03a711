"""Checks that keep a tuning job from reporting results it does not have.

KerasTuner logs an exception inside a trial as a failed trial and carries
on; with TensorFlow and no `tensorboard` package every trial fails that way,
yet `get_best_hyperparameters()` still answers. These checks turn both
cases into errors.
"""

import importlib.util
import math


def require_tensorboard():
    """Raises `keras_tuner.errors.FatalValueError` when `tensorboard` is missing.

    Example:
    >>> require_tensorboard()
    """
    if importlib.util.find_spec("tensorboard") is None:
        from keras_tuner.errors import FatalValueError

        raise FatalValueError(
            "KerasTuner with TensorFlow needs the `tensorboard` package, or every "
            "trial fails. Install it: pip install 'tensorboard==2.21.*' (it comes "
            "with `pip install kerasseq`)."
        )


def check_trials(tuner):
    """Raises `RuntimeError` unless at least one of `tuner`'s trials completed.

    Args:
        tuner: a `keras_tuner.Tuner` after `search()`.

    Returns:
        The number of completed trials.
    """
    # In trial order: a reloaded oracle lists them in no set order.
    trials = sorted(tuner.oracle.trials.values(), key=lambda t: (len(t.trial_id), t.trial_id))
    completed = [t for t in trials if t.status == "COMPLETED" and t.score is not None
                 and math.isfinite(t.score)]
    if not completed:
        failed = [t for t in trials if t.status == "FAILED"]
        first = next((t.message for t in failed if t.message), None)
        # Trials of an older job may have completed with a NaN objective.
        unscored = sum(t.status == "COMPLETED" for t in trials)
        none = (f"none completed with a finite objective ({unscored} ended with NaN)" if unscored
                else "none completed")
        raise RuntimeError(
            f"Tuning produced no result: {len(failed)} of {len(trials)} trials failed and "
            f"{none}. First failure: {last_line(first)}. "
            "Fix that error and run the search again (completed trials are kept in the "
            "tuner's directory unless overwrite=True)."
        )
    return len(completed)


def last_line(message):
    """The last line of a failed trial's message (its traceback ends with
    the error), or a note that there is none."""
    lines = (message or "").strip().splitlines()
    return lines[-1] if lines else "no error message recorded"
