"""A `Bidirectional` layer in `gradient_flow`, `gate_trace` and
`final_states`: each direction equals the same layer as one branch of an
explicit two-branch model (forward, and backward with `go_backwards`)."""

import keras
import numpy as np
import pytest

from kerasseq import layers
from kerasseq.analysis import final_states
from kerasseq.analysis import gate_trace
from kerasseq.analysis import gradient_flow

F, U = 3, 4
PADDED = np.array([[3, 5, 7, 2, 9, 4], [6, 2, 8, 0, 0, 0], [1, 4, 0, 0, 0, 0]], "int32")
FULL = np.array([[3, 5, 7, 2, 9, 4], [6, 2, 8, 1, 1, 3]], "int32")


def models(return_sequences):
    """A Bidirectional model and the same weights as two explicit branches."""
    keras.utils.set_random_seed(6)
    # Flatten needs the length; the last states do not.
    length = FULL.shape[1] if return_sequences else None
    ids = keras.Input((length,), dtype="int32")
    embedded = keras.layers.Embedding(20, F, mask_zero=True, name="embedding")(ids)
    both = keras.layers.Bidirectional(layers.GRU(U, return_sequences=return_sequences), name="bi")(embedded)
    if return_sequences:
        both = keras.layers.Flatten()(both)
    model = keras.Model(ids, keras.layers.Dense(1, name="out")(both))
    model.compile(loss="mse")

    ids2 = keras.Input((length,), dtype="int32")
    embedded2 = keras.layers.Embedding(20, F, mask_zero=True, name="embedding")(ids2)
    # Keras' Bidirectional gives zeros at padding when it returns sequences.
    options = dict(return_sequences=return_sequences, zero_output_for_mask=return_sequences)
    forward = layers.GRU(U, name="fwd", **options)(embedded2)
    backward = layers.GRU(U, go_backwards=True, name="bwd", **options)(embedded2)
    if return_sequences:
        backward = keras.layers.Lambda(lambda x: keras.ops.flip(x, 1))(backward)
    merged = keras.layers.Concatenate()([forward, backward])
    if return_sequences:
        merged = keras.layers.Flatten()(merged)
    explicit = keras.Model(ids2, keras.layers.Dense(1, name="out")(merged))
    explicit.compile(loss="mse")
    explicit.get_layer("embedding").set_weights(model.get_layer("embedding").get_weights())
    explicit.get_layer("fwd").set_weights(model.get_layer("bi").forward_layer.get_weights())
    explicit.get_layer("bwd").set_weights(model.get_layer("bi").backward_layer.get_weights())
    explicit.get_layer("out").set_weights(model.get_layer("out").get_weights())
    return model, explicit


@pytest.mark.parametrize("return_sequences, ids", [(False, PADDED), (True, FULL)])
def test_each_direction_flows_as_its_explicit_branch(return_sequences, ids):
    model, explicit = models(return_sequences)
    np.testing.assert_allclose(model.predict(ids, verbose=0), explicit.predict(ids, verbose=0), rtol=1e-5)
    y = np.linspace(-1, 1, len(ids), dtype="float32")[:, None]
    for direction, branch in (("forward", "fwd"), ("backward", "bwd")):
        flow = gradient_flow(model, ids, y, direction=direction)
        expected = gradient_flow(explicit, ids, y, layer=branch)
        np.testing.assert_allclose(flow["grad_norm"], expected["grad_norm"], rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(flow["jacobian_norm"], expected["jacobian_norm"], rtol=1e-4)
    np.testing.assert_allclose(gradient_flow(model, ids, y)["grad_norm"],
                               gradient_flow(model, ids, y, direction="forward")["grad_norm"])


def test_gates_and_final_states_of_each_direction():
    model, explicit = models(False)
    for direction, branch in (("forward", "fwd"), ("backward", "bwd")):
        trace = gate_trace(model, PADDED[1:2, :3], direction=direction)
        expected = gate_trace(explicit, PADDED[1:2, :3], layer=branch)
        assert trace["go_backwards"] is (direction == "backward")
        for gate in ("update", "reset"):
            np.testing.assert_allclose(trace["gates"][gate], expected["gates"][gate], rtol=1e-5)
    states = final_states(model, PADDED)
    expected = np.concatenate([final_states(explicit, PADDED, layer="fwd"),
                               final_states(explicit, PADDED, layer="bwd")], axis=1)
    assert states.shape == (3, 2 * U)
    np.testing.assert_allclose(states, expected, rtol=1e-5, atol=1e-6)


def test_a_direction_a_layer_does_not_have_is_refused():
    _, explicit = models(False)
    with pytest.raises(ValueError, match=r"direction='backward' for 'fwd', which reads in one direction\. "
                                         r"Pass one of \['forward'\]"):
        gradient_flow(explicit, PADDED, layer="fwd", direction="backward")


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_the_stepped_directions_merge_into_the_layer_s_own_output(merge_mode, return_sequences):
    import tensorflow as tf

    from kerasseq.analysis.gradients import _layer_output
    from kerasseq.analysis.gradients import _read
    from kerasseq.analysis.stepping import directions
    from kerasseq.analysis.stepping import layer_sequences
    from kerasseq.analysis.stepping import reading_order

    keras.utils.set_random_seed(7)
    ids = keras.Input((None,), dtype="int32")
    embedded = keras.layers.Embedding(20, F, mask_zero=True)(ids)
    both = keras.layers.Bidirectional(layers.LSTM(U, return_sequences=return_sequences), merge_mode=merge_mode,
                                      name="bi")(embedded)
    model = keras.Model(ids, both)
    layer = model.get_layer("bi")
    pairs, _ = directions(layer, None, owner="test")
    _, sequences, mask = layer_sequences(model, layer, PADDED, owner="test", padded=True)
    with tf.GradientTape() as tape:
        runs = [_read(sub, *reading_order(sequences, mask, backwards), tape) for sub, backwards in pairs]
    # Padding after the text, where Bidirectional forces zero outputs, included.
    np.testing.assert_allclose(_layer_output(layer, runs), model(PADDED), rtol=1e-5, atol=1e-6)
