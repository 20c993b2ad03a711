"""`LSTMCell` and `LSTM` against `keras.layers.LSTMCell`/`LSTM` and a NumPy reference."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasseq.layers import LSTM
from kerasseq.layers import LSTMCell

# (layer kwargs, call options, implementation on a CPU).
CASES = {
    "default": ({}, {}, "fused"),
    "units_5": ({"units": 5}, {}, "fused"),
    "relu": ({"activation": "relu"}, {}, "fused"),
    "sigmoid": ({"activation": "sigmoid"}, {}, "fused"),
    "linear": ({"activation": "linear"}, {}, "fused"),
    "softplus": ({"activation": "softplus"}, {}, "generic"),
    "recurrent_tanh": ({"recurrent_activation": "tanh"}, {}, "fused"),
    "recurrent_hard_sigmoid": ({"recurrent_activation": "hard_sigmoid"}, {}, "generic"),
    "no_bias": ({"use_bias": False}, {}, "fused"),
    "no_unit_forget_bias": ({"unit_forget_bias": False}, {}, "fused"),
    "sequences": ({"return_sequences": True}, {}, "fused"),
    "state": ({"return_state": True, "return_sequences": True}, {}, "fused"),
    "backwards": ({"go_backwards": True, "return_sequences": True}, {}, "fused"),
    "stateful": ({"stateful": True, "return_sequences": True}, {}, "fused"),
    "unroll": ({"unroll": True, "return_state": True}, {}, "generic"),
    "initial_state": ({"return_state": True}, {"initial_state": True}, "fused"),
    "right_mask": ({"return_sequences": True, "return_state": True}, {"mask": "right"}, "fused"),
    "left_mask": ({"return_sequences": True}, {"mask": "left"}, "fused"),
    "left_mask_initial_state": (
        {"return_sequences": True, "return_state": True},
        {"mask": "left", "initial_state": True}, "fused",
    ),
    "mask_backwards": ({"go_backwards": True, "return_state": True}, {"mask": "right"}, "fused"),
    "zero_output_for_mask": (
        {"return_sequences": True, "zero_output_for_mask": True}, {"mask": "right"}, "fused",
    ),
    "mask_generic": ({"activation": "softplus", "return_state": True}, {"mask": "left"}, "generic"),
    "mask_unroll": ({"unroll": True, "return_sequences": True}, {"mask": "right"}, "generic"),
}

TRACED = ["default", "state", "left_mask_initial_state"]


def _kwargs(layer_kwargs):
    return {"units": 4, **layer_kwargs}


@pytest.mark.parametrize("case", list(CASES))
def test_lstm_matches_keras_eagerly(parity, case):
    layer_kwargs, options, implementation = CASES[case]
    parity(LSTM, keras.layers.LSTM, _kwargs(layer_kwargs), expected=implementation, **options)


@pytest.mark.parametrize("case", TRACED)
def test_lstm_matches_keras_traced(parity, case):
    layer_kwargs, options, _ = CASES[case]
    parity(LSTM, keras.layers.LSTM, _kwargs(layer_kwargs), traced=True, **options)


@pytest.mark.parametrize("unit_forget_bias", [True, False])
def test_lstm_initial_bias_matches_keras(unit_forget_bias):
    kwargs = {"unit_forget_bias": unit_forget_bias, "bias_initializer": "zeros"}
    ours, ref = LSTM(3, **kwargs), keras.layers.LSTM(3, **kwargs)
    ours.build((2, 4, 2))
    ref.build((2, 4, 2))
    forget = [1.0 if unit_forget_bias else 0.0] * 3
    np.testing.assert_array_equal(ours.cell.bias, [0.0] * 3 + forget + [0.0] * 6)
    np.testing.assert_array_equal(ours.cell.bias, ref.cell.bias)


CELL_CASES = {
    "default": {},
    "no_bias": {"use_bias": False},
    "relu_hard_sigmoid": {"activation": "relu", "recurrent_activation": "hard_sigmoid"},
}


@pytest.mark.parametrize("case", list(CELL_CASES))
def test_lstm_cell_in_rnn_matches_keras(layer_parity, mask_of, case):
    kwargs = CELL_CASES[case]
    inputs = np.random.default_rng(0).normal(size=(3, 5, 3)).astype("float32")
    layer_parity(
        keras.layers.RNN(LSTMCell(4, **kwargs), return_sequences=True, return_state=True),
        keras.layers.RNN(keras.layers.LSTMCell(4, **kwargs), return_sequences=True, return_state=True),
        inputs,
        mask=tf.constant(mask_of("left")),
    )


def test_stacked_lstm_cells_match_keras(layer_parity):
    inputs = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    layer_parity(
        keras.layers.RNN([LSTMCell(4), LSTMCell(3)], return_state=True),
        keras.layers.RNN([keras.layers.LSTMCell(4), keras.layers.LSTMCell(3)], return_state=True),
        inputs,
    )


DROPOUT_CASES = {
    "inputs": ({"dropout": 0.3}, False),
    "inputs_traced": ({"dropout": 0.3}, True),
    "recurrent": ({"recurrent_dropout": 0.4}, False),
    "both": ({"dropout": 0.3, "recurrent_dropout": 0.4}, False),
}


@pytest.mark.parametrize("case", list(DROPOUT_CASES))
def test_lstm_dropout_matches_keras(layer_parity, case):
    kwargs, traced = DROPOUT_CASES[case]
    kwargs = {"units": 4, "seed": 7, "return_sequences": True, **kwargs}
    ours = LSTM(**kwargs)
    inputs = np.random.default_rng(0).normal(size=(3, 5, 3)).astype("float32")
    dropped = layer_parity(ours, keras.layers.LSTM(**kwargs), inputs, traced=traced, training=True)
    assert not np.allclose(dropped[0], ours(inputs, training=False)), "no unit was dropped"


def test_lstm_dropout_inactive_at_inference():
    inputs = np.random.default_rng(0).normal(size=(3, 5, 3)).astype("float32")
    with_dropout = LSTM(4, dropout=0.5, recurrent_dropout=0.5, seed=1)
    without = LSTM(4)
    with_dropout.build(inputs.shape)
    without.build(inputs.shape)
    without.set_weights(with_dropout.get_weights())
    for training in (False, None):
        np.testing.assert_allclose(with_dropout(inputs, training=training), without(inputs), atol=1e-6)


def numpy_lstm(inputs, h, c, kernel, recurrent_kernel, bias):
    """The LSTM equations of the `LSTMCell` docstring, step by step in NumPy."""
    sigmoid = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    outputs = []
    for x in inputs.transpose(1, 0, 2):
        g_i, g_f, g_c, g_o = np.split(x @ kernel + h @ recurrent_kernel + bias, 4, axis=1)
        c = sigmoid(g_f) * c + sigmoid(g_i) * np.tanh(g_c)
        h = sigmoid(g_o) * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, axis=1), c


def test_lstm_matches_numpy_reference(fixed_weights):
    units, features = 3, 2
    inputs = np.arange(2 * 4 * features).reshape(2, 4, features).astype("float32") / 16
    h0, c0 = fixed_weights(2, units), fixed_weights(2, units)[::-1]
    weights = [
        fixed_weights(features, 4 * units),
        fixed_weights(units, 4 * units)[::-1],
        fixed_weights(4 * units)[::-1],
    ]
    expected_h, expected_c = numpy_lstm(inputs, h0, c0, *weights)
    for layer in (
        LSTM(units, return_sequences=True, return_state=True),
        keras.layers.RNN(LSTMCell(units), return_sequences=True, return_state=True),
    ):
        layer.build(inputs.shape)
        layer.set_weights(weights)
        outputs, h, c = layer(inputs, initial_state=[h0, c0])
        np.testing.assert_allclose(outputs, expected_h, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(h, expected_h[:, -1], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(c, expected_c, rtol=1e-5, atol=1e-6)


def test_lstm_fixed_weights_with_mask():
    # Constant weights (forget bias 1 from unit_forget_bias), np.arange
    # inputs, a right-padded mask: numbers pinned so a change in any path shows.
    layer = LSTM(
        2, return_sequences=True,
        kernel_initializer=keras.initializers.Constant(0.1),
        recurrent_initializer=keras.initializers.Constant(-0.2),
        bias_initializer=keras.initializers.Constant(0.05),
    )
    inputs = np.arange(2 * 3 * 2).reshape(2, 3, 2).astype("float32") / 10
    mask = np.array([[True, True, True], [True, True, False]])
    expected = np.array(
        [[[0.01589, 0.01589], [0.03746, 0.03746], [0.06319, 0.06319]],
         [[0.05271, 0.05271], [0.09871, 0.09871], [0.09871, 0.09871]]]
    )
    np.testing.assert_allclose(layer(inputs, mask=mask), expected, atol=1e-5)
