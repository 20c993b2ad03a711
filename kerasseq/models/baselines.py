"""Baseline forecasters with the same inputs and outputs as `build_weather_model`.

- naive: the last observed value of the target, for every horizon;
- seasonal naive: the value one season (24 h) before the target time;
- linear: one dense layer on the flattened, normalized window;
- dense: the course notes' FC(64) + FC(1) network on the flattened window.

Naive forecasts are `keras.Model`s too, so one evaluation code path serves
all models, and they save and load like any other.
"""

import math
import numbers

import keras

from kerasseq.models import forecast_head as head
from kerasseq.models.forecast_head import WindowValues
from kerasseq.validation import check_positive_int


def _copy_model(name, inputs, lags, targets):
    model = keras.Model(inputs, WindowValues(lags, targets, name="copy")(inputs), name=name)
    return head.compile_forecaster(model)


def build_naive_model(*, num_features, sequence_length=None, horizons=1, output_steps=1, target_index=0):
    """Forecasts the last observed target value for every horizon.

    Args:
        num_features, sequence_length, horizons, output_steps, target_index:
            as in `build_weather_model`.

    Returns:
        A compiled `keras.Model` (nothing to train).

    Example:
    >>> build_naive_model(num_features=6, horizons=[1, 6]).output_shape
    (None, 2, 1)
    """
    owner = "build_naive_model"
    inputs = head.window_input(sequence_length, num_features, owner=owner)
    targets = head.target_positions(target_index, inputs.shape[-1], owner=owner)
    num_outputs = head.count_outputs(horizons, output_steps, owner=owner)
    return _copy_model("naive", inputs, [0] * num_outputs, targets)


def build_seasonal_naive_model(
    *, num_features, sequence_length, horizon_rows, season_rows, sampling_rate=1, target_index=0
):
    """Forecasts the target's value one season before the target time.

    For a target `h` rows after the window's last row, the forecast is the
    value `k * season_rows` rows earlier, with `k = ceil(h / season_rows)`
    the fewest whole seasons that land inside the window.

    Args:
        num_features, sequence_length, target_index: as in `build_weather_model`.
        horizon_rows: row offset of each output time point after the
            window's last row (`pipelines.resolve_horizons`).
        season_rows: rows in one season, e.g. 24 for a daily cycle of hourly data.
        sampling_rate: rows between the window's steps.

    Returns:
        A compiled `keras.Model` (nothing to train).

    Example:
    >>> build_seasonal_naive_model(num_features=6, sequence_length=48,
    ...                            horizon_rows=[1, 6], season_rows=24).output_shape
    (None, 2, 1)
    """
    owner = "build_seasonal_naive_model"
    inputs = head.window_input(sequence_length, num_features, owner=owner)
    sequence_length = inputs.shape[1]
    season_rows = check_positive_int(
        "season_rows", season_rows, owner=owner, example=f"{owner}(..., season_rows=24)"
    )
    sampling_rate = check_positive_int(
        "sampling_rate", sampling_rate, owner=owner, example=f"{owner}(..., sampling_rate=6)"
    )
    targets = head.target_positions(target_index, inputs.shape[-1], owner=owner)
    horizon_rows = list(horizon_rows)
    if not horizon_rows or any(
        isinstance(h, bool) or not isinstance(h, numbers.Integral) or h <= 0 for h in horizon_rows
    ):
        raise ValueError(
            f"{owner} received horizon_rows={horizon_rows!r}. Expected a non-empty list of "
            "positive row offsets, e.g. pipelines.resolve_horizons('24h', index=df.index)."
        )
    lags = []
    for h in horizon_rows:
        back = math.ceil(h / season_rows) * season_rows - h
        if back % sampling_rate or back // sampling_rate > sequence_length - 1:
            raise ValueError(
                f"{owner} received horizon_rows={list(horizon_rows)}, season_rows={season_rows}, "
                f"sampling_rate={sampling_rate} and sequence_length={sequence_length}: the value "
                f"one season before a target {h} rows ahead lies {back} rows before the "
                "window's end, which the window does not contain. Use a longer window or a "
                "season that is a multiple of sampling_rate."
            )
        lags.append(back // sampling_rate)
    return _copy_model("seasonal_naive", inputs, lags, targets)


def _flat_model(name, hidden_units, *, num_features, sequence_length, horizons, output_steps,
                target_index, normalizer, compile, owner):
    if sequence_length is None:
        raise ValueError(
            f"{owner} received sequence_length=None. A model on the flattened window "
            "needs a fixed window length, e.g. sequence_length=120."
        )
    inputs = head.window_input(sequence_length, num_features, owner=owner)
    targets = head.target_positions(target_index, inputs.shape[-1], owner=owner)
    num_outputs = head.count_outputs(horizons, output_steps, owner=owner)
    statistics = None
    if normalizer is not None:
        statistics = head.normalizer_statistics(normalizer, inputs.shape[-1], owner=owner)
    x = keras.layers.Flatten()(head.scale_inputs(inputs, statistics))
    if hidden_units:
        x = keras.layers.Dense(hidden_units, activation="relu", name="hidden")(x)
    outputs = head.forecast_head(x, num_outputs=num_outputs, targets=targets, statistics=statistics)
    model = keras.Model(inputs, outputs, name=name)
    return head.compile_forecaster(model) if compile else model


def build_linear_model(*, num_features, sequence_length, horizons=1, output_steps=1,
                       target_index=0, normalizer=None, compile=True):
    """A linear forecaster: one dense layer on the flattened, normalized window.

    Args:
        As in `build_weather_model`; `sequence_length` is required.

    Returns:
        A `keras.Model`, compiled unless `compile=False`.

    Example:
    >>> build_linear_model(num_features=6, sequence_length=24).output_shape
    (None, 1, 1)
    """
    return _flat_model(
        "linear", 0, num_features=num_features, sequence_length=sequence_length,
        horizons=horizons, output_steps=output_steps, target_index=target_index,
        normalizer=normalizer, compile=compile, owner="build_linear_model",
    )


def build_dense_model(*, num_features, sequence_length, units=64, horizons=1, output_steps=1,
                      target_index=0, normalizer=None, compile=True):
    """The course notes' dense baseline: FC(units, relu) + FC on the flattened window.

    Args:
        units: hidden units (64 in the notes).
        Others as in `build_weather_model`; `sequence_length` is required.

    Returns:
        A `keras.Model`, compiled unless `compile=False`.

    Example:
    >>> build_dense_model(num_features=6, sequence_length=24).output_shape
    (None, 1, 1)
    """
    owner = "build_dense_model"
    units = check_positive_int("units", units, owner=owner, example=f"{owner}(..., units=64)")
    return _flat_model(
        "dense", units, num_features=num_features, sequence_length=sequence_length,
        horizons=horizons, output_steps=output_steps, target_index=target_index,
        normalizer=normalizer, compile=compile, owner=owner,
    )
