"""Tests for `MaskedGlobalPooling1D`: padding never counts, empty rows give zeros."""

import keras
import numpy as np
import pytest

import kerasseq  # noqa: F401
from kerasseq.layers import MaskedGlobalPooling1D
from kerasseq.validation import ArgumentError

X = np.array([[[1.0, -2.0], [5.0, 7.0], [-9.0, 0.5]],
              [[3.0, 3.0], [4.0, -4.0], [100.0, 100.0]]], dtype="float32")
MASK = np.array([[True, False, True], [False, False, False]])


def test_mean_and_max_over_kept_steps():
    mean = MaskedGlobalPooling1D("mean")(X, mask=MASK).numpy()
    highest = MaskedGlobalPooling1D("max")(X, mask=MASK).numpy()
    np.testing.assert_allclose(mean, [[-4.0, -0.75], [0.0, 0.0]])
    np.testing.assert_allclose(highest, [[1.0, 0.5], [0.0, 0.0]])
    # Without a mask, as the Keras built-ins.
    np.testing.assert_allclose(MaskedGlobalPooling1D("mean")(X).numpy(),
                               keras.layers.GlobalAveragePooling1D()(X).numpy(), atol=1e-6)
    np.testing.assert_allclose(MaskedGlobalPooling1D("max")(X).numpy(),
                               keras.layers.GlobalMaxPooling1D()(X).numpy(), atol=1e-6)


@pytest.mark.parametrize("mode", ["mean", "max"])
def test_embedding_mask_reaches_it_and_round_trip(mode, tmp_path):
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(10, 3, mask_zero=True)(ids)
    model = keras.Model(ids, MaskedGlobalPooling1D(mode)(x))
    padded = model(np.array([[4, 5, 0, 0]])).numpy()
    np.testing.assert_allclose(padded, model(np.array([[4, 5]])).numpy(), atol=1e-6)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(loaded(np.array([[4, 5, 0, 0]])).numpy(), padded, atol=1e-6)
    # Gradients stay finite on a fully masked row.
    import tensorflow as tf

    with tf.GradientTape() as tape:
        values = tf.constant(X)
        tape.watch(values)
        out = MaskedGlobalPooling1D(mode)(values, mask=MASK)
    assert np.all(np.isfinite(tape.gradient(out, values).numpy()))


def test_mode_error():
    with pytest.raises(ArgumentError, match="MaskedGlobalPooling1D received mode='min'"):
        MaskedGlobalPooling1D("min")
