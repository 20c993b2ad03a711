"""Tests for `build_weather_model`, the shared forecast head and `check_windows`."""

import re

import keras
import numpy as np
import pytest

import kerasseq
from kerasseq.models import build_dense_model
from kerasseq.models import build_linear_model
from kerasseq.models import build_naive_model
from kerasseq.models import build_seasonal_naive_model
from kerasseq.models import build_weather_model
from kerasseq.models import check_windows

# Training rows far from zero mean and unit variance: a forecast that skips
# the inverse normalization is off by hundreds.
MEANS = np.array([10.0, 1000.0, -50.0], dtype="float32")
STDS = np.array([1.0, 100.0, 5.0], dtype="float32")


def train_rows(num_rows=64, seed=0):
    rng = np.random.default_rng(seed)
    return (MEANS + STDS * rng.normal(size=(num_rows, 3))).astype("float32")


def adapted_normalizer(rows):
    normalizer = keras.layers.Normalization(axis=-1)
    normalizer.adapt(rows)
    return normalizer


def windows(batch=2, timesteps=6, seed=1):
    rng = np.random.default_rng(seed)
    return (MEANS + STDS * rng.normal(size=(batch, timesteps, 3))).astype("float32")


@pytest.mark.parametrize(
    "keywords, shape",
    [
        ({}, (None, 1, 1)),
        ({"horizons": 24}, (None, 1, 1)),
        ({"horizons": [1, 6, 24]}, (None, 3, 1)),
        ({"horizons": ["1h", "6h"]}, (None, 2, 1)),
        ({"horizons": 24, "output_steps": 6}, (None, 6, 1)),
        ({"horizons": [24], "output_steps": 3}, (None, 3, 1)),
        ({"target_index": [0, 2]}, (None, 1, 2)),
    ],
)
def test_output_shapes(keywords, shape):
    model = build_weather_model(num_features=3, units=4, **keywords)
    assert model.output_shape == shape
    assert model(windows()).shape == (2, *shape[1:])


@pytest.mark.parametrize(
    "cell, layer_class, reset_after",
    [
        ("elman", kerasseq.layers.ElmanRNN, None),
        ("gru", kerasseq.layers.GRU, True),
        ("gru_reset_before", kerasseq.layers.GRU, False),
        ("lstm", kerasseq.layers.LSTM, None),
    ],
)
def test_named_cells_use_kerasseq_layers(cell, layer_class, reset_after):
    model = build_weather_model(num_features=3, cell=cell, units=4, depth=2)
    recurrent = [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]
    assert [type(layer) for layer in recurrent] == [layer_class, layer_class]
    assert [layer.return_sequences for layer in recurrent] == [True, False]
    assert all(layer.cell.units == 4 for layer in recurrent)
    if reset_after is not None:
        assert all(layer.cell.reset_after is reset_after for layer in recurrent)
    assert model.name == f"{cell}_forecaster"


def test_cell_instance_is_copied_per_layer():
    cell = kerasseq.layers.LSTMCell(4)
    model = build_weather_model(num_features=3, cell=cell, depth=2)
    recurrent = [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]
    assert len(recurrent) == 2
    first, second = (layer.cell for layer in recurrent)
    assert type(first) is type(second) is kerasseq.layers.LSTMCell
    assert first is not second and cell not in (first, second)
    assert first.units == second.units == 4
    # Independent weights: the second layer reads 4 units, the first 3 features.
    assert first.kernel.shape == (3, 16) and second.kernel.shape == (4, 16)
    assert not cell.built
    assert model.name == "lstmcell_forecaster"
    assert model(windows()).shape == (2, 1, 1)


def test_bidirectional_wraps_each_layer():
    model = build_weather_model(num_features=3, units=4, depth=2, bidirectional=True)
    wrapped = [layer for layer in model.layers if isinstance(layer, keras.layers.Bidirectional)]
    assert len(wrapped) == 2
    assert all(type(layer.forward_layer) is kerasseq.layers.GRU for layer in wrapped)
    assert all(type(layer.backward_layer) is kerasseq.layers.GRU for layer in wrapped)
    # Forward and backward states are concatenated: 2 * units into the head.
    assert model.get_layer("forecast").kernel.shape == (8, 1)


def test_compiled_by_default_and_not_with_compile_false():
    model = build_weather_model(num_features=3, units=4)
    assert model.compiled and isinstance(model.optimizer, keras.optimizers.Adam)
    assert model.loss == "mse"
    assert not build_weather_model(num_features=3, units=4, compile=False).compiled


def test_keyword_only():
    with pytest.raises(TypeError):
        build_weather_model(3)


@pytest.mark.parametrize(
    "keywords, message",
    [
        ({"num_features": 0}, "build_weather_model received num_features=0. `num_features` must be a positive integer"),
        ({"units": -1}, "build_weather_model received units=-1. `units` must be a positive integer, e.g. build_weather_model(..., units=32)."),
        ({"depth": 0}, "build_weather_model received depth=0. `depth` must be a positive integer"),
        ({"dropout": 1.5}, "build_weather_model received dropout=1.5. `dropout` is a fraction of units to drop and must be a float in [0, 1)"),
        ({"cell": "rnn"}, "build_weather_model received cell='rnn'. Expected one of 'elman', 'elman_relu', 'gru', 'gru_reset_before', 'lstm'."),
        ({"cell": 3}, "build_weather_model received cell=3. Expected one of ['elman', 'elman_relu', 'gru', 'gru_reset_before', 'lstm'] or a recurrent cell instance"),
        ({"target_index": 3}, "build_weather_model received target_index=3 with num_features=3. target_index gives the position(s) of the forecast column(s) among the input features: ints in [0, 3)"),
        ({"horizons": []}, "build_weather_model received horizons=[]. Give at least one horizon"),
        ({"horizons": [1, 6], "output_steps": 3}, "build_weather_model received horizons=[1, 6] and output_steps=3. output_steps (the next N steps) works with a single horizon"),
        ({"normalizer": keras.layers.Normalization()}, "build_weather_model received a keras.layers.Normalization that was never adapted. Call normalizer.adapt(train_rows) first"),
        ({"normalizer": "mean"}, "build_weather_model received normalizer='mean'. Expected an adapted keras.layers.Normalization"),
    ],
)
def test_invalid_arguments(keywords, message):
    keywords = {"num_features": 3, **keywords}
    with pytest.raises(ValueError, match=re.escape(message)):
        build_weather_model(**keywords)


def test_normalizer_on_other_features():
    normalizer = adapted_normalizer(np.zeros((4, 4), dtype="float32") + np.arange(4.0))
    message = (
        "build_weather_model received num_features=3, but the normalizer was adapted on 4 "
        "features. Adapt it on the same columns the model reads."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        build_weather_model(num_features=3, normalizer=normalizer)


def zero_head(model):
    forecast = model.get_layer("forecast")
    forecast.set_weights([np.zeros_like(w) for w in forecast.get_weights()])
    return model


@pytest.mark.parametrize(
    "build",
    [
        lambda n: build_weather_model(num_features=3, units=4, target_index=1, normalizer=n,
                                      residual=False),
        lambda n: build_linear_model(num_features=3, sequence_length=6, target_index=1, normalizer=n),
        lambda n: build_dense_model(num_features=3, sequence_length=6, units=4, target_index=1,
                                    normalizer=n),
    ],
    ids=["gru", "linear", "dense"],
)
def test_zero_head_forecasts_the_training_mean(build):
    # A zero head predicts 0 in normalized units: the target's training mean
    # once mapped back, which proves the output is in the data's units.
    rows = train_rows()
    model = zero_head(build(adapted_normalizer(rows)))
    forecast = model(windows()).numpy()
    assert forecast.shape == (2, 1, 1)
    np.testing.assert_allclose(forecast, rows[:, 1].mean(), rtol=1e-6)
    assert abs(forecast[0, 0, 0] - 1000.0) < 50.0


def test_zero_head_forecasts_each_targets_mean():
    rows = train_rows()
    model = zero_head(
        build_weather_model(num_features=3, units=4, target_index=[2, 0], horizons=[1, 6],
                            normalizer=adapted_normalizer(rows), residual=False)
    )
    expected = np.broadcast_to(rows.mean(axis=0)[[2, 0]], (2, 2, 2))
    np.testing.assert_allclose(model(windows()), expected, rtol=1e-5)


def test_inputs_are_normalized_with_the_training_statistics():
    # Shifting the windows by the training mean and scaling by the standard
    # deviation must leave the forecast (in normalized units) unchanged.
    rows = train_rows()
    scaled = build_weather_model(num_features=3, units=4, normalizer=adapted_normalizer(rows))
    plain = build_weather_model(num_features=3, units=4)
    plain.set_weights(scaled.get_weights())
    x = windows()
    mean, std = rows.mean(axis=0), rows.std(axis=0)
    expected = plain((x - mean) / std).numpy() * std[0] + mean[0]
    np.testing.assert_allclose(scaled(x), expected, rtol=1e-4)


SAVED_MODELS = {
    "gru": lambda n: build_weather_model(num_features=3, sequence_length=6, units=4,
                                         horizons=[1, 2], normalizer=n),
    "lstm_cell": lambda n: build_weather_model(num_features=3, cell=kerasseq.layers.LSTMCell(4),
                                               depth=2, normalizer=n),
    "naive": lambda n: build_naive_model(num_features=3, horizons=[1, 2], target_index=1),
    "seasonal_naive": lambda n: build_seasonal_naive_model(
        num_features=3, sequence_length=6, horizon_rows=[1, 5], season_rows=3),
    "linear": lambda n: build_linear_model(num_features=3, sequence_length=6, normalizer=n),
    "dense": lambda n: build_dense_model(num_features=3, sequence_length=6, units=4, normalizer=n),
}


# Compiled but never trained, the models save an unbuilt optimizer.
@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
@pytest.mark.parametrize("name", list(SAVED_MODELS))
def test_save_and_load_round_trip(name, tmp_path):
    model = SAVED_MODELS[name](adapted_normalizer(train_rows()))
    x = windows()
    path = tmp_path / f"{name}.keras"
    model.save(path)
    # No custom_objects: `import kerasseq` registers everything, safe mode on.
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)


def test_check_windows_accepts_matching_shapes():
    model = build_weather_model(num_features=3, sequence_length=8, units=4)
    check_windows(model, (32, 8, 3))
    check_windows(model, (None, 8, 3))
    check_windows(build_weather_model(num_features=3, units=4), (32, 5, 3))


@pytest.mark.parametrize(
    "shape, message",
    [
        ((32, 8, 4), "received (32, 8, 4). Build the model with num_features=4, or select the "
                     "3 feature columns it was trained on."),
        ((32, 5, 3), "received (32, 5, 3). Use past=8 (the model's sequence_length) when windowing."),
        ((32, 8), "received (32, 8). Pass windows of rank 3, (batch, timesteps, features)."),
    ],
    ids=["features", "timesteps", "rank"],
)
def test_check_windows_errors(shape, message):
    model = build_weather_model(num_features=3, sequence_length=8, units=4)
    expected = (
        f"Model 'gru_forecaster' expects windows of shape (None, 8, 3) "
        f"(batch, timesteps=8, features=3); {message}"
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        check_windows(model, shape)


def test_residual_forecasts_the_change_from_the_last_value():
    # With a zero head, a residual model (the default) is the naive forecast,
    # in the data's units.
    rows = train_rows()
    model = zero_head(
        build_weather_model(num_features=3, units=4, target_index=1, horizons=[1, 6],
                            normalizer=adapted_normalizer(rows))
    )
    x = windows()
    expected = np.repeat(x[:, -1:, 1:2], 2, axis=1)
    np.testing.assert_allclose(model(x), expected, rtol=1e-5)


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_residual_model_round_trips(tmp_path):
    model = build_weather_model(num_features=3, sequence_length=6, units=4, residual=True,
                                normalizer=adapted_normalizer(train_rows()))
    model.save(tmp_path / "residual.keras")
    loaded = keras.saving.load_model(tmp_path / "residual.keras")
    np.testing.assert_allclose(loaded(windows()), model(windows()), rtol=1e-6)


def test_loss_is_one_keyword_away():
    model = build_weather_model(num_features=3, units=4, loss="mae")
    assert model.loss == "mae"
    with pytest.raises(ValueError, match="build_weather_model received loss='l1'. Expected one of 'mse', 'mae', 'huber'."):
        build_weather_model(num_features=3, loss="l1")
