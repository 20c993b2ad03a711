"""Tests for `WeatherTask`: columns, splits, normalization, datasets, metrics."""

import json
import re

import numpy as np
import pandas as pd
import pytest

from kerasseq.tasks.weather import WeatherConfig
from kerasseq.validation import ArgumentError
from kerasseq.tasks.weather import WeatherTask

NUM_ROWS = 240  # train 120, val 60, test 60 rows


def synthetic_frame():
    """Hourly columns with trends, so each split has its own mean."""
    t = np.arange(NUM_ROWS, dtype="float64")
    return pd.DataFrame(
        {
            "a": 0.5 * t + np.sin(t),
            "temp": 20.0 + 0.1 * t + 3.0 * np.sin(2 * np.pi * t / 24),
            "b": 1000.0 - t + np.cos(0.3 * t),
        },
        index=pd.date_range("2020-01-01", periods=NUM_ROWS, freq="h", name="time"),
    )


def synthetic_task(**overrides):
    keywords = dict(
        data="synthetic.csv", target="temp", time_features=False, past=6, horizons=[1, 3],
        batch_size=32, epochs=1, baselines=["naive"],
    )
    config = WeatherConfig(**{**keywords, **overrides})
    return WeatherTask(config, frame=synthetic_frame())


def test_target_goes_first():
    task = synthetic_task()
    assert task.features == ["temp", "a", "b"]
    assert task.target == "temp"
    assert list(task.frame.columns) == ["temp", "a", "b"]
    assert synthetic_task(features=["b", "temp"]).features == ["temp", "b"]
    # The target is an input even when --features leaves it out.
    assert synthetic_task(features=["b"]).features == ["temp", "b"]


def test_chronological_bounds_and_horizon_rows():
    task = synthetic_task()
    assert task.bounds == {"train": (0, 120), "val": (120, 180), "test": (180, 240)}
    assert task.horizon_rows == [1, 3]
    assert synthetic_task(horizons=["2h"]).horizon_rows == [2]


def test_normalizer_uses_training_rows_only():
    task = synthetic_task()
    values = synthetic_frame()[["temp", "a", "b"]].to_numpy()
    mean = np.asarray(task.normalizer.mean).reshape(-1)
    variance = np.asarray(task.normalizer.variance).reshape(-1)
    np.testing.assert_allclose(mean, values[:120].mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(variance, values[:120].var(axis=0), rtol=1e-4)
    # With the trends, any validation or test row would move the mean.
    assert not np.allclose(mean, values[:180].mean(axis=0), rtol=1e-3)


@pytest.mark.parametrize("split, start, end", [("train", 0, 120), ("val", 120, 180), ("test", 180, 240)])
def test_dataset_shapes_and_rows(split, start, end):
    task = synthetic_task()
    x, y = (np.concatenate(parts) for parts in zip(*task.dataset(split).as_numpy_iterator()))
    # Windows of 6 rows whose farthest target (3 rows on) stays in the split.
    num_windows = end - start - 6 + 1 - 3
    assert x.shape == (num_windows, 6, 3) and y.shape == (num_windows, 2, 1)
    temp = synthetic_frame()["temp"].to_numpy()
    np.testing.assert_allclose(x[0, :, 0], temp[start:start + 6], rtol=1e-6)
    np.testing.assert_allclose(y[-1, :, 0], temp[[end - 3, end - 1]], rtol=1e-6)


def test_models_fit_the_datasets():
    task = synthetic_task(units=4, cell="lstm")
    model = task.build_model()
    x, _ = next(iter(task.dataset("val")))
    assert model(x).shape == (32, 2, 1)
    assert task.build_model(units=3).get_layer("lstm_0").cell.units == 3
    baselines = synthetic_task(
        baselines=["naive", "seasonal_naive", "linear", "dense"], season="3h"
    ).build_baselines()
    assert list(baselines) == ["naive", "seasonal_naive", "linear", "dense"]
    # 3 h back from 1 h and 3 h ahead: 2 and 0 rows before the window's end.
    assert baselines["seasonal_naive"].get_layer("copy").lags == [2, 0]
    assert all(m(x).shape == (32, 2, 1) for m in baselines.values())


def test_seasonal_naive_is_skipped_when_the_window_is_too_short(capsys):
    # A day back from 1 h ahead is 23 rows before the end: past=6 holds 5.
    task = synthetic_task(baselines=["seasonal_naive", "naive"], horizons=[1])
    assert list(task.build_baselines()) == ["naive"]
    assert "Skipping the seasonal naive baseline" in capsys.readouterr().out


def test_evaluate_naive_matches_numpy():
    task = synthetic_task()
    naive = task.build_baselines()["naive"]
    results = task.evaluate(naive)
    temp = synthetic_frame()["temp"].to_numpy()
    for split in ("val", "test"):
        start, end = task.bounds[split]
        last = np.arange(start + 6 - 1, end - 3)  # the windows' last rows
        errors = np.stack([temp[last] - temp[last + h] for h in (1, 3)], axis=1)
        np.testing.assert_allclose(results[split]["mae"], np.abs(errors).mean(), rtol=1e-5)
        np.testing.assert_allclose(results[split]["rmse"], np.sqrt((errors**2).mean()), rtol=1e-5)
        np.testing.assert_allclose(results[split]["mae_per_output"], np.abs(errors).mean(axis=0),
                                   rtol=1e-5)
        assert results[split]["num_windows"] == len(last)


def test_fit_trains_and_skips_models_without_weights():
    task = synthetic_task(units=4)
    history, seconds = task.fit(task.build_model(), verbose=0)
    assert len(history["loss"]) == 1 and seconds > 0
    assert task.fit(task.build_baselines()["naive"], verbose=0) == (None, 0.0)


def test_predict_stretch_lines_up_forecasts_with_truth():
    task = synthetic_task()
    stretch = task.predict_stretch(task.build_baselines()["naive"], num_windows=10)
    frame = synthetic_frame()
    # The test split's first window ends at row 185; its first target is row 186.
    assert list(stretch.index) == list(frame.index[186:196])
    np.testing.assert_allclose(stretch["truth"], frame["temp"].to_numpy()[186:196], rtol=1e-6)
    np.testing.assert_allclose(stretch["forecast"], frame["temp"].to_numpy()[185:195], rtol=1e-6)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"target": "nope"}, "WeatherTask received target='nope', which is not a column of "
                             "synthetic.csv. Columns: ['a', 'temp', 'b']."),
        ({"features": ["a", "zzz"]}, "WeatherTask received features=['a', 'zzz']; ['zzz'] are not "
                                     "columns of synthetic.csv. Columns: ['a', 'temp', 'b']."),
    ],
)
def test_unknown_columns(overrides, message):
    with pytest.raises(ArgumentError, match=re.escape(message)) as error:
        synthetic_task(**overrides)
    assert error.value.argument == next(iter(overrides))


def test_config_json_round_trip():
    config = WeatherConfig(data="jena", horizons=["1h", "24h"], units=8)
    values = json.loads(json.dumps(config.to_json()))
    assert WeatherConfig.from_json(values) == config
    # A key the config does not know is an error that names it, not dropped.
    with pytest.raises(ArgumentError, match=re.escape(
            "WeatherConfig received unknown option(s) ['unit']. Known options: [")) as error:
        WeatherConfig.from_json({**values, "unit": 8})
    assert error.value.argument == "unit"


def test_jena_naive_baseline_matches_deep_learning_with_python(data_file, monkeypatch):
    hourly = data_file("jena/jena_climate_2009_2016.hourly-6cols.csv.gz")
    monkeypatch.setenv("KERASSEQ_DATA_DIR", str(hourly.parent.parent))
    config = WeatherConfig(data="jena", past=120, horizons=[24], time_features=False,
                           baselines=["naive"])
    task = WeatherTask(config)
    assert task.target == "T (degC)" and task.features[0] == "T (degC)"
    results = task.evaluate(task.build_baselines()["naive"])
    # Deep Learning with Python (2nd ed., 10.2.2): validation MAE 2.44, test MAE 2.62.
    assert results["val"]["mae"] == pytest.approx(2.4399, abs=1e-3)
    assert results["test"]["mae"] == pytest.approx(2.6238, abs=1e-3)


@pytest.mark.parametrize("days, kept", [(200, False), (3 * 365, True)])
def test_time_of_year_inputs_need_a_year_of_training_rows(days, kept):
    from pipelines import add_time_features

    index = pd.date_range("2020-01-01", periods=days * 4, freq="6h", name="time")
    frame = add_time_features(pd.DataFrame({"temp": np.sin(np.arange(len(index)) / 7.0)}, index=index))
    config = WeatherConfig(data="synthetic.csv", target="temp", past=4, horizons=[1], baselines=[])
    features = WeatherTask(config, frame=frame).features
    assert ("year_sin" in features and "year_cos" in features) == kept
    assert "day_sin" in features and "day_cos" in features
    # Columns named by the user are kept as given.
    chosen = WeatherConfig(**{**config.to_json(), "features": ["temp", "year_sin"]})
    assert WeatherTask(chosen, frame=frame).features == ["temp", "year_sin"]


def test_seeds_make_runs_reproducible():
    task = synthetic_task(ensemble=3, seed=5, epochs=2)
    assert task.seeds == [5, 6, 7]
    weights = [task.build_model(seed=s).get_weights() for s in (5, 5, 6)]
    for a, b in zip(weights[0], weights[1]):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(weights[0], weights[2]))
    # The config's seed is the default, and a fit repeats itself exactly.
    histories = []
    for _ in range(2):
        model = task.build_model()
        history, _ = task.fit(model, verbose=0)
        histories.append(history["loss"])
    assert histories[0] == histories[1]
    other, _ = task.fit(task.build_model(seed=6), seed=6, verbose=0)
    assert other["loss"] != histories[0]


def test_shuffle_follows_the_seed():
    task = synthetic_task()
    first = [next(iter(task.dataset("train", shuffle=True, seed=s)))[1].numpy() for s in (1, 1, 2)]
    np.testing.assert_array_equal(first[0], first[1])
    assert not np.array_equal(first[0], first[2])


def test_seasonal_naive_that_is_the_naive_forecast_is_not_listed(capsys):
    # 24 and 48 rows ahead with a 24-row season: one season before each
    # target is the window's last value, the naive forecast.
    task = synthetic_task(baselines=["naive", "seasonal_naive"], past=48, horizons=[24, 48],
                          season="24h")
    assert list(task.build_baselines()) == ["naive"]
    assert ("Not listing seasonal_naive: with horizons [24, 48] rows ahead and a season of 24h "
            "it is the naive forecast.") in capsys.readouterr().out
    # Alone, it is the only copy forecast and stays.
    alone = synthetic_task(baselines=["seasonal_naive"], past=48, horizons=[24], season="24h")
    assert list(alone.build_baselines()) == ["seasonal_naive"]


def test_linear_baseline_is_fitted_by_least_squares(capsys):
    task = synthetic_task(baselines=["naive", "linear"])
    baselines = task.build_baselines()
    history, seconds = task.fit_baseline("linear", baselines["linear"])
    assert history is None and seconds > 0
    assert "ridge penalty" in capsys.readouterr().out
    results = {name: task.evaluate(model) for name, model in baselines.items()}
    # The linear model can express the naive forecast: fitted in closed
    # form it does at least as well where it was fitted and chosen.
    assert results["linear"]["val"]["mae"] < results["naive"]["val"]["mae"]


def test_report_says_when_the_model_loses_to_naive():
    task = synthetic_task(residual=False)
    row = {"params": 1, "train_seconds": 1.0, "test": {"mae": 1.0, "rmse": 1.0}}
    worse = {"gru": {**row, "val": {"mae": 2.0, "rmse": 2.0}},
             "naive": {**row, "val": {"mae": 1.0, "rmse": 1.0}}}
    assert task.report(worse).splitlines()[-1] == (
        "Note: gru is worse than the naive forecast on validation (MAE 2.000 vs 1.000). Try "
        "residual forecasts (residual=True), more epochs or patience, a larger learning_rate "
        "or a longer window (past).")
    better = {"gru": worse["naive"], "naive": worse["gru"]}
    assert "Note" not in task.report(better)


def test_a_season_that_is_no_period_is_an_error_on_entry():
    with pytest.raises(ArgumentError, match=re.escape(
            "WeatherTask received season='7x', which is not a period of synthetic.csv: ")) as error:
        synthetic_task(season="7x")
    assert error.value.argument == "season"


def test_device_placement_trains_as_the_host_one_and_checkpoints_the_forecaster(tmp_path):
    import keras

    histories, weights = {}, {}
    for placement in ("host", "device"):
        task = synthetic_task(epochs=3, placement=placement)
        assert task.placement == placement
        model = task.build_model()
        histories[placement], _ = task.fit(model, verbose=0, directory=tmp_path / placement)
        weights[placement] = model.get_weights()
    assert histories["device"] == histories["host"]
    for device, host in zip(weights["device"], weights["host"]):
        np.testing.assert_array_equal(device, host)
    # The checkpoint is the forecaster, which takes windows.
    saved = keras.saving.load_model(tmp_path / "device" / "model.keras")
    assert saved.input_shape == (None, 6, 3)
    # A device fit stopped after 2 epochs resumes to the same 3 epochs.
    task = synthetic_task(epochs=2, placement="device")
    task.fit(task.build_model(), verbose=0, directory=tmp_path / "resumed")
    task = synthetic_task(epochs=3, placement="device")
    resumed, _ = task.fit(task.build_model(), verbose=0, directory=tmp_path / "resumed")
    assert resumed == histories["host"]
    # auto: on the accelerator where there is a GPU, else on the host.
    import tensorflow as tf

    gpu = bool(tf.config.list_logical_devices("GPU"))
    assert synthetic_task(placement="auto").placement == ("device" if gpu else "host")
