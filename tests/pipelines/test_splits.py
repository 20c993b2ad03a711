import numpy as np
import pandas as pd
import pytest

from pipelines.splits import chronological_split, fit_normalizer


def test_chronological_split():
    assert chronological_split(70038) == (35019, 17509, 17510)
    assert chronological_split(pd.DataFrame({"T": range(10)}), (0.7, 0.2, 0.1)) == (7, 2, 1)
    assert chronological_split(np.zeros((420551, 14))) == (210275, 105137, 105139)


@pytest.mark.parametrize(
    "fractions",
    [(0.5, 0.5, 0.0), (0.6, 0.25, 0.25), (0.5, 0.5), (-0.5, 1.0, 0.5), (0.5, 0.25, 0.2499)],
)
def test_chronological_split_rejects_bad_fractions(fractions):
    with pytest.raises(ValueError, match=r"chronological_split received fractions=.*\. Expected three positive "
                                         r"fractions \(train, validation, test\) that sum to 1"):
        chronological_split(100, fractions)


def test_chronological_split_rejects_empty_data():
    with pytest.raises(ValueError, match=r"chronological_split received 0\. Expected a positive number of rows"):
        chronological_split(0)


def test_fit_normalizer_statistics_are_those_of_the_rows_given():
    # fit_normalizer adapts on whatever it is handed; choosing the training
    # rows is its caller's job, and WeatherTask's is tested for leakage in
    # tests/tasks/test_weather_task.py::test_normalizer_uses_training_rows_only.
    rng = np.random.default_rng(0)
    rows = rng.normal(loc=[5.0, -3.0], scale=[2.0, 0.5], size=(60, 2)).astype("float32")
    layer = fit_normalizer(rows)
    np.testing.assert_allclose(np.ravel(layer.mean), rows.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(np.ravel(layer.variance), rows.var(axis=0), rtol=1e-4)
    out = np.asarray(layer(rows))
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-4)


def test_fit_normalizer_errors():
    with pytest.raises(ValueError, match=r"fit_normalizer received an array of shape \(5,\)"):
        fit_normalizer(np.arange(5.0))
    with pytest.raises(ValueError, match=r"fit_normalizer received training rows with NaN"):
        fit_normalizer(np.array([[1.0], [np.nan]]))
