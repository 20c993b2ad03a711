"""Tests for `kerasseq.analysis.gradients`: the gradient at every hidden
state against the closed form of a linear Elman network and against
finite differences, for every cell; and global-norm clipping."""

import keras
import numpy as np
import pytest

from kerasseq import layers
from kerasseq.analysis import gradient_flow
from kerasseq.analysis import plot_gradient_flow

T, F, U = 7, 3, 4


def elman_model(activation, recurrent=None, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((T, F))
    hidden = layers.ElmanRNN(U, activation=activation, name="rnn")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, use_bias=False, name="out")(hidden))
    if recurrent is not None:
        model.get_layer("rnn").cell.recurrent_kernel.assign(recurrent)
    return model


def windows(seed=1, batch=3):
    return np.random.default_rng(seed).normal(size=(batch, T, F)).astype("float32")


def test_a_linear_elman_network_follows_the_closed_form():
    recurrent = 0.6 * np.linalg.qr(np.random.default_rng(2).normal(size=(U, U)))[0].astype("float32")
    recurrent[0] *= 1.5  # singular values 0.9 and 0.6: a geometric decay
    model = elman_model("linear", recurrent)
    flow = gradient_flow(model, windows())
    w = model.get_layer("out").kernel.numpy()[:, 0]
    # L = sum of w . h_T and h_t = h_{t-1} W + ...: dL/dh_t = W^(T-t) w, whatever the inputs.
    expected = [np.linalg.norm(np.linalg.matrix_power(recurrent, T - 1 - t) @ w) for t in range(T)]
    np.testing.assert_allclose(flow["grad_norm"], np.tile(expected, (3, 1)), rtol=1e-5)
    np.testing.assert_allclose(flow["jacobian_norm"], np.linalg.svd(recurrent, compute_uv=False)[0], rtol=1e-5)
    assert flow["mean"].shape == (T,) and flow["jacobian_mean"].shape == (T - 1,)
    assert np.all(np.diff(flow["mean"]) > 0)  # it shrinks with the distance from the loss


def test_a_tanh_elman_network_matches_finite_differences():
    model = elman_model("tanh")
    x = windows(batch=1)[0].astype("float64")
    cell = model.get_layer("rnn").cell
    kernel, recurrent, bias = (v.numpy().astype("float64") for v in (cell.kernel, cell.recurrent_kernel, cell.bias))
    w = model.get_layer("out").kernel.numpy()[:, 0].astype("float64")

    def loss_after(t, h):
        for step in range(t + 1, T):
            h = np.tanh(x[step] @ kernel + h @ recurrent + bias)
        return h @ w

    states, h = [], np.zeros(U)
    for step in range(T):
        h = np.tanh(x[step] @ kernel + h @ recurrent + bias)
        states.append(h)
    eps = 1e-6
    expected = [np.linalg.norm([(loss_after(t, states[t] + eps * e) - loss_after(t, states[t] - eps * e)) / (2 * eps)
                                for e in np.eye(U)]) for t in range(T)]
    flow = gradient_flow(model, windows(batch=1))
    np.testing.assert_allclose(flow["grad_norm"][0], expected, rtol=1e-4)


@pytest.mark.parametrize("layer", [
    lambda: layers.GRU(U, name="rnn"),
    lambda: layers.GRU(U, reset_after=False, name="rnn"),  # the course notes' reset before the product
    lambda: layers.LSTM(U, name="rnn"),
    lambda: layers.ElmanRNN(U, return_sequences=True, go_backwards=True, name="rnn"),
])
def test_every_cell_matches_finite_differences_of_the_model_loss(layer):
    import tensorflow as tf

    keras.utils.set_random_seed(3)
    inputs = keras.Input((T, F))
    hidden = layer()(inputs)
    if len(hidden.shape) == 3:
        hidden = keras.layers.Flatten()(hidden)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(loss="mse")
    x, y = windows(batch=2), np.ones((2, 1), "float32")
    rnn = model.get_layer("rnn")
    head = model.layers[model.layers.index(rnn) + 1:]
    sizes = rnn.cell.state_size if isinstance(rnn.cell.state_size, (list, tuple)) else [rnn.cell.state_size]

    def loss(step=None, delta=None):
        """The model's summed loss, stepped by hand, `delta` added to h_step."""
        sequence = x[:, ::-1] if rnn.go_backwards else x
        states, outputs = [tf.zeros((2, size)) for size in sizes], []
        for t in range(T):
            _, states = rnn.cell(sequence[:, t], states)
            states = list(states) if isinstance(states, (list, tuple)) else [states]
            if t == step:
                states[0] = states[0] + delta
            outputs.append(states[0])
        # go_backwards: Keras returns the outputs in the order it read the inputs.
        result = tf.stack(outputs, 1) if rnn.return_sequences else outputs[-1]
        for later in head:
            result = later(result)
        return model.compute_loss(x=None, y=y, y_pred=result).numpy() * 2

    # The hand-stepped model is the model...
    assert loss() == pytest.approx(float(model.compute_loss(x=None, y=y, y_pred=model(x))) * 2, rel=1e-5)
    flow = gradient_flow(model, x, y)
    assert flow["grad_norm"].shape == (2, T) and flow["jacobian_norm"].shape == (2, T - 1)
    # ...and its central differences at each h_t give the norms. The loss
    # sums over the samples, so a sample's perturbation moves its own term.
    eps = 1e-2
    for t in (0, T // 2, T - 1):
        for sample in range(2):
            gradient = []
            for unit in range(U):
                delta = np.zeros((2, U), "float32")
                delta[sample, unit] = eps
                gradient.append((loss(t, delta) - loss(t, -delta)) / (2 * eps))
            assert np.linalg.norm(gradient) == pytest.approx(flow["grad_norm"][sample, t], rel=2e-3)


def test_bad_arguments_name_the_fix():
    model = elman_model("tanh")
    with pytest.raises(ValueError, match=r"no such kerasseq recurrent layer .* Pass one of \['rnn'\]"):
        gradient_flow(model, windows(), layer="lstm")
    with pytest.raises(ValueError, match="not compiled, so it has no loss"):
        gradient_flow(model, windows(), np.ones((3, 1)))
    inputs = keras.Input((T, F))
    builtin = keras.Model(inputs, keras.layers.GRU(2)(inputs))
    with pytest.raises(ValueError, match=r"has no such kerasseq recurrent layer \(ElmanRNN, GRU or LSTM, or "
                                         r"Bidirectional of one\) at its top level\. Pass one of \[\]\."):
        gradient_flow(builtin, windows())


def test_the_plot_is_a_png(tmp_path):
    flows = {"elman": gradient_flow(elman_model("tanh"), windows())}
    plot_gradient_flow(flows, tmp_path / "flow.png")
    assert (tmp_path / "flow.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("clip", [{"global_clipnorm": 1.0}, {"clipnorm": 1.0}])
def test_clipping_bounds_every_update_of_an_exploding_network(clip):
    # A recurrent kernel with spectral radius 3: the gradient explodes.
    recurrent = 3.0 * np.eye(U, dtype="float32")
    model = elman_model("linear", recurrent)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0, **clip), loss="mse")
    x, y = windows(batch=8), np.zeros((8, 1), "float32")
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=None, y=y, y_pred=model(x))
    raw = float(tf.linalg.global_norm(tape.gradient(loss, model.trainable_variables)))
    assert raw > 1e3
    for _ in range(3):
        before = [v.numpy() for v in model.trainable_variables]
        model.train_on_batch(x, y)
        steps = [after.numpy() - b for after, b in zip(model.trainable_variables, before)]
        norms = [np.linalg.norm(s) for s in steps]
        if "global_clipnorm" in clip:
            assert np.sqrt(sum(n ** 2 for n in norms)) <= 1.0 + 1e-5
        else:
            assert max(norms) <= 1.0 + 1e-5


def token_model(layer, *, pooled=False):
    """Embedding (padding masked) -> recurrent layer -> (masked max pooling) -> Dense."""
    keras.utils.set_random_seed(4)
    inputs = keras.Input((None,), dtype="int32")
    hidden = layer(keras.layers.Embedding(20, F, mask_zero=True)(inputs))
    if pooled:
        hidden = layers.MaskedGlobalPooling1D("max")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(loss="mse")
    return model


PADDED = np.array([[3, 5, 7, 2, 9, 4], [6, 2, 8, 0, 0, 0], [1, 4, 0, 0, 0, 0]], "int32")


@pytest.mark.parametrize("layer, pooled", [
    (lambda: layers.GRU(U, name="rnn"), False),
    (lambda: layers.LSTM(U, go_backwards=True, name="rnn"), False),
    (lambda: layers.ElmanRNN(U, return_sequences=True, name="rnn"), True),
    (lambda: layers.GRU(U, return_sequences=True, zero_output_for_mask=True, name="rnn"), True),
])
def test_padded_sequences_flow_as_each_sequence_alone(layer, pooled):
    model = token_model(layer(), pooled=pooled)
    y = np.array([[0.5], [-1.0], [2.0]], "float32")
    flow = gradient_flow(model, PADDED, y)
    lengths = (PADDED != 0).sum(axis=1)
    backwards = model.get_layer("rnn").go_backwards
    for row, length in enumerate(lengths):
        alone = gradient_flow(model, PADDED[row:row + 1, :length], y[row:row + 1])
        # Steps in reading order: the padding comes first when reading backwards.
        read = slice(len(PADDED[row]) - length, None) if backwards else slice(0, length)
        np.testing.assert_allclose(flow["grad_norm"][row, read], alone["grad_norm"][0], rtol=1e-4, atol=1e-7)
        assert np.isnan(np.delete(flow["grad_norm"][row], np.arange(len(PADDED[row]))[read])).all()
    # Distance 0 is each sequence's last step read, wherever its padding is.
    last = [gradient_flow(model, PADDED[r:r + 1, :n], y[r:r + 1])["grad_norm"][0, -1]
            for r, n in enumerate(lengths)]
    np.testing.assert_allclose(flow["by_distance"][0], np.mean(last), rtol=1e-4)
    assert flow["by_distance"].shape == (PADDED.shape[1],)


def test_the_plot_by_distance_and_a_bad_axis(tmp_path):
    model = token_model(layers.GRU(U, name="rnn"))
    plot_gradient_flow({"gru": gradient_flow(model, PADDED)}, tmp_path / "flow.png", by="distance")
    assert (tmp_path / "flow.png").is_file()
    with pytest.raises(ValueError, match=r"by='time'\. Pass by='step' or by='distance'\."):
        plot_gradient_flow({"gru": gradient_flow(model, PADDED)}, tmp_path / "flow.png", by="time")
