"""`GRUCell` and `GRU` against `keras.layers.GRUCell`/`GRU` and a NumPy reference."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasseq.layers import GRU
from kerasseq.layers import GRUCell

# (layer kwargs, call options, implementation on a CPU). `reset_after=False`
# recurs because its backward pass is a separate branch of the fused loop.
CASES = {
    "default": ({}, {}, "fused"),
    "units_5": ({"units": 5}, {}, "fused"),
    "relu": ({"activation": "relu"}, {}, "fused"),
    "sigmoid": ({"activation": "sigmoid"}, {}, "fused"),
    "linear_reset_before": ({"activation": "linear", "reset_after": False}, {}, "fused"),
    "softplus": ({"activation": "softplus"}, {}, "generic"),
    "recurrent_tanh": ({"recurrent_activation": "tanh"}, {}, "fused"),
    "recurrent_hard_sigmoid": ({"recurrent_activation": "hard_sigmoid"}, {}, "generic"),
    "no_bias": ({"use_bias": False}, {}, "fused"),
    "no_bias_reset_before": ({"use_bias": False, "reset_after": False}, {}, "fused"),
    "reset_before": ({"reset_after": False}, {}, "fused"),
    "sequences": ({"return_sequences": True}, {}, "fused"),
    "state": ({"return_state": True, "return_sequences": True}, {}, "fused"),
    "backwards": ({"go_backwards": True, "return_sequences": True}, {}, "fused"),
    "stateful": ({"stateful": True, "return_sequences": True}, {}, "fused"),
    "unroll": ({"unroll": True, "return_state": True}, {}, "generic"),
    "initial_state": ({"return_state": True}, {"initial_state": True}, "fused"),
    "right_mask": ({"return_sequences": True}, {"mask": "right"}, "fused"),
    "left_mask": ({"return_sequences": True}, {"mask": "left"}, "fused"),
    "left_mask_initial_state": (
        {"return_sequences": True, "return_state": True},
        {"mask": "left", "initial_state": True}, "fused",
    ),
    "mask_backwards_reset_before": (
        {"go_backwards": True, "reset_after": False, "return_state": True},
        {"mask": "right"}, "fused",
    ),
    "zero_output_for_mask": (
        {"return_sequences": True, "zero_output_for_mask": True}, {"mask": "right"}, "fused",
    ),
    "zero_output_last": ({"zero_output_for_mask": True}, {"mask": "left"}, "fused"),
    "mask_generic": ({"activation": "softplus", "return_sequences": True}, {"mask": "left"}, "generic"),
    "mask_unroll": ({"unroll": True, "return_sequences": True}, {"mask": "right"}, "generic"),
}

# The fused GRU forward compiles with XLA only inside a traced function.
TRACED = ["default", "reset_before", "no_bias", "state", "left_mask_initial_state",
          "mask_backwards_reset_before", "relu"]


def _kwargs(layer_kwargs):
    return {"units": 4, **layer_kwargs}


@pytest.mark.parametrize("case", list(CASES))
def test_gru_matches_keras_eagerly(parity, case):
    layer_kwargs, options, implementation = CASES[case]
    parity(GRU, keras.layers.GRU, _kwargs(layer_kwargs), expected=implementation, **options)


@pytest.mark.parametrize("case", TRACED)
def test_gru_matches_keras_traced(parity, case):
    layer_kwargs, options, implementation = CASES[case]
    parity(GRU, keras.layers.GRU, _kwargs(layer_kwargs), traced=True, **options)


CELL_CASES = {
    "default": {},
    "reset_before": {"reset_after": False},
    "no_bias": {"use_bias": False},
    "relu_hard_sigmoid": {"activation": "relu", "recurrent_activation": "hard_sigmoid"},
}


@pytest.mark.parametrize("case", list(CELL_CASES))
def test_gru_cell_in_rnn_matches_keras(layer_parity, mask_of, case):
    kwargs = CELL_CASES[case]
    inputs = np.random.default_rng(0).normal(size=(3, 5, 3)).astype("float32")
    layer_parity(
        keras.layers.RNN(GRUCell(4, **kwargs), return_sequences=True),
        keras.layers.RNN(keras.layers.GRUCell(4, **kwargs), return_sequences=True),
        inputs,
        mask=tf.constant(mask_of("right")),
    )


def test_stacked_gru_cells_match_keras(layer_parity):
    inputs = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    layer_parity(
        keras.layers.RNN([GRUCell(4), GRUCell(3, reset_after=False)], return_state=True),
        keras.layers.RNN(
            [keras.layers.GRUCell(4), keras.layers.GRUCell(3, reset_after=False)],
            return_state=True,
        ),
        inputs,
    )


DROPOUT_CASES = {
    "inputs": ({"dropout": 0.3}, False),
    "inputs_traced": ({"dropout": 0.3}, True),
    "recurrent": ({"recurrent_dropout": 0.4}, False),
    "both_reset_before": ({"dropout": 0.3, "recurrent_dropout": 0.4, "reset_after": False}, False),
}


@pytest.mark.parametrize("case", list(DROPOUT_CASES))
def test_gru_dropout_matches_keras(layer_parity, case):
    kwargs, traced = DROPOUT_CASES[case]
    kwargs = {"units": 4, "seed": 7, "return_sequences": True, **kwargs}
    ours = GRU(**kwargs)
    inputs = np.random.default_rng(0).normal(size=(3, 5, 3)).astype("float32")
    dropped = layer_parity(ours, keras.layers.GRU(**kwargs), inputs, traced=traced, training=True)
    assert not np.allclose(dropped[0], ours(inputs, training=False)), "no unit was dropped"


def test_gru_dropout_inactive_at_inference():
    inputs = np.random.default_rng(0).normal(size=(3, 5, 3)).astype("float32")
    with_dropout = GRU(4, dropout=0.5, recurrent_dropout=0.5, seed=1)
    without = GRU(4)
    with_dropout.build(inputs.shape)
    without.build(inputs.shape)
    without.set_weights(with_dropout.get_weights())
    for training in (False, None):
        np.testing.assert_allclose(with_dropout(inputs, training=training), without(inputs), atol=1e-6)


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


def test_gru_fixed_weights_with_mask():
    # Constant weights, np.arange inputs, a right-padded mask: numbers
    # pinned so that a change in any path shows.
    layer = GRU(
        2, return_sequences=True,
        kernel_initializer=keras.initializers.Constant(0.1),
        recurrent_initializer=keras.initializers.Constant(-0.2),
        bias_initializer=keras.initializers.Constant(0.05),
    )
    inputs = np.arange(2 * 3 * 2).reshape(2, 3, 2).astype("float32") / 10
    mask = np.array([[True, True, True], [True, True, False]])
    expected = np.array(
        [[[0.04071, 0.04071], [0.07651, 0.07651], [0.11003, 0.11003]],
         [[0.09073, 0.09073], [0.14952, 0.14952], [0.14952, 0.14952]]]
    )
    np.testing.assert_allclose(layer(inputs, mask=mask), expected, atol=1e-5)
