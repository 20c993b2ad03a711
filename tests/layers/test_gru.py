"""`GRUCell` and `GRU` with `reset_after=False` against `keras.layers.GRUCell`/`GRU`,
and against a NumPy reference; what they share with `ElmanRNN` and `LSTM` is
tested in test_common.py."""

import keras
import numpy as np
import pytest

from kerasseq.layers import GRU
from kerasseq.layers import GRUCell

# `reset_after=False` (the Keras 2 variant) in the configurations that
# test_common.py runs for every layer, since its backward pass is a separate
# branch of the fused loop: (layer kwargs, call options, implementation on a CPU).
RESET_BEFORE_CASES = {
    "reset_before": ({"reset_after": False}, {}, "fused"),
    "linear_reset_before": ({"activation": "linear", "reset_after": False}, {}, "fused"),
    "no_bias_reset_before": ({"use_bias": False, "reset_after": False}, {}, "fused"),
    "mask_backwards_reset_before": (
        {"go_backwards": True, "reset_after": False, "return_state": True},
        {"mask": "right"}, "fused",
    ),
}

# The fused GRU forward compiles with XLA only inside a traced function.
TRACED = ["reset_before", "mask_backwards_reset_before"]


@pytest.mark.parametrize("case", list(RESET_BEFORE_CASES))
def test_gru_reset_before_matches_keras_eagerly(case_parity, case):
    case_parity(GRU, keras.layers.GRU, RESET_BEFORE_CASES[case])


@pytest.mark.parametrize("case", TRACED)
def test_gru_reset_before_matches_keras_traced(case_parity, case):
    case_parity(GRU, keras.layers.GRU, RESET_BEFORE_CASES[case], traced=True)


def test_gru_cell_reset_before_in_rnn_matches_keras(cell_parity):
    cell_parity(
        GRUCell(4, reset_after=False), keras.layers.GRUCell(4, reset_after=False),
        padding="right", return_sequences=True,
    )


def test_stacked_gru_cells_with_reset_before_on_top_match_keras(cell_parity):
    cell_parity(
        [GRUCell(4), GRUCell(3, reset_after=False)],
        [keras.layers.GRUCell(4), keras.layers.GRUCell(3, reset_after=False)],
        shape=(2, 4, 3), return_state=True,
    )


@pytest.mark.parametrize(
    "kwargs, traced, mask",
    [
        ({"dropout": 0.3, "recurrent_dropout": 0.4}, False, None),
        ({"recurrent_dropout": 0.4}, True, None),
        ({"dropout": 0.3, "recurrent_dropout": 0.4, "go_backwards": True}, False, "left"),
    ],
    ids=["both", "recurrent_traced", "both_backwards_masked"],
)
def test_gru_dropout_with_reset_before_matches_keras(dropout_parity, kwargs, traced, mask):
    dropout_parity(GRU, keras.layers.GRU, {**kwargs, "reset_after": False}, traced=traced, mask=mask)


def numpy_gru(inputs, h, kernel, recurrent_kernel, bias, reset_after):
    """The GRU equations of the `GRUCell` docstring, step by step in NumPy."""
    sigmoid = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    units = h.shape[-1]
    w_z, w_r, w_h = np.split(kernel, 3, axis=1)
    u_z, u_r, u_h = np.split(recurrent_kernel, 3, axis=1)
    b_in, b_rec = bias if reset_after else (bias, np.zeros(3 * units))
    b_z, b_r, b_h = np.split(b_in, 3)
    c_z, c_r, c_h = np.split(b_rec, 3)
    outputs = []
    for x in inputs.transpose(1, 0, 2):
        z = sigmoid(x @ w_z + b_z + h @ u_z + c_z)
        r = sigmoid(x @ w_r + b_r + h @ u_r + c_r)
        if reset_after:
            candidate = np.tanh(x @ w_h + b_h + r * (h @ u_h + c_h))
        else:
            candidate = np.tanh(x @ w_h + b_h + (r * h) @ u_h)
        h = z * h + (1 - z) * candidate
        outputs.append(h)
    return np.stack(outputs, axis=1)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_matches_numpy_reference(fixed_weights, reset_after):
    units, features = 3, 2
    inputs = np.arange(2 * 4 * features).reshape(2, 4, features).astype("float32") / 16
    h0 = fixed_weights(2, units)
    bias = fixed_weights(2, 3 * units) if reset_after else fixed_weights(3 * units)
    weights = [fixed_weights(features, 3 * units), fixed_weights(units, 3 * units)[::-1], bias]
    expected = numpy_gru(inputs, h0, *weights, reset_after=reset_after)
    for layer in (
        GRU(units, reset_after=reset_after, return_sequences=True),
        keras.layers.RNN(GRUCell(units, reset_after=reset_after), return_sequences=True),
    ):
        layer.build(inputs.shape)
        layer.set_weights(weights)
        np.testing.assert_allclose(layer(inputs, initial_state=[h0]), expected, rtol=1e-5, atol=1e-6)
