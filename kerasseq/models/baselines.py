"""Baseline forecasters with the same inputs and outputs as `build_weather_model`.

- naive: the last observed value of the target, for every horizon;
- seasonal naive: the value one season (24 h) before the target time;
- linear: one dense layer on the flattened, normalized window, fitted by
  least squares (`fit_least_squares`) in closed form;
- dense: the course notes' FC(64) + FC(1) network on the flattened window.

Naive forecasts are `keras.Model`s too, so one evaluation code path serves
all models, and they save and load like any other.

The linear model can express the naive forecast exactly, so its
least-squares fit is at least as good on the training windows; trained by
Adam instead, it stops far short of that optimum on smooth data.
"""

import math
import numbers

import keras
import numpy as np

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
                target_index, normalizer, compile, owner, residual=False):
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
    scaled = head.scale_inputs(inputs, statistics)
    x = keras.layers.Flatten()(scaled)
    if hidden_units:
        x = keras.layers.Dense(hidden_units, activation="relu", name="hidden")(x)
    outputs = head.forecast_head(x, num_outputs=num_outputs, targets=targets, statistics=statistics,
                                 last_values=scaled if residual else None)
    model = keras.Model(inputs, outputs, name=name)
    return head.compile_forecaster(model) if compile else model


def build_linear_model(*, num_features, sequence_length, horizons=1, output_steps=1,
                       target_index=0, normalizer=None, residual=False, compile=True):
    """A linear forecaster: one dense layer on the flattened, normalized window.

    Fit it with `fit_least_squares(model, train_ds)`: the exact best linear
    forecast of the window, in seconds, where `model.fit` approaches it
    slowly.

    Args:
        residual: forecast the change from the last observed target value.
            The least-squares fit is the same model; a ridge penalty then
            shrinks it toward the naive forecast instead of toward the mean.
        Others as in `build_weather_model`; `sequence_length` is required.

    Returns:
        A `keras.Model`, compiled unless `compile=False`.

    Example:
    >>> build_linear_model(num_features=6, sequence_length=24).output_shape
    (None, 1, 1)
    """
    return _flat_model(
        "linear", 0, num_features=num_features, sequence_length=sequence_length,
        horizons=horizons, output_steps=output_steps, target_index=target_index,
        normalizer=normalizer, compile=compile, owner="build_linear_model", residual=residual,
    )


def _linear_layers(model, owner):
    """The `Flatten`, `forecast` and (or `None`) `to_units` layers of a linear
    forecaster, and its output before `to_units`."""
    layers = [
        layer for layer in getattr(model, "layers", [])
        if not isinstance(layer, keras.layers.InputLayer)
    ]
    kinds = [type(layer) for layer in layers]
    to_units = layers[-1] if len(layers) > 1 and kinds[-1] is keras.layers.Normalization \
        and layers[-1].invert else None
    residual = [layer for layer in layers if layer.name == "from_last_value"]
    allowed = {keras.layers.Flatten: 1, keras.layers.Dense: 1, keras.layers.Reshape: 1,
               keras.layers.Normalization: 2, WindowValues: 1, keras.layers.Add: 1}
    linear = (
        isinstance(model, keras.Model)
        and all(kinds.count(kind) <= count for kind, count in allowed.items())
        and set(kinds) <= set(allowed)
        and kinds.count(keras.layers.Flatten) == kinds.count(keras.layers.Dense) == 1
        and kinds.count(keras.layers.Add) == kinds.count(WindowValues) == len(residual)
        and layers[kinds.index(keras.layers.Dense)].name == "forecast"
        and len(model.inputs) == 1 and len(model.outputs) == 1
    )
    if linear:
        flatten = layers[kinds.index(keras.layers.Flatten)]
        forecast = layers[kinds.index(keras.layers.Dense)]
        linear = forecast.use_bias and forecast.activation is keras.activations.linear \
            and forecast.input is flatten.output
    if not linear:
        names = ", ".join(type(layer).__name__ for layer in getattr(model, "layers", []))
        received = (
            f"model {model.name!r} (layers: {names})" if isinstance(model, keras.Model)
            else f"model={model!r}"
        )
        raise ValueError(
            f"{owner} received {received}. It fits linear forecasters only: the window, "
            "optionally normalized, then Flatten, Dense 'forecast' (no activation), Reshape "
            "and optionally Normalization(invert=True), as build_linear_model(...) returns. "
            "Train other models with model.fit(...)."
        )
    before_units = to_units.input if to_units is not None else model.outputs[0]
    return flatten, forecast, to_units, before_units


def fit_least_squares(model, dataset, *, l2=1e-6, validation_data=None):
    """Sets a linear forecaster's weights to the least-squares fit of `dataset`.

    The `forecast` layer gets the kernel and bias of the best linear forecast
    (least mean squared error) of the scaled targets from the flattened,
    normalized window, in the model's own normalized space: the closed-form
    solution that `model.fit` only approaches. One pass over `dataset`
    accumulates `X^T X` and `X^T Y` in float64, so memory grows with the
    square of the window size (`sequence_length * num_features`), not with
    the number of windows; 35,000 windows of 120 steps and 10 features take
    seconds.

    Smooth series make collinear windows, with many exact least-squares
    solutions; the small ridge `l2` picks the shortest one. It minimizes
    `mse + l2 * |w|^2`, where `w` holds the weights of the window values
    scaled to unit variance (the bias is not penalized); the training MSE,
    in normalized units, thus exceeds the exact minimum by at most
    `l2 * |w|^2` of the exact solution `w` (at most `l2` for the naive
    forecast's weights on normalized data).

    Args:
        model: a model returned by `build_linear_model`, compiled or not.
        dataset: a `tf.data.Dataset` (or any iterable) of `(windows, targets)`
            batches in the data's units, as `pipelines.forecast_dataset`
            yields: windows `(batch, sequence_length, num_features)`,
            targets `(batch, num_outputs, num_targets)`.
        l2: non-negative ridge penalty relative to the window values'
            variance; `0` gives the minimum-norm least-squares solution. A
            list of penalties, with `validation_data`, keeps the one whose
            fit has the lowest validation MSE (all solved from one pass).
        validation_data: `(windows, targets)` batches that choose among
            several `l2`; required with a list.

    Returns:
        A dict: `"mse"`, the fitted model's mean squared error on `dataset`
        in the data's units (what `model.evaluate` reports as `loss`),
        `"num_windows"`, the number of windows fitted, and `"l2"`, the
        penalty used (with a list, also `"val_mse"`: the validation MSE of
        each penalty).

    Example:
    >>> import tensorflow as tf
    >>> windows = np.random.default_rng(0).normal(size=(64, 8, 2)).astype("float32")
    >>> dataset = tf.data.Dataset.from_tensor_slices((windows, windows[:, -1:, :1])).batch(16)
    >>> model = build_linear_model(num_features=2, sequence_length=8)
    >>> fit_least_squares(model, dataset)["num_windows"]
    64
    """
    owner = "fit_least_squares"
    flatten, forecast, to_units, before_units = _linear_layers(model, owner)
    penalties = list(l2) if isinstance(l2, (list, tuple)) else [l2]
    if not penalties or any(
        isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p < math.inf
        for p in penalties
    ):
        raise ValueError(
            f"{owner} received l2={l2!r}. `l2` (the ridge penalty, relative to the window "
            "values' variance) must be a non-negative number, e.g. l2=1e-6, or a list of "
            "them with validation_data."
        )
    if len(penalties) > 1 and validation_data is None:
        raise ValueError(
            f"{owner} received l2={l2!r} and no validation_data. Pass validation_data= "
            "(the validation windows) to choose among several penalties, or one l2."
        )
    output_shape = tuple(model.output_shape[1:])
    # Targets scaled as `to_units` inverts them, max(std, epsilon) as in Keras.
    target_mean, target_std = 0.0, np.ones(output_shape[-1])
    if to_units is not None:
        target_mean = np.asarray(to_units.mean, "float64").reshape(-1)
        target_std = np.maximum(
            np.sqrt(np.asarray(to_units.variance, "float64").reshape(-1)), keras.config.epsilon()
        )
    # With the forecast layer at zero, the output before `to_units` is what
    # the fit adds to: 0, or the last observed value for a residual model.
    forecast.set_weights([np.zeros(w.shape, w.dtype) for w in forecast.get_weights()])
    features = keras.Model(model.inputs, [flatten.output, before_units])

    num_windows, shift = 0, None
    sum_x = sum_y = sum_xx = sum_xy = sum_yy = 0.0
    for batch in dataset:
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise ValueError(
                f"{owner} received a dataset of {type(batch).__name__} elements. Expected "
                "(windows, targets) batches, as pipelines.forecast_dataset(...) yields."
            )
        windows, targets = batch
        head.check_windows(model, windows.shape)
        if tuple(targets.shape[1:]) != output_shape:
            raise ValueError(
                f"{owner} received targets of shape {tuple(targets.shape)} for model "
                f"{model.name!r}, whose forecasts have shape {(None, *output_shape)} "
                "(batch, num_outputs, num_targets). Build the model with the horizons, "
                "output_steps and target_index the dataset was made with."
            )
        x, offset = (np.asarray(v, "float64") for v in features.predict_on_batch(windows))
        y = ((np.asarray(targets, "float64") - target_mean) / target_std - offset).reshape(len(x), -1)
        if shift is None:
            # Sums about the first window, not 0, lose few digits to large means
            # (pressure in hPa) and leave a constant column exactly 0.
            shift = x[0], y[0]
        x, y = x - shift[0], y - shift[1]
        num_windows += len(x)
        sum_x, sum_y = sum_x + x.sum(axis=0), sum_y + y.sum(axis=0)
        sum_xx, sum_xy, sum_yy = sum_xx + x.T @ x, sum_xy + x.T @ y, sum_yy + (y * y).sum(axis=0)
    if not num_windows:
        raise ValueError(
            f"{owner} received an empty dataset. Pass the training windows, e.g. "
            "pipelines.forecast_dataset(train_df, targets=..., past=120)."
        )
    if not (np.isfinite(sum_xx).all() and np.isfinite(sum_xy).all()):
        raise ValueError(
            f"{owner} received windows or targets with NaN or infinite values. Fill or drop "
            "them before windowing (load_csv(..., missing='interpolate'))."
        )

    # Centered sums, so the bias is fitted exactly and not penalized.
    cov_xx = sum_xx - np.outer(sum_x, sum_x) / num_windows
    cov_xy = sum_xy - np.outer(sum_x, sum_y) / num_windows
    sse_at_mean = sum_yy - sum_y**2 / num_windows
    # Columns scaled to unit norm make `l2` scale-free and the system well
    # conditioned; a column that never varies keeps scale 1 and gets weight 0.
    norms = np.sqrt(np.maximum(np.diag(cov_xx), 0.0))
    norms[norms == 0.0] = 1.0
    def solve(penalty):
        gram = cov_xx / np.outer(norms, norms) + penalty * np.eye(len(norms))
        kernel = np.linalg.lstsq(gram, cov_xy / norms[:, None], rcond=None)[0] / norms[:, None]
        bias = shift[1] + sum_y / num_windows - (shift[0] + sum_x / num_windows) @ kernel
        forecast.set_weights([kernel.astype(forecast.kernel.dtype), bias.astype(forecast.bias.dtype)])
        return kernel

    result = {}
    if len(penalties) > 1:
        result["val_mse"] = {}
        for penalty in penalties:
            solve(penalty)
            result["val_mse"][penalty] = _mean_squared_error(model, validation_data)
        penalties = [min(result["val_mse"], key=result["val_mse"].get)]
    kernel = solve(penalties[0])

    sse = sse_at_mean - 2 * (kernel * cov_xy).sum(axis=0) + (kernel * (cov_xx @ kernel)).sum(axis=0)
    sse *= np.broadcast_to(target_std, output_shape).reshape(-1) ** 2
    mse = float(np.maximum(sse, 0.0).sum() / (num_windows * sse.size))
    return {"mse": mse, "num_windows": num_windows, "l2": penalties[0], **result}


def _mean_squared_error(model, dataset):
    total, count = 0.0, 0
    for windows, targets in dataset:
        errors = np.asarray(model.predict_on_batch(windows), "float64") - np.asarray(targets)
        total, count = total + (errors**2).sum(), count + errors.size
    return total / count


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
