"""Tests for the baseline forecasters, `WindowValues` and `fit_least_squares`."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasseq.models import WindowValues
from kerasseq.models import build_dense_model
from kerasseq.models import build_linear_model
from kerasseq.models import build_naive_model
from kerasseq.models import build_seasonal_naive_model
from kerasseq.models.baselines import fit_least_squares

# Two windows of 4 steps and 3 features: window 0 holds 0..11, window 1 12..23.
WINDOWS = np.arange(24.0, dtype="float32").reshape(2, 4, 3)


def test_naive_repeats_the_last_target_value():
    model = build_naive_model(num_features=3, horizons=[1, 6, 24], target_index=1)
    assert model.output_shape == (None, 3, 1)
    # Last steps are [9, 10, 11] and [21, 22, 23]; the target is column 1.
    np.testing.assert_array_equal(model(WINDOWS), [[[10.0]] * 3, [[22.0]] * 3])
    assert not model.trainable_weights


def test_naive_with_output_steps_and_several_targets():
    model = build_naive_model(num_features=3, horizons=24, output_steps=2, target_index=[2, 0])
    np.testing.assert_array_equal(
        model(WINDOWS), [[[11.0, 9.0], [11.0, 9.0]], [[23.0, 21.0], [23.0, 21.0]]]
    )


def test_naive_validates_like_the_recurrent_model():
    with pytest.raises(ValueError, match=re.escape("build_naive_model received target_index=3 with num_features=3")):
        build_naive_model(num_features=3, target_index=3)
    with pytest.raises(ValueError, match=re.escape("build_naive_model received horizons=[]")):
        build_naive_model(num_features=3, horizons=[])


def test_seasonal_naive_lags():
    model = build_seasonal_naive_model(
        num_features=1, sequence_length=48, horizon_rows=[1, 6, 24, 25], season_rows=24
    )
    # The same hour on the latest day inside the window: t+1-24 = t-23,
    # t+6-24 = t-18, t+24-24 = t and t+25-48 = t-23.
    assert model.get_layer("copy").lags == [23, 18, 0, 23]
    x = np.arange(48.0, dtype="float32").reshape(1, 48, 1)
    np.testing.assert_array_equal(model(x), [[[24.0], [29.0], [47.0], [24.0]]])


def test_seasonal_naive_lags_in_sampled_steps():
    # Hourly steps over 10-minute rows: a day is 144 rows; a target 6 rows
    # (1 h) ahead is matched by the row 138 rows (23 steps) before the end.
    model = build_seasonal_naive_model(
        num_features=1, sequence_length=24, horizon_rows=[6, 144], season_rows=144, sampling_rate=6
    )
    assert model.get_layer("copy").lags == [23, 0]


@pytest.mark.parametrize(
    "keywords, message",
    [
        (dict(sequence_length=12, horizon_rows=[1], season_rows=24),
         "build_seasonal_naive_model received horizon_rows=[1], season_rows=24, sampling_rate=1 "
         "and sequence_length=12: the value one season before a target 1 rows ahead lies 23 rows "
         "before the window's end, which the window does not contain. Use a longer window or a "
         "season that is a multiple of sampling_rate."),
        (dict(sequence_length=48, horizon_rows=[1], season_rows=24, sampling_rate=6),
         "sampling_rate=6 and sequence_length=48: the value one season before a target 1 rows "
         "ahead lies 23 rows before the window's end"),
        (dict(sequence_length=48, horizon_rows=[1], season_rows=24, sampling_rate=0),
         "build_seasonal_naive_model received sampling_rate=0. `sampling_rate` must be a "
         "positive integer"),
        (dict(sequence_length=48, horizon_rows=[1], season_rows=0),
         "build_seasonal_naive_model received season_rows=0. `season_rows` must be a positive "
         "integer"),
        (dict(sequence_length=48, horizon_rows=[], season_rows=24),
         "build_seasonal_naive_model received horizon_rows=[]. Expected a non-empty list of "
         "positive row offsets"),
        (dict(sequence_length=48, horizon_rows=[6, -1], season_rows=24),
         "build_seasonal_naive_model received horizon_rows=[6, -1]."),
    ],
    ids=["outside_window", "not_a_sampled_step", "sampling_rate", "season_rows",
         "no_horizon", "negative_horizon"],
)
def test_seasonal_naive_errors(keywords, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build_seasonal_naive_model(num_features=1, **keywords)


@pytest.mark.parametrize(
    "build, owner",
    [(build_linear_model, "build_linear_model"), (build_dense_model, "build_dense_model")],
)
def test_flat_models_need_a_sequence_length(build, owner):
    message = (
        f"{owner} received sequence_length=None. A model on the flattened window needs a fixed "
        "window length, e.g. sequence_length=120."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        build(num_features=3, sequence_length=None)
    with pytest.raises(TypeError):
        build(num_features=3)


def test_linear_and_dense_shapes():
    linear = build_linear_model(num_features=3, sequence_length=4, horizons=[1, 2])
    dense = build_dense_model(num_features=3, sequence_length=4, units=5, horizons=[1, 2])
    assert linear.output_shape == dense.output_shape == (None, 2, 1)
    # One weight per window value and output: 4 * 3 inputs, 2 outputs.
    assert linear.count_params() == 4 * 3 * 2 + 2
    assert dense.get_layer("hidden").units == 5
    assert dense.count_params() == (4 * 3 * 5 + 5) + (5 * 2 + 2)
    with pytest.raises(ValueError, match=re.escape("build_dense_model received units=0")):
        build_dense_model(num_features=3, sequence_length=4, units=0)


def test_window_values_config_round_trip():
    layer = WindowValues(lags=[2, 0], targets=[1, 0], name="copy")
    config = layer.get_config()
    assert config["lags"] == [2, 0] and config["targets"] == [1, 0]
    clone = WindowValues.from_config(config)
    assert clone.lags == [2, 0] and clone.targets == [1, 0] and clone.name == "copy"
    # Window 0's steps 1 and 3 (2 and 0 before the last), columns 1 and 0.
    expected = [[[4.0, 3.0], [10.0, 9.0]], [[16.0, 15.0], [22.0, 21.0]]]
    np.testing.assert_array_equal(clone(WINDOWS), expected)
    np.testing.assert_array_equal(layer(WINDOWS), expected)
    assert layer.compute_output_shape((None, 4, 3)) == (None, 2, 2)


def _normalizer(rows):
    layer = keras.layers.Normalization(axis=-1)
    layer.adapt(rows)
    return layer


def _dataset(windows, targets, batch_size=16):
    return tf.data.Dataset.from_tensor_slices((windows, targets)).batch(batch_size)


# 60 windows of 4 steps and 3 features, far from 0 mean and unit variance,
# so that the model's scaling matters.
RANDOM_WINDOWS = (np.random.default_rng(0).normal(size=(60, 4, 3)) * [1.0, 3.0, 10.0]
                  + [5.0, -20.0, 1000.0]).astype("float32")


def _linear_targets(windows, num_outputs, num_targets, noise):
    """Targets that are a fixed affine function of the window, plus noise."""
    rng = np.random.default_rng(1)
    flat = windows.reshape(len(windows), -1).astype("float64")
    kernel = rng.normal(size=(flat.shape[1], num_outputs * num_targets))
    targets = flat @ kernel + rng.normal(size=num_outputs * num_targets) * 10
    targets += noise * rng.normal(size=targets.shape)
    return targets.reshape(-1, num_outputs, num_targets).astype("float32")


@pytest.mark.parametrize("normalized", [True, False], ids=["normalizer", "raw"])
@pytest.mark.parametrize(
    "outputs",
    [dict(horizons=[1, 6, 24], target_index=1), dict(horizons=24, output_steps=2, target_index=[2, 0])],
    ids=["horizons", "output_steps"],
)
def test_least_squares_reproduces_a_linear_function(normalized, outputs):
    normalizer = _normalizer(RANDOM_WINDOWS.reshape(-1, 3)) if normalized else None
    model = build_linear_model(num_features=3, sequence_length=4, normalizer=normalizer, **outputs)
    num_outputs, num_targets = model.output_shape[1:]
    targets = _linear_targets(RANDOM_WINDOWS, num_outputs, num_targets, noise=0.0)
    result = fit_least_squares(model, _dataset(RANDOM_WINDOWS, targets))
    assert result["num_windows"] == 60
    assert result["mse"] < 1e-6
    np.testing.assert_allclose(model(RANDOM_WINDOWS), targets, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("normalized", [True, False], ids=["normalizer", "raw"])
def test_least_squares_matches_numpy_lstsq(normalized):
    normalizer = _normalizer(RANDOM_WINDOWS.reshape(-1, 3)) if normalized else None
    model = build_linear_model(
        num_features=3, sequence_length=4, horizons=[1, 2], target_index=[0, 2], normalizer=normalizer
    )
    targets = _linear_targets(RANDOM_WINDOWS, 2, 2, noise=5.0)
    dataset = _dataset(RANDOM_WINDOWS, targets)
    result = fit_least_squares(model, dataset, l2=0.0)

    # The same problem in NumPy: scaled windows and targets, a bias column.
    windows, targets = RANDOM_WINDOWS.astype("float64"), targets.astype("float64")
    if normalized:
        mean = np.asarray(normalizer.mean).reshape(-1)
        std = np.sqrt(np.asarray(normalizer.variance).reshape(-1))
        windows = (windows - mean) / std
        targets = (targets - mean[[0, 2]]) / std[[0, 2]]
    design = np.concatenate([windows.reshape(60, -1), np.ones((60, 1))], axis=1)
    solution, residuals = np.linalg.lstsq(design, targets.reshape(60, -1), rcond=None)[:2]
    kernel, bias = model.get_layer("forecast").get_weights()
    np.testing.assert_allclose(kernel, solution[:-1], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bias, solution[-1], rtol=1e-4, atol=1e-4)
    # The reported MSE is the model's, in the data's units.
    loss = model.evaluate(dataset, verbose=0)[0]
    np.testing.assert_allclose(result["mse"], loss, rtol=1e-4)
    if not normalized:
        np.testing.assert_allclose(result["mse"], residuals.sum() / targets.size, rtol=1e-6)


def test_least_squares_finds_the_naive_forecast():
    # A random walk, a constant column and noise; the targets are the last
    # value of column 0 for each of 3 horizons, which the naive model gives.
    rng = np.random.default_rng(2)
    rows = np.stack(
        [rng.normal(size=300).cumsum() + 10, np.full(300, 7.0), rng.normal(size=300)], axis=-1
    ).astype("float32")
    windows = np.lib.stride_tricks.sliding_window_view(rows, 8, axis=0).transpose(0, 2, 1)
    train, test = windows[:200], windows[200:]
    naive = build_naive_model(num_features=3, horizons=[1, 6, 24], target_index=0)
    model = build_linear_model(
        num_features=3, sequence_length=8, horizons=[1, 6, 24], normalizer=_normalizer(rows[:200])
    )
    result = fit_least_squares(model, _dataset(train, naive(train)))
    assert result["mse"] < 1e-8
    np.testing.assert_allclose(model(test), naive(test), atol=1e-4)
    # Window and target share column 0's statistics, so in normalized units
    # every output copies the last step of column 0: weight 1 there, 0 elsewhere
    # (the constant column included), no bias.
    kernel, bias = model.get_layer("forecast").get_weights()
    expected = np.zeros((8, 3, 3))
    expected[-1, 0] = 1.0
    np.testing.assert_allclose(kernel.reshape(8, 3, 3), expected, atol=1e-4)
    np.testing.assert_allclose(bias, 0.0, atol=1e-4)


def test_least_squares_beats_the_naive_forecast_on_smooth_data():
    # Collinear windows of a smooth series: the default ridge must still
    # find a forecast better than the naive one, on windows it never saw.
    steps = np.arange(1200)
    rows = np.stack([np.sin(steps / 20) * 5 + 15, np.cos(steps / 35)], axis=-1).astype("float32")
    rows[:, 0] += np.random.default_rng(3).normal(size=1200).astype("float32") * 0.01
    windows = np.lib.stride_tricks.sliding_window_view(rows[:-6], 24, axis=0).transpose(0, 2, 1)
    targets = rows[24 + 5:, None, :1]
    train, test = _dataset(windows[:900], targets[:900]), _dataset(windows[900:], targets[900:])
    model = build_linear_model(num_features=2, sequence_length=24, horizons=6,
                               normalizer=_normalizer(rows[:900]))
    fit_least_squares(model, train)
    linear_mse = model.evaluate(test, verbose=0)[0]
    naive_mse = build_naive_model(num_features=2, horizons=6).evaluate(test, verbose=0)[0]
    assert linear_mse < naive_mse / 100


def test_least_squares_rejects_other_models():
    dense = build_dense_model(num_features=3, sequence_length=4)
    message = (
        "fit_least_squares received model 'dense' (layers: InputLayer, Flatten, Dense, Dense, "
        "Reshape). It fits linear forecasters only: the window, optionally normalized, then "
        "Flatten, Dense 'forecast' (no activation), Reshape and optionally "
        "Normalization(invert=True), as build_linear_model(...) returns. Train other models "
        "with model.fit(...)."
    )
    dataset = _dataset(WINDOWS, np.zeros((2, 1, 1), "float32"))
    with pytest.raises(ValueError, match=re.escape(message)):
        fit_least_squares(dense, dataset)
    naive_message = "fit_least_squares received model 'naive' (layers: InputLayer, WindowValues)"
    with pytest.raises(ValueError, match=re.escape(naive_message)):
        fit_least_squares(build_naive_model(num_features=3), dataset)


@pytest.mark.parametrize(
    "targets, keywords, message",
    [
        (np.zeros((2, 2, 1), "float32"), {},
         "fit_least_squares received targets of shape (2, 2, 1) for model 'linear', whose "
         "forecasts have shape (None, 1, 1) (batch, num_outputs, num_targets). Build the model "
         "with the horizons, output_steps and target_index the dataset was made with."),
        (np.zeros((2, 1, 1), "float32"), dict(l2=-1.0),
         "fit_least_squares received l2=-1.0. `l2` (the ridge penalty, relative to the window "
         "values' variance) must be a non-negative number, e.g. l2=1e-6, or a list of them "
         "with validation_data."),
        (np.zeros((2, 1, 1), "float32"), dict(l2=[0.1, 1.0]),
         "fit_least_squares received l2=[0.1, 1.0] and no validation_data. Pass "
         "validation_data= (the validation windows) to choose among several penalties, or one l2."),
        (np.zeros((0, 1, 1), "float32"), {},
         "fit_least_squares received an empty dataset."),
    ],
    ids=["targets_shape", "l2", "l2_list", "empty"],
)
def test_least_squares_errors(targets, keywords, message):
    model = build_linear_model(num_features=3, sequence_length=4)
    windows = WINDOWS[:len(targets)]
    with pytest.raises(ValueError, match=re.escape(message)):
        fit_least_squares(model, _dataset(windows, targets), **keywords)


# Never trained by an optimizer, the model saves Adam unbuilt; Keras warns.
@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_least_squares_model_saves_and_loads(tmp_path):
    model = build_linear_model(num_features=3, sequence_length=4, horizons=[1, 2],
                               normalizer=_normalizer(RANDOM_WINDOWS.reshape(-1, 3)))
    targets = _linear_targets(RANDOM_WINDOWS, 2, 1, noise=1.0)
    fit_least_squares(model, _dataset(RANDOM_WINDOWS, targets))
    path = tmp_path / "linear.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model) and loaded.name == "linear"
    np.testing.assert_allclose(loaded(RANDOM_WINDOWS), model(RANDOM_WINDOWS), rtol=1e-6)
    # Still compiled: the loaded model evaluates as the fitted one does.
    np.testing.assert_allclose(
        loaded.evaluate(_dataset(RANDOM_WINDOWS, targets), verbose=0),
        model.evaluate(_dataset(RANDOM_WINDOWS, targets), verbose=0), rtol=1e-5,
    )


def test_least_squares_chooses_the_penalty_on_validation():
    # Few noisy windows of many values: the exact fit overfits, a ridge does not.
    rng = np.random.default_rng(3)
    windows = rng.normal(size=(120, 30, 2)).astype("float32")
    targets = (windows[:, -1:, :1] + rng.normal(scale=0.5, size=(120, 1, 1))).astype("float32")
    train = tf.data.Dataset.from_tensor_slices((windows[:60], targets[:60])).batch(16)
    val = tf.data.Dataset.from_tensor_slices((windows[60:], targets[60:])).batch(16)
    model = build_linear_model(num_features=2, sequence_length=30)
    result = fit_least_squares(model, train, l2=[0.0, 1.0, 100.0], validation_data=val)
    assert set(result["val_mse"]) == {0.0, 1.0, 100.0}
    assert result["l2"] == min(result["val_mse"], key=result["val_mse"].get)
    assert result["val_mse"][result["l2"]] < result["val_mse"][0.0]
    errors = np.concatenate([model.predict_on_batch(x) - y for x, y in val])
    np.testing.assert_allclose((errors**2).mean(), result["val_mse"][result["l2"]], rtol=1e-5)


def test_residual_linear_model_fits_the_same_and_shrinks_toward_naive():
    rng = np.random.default_rng(4)
    series = np.cumsum(rng.normal(size=(400, 2)), axis=0).astype("float32")
    windows = np.stack([series[i:i + 10] for i in range(380)])
    targets = series[np.arange(380) + 12, None, :1]
    data = tf.data.Dataset.from_tensor_slices((windows, targets)).batch(64)
    normalizer = keras.layers.Normalization(axis=-1)
    normalizer.adapt(series)
    plain, residual = (build_linear_model(num_features=2, sequence_length=10, normalizer=normalizer,
                                          residual=r) for r in (False, True))
    fit_least_squares(plain, data, l2=0.0)
    fit_least_squares(residual, data, l2=0.0)
    # The same family of models: the same exact fit.
    np.testing.assert_allclose(residual.predict_on_batch(windows), plain.predict_on_batch(windows),
                               rtol=1e-4, atol=1e-3)
    # A penalty too large for any weight leaves the residual model at the
    # naive forecast plus the mean change (the bias is not penalized).
    fit_least_squares(residual, data, l2=1e9)
    naive = build_naive_model(num_features=2, sequence_length=10)
    change = residual.predict_on_batch(windows) - naive.predict_on_batch(windows)
    mean_change = (targets - windows[:, -1:, :1]).mean()
    np.testing.assert_allclose(change, mean_change, atol=1e-3)
