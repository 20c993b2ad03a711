"""`LSTMCell` and `LSTM`: `unit_forget_bias` against `keras.layers.LSTM`, and a
NumPy reference; what they share with `ElmanRNN` and `GRU` is tested in
test_common.py."""

import keras
import numpy as np
import pytest

from kerasseq.layers import LSTM
from kerasseq.layers import LSTMCell


def test_lstm_without_unit_forget_bias_matches_keras(case_parity):
    # (layer kwargs, call options, implementation on a CPU).
    case_parity(LSTM, keras.layers.LSTM, ({"unit_forget_bias": False}, {}, "fused"))


@pytest.mark.parametrize("unit_forget_bias", [True, False])
def test_lstm_initial_bias_matches_keras(unit_forget_bias):
    kwargs = {"unit_forget_bias": unit_forget_bias, "bias_initializer": "zeros"}
    ours, ref = LSTM(3, **kwargs), keras.layers.LSTM(3, **kwargs)
    ours.build((2, 4, 2))
    ref.build((2, 4, 2))
    forget = [1.0 if unit_forget_bias else 0.0] * 3
    np.testing.assert_array_equal(ours.cell.bias, [0.0] * 3 + forget + [0.0] * 6)
    np.testing.assert_array_equal(ours.cell.bias, ref.cell.bias)


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
