"""Chronological train/validation/test splits and the normalizer fit on train.

A time series is split by time, never shuffled: the model is validated and
tested on a future it has not seen, as in Deep Learning with Python.
"""

import math
import numbers

import numpy as np

from pipelines.validation import ArgumentError


def chronological_split(n_or_frame, fractions=(0.5, 0.25, 0.25)):
    """Returns the row counts of consecutive train, validation and test splits.

    `num_train = int(fractions[0] * n)`, `num_val = int(fractions[1] * n)`
    and the test split takes the rest, as in Deep Learning with Python.
    The validation rows start at `num_train`, the test rows at
    `num_train + num_val`: pass these as `start_index` / `end_index`.

    Args:
        n_or_frame: the number of rows, or anything with a length (a
            DataFrame, an array).
        fractions: three positive fractions summing to 1.

    Returns:
        A tuple `(num_train, num_val, num_test)`.

    Example:
    >>> chronological_split(70038)
    (35019, 17509, 17510)
    """
    owner = "chronological_split"
    n = n_or_frame if isinstance(n_or_frame, numbers.Integral) else len(n_or_frame)
    if isinstance(n, bool) or n <= 0:
        raise ValueError(
            f"{owner} received {n_or_frame!r}. Expected a positive number of "
            "rows or a non-empty DataFrame or array."
        )
    fractions = tuple(fractions)
    if (
        len(fractions) != 3
        or not all(isinstance(f, numbers.Real) and f > 0 for f in fractions)
        or not math.isclose(sum(fractions), 1.0, rel_tol=0, abs_tol=1e-6)
    ):
        raise ArgumentError(
            "fractions",
            f"{owner} received fractions={fractions!r}. Expected three "
            "positive fractions (train, validation, test) that sum to 1, "
            "e.g. fractions=(0.5, 0.25, 0.25)."
        )
    num_train = int(fractions[0] * n)
    num_val = int(fractions[1] * n)
    return num_train, num_val, n - num_train - num_val


def fit_normalizer(train_array):
    """Returns a `keras.layers.Normalization` adapted on training rows only.

    Put it first in the model, so that a saved model takes raw values; fit
    on the training rows only, so that validation and test statistics do not
    leak into training.

    Args:
        train_array: array of shape `(num_rows, num_features)` (or a
            DataFrame): the training rows.

    Returns:
        A `keras.layers.Normalization(axis=-1)` layer, adapted.

    Example:
    >>> layer = fit_normalizer(np.array([[0.0, 10.0], [2.0, 30.0]]))
    >>> layer(np.array([[1.0, 20.0]])).numpy().tolist()
    [[0.0, 0.0]]
    """
    values = np.asarray(train_array, dtype="float32")
    if values.ndim != 2 or len(values) < 2:
        raise ValueError(
            f"fit_normalizer received an array of shape {values.shape}. "
            "Expected the training rows as (num_rows, num_features) with at "
            "least 2 rows, e.g. fit_normalizer(data[:num_train])."
        )
    if not np.isfinite(values).all():
        raise ValueError(
            "fit_normalizer received training rows with NaN or infinite "
            "values; the mean and variance would be NaN. Fill or drop them "
            "first (load_csv(..., missing='interpolate'))."
        )
    # Imported here: `chronological_split` is pure Python and must not start
    # TensorFlow (see tests/pipelines/test_init.py).
    import keras

    layer = keras.layers.Normalization(axis=-1)
    layer.adapt(values)
    return layer
