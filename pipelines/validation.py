"""Argument checks shared by pipelines, layers and builders.

Pure Python, so that any module may use them: `pipelines` must not import
`kerasseq` (whose import starts TensorFlow), and `kerasseq.validation`
re-exports these. Every check raises `ArgumentError` (a `ValueError`) with
one message shape: who received what, what was expected, and an example of
a valid call, so errors read alike across the toolkit.
"""

import numbers


class ArgumentError(ValueError):
    """A `ValueError` about one keyword argument, named in `argument`.

    Messages name the keyword (`units=0`), as the caller typed it in
    Python; the `kerasseq` command maps `argument` to its flag (`--units`)
    instead of rewriting the message.

    Args:
        argument: the keyword the error is about, e.g. `"units"`.
        message: the error message.

    Example:
    >>> error = ArgumentError("units", "GRUCell received units=0. ...")
    >>> error.argument, isinstance(error, ValueError)
    ('units', True)
    """

    def __init__(self, argument, message):
        super().__init__(message)
        self.argument = argument


def check_positive_int(name, value, *, owner, example):
    """Returns `value` if it is a positive integer, else raises `ArgumentError`.

    Args:
        name: argument name, e.g. `"units"`.
        value: the value received.
        owner: who received it, e.g. `"GRUCell"`.
        example: a valid call to quote, e.g. `"GRUCell(units=32)"`.

    Returns:
        `value` as a Python `int`.

    Example:
    >>> check_positive_int("units", 4, owner="GRUCell", example="GRUCell(units=4)")
    4
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ArgumentError(
            name,
            f"{owner} received {name}={value!r}. `{name}` must be a positive "
            f"integer, e.g. {example}."
        )
    return int(value)


def check_non_negative_int(name, value, *, owner, example):
    """Like `check_positive_int`, but admits 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ArgumentError(
            name,
            f"{owner} received {name}={value!r}. `{name}` must be a "
            f"non-negative integer, e.g. {example}."
        )
    return int(value)


def check_rate(name, value, *, owner):
    """Returns `value` as a float in [0, 1), else raises `ArgumentError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
        raise ArgumentError(
            name,
            f"{owner} received {name}={value!r}. `{name}` is a fraction of "
            f"units to drop and must be a float in [0, 1), e.g. {name}=0.2."
        )
    return float(value)


def check_one_of(name, value, choices, *, owner):
    """Returns `value` if it is one of `choices`, else raises `ArgumentError`."""
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ArgumentError(
            name,
            f"{owner} received {name}={value!r}. Expected one of {listed}."
        )
    return value
