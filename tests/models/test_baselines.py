"""Tests for the baseline forecasters and `WindowValues`."""

import re

import numpy as np
import pytest

from kerasseq.models import WindowValues
from kerasseq.models import build_dense_model
from kerasseq.models import build_linear_model
from kerasseq.models import build_naive_model
from kerasseq.models import build_seasonal_naive_model

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
