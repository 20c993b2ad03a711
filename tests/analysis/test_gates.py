"""Tests for `kerasseq.analysis.gates`: gate values against NumPy
references of the GRU (both reset conventions) and LSTM equations."""

import keras
import numpy as np
import pytest

from kerasseq import layers
from kerasseq.analysis import gate_trace
from kerasseq.analysis import plot_gate_trace

T, F, U = 6, 3, 4


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def one_layer_model(layer):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((T, F))
    return keras.Model(inputs, layer(inputs))


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_gates_follow_the_equations(reset_after):
    model = one_layer_model(layers.GRU(U, reset_after=reset_after, return_sequences=True, name="gru"))
    x = np.random.default_rng(1).normal(size=(1, T, F)).astype("float32")
    trace = gate_trace(model, x)
    assert trace["layer"] == "gru" and trace["cell"] == "gru" and sorted(trace["gates"]) == ["reset", "update"]
    cell = model.get_layer("gru").cell
    kernel, recurrent = cell.kernel.numpy(), cell.recurrent_kernel.numpy()
    bias = cell.bias.numpy()
    input_bias, recurrent_bias = (bias[0], bias[1]) if reset_after else (bias, np.zeros_like(bias))
    h, z_all, r_all, hs = np.zeros(U), [], [], []
    for t in range(T):
        xz, xr, xh = np.split(x[0, t] @ kernel + input_bias, 3)
        if reset_after:
            mz, mr, mh = np.split(h @ recurrent + recurrent_bias, 3)
        else:
            mz, mr = h @ recurrent[:, :U], h @ recurrent[:, U:2 * U]
        z, r = sigmoid(xz + mz), sigmoid(xr + mr)
        candidate = np.tanh(xh + r * mh) if reset_after else np.tanh(xh + (r * h) @ recurrent[:, 2 * U:])
        h = z * h + (1 - z) * candidate
        z_all.append(z), r_all.append(r), hs.append(h)
    np.testing.assert_allclose(trace["gates"]["update"], z_all, atol=1e-5)
    np.testing.assert_allclose(trace["gates"]["reset"], r_all, atol=1e-5)
    np.testing.assert_allclose(model.predict(x, verbose=0)[0], hs, atol=1e-5)  # the layer itself agrees


def test_lstm_gates_follow_the_equations(tmp_path):
    model = one_layer_model(layers.LSTM(U, name="lstm"))
    x = np.random.default_rng(2).normal(size=(1, T, F)).astype("float32")
    trace = gate_trace(model, x)
    assert trace["cell"] == "lstm" and sorted(trace["gates"]) == ["forget", "input", "output"]
    cell = model.get_layer("lstm").cell
    kernel, recurrent, bias = cell.kernel.numpy(), cell.recurrent_kernel.numpy(), cell.bias.numpy()
    h, c = np.zeros(U), np.zeros(U)
    for t in range(T):
        i, f, g, o = np.split(x[0, t] @ kernel + h @ recurrent + bias, 4)
        i, f, o, g = sigmoid(i), sigmoid(f), sigmoid(o), np.tanh(g)
        c = f * c + i * g
        h = o * np.tanh(c)
        np.testing.assert_allclose(trace["gates"]["input"][t], i, atol=1e-5)
        np.testing.assert_allclose(trace["gates"]["forget"][t], f, atol=1e-5)
        np.testing.assert_allclose(trace["gates"]["output"][t], o, atol=1e-5)
    np.testing.assert_allclose(model.predict(x, verbose=0)[0], h, atol=1e-5)
    plot_gate_trace(trace, tmp_path / "gates.png", labels=[f"t{k}" for k in range(T)])
    assert (tmp_path / "gates.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="received 2 labels for 6 steps"):
        plot_gate_trace(trace, tmp_path / "bad.png", labels=["a", "b"])


def test_gate_trace_refuses_what_it_cannot_trace():
    elman = one_layer_model(layers.ElmanRNN(U, name="elman"))
    with pytest.raises(ValueError, match=r"'elman' \(ElmanRNN\), which has no gates"):
        gate_trace(elman, np.zeros((1, T, F), "float32"))
    gru = one_layer_model(layers.GRU(U))
    with pytest.raises(ValueError, match=r"a batch of 2 sequences\. Pass one, e\.g\. inputs\[:1\]"):
        gate_trace(gru, np.zeros((2, T, F), "float32"))
