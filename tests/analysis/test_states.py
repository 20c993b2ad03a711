"""Tests for `kerasseq.analysis.final_states`: the hidden state each
sequence ends with, padded or not, read forwards or backwards, from layers
that return sequences or not, and from stateful layers."""

import keras
import numpy as np
import pytest

from kerasseq import layers
from kerasseq.analysis import final_states

F, U = 3, 5
IDS = np.array([[3, 5, 7, 2, 9], [6, 2, 8, 0, 0], [1, 0, 0, 0, 0], [4, 4, 4, 4, 1]], "int32")


def token_model(layer):
    keras.utils.set_random_seed(5)
    inputs = keras.Input((None,), dtype="int32")
    hidden = layer(keras.layers.Embedding(20, F, mask_zero=True)(inputs))
    return keras.Model(inputs, hidden)


def alone(model, row):
    """The layer's final state for one sequence without its padding."""
    ids = IDS[row][IDS[row] != 0][None]
    rnn = model.get_layer("rnn")
    sequences = model.layers[1](ids)
    out = keras.layers.RNN(rnn.cell, go_backwards=rnn.go_backwards)(sequences)
    return np.asarray(out)[0]


@pytest.mark.parametrize("layer", [
    lambda: layers.GRU(U, name="rnn"),
    lambda: layers.LSTM(U, return_sequences=True, name="rnn"),
    lambda: layers.ElmanRNN(U, go_backwards=True, return_sequences=True, name="rnn"),
    lambda: layers.GRU(U, return_sequences=True, zero_output_for_mask=True, name="rnn"),
    # Keras returns zeros for a text whose last step is padding: the state is not.
    lambda: layers.LSTM(U, zero_output_for_mask=True, name="rnn"),
])
def test_each_sequence_ends_with_its_own_final_state(layer):
    model = token_model(layer())
    states = final_states(model, IDS, batch_size=3)
    assert states.shape == (len(IDS), U)
    for row in range(len(IDS)):
        np.testing.assert_allclose(states[row], alone(model, row), rtol=1e-5, atol=1e-6)


def test_a_stateful_layer_starts_from_zero_states_whatever_it_holds():
    keras.utils.set_random_seed(5)
    inputs = keras.Input((5, F), batch_size=2)
    stateful = keras.Model(inputs, layers.GRU(U, stateful=True, name="rnn")(inputs))
    x = np.random.default_rng(0).normal(size=(7, 5, F)).astype("float32")
    stateful(x[:2])  # the layer now holds states
    plain_inputs = keras.Input((5, F))
    plain = keras.Model(plain_inputs, layers.GRU(U, name="rnn")(plain_inputs))
    plain.set_weights(stateful.get_weights())
    np.testing.assert_allclose(final_states(stateful, x), plain.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_bad_arguments_name_the_fix():
    model = token_model(layers.GRU(U, name="rnn"))
    with pytest.raises(ValueError, match=r"final_states received batch_size=0"):
        final_states(model, IDS, batch_size=0)
    with pytest.raises(ValueError, match=r"no such kerasseq recurrent layer .* Pass one of \['rnn'\]"):
        final_states(model, IDS, layer="lstm")


def test_an_ensemble_gives_its_first_member_s_states():
    from kerasseq.models import build_ensemble

    members = []
    for seed in (1, 2):
        keras.utils.set_random_seed(seed)
        inputs = keras.Input((None,), dtype="int32")
        hidden = layers.GRU(U)(keras.layers.Embedding(20, F, mask_zero=True)(inputs))
        members.append(keras.Model(inputs, keras.layers.Dense(1)(hidden)))
    ensemble = build_ensemble(members)
    first = keras.Model(members[0].inputs, members[0].layers[2].output)
    np.testing.assert_allclose(final_states(ensemble, IDS), final_states(first, IDS), rtol=1e-6)
