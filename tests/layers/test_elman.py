"""`ElmanCell` and `ElmanRNN` against a NumPy reference; what they share with
`GRU` and `LSTM` (parity with `keras.layers.SimpleRNN`, dropout, pinned
numbers) is tested in test_common.py."""

import keras
import numpy as np

from kerasseq.layers import ElmanCell
from kerasseq.layers import ElmanRNN


def numpy_elman(inputs, h, kernel, recurrent_kernel, bias):
    """`h_t = tanh(x_t W + h_{t-1} U + b)`, step by step in NumPy."""
    outputs = []
    for x in inputs.transpose(1, 0, 2):
        h = np.tanh(x @ kernel + h @ recurrent_kernel + bias)
        outputs.append(h)
    return np.stack(outputs, axis=1)


def test_elman_matches_numpy_reference(fixed_weights):
    units, features = 3, 2
    inputs = np.arange(2 * 4 * features).reshape(2, 4, features).astype("float32") / 16
    h0 = fixed_weights(2, units)
    weights = [fixed_weights(features, units), fixed_weights(units, units)[::-1], fixed_weights(units)]
    expected = numpy_elman(inputs, h0, *weights)
    for layer in (
        ElmanRNN(units, return_sequences=True),
        keras.layers.RNN(ElmanCell(units), return_sequences=True),
    ):
        layer.build(inputs.shape)
        layer.set_weights(weights)
        np.testing.assert_allclose(layer(inputs, initial_state=[h0]), expected, rtol=1e-5, atol=1e-6)
