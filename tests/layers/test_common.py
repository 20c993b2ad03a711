"""Behaviour that `ElmanRNN`, `GRU` and `LSTM` and their cells share, checked
the same way for each against its Keras built-in: parity over one table of
configurations, cells inside `keras.layers.RNN` (alone and stacked),
dropout, and pinned numbers.

What only one cell has (GRU `reset_after=False`, LSTM `unit_forget_bias`)
and the NumPy references stay in test_elman.py, test_gru.py and test_lstm.py.
"""

import keras
import numpy as np
import pytest

from kerasseq.layers import GRU
from kerasseq.layers import LSTM
from kerasseq.layers import ElmanCell
from kerasseq.layers import ElmanRNN
from kerasseq.layers import GRUCell
from kerasseq.layers import LSTMCell

# (ours, the Keras built-in); the gated ones also take `recurrent_activation`.
LAYER_PAIRS = {
    "elman": (ElmanRNN, keras.layers.SimpleRNN),
    "gru": (GRU, keras.layers.GRU),
    "lstm": (LSTM, keras.layers.LSTM),
}
CELL_PAIRS = {
    "elman": (ElmanCell, keras.layers.SimpleRNNCell),
    "gru": (GRUCell, keras.layers.GRUCell),
    "lstm": (LSTMCell, keras.layers.LSTMCell),
}
GATED = ["gru", "lstm"]

# (layer kwargs, call options, implementation on a CPU); 4 units unless set.
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
    "right_mask_state": ({"return_sequences": True, "return_state": True}, {"mask": "right"}, "fused"),
    "left_mask": ({"return_sequences": True}, {"mask": "left"}, "fused"),
    "left_mask_initial_state": (
        {"return_sequences": True, "return_state": True},
        {"mask": "left", "initial_state": True}, "fused",
    ),
    "mask_backwards": ({"go_backwards": True, "return_state": True}, {"mask": "right"}, "fused"),
    "relu_mask_backwards": (
        {"activation": "relu", "go_backwards": True, "return_state": True}, {"mask": "right"}, "fused",
    ),
    "zero_output_for_mask": (
        {"return_sequences": True, "zero_output_for_mask": True}, {"mask": "right"}, "fused",
    ),
    "zero_output_for_left_mask": (
        {"return_sequences": True, "zero_output_for_mask": True}, {"mask": "left"}, "fused",
    ),
    "zero_output_last": ({"zero_output_for_mask": True}, {"mask": "left"}, "fused"),
    "mask_generic": ({"activation": "softplus", "return_sequences": True}, {"mask": "left"}, "generic"),
    "mask_generic_state": ({"activation": "softplus", "return_state": True}, {"mask": "left"}, "generic"),
    "mask_unroll": ({"unroll": True, "return_sequences": True}, {"mask": "right"}, "generic"),
}
GATED_CASES = {
    "recurrent_tanh": ({"recurrent_activation": "tanh"}, {}, "fused"),
    "recurrent_hard_sigmoid": ({"recurrent_activation": "hard_sigmoid"}, {}, "generic"),
}

# Traced runs: the fused GRU forward compiles with XLA only inside a
# tf.function, hence the activation and bias variants.
TRACED = ["default", "relu", "no_bias", "state", "left_mask_initial_state"]


def _pairs(table, names=None):
    return [pytest.param(*table[name], id=name) for name in names or table]


def _random_inputs(*shape):
    return np.random.default_rng(0).normal(size=shape).astype("float32")


# --- Parity over configurations -------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("ours, ref", _pairs(LAYER_PAIRS))
def test_matches_keras_eagerly(case_parity, ours, ref, case):
    case_parity(ours, ref, CASES[case])


@pytest.mark.parametrize("case", list(GATED_CASES))
@pytest.mark.parametrize("ours, ref", _pairs(LAYER_PAIRS, GATED))
def test_gated_matches_keras_eagerly(case_parity, ours, ref, case):
    case_parity(ours, ref, GATED_CASES[case])


@pytest.mark.parametrize("case", TRACED)
@pytest.mark.parametrize("ours, ref", _pairs(LAYER_PAIRS))
def test_matches_keras_traced(case_parity, ours, ref, case):
    case_parity(ours, ref, CASES[case], traced=True)


# --- Cells in keras.layers.RNN --------------------------------------------

CELL_CASES = {
    "default": {},
    "no_bias": {"use_bias": False},
    "relu_no_bias": {"activation": "relu", "use_bias": False},
}
GATED_CELL_CASES = {
    "relu_hard_sigmoid": {"activation": "relu", "recurrent_activation": "hard_sigmoid"},
}
# How the cell is wrapped: (keras.layers.RNN kwargs, padding of the mask).
WRAPPINGS = {
    "sequences_right_mask": ({"return_sequences": True}, "right"),
    "state_left_mask": ({"return_sequences": True, "return_state": True}, "left"),
}


def _cell_in_rnn(cell_parity, ours, ref, kwargs, wrapping):
    rnn_kwargs, padding = WRAPPINGS[wrapping]
    cell_parity(ours(4, **kwargs), ref(4, **kwargs), padding=padding, **rnn_kwargs)


@pytest.mark.parametrize("wrapping", list(WRAPPINGS))
@pytest.mark.parametrize("case", list(CELL_CASES))
@pytest.mark.parametrize("ours, ref", _pairs(CELL_PAIRS))
def test_cell_in_rnn_matches_keras(cell_parity, ours, ref, case, wrapping):
    _cell_in_rnn(cell_parity, ours, ref, CELL_CASES[case], wrapping)


@pytest.mark.parametrize("wrapping", list(WRAPPINGS))
@pytest.mark.parametrize("case", list(GATED_CELL_CASES))
@pytest.mark.parametrize("ours, ref", _pairs(CELL_PAIRS, GATED))
def test_gated_cell_in_rnn_matches_keras(cell_parity, ours, ref, case, wrapping):
    _cell_in_rnn(cell_parity, ours, ref, GATED_CELL_CASES[case], wrapping)


@pytest.mark.parametrize("ours, ref", _pairs(CELL_PAIRS))
def test_stacked_cells_match_keras(cell_parity, ours, ref):
    cell_parity([ours(4), ours(3)], [ref(4), ref(3)], shape=(2, 4, 3), return_state=True)


# --- Dropout --------------------------------------------------------------

# (dropout kwargs, traced, padding mask). Gated cells draw one mask per
# gate for inputs and state once recurrent dropout is on (Keras'
# implementation=1): the generic loop applies them per gate block.
DROPOUT_CASES = {
    "inputs": ({"dropout": 0.3}, False, None),
    "inputs_traced": ({"dropout": 0.3}, True, None),
    "recurrent": ({"recurrent_dropout": 0.4}, False, None),
    "recurrent_traced": ({"recurrent_dropout": 0.4}, True, None),
    "both": ({"dropout": 0.3, "recurrent_dropout": 0.4}, False, None),
    "both_traced": ({"dropout": 0.3, "recurrent_dropout": 0.4}, True, None),
    "both_masked": ({"dropout": 0.3, "recurrent_dropout": 0.4}, False, "left"),
    "both_backwards_last": ({"dropout": 0.3, "recurrent_dropout": 0.4, "go_backwards": True,
                             "return_sequences": False, "return_state": True}, False, "right"),
}


@pytest.mark.parametrize("case", list(DROPOUT_CASES))
@pytest.mark.parametrize("ours, ref", _pairs(LAYER_PAIRS))
def test_dropout_matches_keras(dropout_parity, ours, ref, case):
    kwargs, traced, mask = DROPOUT_CASES[case]
    dropout_parity(ours, ref, kwargs, traced=traced, mask=mask)


@pytest.mark.parametrize("name", list(LAYER_PAIRS))
def test_dropout_inactive_at_inference(name):
    ours, _ = LAYER_PAIRS[name]
    inputs = _random_inputs(3, 5, 3)
    with_dropout = ours(4, dropout=0.5, recurrent_dropout=0.5, seed=1)
    without = ours(4)
    with_dropout.build(inputs.shape)
    without.build(inputs.shape)
    without.set_weights(with_dropout.get_weights())
    for training in (False, None):
        np.testing.assert_allclose(with_dropout(inputs, training=training), without(inputs), atol=1e-6)


# --- Pinned numbers -------------------------------------------------------

# Outputs of a 2-unit layer with the constant weights below on np.arange
# inputs with a right-padded mask: pinned so that a change in any path shows.
# The LSTM's forget bias is 1 (unit_forget_bias).
PINNED = {
    "elman": [[[0.05993, 0.05993], [0.07588, 0.07588], [0.10921, 0.10921]],
              [[0.17808, 0.17808], [0.14768, 0.14768], [0.14768, 0.14768]]],
    "gru": [[[0.04071, 0.04071], [0.07651, 0.07651], [0.11003, 0.11003]],
            [[0.09073, 0.09073], [0.14952, 0.14952], [0.14952, 0.14952]]],
    "lstm": [[[0.01589, 0.01589], [0.03746, 0.03746], [0.06319, 0.06319]],
             [[0.05271, 0.05271], [0.09871, 0.09871], [0.09871, 0.09871]]],
}


@pytest.mark.parametrize("name", list(PINNED))
def test_fixed_weights_with_mask(name):
    ours, _ = LAYER_PAIRS[name]
    layer = ours(
        2, return_sequences=True,
        kernel_initializer=keras.initializers.Constant(0.1),
        recurrent_initializer=keras.initializers.Constant(-0.2),
        bias_initializer=keras.initializers.Constant(0.05),
    )
    inputs = np.arange(2 * 3 * 2).reshape(2, 3, 2).astype("float32") / 10
    mask = np.array([[True, True, True], [True, True, False]])
    np.testing.assert_allclose(layer(inputs, mask=mask), np.array(PINNED[name]), atol=1e-5)


# --- Integer inputs -------------------------------------------------------

# The layer kwargs that select each loop on a CPU (ours and the built-in alike).
LOOPS = {"fused": {}, "generic": {"activation": "softplus"}}


def _integer_inputs():
    return (np.arange(2 * 4 * 3).reshape(2, 4, 3) % 5 - 2).astype("int64")


@pytest.mark.parametrize("loop", list(LOOPS))
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("ours, ref", _pairs(LAYER_PAIRS))
def test_integer_inputs_match_keras(ours, ref, return_sequences, loop):
    # The built-ins compute integer inputs in their compute dtype.
    kwargs = {"return_sequences": return_sequences, **LOOPS[loop]}
    ours, ref = ours(4, **kwargs), ref(4, **kwargs)
    assert ours.implementation_for(gpu=False) == loop
    inputs = _integer_inputs()
    ours.build(inputs.shape)
    ref.build(inputs.shape)
    ours.set_weights(ref.get_weights())
    outputs = ours(inputs)
    assert outputs.dtype == ref(inputs).dtype == "float32"
    np.testing.assert_allclose(outputs, ref(inputs), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("ours, ref", _pairs(LAYER_PAIRS))
def test_integer_inputs_in_functional_model_match_keras(ours, ref):
    # Traced: the fused loop's TensorArrays take the dtype of their inputs.
    def model(recurrent):
        inputs = keras.Input((4, 3), dtype="int32")
        return keras.Model(inputs, recurrent(4, return_sequences=True)(inputs))

    ours, ref = model(ours), model(ref)
    ours.set_weights(ref.get_weights())
    inputs = _integer_inputs().astype("int32")
    np.testing.assert_allclose(
        ours.predict(inputs, verbose=0), ref.predict(inputs, verbose=0), rtol=1e-5, atol=1e-5
    )


# --- Keras' `implementation` ----------------------------------------------


@pytest.mark.parametrize("implementation", [0, 1, 2])
@pytest.mark.parametrize("ours, ref", _pairs(LAYER_PAIRS, GATED))
def test_each_implementation_matches_keras(case_parity, ours, ref, implementation):
    # Without dropout the modes differ only in how the matmuls are split.
    case_parity(ours, ref, ({"implementation": implementation, "return_state": True}, {}, "fused"))


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "traced"])
@pytest.mark.parametrize("ours, ref", _pairs(LAYER_PAIRS, GATED))
def test_implementation_1_dropout_matches_keras(dropout_parity, ours, ref, traced):
    # Mode 1 draws one input mask per gate: a seeded layer drops the units
    # the built-in drops only if it draws the same number of masks. The
    # built-ins need use_cudnn=False here: Keras 3.15 applies the list of
    # per-gate masks to the whole sequence before it tries cuDNN, and fails
    # to broadcast it, even on a CPU. Ours take the generic loop instead.
    kwargs = {"dropout": 0.3, "implementation": 1, "use_cudnn": False}
    dropout_parity(ours, ref, kwargs, traced=traced)
