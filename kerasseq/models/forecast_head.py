"""Pieces every weather forecaster shares: its input, its scaling and its output head.

All forecasters (the recurrent model and the baselines) take raw windows
`(batch, sequence_length, num_features)` and return forecasts
`(batch, num_outputs, num_targets)` in the data's own units, so one piece
of code evaluates them all and a saved model needs no preprocessing.
"""

import numbers

import keras
import numpy as np
from keras import ops

from kerasseq.validation import check_positive_int


@keras.saving.register_keras_serializable(package="kerasseq")
class WindowValues(keras.layers.Layer):
    """Forecasts by copying input values: output `k` is the target columns
    `lags[k]` steps before the window's last step.

    Args:
        lags: one non-negative int per output time point (0 = last step).
        targets: positions of the target columns among the features.

    Call arguments:
        windows: `(batch, timesteps, features)`.

    Returns:
        `(batch, len(lags), len(targets))`.

    Example:
    >>> tuple(WindowValues(lags=[0, 0], targets=[1])(np.arange(12.0).reshape(1, 3, 4)).shape)
    (1, 2, 1)
    """

    def __init__(self, lags, targets, **kwargs):
        super().__init__(**kwargs)
        self.lags = [int(lag) for lag in lags]
        self.targets = [int(t) for t in targets]

    def call(self, windows):
        last = ops.shape(windows)[1] - 1
        steps = ops.take(windows, last - ops.convert_to_tensor(self.lags, "int32"), axis=1)
        return ops.take(steps, ops.convert_to_tensor(self.targets, "int32"), axis=2)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.lags), len(self.targets))

    def get_config(self):
        return {**super().get_config(), "lags": self.lags, "targets": self.targets}


def count_outputs(horizons, output_steps, *, owner):
    """Number of forecast time points for `horizons` and `output_steps`.

    Args:
        horizons: one horizon (int rows or time string) or a list of them,
            as given to `pipelines.forecast_dataset`.
        output_steps: consecutive steps per horizon (single horizon only).
        owner: the caller, named in errors.

    Returns:
        The number of predicted time points.
    """
    output_steps = check_positive_int(
        "output_steps", output_steps, owner=owner, example=f"{owner}(..., output_steps=24)"
    )
    many = isinstance(horizons, (list, tuple))
    count = len(horizons) if many else 1
    if count == 0:
        raise ValueError(
            f"{owner} received horizons={horizons!r}. Give at least one "
            "horizon, e.g. horizons=24 or horizons=['1h', '6h', '24h']."
        )
    if many and count > 1 and output_steps > 1:
        raise ValueError(
            f"{owner} received horizons={horizons!r} and output_steps={output_steps}. "
            "output_steps (the next N steps) works with a single horizon; pass "
            "either several horizons or output_steps > 1."
        )
    return count * output_steps


def target_positions(target_index, num_features, *, owner):
    """Validates `target_index` (an int or a list of ints) against `num_features`."""
    positions = list(target_index) if isinstance(target_index, (list, tuple)) else [target_index]
    bad = [
        p for p in positions
        if isinstance(p, bool) or not isinstance(p, numbers.Integral) or not 0 <= p < num_features
    ]
    if not positions or bad:
        raise ValueError(
            f"{owner} received target_index={target_index!r} with num_features={num_features}. "
            "target_index gives the position(s) of the forecast column(s) among the "
            f"input features: ints in [0, {num_features}), e.g. target_index=0."
        )
    return [int(p) for p in positions]


def normalizer_statistics(normalizer, num_features, *, owner):
    """Mean and variance of an adapted `keras.layers.Normalization`, per feature."""
    if not isinstance(normalizer, keras.layers.Normalization):
        raise ValueError(
            f"{owner} received normalizer={normalizer!r}. Expected an adapted "
            "keras.layers.Normalization, e.g. pipelines.fit_normalizer(train_rows)."
        )
    if not normalizer.built:
        raise ValueError(
            f"{owner} received a keras.layers.Normalization that was never adapted. "
            "Call normalizer.adapt(train_rows) first, or use pipelines.fit_normalizer."
        )
    mean = np.asarray(normalizer.mean, dtype="float32").reshape(-1)
    variance = np.asarray(normalizer.variance, dtype="float32").reshape(-1)
    if mean.size != num_features:
        raise ValueError(
            f"{owner} received num_features={num_features}, but the normalizer was "
            f"adapted on {mean.size} features. Adapt it on the same columns the "
            "model reads."
        )
    return mean, variance


def window_input(sequence_length, num_features, *, owner):
    """The model input: windows of raw values."""
    num_features = check_positive_int(
        "num_features", num_features, owner=owner, example=f"{owner}(num_features=14)"
    )
    if sequence_length is not None:
        sequence_length = check_positive_int(
            "sequence_length", sequence_length, owner=owner,
            example=f"{owner}(num_features=14, sequence_length=120)",
        )
    return keras.Input((sequence_length, num_features), name="windows")


def scale_inputs(inputs, statistics):
    """Normalizes the windows with the training statistics (no-op without them)."""
    if statistics is None:
        return inputs
    mean, variance = statistics
    return keras.layers.Normalization(axis=-1, mean=mean, variance=variance, name="scale_inputs")(inputs)


def forecast_head(features, *, num_outputs, targets, statistics, last_values=None):
    """Dense head to `(num_outputs, num_targets)`, rescaled to the targets' units.

    The head predicts in normalized units, where a unit-variance target
    makes the default initialization and learning rate fit; the final
    `Normalization(invert=True)` maps back with the training statistics.
    With `last_values` (the scaled windows), the head predicts the change
    from the last observed target value instead.
    """
    num_targets = len(targets)
    y = keras.layers.Dense(num_outputs * num_targets, name="forecast")(features)
    y = keras.layers.Reshape((num_outputs, num_targets), name="forecast_steps")(y)
    if last_values is not None:
        last = WindowValues([0] * num_outputs, targets, name="last_value")(last_values)
        y = keras.layers.Add(name="from_last_value")([last, y])
    if statistics is None:
        return y
    mean, variance = statistics
    return keras.layers.Normalization(
        axis=-1, mean=mean[targets], variance=variance[targets], invert=True, name="to_units"
    )(y)


LOSSES = ("mse", "mae", "huber")


def compile_forecaster(model, learning_rate=1e-3, loss="mse"):
    """Adam, MSE loss (or `loss`) and MAE metric, as in the Keras weather tutorials."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=loss,
        metrics=[keras.metrics.MeanAbsoluteError(name="mae")],
    )
    return model


def check_windows(model, shape):
    """Raises `ValueError` when windows of `shape` do not fit `model`'s input.

    Args:
        model: a forecaster built by `kerasseq.models`.
        shape: shape of a batch of windows, `(batch, timesteps, features)`.

    Example:
    >>> from kerasseq.models import build_weather_model
    >>> model = build_weather_model(num_features=3, sequence_length=8)
    >>> check_windows(model, (32, 8, 3))
    """
    expected = tuple(model.inputs[0].shape)
    shape = tuple(None if d is None else int(d) for d in shape)
    wrong_rank = len(shape) != 3
    wrong_steps = not wrong_rank and expected[1] is not None and shape[1] != expected[1]
    wrong_features = not wrong_rank and shape[2] != expected[2]
    if wrong_rank or wrong_steps or wrong_features:
        fix = (
            "Pass windows of rank 3, (batch, timesteps, features)." if wrong_rank
            else f"Build the model with num_features={shape[2]}, or select the "
            f"{expected[2]} feature columns it was trained on." if wrong_features
            else f"Use past={expected[1]} (the model's sequence_length) when windowing."
        )
        raise ValueError(
            f"Model {model.name!r} expects windows of shape {expected} "
            f"(batch, timesteps={expected[1]}, features={expected[2]}); received {shape}. {fix}"
        )
