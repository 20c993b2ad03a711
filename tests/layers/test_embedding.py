"""Tests for `TiedEmbedding`: one matrix embeds the ids and scores the vectors."""

import keras
import numpy as np
import pytest

import kerasseq  # noqa: F401 (registers the layers for load_model)
from kerasseq.layers.embedding import TiedEmbedding

IDS = np.array([[1, 4, 0, 9], [3, 3, 7, 2]], "int32")


def tied(fixed_weights, use_output_bias=True):
    """A built `TiedEmbedding(10, 4)` with fixed weights and, if any, bias."""
    layer = TiedEmbedding(10, 4, use_output_bias=use_output_bias)
    layer.build()
    layer.embeddings.assign(fixed_weights(10, 4))
    if use_output_bias:
        layer.output_bias.assign(np.linspace(-0.5, 0.4, 10).astype("float32"))
    return layer


def test_forward_matches_keras_embedding():
    ref = keras.layers.Embedding(10, 4)
    ours = TiedEmbedding(10, 4)
    ref.build()
    ours.build()
    ours.embeddings.assign(np.random.default_rng(0).normal(size=(10, 4)).astype("float32"))
    ref.set_weights([ours.embeddings.numpy()])
    np.testing.assert_allclose(ours(IDS), ref(IDS), atol=1e-7)
    np.testing.assert_allclose(ours(IDS), ours.embeddings.numpy()[IDS], atol=1e-7)
    assert ours(IDS).shape == (2, 4, 4)


def test_reverse_is_vectors_times_the_transposed_matrix_plus_bias(fixed_weights):
    layer = tied(fixed_weights)
    x = np.random.default_rng(1).normal(size=(2, 3, 4)).astype("float32")
    embeddings = fixed_weights(10, 4)
    bias = np.linspace(-0.5, 0.4, 10)
    expected = x @ embeddings.T + bias
    logits = layer(x, reverse=True)
    assert logits.shape == (2, 3, 10)
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-6)
    # Written out for the first vector's first logit: x[0, 0] . E[0] + b[0].
    np.testing.assert_allclose(logits[0, 0, 0], x[0, 0] @ embeddings[0] - 0.5, rtol=1e-5)


def test_reverse_without_output_bias(fixed_weights):
    layer = tied(fixed_weights, use_output_bias=False)
    assert layer.output_bias is None
    assert [w.name for w in layer.trainable_weights] == ["embeddings"]
    x = np.random.default_rng(2).normal(size=(3, 4)).astype("float32")
    np.testing.assert_allclose(layer(x, reverse=True), x @ fixed_weights(10, 4).T, rtol=1e-5, atol=1e-6)


def test_output_shape_and_spec():
    layer = TiedEmbedding(10, 4)
    assert layer.compute_output_shape((2, 5)) == (2, 5, 4)
    assert layer.compute_output_shape((2, 5, 4), reverse=True) == (2, 5, 10)
    ids = keras.Input((None,), dtype="int32")
    vectors = layer(ids)
    assert tuple(vectors.shape) == (None, None, 4)
    assert tuple(layer(vectors, reverse=True).shape) == (None, None, 10)


def tied_model(use_output_bias=True):
    layer = TiedEmbedding(10, 4, use_output_bias=use_output_bias, name="embedding")
    ids = keras.Input((None,), dtype="int32")
    hidden = keras.layers.Dense(4, activation="tanh", name="hidden")(layer(ids))
    return keras.Model(ids, layer(hidden, reverse=True))


@pytest.mark.parametrize("use_output_bias", [True, False])
def test_one_matrix_serves_both_ends(use_output_bias):
    model = tied_model(use_output_bias)
    # The (10, 4) matrix once, the bias, and the hidden Dense: no second (4, 10) matrix.
    shapes = sorted(tuple(w.shape) for w in model.trainable_weights)
    assert shapes == sorted([(10, 4), (4, 4), (4,)] + [(10,)] * use_output_bias)
    assert model.count_params() == 10 * 4 + 4 * 4 + 4 + 10 * use_output_bias
    # Changing the one matrix changes both the embeddings and the logits.
    layer = model.get_layer("embedding")
    before = model(IDS).numpy()
    layer.embeddings.assign(layer.embeddings * 2.0)
    hidden = np.tanh(layer.embeddings.numpy()[IDS] @ model.get_layer("hidden").kernel.numpy()
                     + model.get_layer("hidden").bias.numpy())
    expected = hidden @ layer.embeddings.numpy().T
    if use_output_bias:
        expected = expected + layer.output_bias.numpy()
    np.testing.assert_allclose(model(IDS), expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(model(IDS), before)


def test_gradients_reach_the_matrix_from_both_ends():
    import tensorflow as tf

    model = tied_model()
    layer = model.get_layer("embedding")
    # A fixed weighting per logit, so no gradient cancels out.
    weighting = np.sin(np.arange(2 * 4 * 10)).reshape(2, 4, 10).astype("float32")
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(IDS) * weighting)
    gradient = tf.convert_to_tensor(tape.gradient(loss, layer.embeddings)).numpy()
    # Ids 5, 6 and 8 are not in IDS: their rows get gradient only through the output.
    assert np.all(np.abs(gradient[[5, 6, 8]]).sum(axis=1) > 0)
    assert np.all(np.abs(gradient[[1, 4, 0, 9]]).sum(axis=1) > 0)


@pytest.mark.parametrize("use_output_bias", [True, False])
def test_saved_model_round_trip(tmp_path, use_output_bias):
    model = tied_model(use_output_bias)
    layer = model.get_layer("embedding")
    if use_output_bias:
        layer.output_bias.assign(np.linspace(-1.0, 1.0, 10).astype("float32"))
    path = tmp_path / "tied.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    loaded_layer = loaded.get_layer("embedding")
    assert type(loaded_layer) is TiedEmbedding
    assert loaded_layer.use_output_bias is use_output_bias
    np.testing.assert_array_equal(loaded_layer.embeddings.numpy(), layer.embeddings.numpy())
    np.testing.assert_array_equal(loaded(IDS), model(IDS))
    assert len(loaded.trainable_weights) == len(model.trainable_weights)


def test_config_round_trip():
    layer = TiedEmbedding(10, 4, use_output_bias=False, name="tied")
    config = layer.get_config()
    assert config["use_output_bias"] is False
    assert (config["input_dim"], config["output_dim"], config["name"]) == (10, 4, "tied")
    copy = TiedEmbedding.from_config(config)
    assert (copy.input_dim, copy.output_dim, copy.use_output_bias) == (10, 4, False)
