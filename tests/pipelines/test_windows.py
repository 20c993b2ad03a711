import itertools

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from pipelines.weather import load_jena
from pipelines.windows import forecast_dataset, resolve_horizons, windowed_dataset

NUM_ROWS = 50
DATA = np.arange(NUM_ROWS * 2).reshape(NUM_ROWS, 2)
TARGETS = np.arange(NUM_ROWS) * 10


def elements(dataset):
    """All elements of `dataset` as a list of NumPy arrays (or tuples of them)."""
    return [tf.nest.map_structure(lambda t: t.numpy(), e) for e in dataset]


def unbatched(dataset, batched=True):
    """The windows (and targets) of `dataset` in order, as arrays."""
    join = np.concatenate if batched else np.stack
    items = elements(dataset)
    if isinstance(items[0], tuple):
        return tuple(join(column) for column in zip(*items))
    return join(items)


def assert_same_elements(ours, ref):
    ours, ref = elements(ours), elements(ref)
    assert len(ours) == len(ref) > 0
    for a, b in zip(ours, ref):
        tf.nest.map_structure(np.testing.assert_array_equal, a, b)


@pytest.mark.parametrize(
    "with_targets, sampling_rate, sequence_stride, indices, batch_size",
    list(itertools.product(
        [False, True],
        [1, 3],
        [1, 2],
        [(None, None), (5, None), (None, 40), (3, 37), (7, NUM_ROWS)],
        [None, 1, 7],
    )),
    ids=str,
)
def test_windowed_dataset_matches_keras(with_targets, sampling_rate, sequence_stride, indices, batch_size):
    start_index, end_index = indices
    kwargs = dict(
        sequence_length=4, sequence_stride=sequence_stride, sampling_rate=sampling_rate,
        batch_size=batch_size, start_index=start_index,
    )
    targets = TARGETS if with_targets else None
    ours = windowed_dataset(DATA, targets, end_index=end_index, **kwargs)
    # Keras rejects end_index=len(data), which means the same as None.
    ref = keras.utils.timeseries_dataset_from_array(
        DATA, targets, end_index=None if end_index == NUM_ROWS else end_index, **kwargs
    )
    assert_same_elements(ours, ref)


@pytest.mark.parametrize("batch_size", [None, 7])
@pytest.mark.parametrize("with_targets", [False, True])
def test_windowed_dataset_shuffle_yields_keras_windows_in_another_order(batch_size, with_targets):
    targets = TARGETS if with_targets else None
    kwargs = dict(sequence_length=5, sampling_rate=2, batch_size=batch_size, start_index=2, end_index=45)
    shuffled = unbatched(windowed_dataset(DATA, targets, shuffle=True, seed=1, **kwargs), batch_size)
    ref = unbatched(keras.utils.timeseries_dataset_from_array(DATA, targets, shuffle=True, seed=1, **kwargs),
                    batch_size)
    in_order = unbatched(windowed_dataset(DATA, targets, **kwargs), batch_size)
    windows = shuffled[0] if with_targets else shuffled

    def by_first_row(arrays):
        arrays = arrays if isinstance(arrays, tuple) else (arrays,)
        order = np.argsort(arrays[0][:, 0, 0])
        return tuple(a[order] for a in arrays)

    tf.nest.map_structure(np.testing.assert_array_equal, by_first_row(shuffled), by_first_row(ref))
    tf.nest.map_structure(np.testing.assert_array_equal, by_first_row(shuffled), by_first_row(in_order))
    assert not np.array_equal(windows, in_order[0] if with_targets else in_order)
    if with_targets:
        # Each target stays with its window: targets[i] goes with the window starting at i.
        np.testing.assert_array_equal(shuffled[1], TARGETS[shuffled[0][:, 0, 0] // 2])


def test_windowed_dataset_shuffle_is_seeded_and_reshuffles_each_pass():
    dataset = windowed_dataset(DATA, sequence_length=3, batch_size=None, shuffle=True, seed=3)
    first, second = unbatched(dataset, False), unbatched(dataset, False)
    again = unbatched(windowed_dataset(DATA, sequence_length=3, batch_size=None, shuffle=True, seed=3), False)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second)


@pytest.mark.parametrize(
    "num_rows, sequence_length, sampling_rate, start_index, end_index",
    [(10, 4, 3, None, None), (20, 4, 3, 2, 12), (20, 4, 3, 10, None), (20, 4, 1, None, 4)],
)
def test_windowed_dataset_window_that_exactly_fits_matches_keras(
    num_rows, sequence_length, sampling_rate, start_index, end_index
):
    data = np.arange(num_rows, dtype="float64")
    kwargs = dict(sequence_length=sequence_length, sampling_rate=sampling_rate,
                  start_index=start_index, end_index=end_index)
    ours = windowed_dataset(data, data * 2, **kwargs)
    assert_same_elements(ours, keras.utils.timeseries_dataset_from_array(data, data * 2, **kwargs))
    (x, y), = elements(ours)
    assert x.shape == (1, sequence_length) and x.dtype == np.float64


def test_windowed_dataset_raises_when_no_window_fits():
    data = np.arange(10)
    # Keras silently yields nothing; a model would then train on nothing.
    assert elements(keras.utils.timeseries_dataset_from_array(data, None, sequence_length=5, sampling_rate=3)) == []
    with pytest.raises(ValueError, match=r"sequence_length=5 and sampling_rate=3: a window spans 13 rows, "
                                         r"but only 10 rows are available \(rows 0 to 10 of 10\)"):
        windowed_dataset(data, sequence_length=5, sampling_rate=3)
    with pytest.raises(ValueError, match=r"window spans 4 rows, but only 3 rows are available \(rows 5 to 8 of 10\)"):
        windowed_dataset(data, sequence_length=4, start_index=5, end_index=8)


@pytest.mark.parametrize(
    "kwargs, message, keras_raises",
    [
        (dict(start_index=-1), r"start_index=-1\. `start_index` must be a non-negative integer", True),
        (dict(start_index=50), r"start_index=50 for data of 50 rows", True),
        (dict(start_index=10, end_index=10), r"start_index=10 and end_index=10\. `end_index` must be higher", True),
        (dict(end_index=51), r"end_index=51 for data of 50 rows\. `end_index` is exclusive and at most 50", True),
        # Keras reads end_index=0 as "not given" (`if end_index:`), then yields nothing.
        (dict(end_index=0), r"end_index=0\. `end_index` must be a positive integer", False),
        (dict(sampling_rate=0), r"sampling_rate=0\. `sampling_rate` must be a positive integer", True),
        (dict(sampling_rate=50), r"sampling_rate=50 for data of 50 rows", True),
        (dict(sequence_stride=0), r"sequence_stride=0\. `sequence_stride` must be a positive integer", True),
        (dict(sequence_stride=50), r"sequence_stride=50 for data of 50 rows", True),
        (dict(sequence_length=0), r"sequence_length=0\. `sequence_length` must be a positive integer", False),
        (dict(batch_size=0), r"batch_size=0\. `batch_size` must be a positive integer", False),
    ],
)
def test_windowed_dataset_rejects_what_keras_rejects(kwargs, message, keras_raises):
    args = dict(dict(sequence_length=1), **kwargs)
    with pytest.raises(ValueError, match="windowed_dataset received " + message):
        windowed_dataset(DATA, **args)
    if keras_raises:
        with pytest.raises(ValueError):
            keras.utils.timeseries_dataset_from_array(DATA, None, **args)


def test_windowed_dataset_leaves_out_windows_without_target():
    x, y = unbatched(windowed_dataset(DATA, TARGETS[:20], sequence_length=4, start_index=5))
    np.testing.assert_array_equal(x[:, 0, 0] // 2, np.arange(5, 20))
    np.testing.assert_array_equal(y, TARGETS[5:20])
    with pytest.raises(ValueError, match=r"targets with 5 rows and start_index=5: no window has a target"):
        windowed_dataset(DATA, TARGETS[:5], sequence_length=4, start_index=5)


def numpy_forecast(data, *, targets, features, past, sampling_rate, offsets, start, end):
    """Reference: every (x, y) whose rows all lie in [start, end)."""
    xs, ys = [], []
    span = (past - 1) * sampling_rate
    for t in range(start + span, end - max(offsets)):
        xs.append(data[t - span:t + 1:sampling_rate][:, features])
        ys.append(data[[t + o for o in offsets]][:, targets])
    return np.stack(xs), np.stack(ys)


@pytest.mark.parametrize("batch_size", [None, 5])
@pytest.mark.parametrize(
    "sampling_rate, horizons, output_steps, indices",
    [(1, 1, 1, (None, None)), (2, [1, 3], 1, (None, None)), (2, 2, 3, (4, 37)), (3, [5], 1, (0, 40))],
)
def test_forecast_dataset_matches_numpy_reference(sampling_rate, horizons, output_steps, indices, batch_size):
    data = np.arange(40 * 3, dtype="float32").reshape(40, 3)
    start, end = indices
    dataset = forecast_dataset(
        data, targets=[1, 2], features=[0, 2], past=4, sampling_rate=sampling_rate,
        horizons=horizons, output_steps=output_steps, batch_size=batch_size,
        start_index=start, end_index=end,
    )
    x, y = unbatched(dataset, batch_size)
    offsets = resolve_horizons(horizons, sampling_rate=sampling_rate, output_steps=output_steps)
    ref_x, ref_y = numpy_forecast(data, targets=[1, 2], features=[0, 2], past=4, sampling_rate=sampling_rate,
                                  offsets=offsets, start=start or 0, end=end or 40)
    np.testing.assert_array_equal(x, ref_x)
    np.testing.assert_array_equal(y, ref_y)
    assert x.dtype == y.dtype == np.float32
    assert y.shape[1:] == (len(offsets), 2)


def test_forecast_dataset_written_out():
    # Rows are 0..11; x: rows t-2, t-1, t of column 0; y: column 1 at t+2.
    data = np.stack([np.arange(12.0), 100 + np.arange(12.0)], axis=1)
    x, y = next(iter(forecast_dataset(data, targets=1, features=[0], past=3, horizons=2, batch_size=3)))
    np.testing.assert_array_equal(x.numpy()[..., 0], [[0, 1, 2], [1, 2, 3], [2, 3, 4]])
    np.testing.assert_array_equal(y.numpy()[..., 0], [[104], [105], [106]])
    # t runs from 2 to 9: the last sample's target is the last row.
    assert sum(int(b[0].shape[0]) for b in forecast_dataset(data, targets=1, past=3, horizons=2)) == 8


def test_forecast_dataset_dataframe_columns_and_time_horizons():
    index = pd.date_range("2020-01-01", periods=30, freq="30min")
    df = pd.DataFrame({"a": np.arange(30.0), "T": np.arange(30.0) * 10, "b": -np.arange(30.0)}, index=index)
    x, y = next(iter(forecast_dataset(df, targets="T", features=["b", "T"], past=2, horizons=["30min", "1h"])))
    np.testing.assert_array_equal(x[0].numpy(), [[0, 0], [-1, 10]])
    np.testing.assert_array_equal(y[0].numpy(), [[20], [30]])
    # The default features are all columns, targets included.
    x, _ = next(iter(forecast_dataset(df, targets=["T", "a"], past=2)))
    assert x.shape[-1] == 3


def test_resolve_horizons():
    index = pd.date_range("2020-01-01", periods=10, freq="10min")
    assert resolve_horizons(24) == [24]
    assert resolve_horizons([1, "1h", "30min"], index=index) == [1, 6, 3]
    assert resolve_horizons("1h", index=index, sampling_rate=6, output_steps=3) == [6, 12, 18]
    # Gaps do not change the step: it is the median one.
    gappy = index.delete([3, 4, 5])
    assert resolve_horizons("1h", index=gappy) == [6]


@pytest.mark.parametrize(
    "horizons, kwargs, message",
    [
        ("24h", {}, r"horizon '24h', a time, but the data has no DatetimeIndex"),
        ("45min", {"index": pd.date_range("2020", periods=5, freq="30min")},
         r"horizon '45min', which is not a positive whole multiple of the data's step \(0 days 00:30:00\)"),
        ("soon", {"index": pd.date_range("2020", periods=5, freq="30min")}, r"horizon 'soon', which is not a time"),
        (0, {}, r"horizon 0\. A horizon is a positive number of rows"),
        (True, {}, r"horizon True\."),
        ([], {}, r"horizons=\[\]\. Expected at least one horizon"),
        ([1, 2], {"output_steps": 3}, r"horizons=\[1, 2\] with output_steps=3\. output_steps forecasts"),
    ],
)
def test_resolve_horizons_errors(horizons, kwargs, message):
    with pytest.raises(ValueError, match="resolve_horizons received " + message):
        resolve_horizons(horizons, **kwargs)


def test_forecast_dataset_errors():
    data = np.arange(40.0).reshape(20, 2)
    with pytest.raises(ValueError, match=r"forecast_dataset received past=8 and sampling_rate=3: a window spans "
                                         r"22 rows, but only 20 rows are available"):
        forecast_dataset(data, targets=0, past=8, sampling_rate=3)
    with pytest.raises(ValueError, match=r"forecast_dataset received horizons=\[1, 16\]: the farthest target lies "
                                         r"16 rows after a window's last row, beyond the end of the data for every "
                                         r"window \(rows 0 to 20 of 20, windows of 5 rows\)"):
        forecast_dataset(data, targets=0, past=5, horizons=[1, 16])
    with pytest.raises(ValueError, match=r"targets column 2\. With an array as data, columns are positions from 0 to 1"):
        forecast_dataset(data, targets=2, past=2)
    with pytest.raises(ValueError, match=r"features=\[\]\. Expected at least one column, e\.g\. features=0\."):
        forecast_dataset(data, targets=0, features=[], past=2)
    df = pd.DataFrame({"T": np.arange(20.0), "station": ["x"] * 20, "p": np.arange(20.0)})
    with pytest.raises(ValueError, match=r"a DataFrame whose columns \['station'\] are not numeric\. Pick numeric "
                                         r"features, e\.g\. features=\['T', 'p'\], or drop those columns\."):
        forecast_dataset(df, targets="T", past=2)
    # Columns not in use may be anything.
    x, _ = next(iter(forecast_dataset(df, targets="T", features=["p"], past=2)))
    assert x.shape[-1] == 1
    with pytest.raises(ValueError, match=r"targets column 'p', which is not a column of the data"):
        forecast_dataset(df[["T"]], targets="p", past=2)


def test_forecast_dataset_rejects_nan_in_used_columns_only():
    df = pd.DataFrame({"T": np.arange(20.0), "p": np.arange(20.0)})
    df.loc[7, "p"] = np.nan
    df.attrs["source"] = "w.csv"
    forecast_dataset(df, targets="T", features=["T"], past=2)
    with pytest.raises(ValueError, match=r"Column 'p' of w.csv has 1 NaN or infinite values \(first at row 7\)"):
        forecast_dataset(df, targets="T", past=2)


def naive_mae(dataset, column):
    """DLwP's naive baseline: the last input temperature predicts the target."""
    errors = [np.abs(x[:, -1, column] - y[:, 0, 0]) for x, y in elements(dataset)]
    return float(np.concatenate(errors).mean())


def test_naive_jena_baseline_reproduces_published_numbers(data_file):
    df = load_jena(data_file("jena/jena_climate_2009_2016.hourly-6cols.csv.gz"))
    n = len(df)
    num_train, num_val = int(0.5 * n), int(0.25 * n)
    column = list(df.columns).index("T (degC)")
    kwargs = dict(targets="T (degC)", past=120, horizons=24, batch_size=4096)
    val = forecast_dataset(df, start_index=num_train, end_index=num_train + num_val, **kwargs)
    test = forecast_dataset(df, start_index=num_train + num_val, **kwargs)
    assert naive_mae(val, column) == pytest.approx(2.4399, abs=1e-4)
    assert naive_mae(test, column) == pytest.approx(2.6238, abs=1e-4)


def test_dlwp_windows_are_ours_with_end_index_moved_by_the_horizon(data_file):
    # DLwP's Jena code lets targets run past end_index; it ends test windows
    # early by slicing data[:-delay]. With end_index moved, ours are the same.
    df = load_jena(data_file("jena/jena_climate_2009_2016.hourly-6cols.csv.gz"))
    raw, temperature = df.to_numpy("float32"), df["T (degC)"].to_numpy("float32")
    n, past, horizon = len(df), 120, 24
    num_train, num_val = int(0.5 * n), int(0.25 * n)
    delay = past + horizon - 1
    ref = keras.utils.timeseries_dataset_from_array(
        raw[:-delay], temperature[delay:], sequence_length=past, batch_size=4096,
        start_index=num_train, end_index=num_train + num_val,
    )
    ours = forecast_dataset(df, targets="T (degC)", past=past, horizons=horizon, batch_size=4096,
                            start_index=num_train, end_index=num_train + num_val + horizon)
    ref_x, ref_y = unbatched(ref)
    x, y = unbatched(ours)
    np.testing.assert_array_equal(x, ref_x)
    np.testing.assert_array_equal(y[:, 0, 0], ref_y)
    assert naive_mae(ours, 0) == pytest.approx(2.4426, abs=1e-4)
    dlwp_test = forecast_dataset(df, targets="T (degC)", past=past, horizons=horizon, batch_size=4096,
                                 start_index=num_train + num_val, end_index=n - (past - 1))
    assert naive_mae(dlwp_test, 0) == pytest.approx(2.6249, abs=1e-4)


@pytest.mark.parametrize("batch_size", [None, 7])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("sampling_rate, horizons, output_steps, indices",
                         [(1, "24h", 1, (None, None)), (3, ["6h", "12h"], 1, (100, 2000)),
                          (2, "1h", 4, (50, None))])
def test_device_windows_are_the_host_windows_element_by_element(
        batch_size, shuffle, sampling_rate, horizons, output_steps, indices):
    from pipelines import device_forecast_dataset
    from pipelines import load_nyc_weather

    frame = load_nyc_weather()
    keywords = dict(targets="temp", features=["temp", "dewp", "humid", "pressure"], past=24,
                    sampling_rate=sampling_rate, horizons=horizons, output_steps=output_steps,
                    batch_size=batch_size, shuffle=shuffle, seed=3, start_index=indices[0],
                    end_index=indices[1])
    host = forecast_dataset(frame, **keywords)
    device, gather = device_forecast_dataset(frame, **keywords)
    count = 0
    for (x, y), (starts, y_device) in zip(host, device, strict=True):
        assert starts.dtype == tf.int64
        np.testing.assert_array_equal(gather(starts).numpy(), x.numpy())
        np.testing.assert_array_equal(y_device.numpy(), y.numpy())
        count += 1
    assert count > 0  # zip(strict=True): the same number of elements


def test_window_gather_trains_a_model_as_the_host_windows_do():
    import keras

    from pipelines import device_forecast_dataset

    data = np.random.default_rng(0).normal(size=(300, 3)).astype("float32")
    keywords = dict(targets=0, past=8, horizons=2, batch_size=16, shuffle=True, seed=1)
    histories = []
    for placement in ("host", "device"):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((8, 3)), keras.layers.Flatten(), keras.layers.Dense(1),
                                  keras.layers.Reshape((1, 1))])
        if placement == "host":
            trained, dataset = model, forecast_dataset(data, **keywords)
        else:
            dataset, gather = device_forecast_dataset(data, **keywords)
            trained = keras.Sequential([keras.Input((), dtype="int64"), gather, model])
        trained.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
        histories.append(trained.fit(dataset, epochs=2, verbose=0).history["loss"])
    np.testing.assert_allclose(histories[1], histories[0], rtol=1e-6)
    with pytest.raises(TypeError, match="WindowGather holds its series and is not saved"):
        gather.get_config()
