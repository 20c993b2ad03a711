"""Tests for `build_ensemble`: the mean forecast, errors, saving."""

import keras
import numpy as np
import pytest

import kerasseq  # noqa: F401  (registers the layers for load_model)
from kerasseq.models import build_ensemble
from kerasseq.models import build_weather_model


def members(count=3, **keywords):
    models = []
    for seed in range(count):
        keras.utils.set_random_seed(seed)
        models.append(build_weather_model(num_features=3, sequence_length=6, units=4, **keywords))
    return models


def windows():
    return np.random.default_rng(0).normal(size=(5, 6, 3)).astype("float32")


def test_forecast_is_the_mean_of_the_members():
    models = members(3, horizons=[1, 2])
    x = windows()
    expected = np.mean([m.predict(x, verbose=0) for m in models], axis=0)
    ensemble = build_ensemble(models)
    assert ensemble.output_shape == (None, 2, 1)
    np.testing.assert_allclose(ensemble.predict(x, verbose=0), expected, atol=1e-6)
    # Members are distinct forecasters, so the mean is not any one of them.
    assert not np.allclose(expected, models[0].predict(x, verbose=0))


def test_clashing_member_names_are_renamed():
    models = members(2)
    assert models[0].name == models[1].name == "gru_forecaster"
    ensemble = build_ensemble(models)
    assert [layer.name for layer in ensemble.layers[1:3]] == ["member_0", "member_1"]


def test_distinct_member_names_are_kept():
    models = members(2)
    models[0].name, models[1].name = "first", "second"
    build_ensemble(models)
    assert [m.name for m in models] == ["first", "second"]


def test_compiled_ensemble_evaluates_mae():
    ensemble = build_ensemble(members(2))
    x = windows()
    y = np.zeros((5, 1, 1), "float32")
    mae = ensemble.evaluate(x, y, verbose=0, return_dict=True)["mae"]
    np.testing.assert_allclose(mae, np.abs(ensemble.predict(x, verbose=0)).mean(), rtol=1e-5)
    assert ensemble.compiled and not build_ensemble(members(2), compile=False).compiled


def test_save_and_load_round_trip(tmp_path):
    ensemble = build_ensemble(members(2, cell="lstm"))
    ensemble.save(tmp_path / "ensemble.keras")
    loaded = keras.saving.load_model(tmp_path / "ensemble.keras")
    assert type(loaded.get_layer("member_0").get_layer("lstm_0")) is kerasseq.layers.LSTM
    np.testing.assert_allclose(loaded.predict(windows(), verbose=0),
                               ensemble.predict(windows(), verbose=0), atol=1e-6)


@pytest.mark.parametrize(
    "given, message",
    [
        ("one", "build_ensemble received members=[<Functional name=gru_forecaster"),
        ("not_a_list", "build_ensemble received members='gru'. Pass a list of two or more"),
        ("not_a_model", "build_ensemble received members[1]=<Dense name=dense"),
        ("same_twice", "build_ensemble received the same model more than once."),
        ("features", "build_ensemble received members with different input shapes: members[0] "
                     "has (None, 6, 3) and members[1] has (None, 6, 4)."),
        ("outputs", "build_ensemble received members with different output shapes: members[0] "
                    "has (None, 1, 1) and members[1] has (None, 2, 1)."),
    ],
)
def test_bad_members(given, message):
    model = members(1)[0]
    other = {
        "one": None,
        "not_a_model": keras.layers.Dense(2, name="dense"),
        "features": build_weather_model(num_features=4, sequence_length=6, units=4),
        "outputs": build_weather_model(num_features=3, sequence_length=6, units=4, horizons=[1, 2]),
    }
    argument = {
        "one": [model],
        "not_a_list": "gru",
        "same_twice": [model, model],
    }.get(given) or [model, other[given]]
    with pytest.raises(ValueError) as error:
        build_ensemble(argument)
    assert str(error.value).startswith(message), str(error.value)
