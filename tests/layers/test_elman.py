"""`ElmanCell` and `ElmanRNN` against `keras.layers.SimpleRNNCell`/`SimpleRNN` and NumPy."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasseq.layers import ElmanCell
from kerasseq.layers import ElmanRNN

# (layer kwargs, call options, implementation on a CPU).
CASES = {
    "default": ({}, {}, "fused"),
    "units_5": ({"units": 5}, {}, "fused"),
    "relu": ({"activation": "relu"}, {}, "fused"),
    "sigmoid": ({"activation": "sigmoid"}, {}, "fused"),
    "linear": ({"activation": "linear"}, {}, "fused"),
    "softplus": ({"activation": "softplus"}, {}, "generic"),
    "no_bias": ({"use_bias": False}, {}, "fused"),
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
    "relu_mask_backwards": (
        {"activation": "relu", "go_backwards": True, "return_state": True}, {"mask": "right"}, "fused",
    ),
    "zero_output_for_mask": (
        {"return_sequences": True, "zero_output_for_mask": True}, {"mask": "left"}, "fused",
    ),
    "mask_generic": ({"activation": "softplus", "return_sequences": True}, {"mask": "left"}, "generic"),
    "mask_unroll": ({"unroll": True, "return_sequences": True}, {"mask": "right"}, "generic"),
}

TRACED = ["default", "state", "left_mask_initial_state"]


def _kwargs(layer_kwargs):
    return {"units": 4, **layer_kwargs}


@pytest.mark.parametrize("case", list(CASES))
def test_elman_matches_simple_rnn_eagerly(parity, case):
    layer_kwargs, options, implementation = CASES[case]
    parity(ElmanRNN, keras.layers.SimpleRNN, _kwargs(layer_kwargs), expected=implementation, **options)


@pytest.mark.parametrize("case", TRACED)
def test_elman_matches_simple_rnn_traced(parity, case):
    layer_kwargs, options, _ = CASES[case]
    parity(ElmanRNN, keras.layers.SimpleRNN, _kwargs(layer_kwargs), traced=True, **options)


@pytest.mark.parametrize("kwargs", [{}, {"activation": "relu", "use_bias": False}])
def test_elman_cell_in_rnn_matches_keras(layer_parity, mask_of, kwargs):
    inputs = np.random.default_rng(0).normal(size=(3, 5, 3)).astype("float32")
    layer_parity(
        keras.layers.RNN(ElmanCell(4, **kwargs), return_sequences=True),
        keras.layers.RNN(keras.layers.SimpleRNNCell(4, **kwargs), return_sequences=True),
        inputs,
        mask=tf.constant(mask_of("right")),
    )


def test_stacked_elman_cells_match_keras(layer_parity):
    inputs = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    layer_parity(
        keras.layers.RNN([ElmanCell(4), ElmanCell(3)], return_state=True),
        keras.layers.RNN([keras.layers.SimpleRNNCell(4), keras.layers.SimpleRNNCell(3)], return_state=True),
        inputs,
    )


DROPOUT_CASES = {
    "inputs": ({"dropout": 0.3}, False),
    "inputs_traced": ({"dropout": 0.3}, True),
    "recurrent": ({"recurrent_dropout": 0.4}, False),
    "both": ({"dropout": 0.3, "recurrent_dropout": 0.4}, False),
}


@pytest.mark.parametrize("case", list(DROPOUT_CASES))
def test_elman_dropout_matches_simple_rnn(layer_parity, case):
    kwargs, traced = DROPOUT_CASES[case]
    kwargs = {"units": 4, "seed": 7, "return_sequences": True, **kwargs}
    ours = ElmanRNN(**kwargs)
    inputs = np.random.default_rng(0).normal(size=(3, 5, 3)).astype("float32")
    dropped = layer_parity(ours, keras.layers.SimpleRNN(**kwargs), inputs, traced=traced, training=True)
    assert not np.allclose(dropped[0], ours(inputs, training=False)), "no unit was dropped"


def test_elman_dropout_inactive_at_inference():
    inputs = np.random.default_rng(0).normal(size=(3, 5, 3)).astype("float32")
    with_dropout = ElmanRNN(4, dropout=0.5, recurrent_dropout=0.5, seed=1)
    without = ElmanRNN(4)
    with_dropout.build(inputs.shape)
    without.build(inputs.shape)
    without.set_weights(with_dropout.get_weights())
    for training in (False, None):
        np.testing.assert_allclose(with_dropout(inputs, training=training), without(inputs), atol=1e-6)


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


def test_elman_fixed_weights_with_mask():
    # Constant weights, np.arange inputs, a right-padded mask: numbers
    # pinned so that a change in any path shows.
    layer = ElmanRNN(
        2, return_sequences=True,
        kernel_initializer=keras.initializers.Constant(0.1),
        recurrent_initializer=keras.initializers.Constant(-0.2),
        bias_initializer=keras.initializers.Constant(0.05),
    )
    inputs = np.arange(2 * 3 * 2).reshape(2, 3, 2).astype("float32") / 10
    mask = np.array([[True, True, True], [True, True, False]])
    expected = np.array(
        [[[0.05993, 0.05993], [0.07588, 0.07588], [0.10921, 0.10921]],
         [[0.17808, 0.17808], [0.14768, 0.14768], [0.14768, 0.14768]]]
    )
    np.testing.assert_allclose(layer(inputs, mask=mask), expected, atol=1e-5)
