"""Sliding windows over a time series, as a `tf.data.Dataset`.

`windowed_dataset` is a drop-in for `keras.utils.timeseries_dataset_from_array`
that gathers a whole batch of windows with one `tf.gather`, where Keras maps
one function per window. `forecast_dataset` builds `(past, future)` pairs for
forecasting from a DataFrame, with horizons in rows or in time ("24h");
`device_forecast_dataset` the same pairs with the windows gathered on the
accelerator by a `WindowGather` layer.
"""

import numbers

import keras
import numpy as np
import tensorflow as tf

from pipelines.validation import ArgumentError
from pipelines.validation import check_non_negative_int, check_positive_int

# With batch_size=None, windows are still gathered by the batch and then
# unbatched: one gather per 1024 windows instead of one per window.
_UNBATCHED_CHUNK = 1024


def windowed_dataset(
    data,
    targets=None,
    *,
    sequence_length,
    sequence_stride=1,
    sampling_rate=1,
    batch_size=128,
    shuffle=False,
    seed=None,
    start_index=None,
    end_index=None,
):
    """Creates a dataset of sliding windows over a time series.

    Takes the arguments of `keras.utils.timeseries_dataset_from_array` and
    yields the same elements: the same windows in the same order when
    `shuffle=False`, the same windows in another order when `shuffle=True`.
    The window starting at row `i` is `data[i], data[i + sampling_rate], ...`,
    `sequence_length` rows in all, and its target is `targets[i]`.

    Differences from Keras, on purpose:
    - If no window fits between `start_index` and `end_index`, this raises
      `ValueError` (Keras returns an empty dataset, which trains on nothing).
    - `end_index=len(data)` is accepted and means the end of the data (Keras
      rejects it, although `end_index` is exclusive).
    - If `targets` is shorter than the windows need, the windows without a
      target are left out (Keras fails while iterating).
    - `shuffle=True` draws a new uniform permutation of all windows at each
      pass (Keras shuffles once, then only within a buffer of
      `8 * batch_size` windows).

    Args:
        data: array or eager tensor of shape `(num_rows, ...)`; axis 0 is time.
        targets: optional array; `targets[i]` is the target of the window
            that starts at row `i`. `None` to yield the windows alone.
        sequence_length: number of rows in each window.
        sequence_stride: rows between the starts of successive windows.
        sampling_rate: rows between successive steps within a window.
        batch_size: windows per batch (the last one may be smaller), or
            `None` to yield single windows.
        shuffle: whether to yield the windows in random order.
        seed: optional int, seed of the shuffle.
        start_index: optional int; rows before it are not used.
        end_index: optional int; rows from it on are not used (exclusive).

    Returns:
        A `tf.data.Dataset` of windows of shape
        `(batch_size, sequence_length, ...)`, or of `(windows, targets)`
        pairs if `targets` is given.

    Example:
    >>> ds = windowed_dataset(np.arange(10), np.arange(10) * 10,
    ...                       sequence_length=3, batch_size=4)
    >>> x, y = next(iter(ds))
    >>> x.numpy().tolist(), y.numpy().tolist()
    ([[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]], [0, 10, 20, 30])
    """
    owner = "windowed_dataset"
    num_rows = len(data)
    sequence_length = check_positive_int(
        "sequence_length", sequence_length, owner=owner,
        example="windowed_dataset(data, sequence_length=120)",
    )
    sequence_stride = _check_step("sequence_stride", sequence_stride, num_rows, owner)
    sampling_rate = _check_step("sampling_rate", sampling_rate, num_rows, owner)
    _check_batch_size(batch_size, owner)
    start, end = _check_index_range(start_index, end_index, num_rows, owner)

    span = (sequence_length - 1) * sampling_rate + 1
    if end - start < span:
        raise ValueError(
            f"{owner} received sequence_length={sequence_length} and "
            f"sampling_rate={sampling_rate}: a window spans {span} rows, but "
            f"only {end - start} rows are available (rows {start} to {end} of "
            f"{num_rows}). Use a shorter sequence_length or a smaller "
            "sampling_rate, or widen start_index/end_index."
        )
    # Starts are counted from `start`, as in Keras, so strided windows line
    # up with Keras' windows and `targets[start + i]` goes with window i.
    num_starts = end - start - span + 1
    if targets is not None:
        num_starts = min(num_starts, len(targets) - start)
        if num_starts <= 0:
            raise ValueError(
                f"{owner} received targets with {len(targets)} rows and "
                f"start_index={start}: no window has a target. `targets[i]` "
                "is the target of the window starting at row i, so targets "
                "needs more than start_index rows."
            )
    return _gather_windows(
        _as_tensor(data),
        None if targets is None else _as_tensor(targets),
        first_start=start,
        num_windows=(num_starts - 1) // sequence_stride + 1,
        stride=sequence_stride,
        input_offsets=np.arange(sequence_length) * sampling_rate,
        target_offsets=0,
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
    )


def forecast_dataset(
    data,
    *,
    targets,
    features=None,
    past,
    sampling_rate=1,
    horizons=1,
    output_steps=1,
    batch_size=128,
    shuffle=False,
    seed=None,
    start_index=None,
    end_index=None,
):
    """Creates a dataset of `(past, future)` pairs for forecasting.

    For each row `t`, `x` holds the `features` at the `past` rows
    `t - (past - 1) * sampling_rate, ..., t - sampling_rate, t` and `y` holds
    the `targets` at rows `t + h` for each horizon `h` (see
    `resolve_horizons`). Every row of a sample, inputs and targets alike,
    lies in `[start_index, end_index)`, so the samples of a validation split
    never look at the rows of the test split that follows it.

    `device_forecast_dataset` yields the same samples with the windows
    gathered on the accelerator instead of in the pipeline.

    To get the windows of Deep Learning with Python's Jena code instead
    (`timeseries_dataset_from_array` on `data[:-delay]`, whose targets may
    lie after `end_index`), add the largest horizon to `end_index`.

    Args:
        data: a pandas DataFrame of numeric columns (with a `DatetimeIndex`
            for time-string horizons), or a 2-D NumPy array.
        targets: the column(s) to forecast: a name or a list of names, or
            column positions if `data` is an array.
        features: the columns of `x`, by name or position; all columns
            (targets included) by default.
        past: number of time steps in `x`.
        sampling_rate: rows between successive steps of `x`.
        horizons: an int, a time string such as `"24h"`, or a list of them:
            how far after the last row of `x` each target lies.
        output_steps: with a single horizon `h`, forecast the `output_steps`
            sampled steps `t + h + k * sampling_rate`, `k < output_steps`.
        batch_size: samples per batch, or `None` for single samples.
        shuffle: whether to yield the samples in random order.
        seed: optional int, seed of the shuffle.
        start_index: optional int; rows before it are not used.
        end_index: optional int; rows from it on are not used (exclusive).

    Returns:
        A `tf.data.Dataset` of `(x, y)` float32 pairs, `x` of shape
        `(batch_size, past, num_features)` and `y` of shape
        `(batch_size, num_horizons, num_targets)`.

    Example:
    >>> data = np.arange(20.0).reshape(10, 2)
    >>> ds = forecast_dataset(data, targets=0, past=3, horizons=[1, 2])
    >>> x, y = next(iter(ds))
    >>> x.shape, y.shape
    (TensorShape([6, 3, 2]), TensorShape([6, 2, 1]))
    >>> y[0].numpy().ravel().tolist()
    [6.0, 8.0]
    """
    plan = _forecast_plan(data, targets, features, past, sampling_rate, horizons, output_steps,
                          batch_size, start_index, end_index, owner="forecast_dataset")
    return _gather_windows(_as_tensor(plan.pop("series")), plan.pop("labels"), batch_size=batch_size,
                           shuffle=shuffle, seed=seed, **plan)


def device_forecast_dataset(
    data,
    *,
    targets,
    features=None,
    past,
    sampling_rate=1,
    horizons=1,
    output_steps=1,
    batch_size=128,
    shuffle=False,
    seed=None,
    start_index=None,
    end_index=None,
    gather=None,
):
    """`forecast_dataset` with the windows gathered where the model runs.

    tf.data runs on the CPU, so with a GPU every batch of windows
    `forecast_dataset` gathers is copied over. Here the series goes to the
    accelerator once (the whole 8-year Jena file is about 23 MB), the
    dataset yields each batch's window start rows (and the targets, a few
    numbers per window), and a `WindowGather` layer put before the model
    gathers the windows on the device. Same arguments, the same windows in
    the same order as `forecast_dataset` (shuffled alike with the same seed),
    and `gather`: the `WindowGather` of another split of the same data to
    reuse (start rows count from the data's first row), so that the series
    is on the device once; by default a new one.

    Returns:
        `(dataset, gather)`: a `tf.data.Dataset` of `(starts, y)` pairs,
        `starts` int64 of shape `(batch_size,)`, and the `WindowGather` layer
        mapping `starts` to the `(batch_size, past, num_features)` windows.

    Example:
    >>> data = np.arange(20.0).reshape(10, 2)
    >>> ds, gather = device_forecast_dataset(data, targets=0, past=3, horizons=[1, 2])
    >>> starts, y = next(iter(ds))
    >>> gather(starts).shape, y.shape
    (TensorShape([6, 3, 2]), TensorShape([6, 2, 1]))
    """
    owner = "device_forecast_dataset"
    plan = _forecast_plan(data, targets, features, past, sampling_rate, horizons, output_steps,
                          batch_size, start_index, end_index, owner=owner)
    series = plan.pop("series")
    if gather is None:
        gather = WindowGather(series, plan["input_offsets"])
    elif tuple(gather.series.shape) != series.shape or \
            gather.offsets.numpy().tolist() != plan["input_offsets"].tolist():
        raise ArgumentError(
            "gather",
            f"{owner} received a gather of a series of shape {tuple(gather.series.shape)} with window "
            f"rows {gather.offsets.numpy().tolist()}, but these windows need a series of shape "
            f"{series.shape} and rows {plan['input_offsets'].tolist()}. Pass the gather made for the "
            "same data, past and sampling_rate, or gather=None.")
    dataset = _gather_windows(None, plan.pop("labels"), batch_size=batch_size, shuffle=shuffle,
                              seed=seed, **plan)
    return dataset, gather


class WindowGather(keras.layers.Layer):
    """Gathers windows from their start rows, out of a series it holds on
    the accelerator (the default device: a GPU when there is one).

    Built by `device_forecast_dataset`; put it before a model that takes
    windows, e.g. `keras.Sequential([gather, model])`, to train on the
    start rows. It holds the series itself and is not saved: save the model
    it feeds.

    Args:
        series: array of shape `(num_rows, num_features)`.
        offsets: the rows of a window after its start row, e.g.
            `np.arange(past) * sampling_rate`.

    Example:
    >>> gather = WindowGather(np.arange(10.0)[:, None], [0, 2])
    >>> gather(np.array([0, 5])).numpy()[..., 0].tolist()
    [[0.0, 2.0], [5.0, 7.0]]
    """

    def __init__(self, series, offsets, **kwargs):
        super().__init__(trainable=False, **kwargs)
        with tf.device(_accelerator()):
            # identity copies the host constant to the device, once.
            self.series = tf.identity(tf.constant(series, dtype=tf.float32))
        self.offsets = tf.constant(np.asarray(offsets), dtype=tf.int64)

    def call(self, starts):
        # Rows of each window: a (batch, past) index, or (past,) for one start.
        rows = tf.expand_dims(tf.cast(starts, tf.int64), -1) + self.offsets
        return tf.gather(self.series, rows)

    def compute_output_shape(self, starts_shape):
        return (*starts_shape, int(self.offsets.shape[0]), int(self.series.shape[1]))

    def get_config(self):
        raise TypeError("WindowGather holds its series and is not saved. Save the model it "
                        "feeds, e.g. model.save(...) rather than keras.Sequential([gather, "
                        "model]).save(...).")


def _accelerator():
    gpus = tf.config.list_logical_devices("GPU")
    return gpus[0].name if gpus else "/CPU:0"


def _forecast_plan(data, targets, features, past, sampling_rate, horizons, output_steps, batch_size,
                   start_index, end_index, *, owner):
    """The checked arguments of `_gather_windows` for a forecast dataset:
    series, labels, first start, window count, offsets."""
    values, index, names, target_cols, feature_cols = _select_columns(
        data, targets, features
    )
    num_rows = len(values)
    past = check_positive_int(
        "past", past, owner=owner,
        example="forecast_dataset(df, targets='T (degC)', past=120)",
    )
    sampling_rate = _check_step("sampling_rate", sampling_rate, num_rows, owner)
    _check_batch_size(batch_size, owner)
    start, end = _check_index_range(start_index, end_index, num_rows, owner)
    offsets = resolve_horizons(
        horizons, index=index, sampling_rate=sampling_rate, output_steps=output_steps
    )
    _check_finite(values, names, data)

    span = (past - 1) * sampling_rate + 1
    if end - start < span:
        raise ArgumentError(
            "past",
            f"{owner} received past={past} and sampling_rate={sampling_rate}: "
            f"a window spans {span} rows, but only {end - start} rows are "
            f"available (rows {start} to {end} of {num_rows}). Use a smaller "
            "past or sampling_rate, or widen start_index/end_index."
        )
    farthest = max(offsets)
    num_windows = end - start - span + 1 - farthest
    if num_windows <= 0:
        raise ArgumentError(
            "horizons",
            f"{owner} received horizons={horizons!r}: the farthest target lies "
            f"{farthest} rows after a window's last row, beyond the end of the "
            f"data for every window (rows {start} to {end} of {num_rows}, "
            f"windows of {span} rows). Use nearer horizons, a smaller past, or "
            "more rows."
        )
    # x's last row is `first + span - 1`, so targets are at
    # `first + span - 1 + offset`.
    return dict(
        series=values[:, feature_cols],
        labels=_as_tensor(values[:, target_cols]),
        first_start=start,
        num_windows=num_windows,
        stride=1,
        input_offsets=np.arange(past) * sampling_rate,
        target_offsets=np.asarray(offsets) + span - 1,
    )




def resolve_horizons(horizons, *, index=None, sampling_rate=1, output_steps=1):
    """Converts forecast horizons to row offsets after a window's last row.

    Args:
        horizons: an int (rows), a time string such as `"24h"` or `"30min"`
            (converted with the regular step of `index`), or a list of them.
        index: the `DatetimeIndex` of the data; needed for time strings.
        sampling_rate: rows between successive steps of the model's input.
        output_steps: with a single horizon `h`, returns the `output_steps`
            offsets `h, h + sampling_rate, h + 2 * sampling_rate, ...`.

    Returns:
        A list of positive ints, one per target time point.

    Example:
    >>> import pandas as pd
    >>> resolve_horizons([1, "2h"], index=pd.date_range("2020", periods=9, freq="30min"))
    [1, 4]
    >>> resolve_horizons(24, sampling_rate=6, output_steps=3)
    [24, 30, 36]
    """
    owner = "resolve_horizons"
    output_steps = check_positive_int(
        "output_steps", output_steps, owner=owner,
        example="resolve_horizons(24, output_steps=6)",
    )
    sampling_rate = check_positive_int(
        "sampling_rate", sampling_rate, owner=owner,
        example="resolve_horizons(24, sampling_rate=6)",
    )
    listed = list(horizons) if isinstance(horizons, (list, tuple)) else [horizons]
    if not listed:
        raise ArgumentError(
            "horizons",
            f"{owner} received horizons={horizons!r}. Expected at least one "
            "horizon, e.g. horizons=24 or horizons=[1, 24]."
        )
    if output_steps > 1 and len(listed) > 1:
        raise ArgumentError(
            "horizons",
            f"{owner} received horizons={horizons!r} with "
            f"output_steps={output_steps}. output_steps forecasts the steps "
            "after a single horizon: pass one horizon (horizons=1, "
            "output_steps=24) or list the horizons and keep output_steps=1."
        )
    rows = [_horizon_rows(h, index, owner) for h in listed]
    return [rows[0] + k * sampling_rate for k in range(output_steps)] if output_steps > 1 else rows


def _horizon_rows(horizon, index, owner):
    if isinstance(horizon, str):
        return _time_to_rows(horizon, index, owner)
    if isinstance(horizon, bool) or not isinstance(horizon, numbers.Integral) or horizon <= 0:
        raise ArgumentError(
            "horizons",
            f"{owner} received horizon {horizon!r}. A horizon is a positive "
            "number of rows after the window's last row, or a time string, "
            "e.g. horizons=24 or horizons='24h'."
        )
    return int(horizon)


def _time_to_rows(horizon, index, owner):
    import pandas as pd

    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        raise ArgumentError(
            "horizons",
            f"{owner} received horizon {horizon!r}, a time, but the data has "
            "no DatetimeIndex to convert it to rows. Pass a DataFrame indexed "
            "by time, or give the horizon in rows, e.g. horizons=24."
        )
    try:
        delta = pd.Timedelta(horizon)
    except ValueError:
        raise ArgumentError(
            "horizons",
            f"{owner} received horizon {horizon!r}, which is not a time "
            "string pandas understands. Use e.g. '24h', '1h' or '30min'."
        ) from None
    # The median step is the regular one: a few gaps in the record do not
    # change it.
    step = pd.Series(index).diff().median()
    rows, rest = divmod(delta, step)
    if rest != pd.Timedelta(0) or rows <= 0:
        raise ArgumentError(
            "horizons",
            f"{owner} received horizon {horizon!r}, which is not a positive "
            f"whole multiple of the data's step ({step}). Use a multiple of "
            "the step, or give the horizon in rows."
        )
    return int(rows)


def _select_columns(data, targets, features):
    """Returns (float32 values, index, names, target and feature positions).

    Only the columns in use are taken, so a DataFrame may keep other
    columns, text included.
    """
    owner = "forecast_dataset"
    is_frame = hasattr(data, "columns")
    if not is_frame:
        data = np.asarray(data)
        if data.ndim != 2:
            raise ValueError(
                f"{owner} received data of shape {data.shape}. Expected a "
                "DataFrame or a 2-D array of shape (num_rows, num_columns)."
            )
    available = list(data.columns) if is_frame else list(range(data.shape[1]))

    def checked(argument, columns):
        columns = list(columns) if isinstance(columns, (list, tuple)) else [columns]
        if not columns:
            raise ValueError(
                f"{owner} received {argument}={columns!r}. Expected at least "
                f"one column, e.g. {argument}={available[0]!r}."
            )
        for column in columns:
            if is_frame and column not in available:
                raise ValueError(
                    f"{owner} received {argument} column {column!r}, which is "
                    f"not a column of the data. Columns: {available}."
                )
            if not is_frame and (
                isinstance(column, bool) or not isinstance(column, numbers.Integral)
                or column not in available
            ):
                raise ValueError(
                    f"{owner} received {argument} column {column!r}. With an "
                    "array as data, columns are positions from 0 to "
                    f"{len(available) - 1}, e.g. {argument}=0."
                )
        return columns

    targets = checked("targets", targets)
    features = available if features is None else checked("features", features)
    used = list(dict.fromkeys(features + targets))
    if is_frame:
        from pandas.api.types import is_numeric_dtype

        text = [c for c in used if not is_numeric_dtype(data[c])]
        if text:
            numeric = [c for c in features if c not in text]
            raise ValueError(
                f"{owner} received a DataFrame whose columns {text} are not "
                f"numeric. Pick numeric features, e.g. features={numeric}, or "
                "drop those columns."
            )
        values = data[used].to_numpy(dtype="float32", na_value=np.nan)
    else:
        values = data[:, used].astype("float32")
    index = data.index if is_frame else None
    return values, index, used, [used.index(c) for c in targets], [used.index(c) for c in features]


def _check_finite(values, names, data):
    source = getattr(data, "attrs", {}).get("source", "the data")
    for column, name in enumerate(names):
        bad = np.flatnonzero(~np.isfinite(values[:, column]))
        if bad.size:
            raise ValueError(
                f"Column {name!r} of {source} has {bad.size} NaN or "
                f"infinite values (first at row {bad[0]}). forecast_dataset() "
                "needs finite values: fill them (e.g. df.interpolate()) or "
                "drop those rows."
            )


def _check_step(name, value, num_rows, owner):
    value = check_positive_int(
        name, value, owner=owner, example=f"{owner}(..., {name}=1)"
    )
    # Keras' condition, kept so both accept the same arguments.
    if value >= num_rows:
        raise ValueError(
            f"{owner} received {name}={value} for data of {num_rows} rows. "
            f"`{name}` must be lower than the number of rows."
        )
    return value


def _check_batch_size(batch_size, owner):
    if batch_size is not None:
        check_positive_int(
            "batch_size", batch_size, owner=owner,
            example=f"{owner}(..., batch_size=128), or batch_size=None for single windows",
        )


def _check_index_range(start_index, end_index, num_rows, owner):
    """Returns `(start, end)`, checked as Keras does, except `end == num_rows`."""
    start = 0
    if start_index is not None:
        start = check_non_negative_int(
            "start_index", start_index, owner=owner, example=f"{owner}(..., start_index=0)"
        )
        if start >= num_rows:
            raise ValueError(
                f"{owner} received start_index={start} for data of {num_rows} "
                "rows. `start_index` must be lower than the number of rows."
            )
    end = num_rows
    if end_index is not None:
        end = check_positive_int(
            "end_index", end_index, owner=owner, example=f"{owner}(..., end_index={num_rows})"
        )
        if end <= start:
            raise ValueError(
                f"{owner} received start_index={start} and end_index={end}. "
                "`end_index` must be higher than `start_index`."
            )
        if end > num_rows:
            raise ValueError(
                f"{owner} received end_index={end} for data of {num_rows} "
                f"rows. `end_index` is exclusive and at most {num_rows}; pass "
                "end_index=None for the end of the data."
            )
    return start, end


def _as_tensor(array):
    # On the host even when a GPU is present: tf.data runs map functions on
    # the CPU, so a GPU copy would only be copied back.
    with tf.device("/CPU:0"):
        return tf.constant(array)


def _gather_windows(
    series, labels, *, first_start, num_windows, stride, input_offsets,
    target_offsets, batch_size, shuffle, seed,
):
    """Dataset of windows `series[first + input_offsets]` (and labels).

    Window `i` starts at row `first = first_start + i * stride`; its label is
    `labels[first + target_offsets]`. Only window numbers go through
    shuffle and batch; the rows of a whole batch are gathered at once.
    With `series=None` the start rows stand for the windows (`WindowGather`
    gathers them later).
    """
    input_offsets = tf.constant(input_offsets, dtype=tf.int64)
    target_offsets = tf.constant(target_offsets, dtype=tf.int64)

    def windows(i):
        first = first_start + i * stride
        x = first if series is None else tf.gather(series, first[:, None] + input_offsets)
        if labels is None:
            return x
        if target_offsets.shape.rank:
            first = first[:, None]
        return x, tf.gather(labels, first + target_offsets)

    starts = tf.data.Dataset.range(num_windows)
    if shuffle:
        # A full buffer of window numbers (8 bytes each) is a uniform
        # permutation and costs far less than shuffling windows.
        starts = starts.shuffle(num_windows, seed=seed)
    dataset = starts.batch(batch_size or _UNBATCHED_CHUNK).map(
        windows, num_parallel_calls=tf.data.AUTOTUNE
    )
    if batch_size is None:
        dataset = dataset.unbatch()
    return dataset.prefetch(tf.data.AUTOTUNE)
