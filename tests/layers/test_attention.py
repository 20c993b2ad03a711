"""`WindowedAttention`, `AttentionPooling` and `TokenScores` against NumPy
references and `keras.layers.MultiHeadAttention`; masks, long sequences,
saving, errors and training."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasseq.layers import AttentionPooling
from kerasseq.layers import TokenScores
from kerasseq.layers import WindowedAttention
from kerasseq.layers.attention import dense_attention_scores

TOLERANCE = dict(rtol=1e-5, atol=1e-5)


@pytest.fixture(autouse=True)
def seeded():
    # Fixed initial weights and dropout: tests that a weight or a mask makes
    # a difference must not pass or fail by chance.
    keras.utils.set_random_seed(0)


def random_inputs(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def padding_masks(timesteps):
    """Five rows: all kept, right-padded, left-padded, all masked, and holes."""
    steps = np.arange(timesteps)
    return np.stack([
        steps >= 0, steps < timesteps // 2, steps >= timesteps - 3, steps < 0, steps % 3 != 1,
    ])


def set_random_weights(layer, seed=1):
    """Weights of scale 0.5 (biases too), so that every term counts."""
    rng = np.random.default_rng(seed)
    layer.set_weights([0.5 * rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()])


def numpy_softmax(scores, allowed):
    """Softmax over the allowed entries of the last axis; rows with none: 0."""
    scores = np.where(allowed, scores, -np.inf)
    peak = scores.max(axis=-1, keepdims=True)
    exp = np.exp(scores - np.where(np.isfinite(peak), peak, 0)) * allowed
    total = exp.sum(axis=-1, keepdims=True)
    return np.divide(exp, total, out=np.zeros_like(exp), where=total > 0)


def band_mask(timesteps, window, causal=False):
    """`(T, T)`: True where key j is in the window of query i."""
    i, j = np.arange(timesteps)[:, None], np.arange(timesteps)[None, :]
    allowed = np.abs(i - j) <= window
    return allowed & (j <= i) if causal else allowed


def numpy_windowed_attention(x, weights, window, causal=False, mask=None):
    """Full softmax attention with a band mask, as the `WindowedAttention`
    docstring states it: returns the output and the `(B, H, T, T)` weights."""
    x = x.astype("float64")
    wq, bq, wk, bk, wv, bv, wo, bo = (w.astype("float64") for w in weights)
    query = np.einsum("btc,chd->bthd", x, wq) + bq
    key = np.einsum("btc,chd->bthd", x, wk) + bk
    value = np.einsum("btc,chd->bthd", x, wv) + bv
    scores = np.einsum("bihd,bjhd->bhij", query, key) / np.sqrt(wq.shape[-1])
    batch, timesteps = x.shape[:2]
    allowed = np.broadcast_to(band_mask(timesteps, window, causal), (batch, timesteps, timesteps))
    if mask is not None:
        allowed = allowed & mask[:, None, :] & mask[:, :, None]
    attention = numpy_softmax(scores, allowed[:, None])
    output = np.einsum("bhij,bjhd,hde->bie", attention, value, wo) + bo
    if mask is not None:
        output = output * mask[:, :, None]
    return output, attention


# --- WindowedAttention: values ---------------------------------------------

# (window, num_heads, causal, masked, timesteps): window 9 needs blocks of
# 18; T = 37 ends inside a block; window 20 > T.
CASES = {
    "self_only": (0, 1, False, False, 37),
    "window_1_masked": (1, 2, False, True, 37),
    "causal_masked": (2, 2, True, True, 37),
    "causal": (3, 1, True, False, 37),
    "window_5_three_heads": (5, 3, False, True, 37),
    "window_9": (9, 2, False, True, 41),
    "window_9_causal": (9, 2, True, True, 41),
    "window_beyond_sequence": (20, 2, False, True, 7),
}


@pytest.mark.parametrize("case", list(CASES))
def test_windowed_attention_matches_numpy_reference(case):
    window, num_heads, causal, masked, timesteps = CASES[case]
    x = random_inputs(5, timesteps, 6)
    mask = padding_masks(timesteps) if masked else None
    layer = WindowedAttention(window, num_heads=num_heads, key_dim=4, value_dim=3, causal=causal)
    layer.build(x.shape)
    set_random_weights(layer)
    expected_output, expected_scores = numpy_windowed_attention(x, layer.get_weights(), window, causal, mask)

    output, scores = layer(x, mask=mask, return_attention_scores=True)

    np.testing.assert_allclose(output, expected_output, **TOLERANCE)
    assert scores.shape == (5, num_heads, timesteps, 2 * window + 1)
    np.testing.assert_allclose(dense_attention_scores(scores, window), expected_scores, **TOLERANCE)


def test_band_scores_column_k_is_offset_k_minus_window():
    x = random_inputs(2, 9, 4)
    layer = WindowedAttention(2, num_heads=2)
    _, scores = layer(x, return_attention_scores=True)
    _, dense = numpy_windowed_attention(x, layer.get_weights(), window=2)
    scores = keras.ops.convert_to_numpy(scores)
    for i in range(9):
        for k in range(5):
            j = i + k - 2
            expected = dense[:, :, i, j] if 0 <= j < 9 else 0.0
            np.testing.assert_allclose(scores[:, :, i, k], expected, **TOLERANCE)


def test_dense_attention_scores_rejects_another_window():
    message = (
        "dense_attention_scores received band scores with 5 columns and window=1. The band of "
        "WindowedAttention(window=1) has 2 * window + 1 = 3 columns"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        dense_attention_scores(np.zeros((1, 1, 4, 5), "float32"), window=1)


# --- WindowedAttention: parity with MultiHeadAttention ---------------------


@pytest.mark.parametrize(
    "window, num_heads, causal", [(0, 1, False), (2, 2, False), (3, 2, True), (9, 1, False)]
)
def test_windowed_attention_matches_multi_head_attention_with_band_mask(window, num_heads, causal):
    timesteps = 37
    x = random_inputs(5, timesteps, 8)
    mask = padding_masks(timesteps)
    ref = keras.layers.MultiHeadAttention(num_heads, key_dim=8 // num_heads)
    ours = WindowedAttention(window, num_heads=num_heads, causal=causal)
    ref.build(x.shape, x.shape)
    ours.build(x.shape)
    ours.set_weights(ref.get_weights())
    allowed = band_mask(timesteps, window, causal)[None] & mask[:, None, :] & mask[:, :, None]

    ref_output, ref_scores = ref(x, x, attention_mask=allowed, return_attention_scores=True)
    output, scores = ours(x, mask=mask, return_attention_scores=True)

    # MultiHeadAttention spreads a row without keys uniformly; ours gives
    # zeros there (tested below): compare the rows with a key.
    rows = allowed.any(axis=-1)
    assert 0 < rows.sum() < rows.size
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(output)[rows], keras.ops.convert_to_numpy(ref_output)[rows], **TOLERANCE
    )
    dense = keras.ops.convert_to_numpy(dense_attention_scores(scores, window)).transpose(0, 2, 1, 3)
    ref_scores = keras.ops.convert_to_numpy(ref_scores).transpose(0, 2, 1, 3)
    np.testing.assert_allclose(dense[rows], ref_scores[rows], **TOLERANCE)


@pytest.mark.parametrize("causal", [False, True])
def test_windowed_attention_matches_sliding_window_attention_with_gradients(causal):
    # Keras' own band: sliding_window=w + 1 keeps |i - j| <= w.
    window = 2
    x = tf.constant(random_inputs(3, 20, 4))
    ref = keras.layers.MultiHeadAttention(2, key_dim=2, sliding_window=window + 1)
    ours = WindowedAttention(window, num_heads=2, causal=causal)
    ref.build(x.shape, x.shape)
    ours.build(x.shape)
    ours.set_weights(ref.get_weights())
    cotangent = tf.constant(random_inputs(3, 20, 4, seed=5))
    results = []
    for layer, call in (
        (ref, lambda: ref(x, x, use_causal_mask=causal)),
        (ours, lambda: ours(x)),
    ):
        with tf.GradientTape() as tape:
            tape.watch(x)
            output = call()
            loss = tf.reduce_sum(output * cotangent)
        results.append([output, *tape.gradient(loss, [x, *layer.trainable_weights])])
    for ours_value, ref_value in zip(results[1], results[0]):
        np.testing.assert_allclose(ours_value, ref_value, **TOLERANCE)


# --- WindowedAttention: masks and the band ---------------------------------


def test_masked_keys_get_zero_weight_and_masked_queries_output_zeros():
    x = random_inputs(5, 12, 4)
    mask = padding_masks(12)
    output, scores = WindowedAttention(3, num_heads=2)(x, mask=mask, return_attention_scores=True)
    dense = keras.ops.convert_to_numpy(dense_attention_scores(scores, 3))
    for b in range(5):
        assert np.all(dense[b][:, :, ~mask[b]] == 0), "a masked key got weight"
        assert np.all(dense[b][:, ~mask[b], :] == 0), "a masked query attended"
        np.testing.assert_allclose(dense[b][:, mask[b]].sum(axis=-1), 1.0, **TOLERANCE)
    assert np.all(keras.ops.convert_to_numpy(output)[~mask] == 0)


def test_window_0_attends_to_itself_only():
    x = random_inputs(5, 7, 4)
    mask = padding_masks(7)
    layer = WindowedAttention(0, num_heads=2)
    output, scores = layer(x, mask=mask, return_attention_scores=True)
    np.testing.assert_array_equal(scores, np.broadcast_to(mask[:, None, :, None], (5, 2, 7, 1)))
    # Each step's output is its own value through the output projection.
    wq, bq, wk, bk, wv, bv, wo, bo = layer.get_weights()
    values = np.einsum("btc,chd,hde->bte", x, wv, wo) + np.einsum("hd,hde->e", bv, wo) + bo
    expected = values * mask[..., None]
    np.testing.assert_allclose(output, expected, **TOLERANCE)


def test_causal_puts_no_weight_after_the_query():
    x = random_inputs(2, 10, 4)
    _, scores = WindowedAttention(3, num_heads=2, causal=True)(x, return_attention_scores=True)
    assert np.all(keras.ops.convert_to_numpy(scores)[..., 4:] == 0)
    dense = keras.ops.convert_to_numpy(dense_attention_scores(scores, 3))
    assert np.all(np.triu(dense, k=1) == 0)
    assert np.all(np.tril(dense, k=-4) == 0)
    np.testing.assert_allclose(dense.sum(axis=-1), 1.0, **TOLERANCE)


def test_fully_masked_rows_give_zeros_and_finite_gradients():
    x = tf.constant(random_inputs(2, 6, 4))
    mask = tf.constant([[True, True, False, False, False, False], [False] * 6])
    layer = WindowedAttention(2, num_heads=2)
    with tf.GradientTape() as tape:
        tape.watch(x)
        output, scores = layer(x, mask=mask, return_attention_scores=True)
        loss = tf.reduce_sum(output ** 2) + tf.reduce_sum(scores)
    gradients = tape.gradient(loss, [x, *layer.trainable_weights])
    assert np.all(output.numpy()[1] == 0) and np.all(scores.numpy()[1] == 0)
    assert np.any(output.numpy()[0, :2] != 0)
    assert all(np.all(np.isfinite(g)) for g in gradients)


def test_mask_reaches_the_next_layer():
    tokens = np.array([[3, 1, 4, 1, 5, 0, 0], [2, 7, 0, 0, 0, 0, 0]])
    embedding = keras.layers.Embedding(10, 8, mask_zero=True)
    attention = WindowedAttention(1, num_heads=2)
    gru = keras.layers.GRU(4)
    model = keras.Sequential([keras.Input((7,), dtype="int32"), embedding, attention, gru])

    mask = tokens != 0
    # NumPy: no Keras mask attached, only the one passed.
    attended = np.asarray(attention(embedding(tokens), mask=mask))
    expected = gru(attended, mask=mask)
    np.testing.assert_allclose(model(tokens), expected, **TOLERANCE)
    # The GRU output depends on the mask: it was not ignored.
    assert not np.allclose(gru(attended), expected, atol=1e-3)


def test_long_sequences_run_in_linear_memory():
    # A (T, T) float32 score matrix per head would be 64 MB here; the band
    # form is (2, 2, 4096, 11).
    x = random_inputs(2, 4096, 32)
    mask = np.arange(4096)[None, :] < np.array([[4096], [1000]])
    output, scores = WindowedAttention(5, num_heads=2)(x, mask=mask, return_attention_scores=True)
    assert output.shape == (2, 4096, 32) and scores.shape == (2, 2, 4096, 11)
    assert np.all(np.isfinite(output))
    row_sums = keras.ops.sum(scores, axis=-1)
    np.testing.assert_allclose(row_sums, np.broadcast_to(mask[:, None], (2, 2, 4096)), atol=1e-5)


def test_dropout_applies_in_training_only():
    x = random_inputs(2, 8, 4)
    layer = WindowedAttention(2, num_heads=2, dropout=0.5, seed=3)
    inference, inference_scores = layer(x, return_attention_scores=True)
    trained, trained_scores = layer(x, return_attention_scores=True, training=True)
    assert not np.allclose(inference, trained)
    # The returned scores are those before dropout, as in MultiHeadAttention.
    np.testing.assert_allclose(inference_scores, trained_scores, **TOLERANCE)
    np.testing.assert_allclose(layer(x), inference, **TOLERANCE)


# --- AttentionPooling -----------------------------------------------------


def numpy_attention_pooling(x, kernel, bias, context, mask=None):
    scores = (np.tanh(x @ kernel + bias) @ context)[..., 0]
    allowed = np.ones(scores.shape, bool) if mask is None else mask
    weights = numpy_softmax(scores, allowed)
    return (weights[..., None] * x).sum(axis=1), weights


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("units", [None, 3])
def test_attention_pooling_matches_numpy_reference(units, masked):
    x = random_inputs(5, 9, 4)
    mask = padding_masks(9) if masked else None
    layer = AttentionPooling(units=units)
    layer.build(x.shape)
    set_random_weights(layer)
    assert layer.kernel.shape == (4, units or 4)
    expected_output, expected_weights = numpy_attention_pooling(x, *layer.get_weights(), mask=mask)

    output, weights = layer(x, mask=mask, return_attention_scores=True)

    np.testing.assert_allclose(output, expected_output, **TOLERANCE)
    np.testing.assert_allclose(weights, expected_weights, **TOLERANCE)
    if masked:
        assert np.all(keras.ops.convert_to_numpy(weights)[~mask] == 0)
        assert np.all(keras.ops.convert_to_numpy(output)[3] == 0)  # the fully masked row


def test_attention_pooling_gradients_are_finite_with_a_fully_masked_row():
    x = tf.constant(random_inputs(2, 5, 3))
    mask = tf.constant([[True, True, True, False, False], [False] * 5])
    layer = AttentionPooling()
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer(x, mask=mask) ** 2)
    assert all(np.all(np.isfinite(g)) for g in tape.gradient(loss, [x, *layer.trainable_weights]))


# --- TokenScores ----------------------------------------------------------


def numpy_token_scores(x, kernel, bias, score_kernel, score_bias, mask):
    scores = (np.maximum(x @ kernel + bias, 0) @ score_kernel)[..., 0] * mask
    return 1 / (1 + np.exp(-(scores.sum(axis=1, keepdims=True) + score_bias))), scores


def test_token_scores_match_numpy_reference_and_add_up_to_the_logit():
    x = random_inputs(5, 9, 4)
    mask = padding_masks(9)
    layer = TokenScores(3)
    layer.build(x.shape)
    set_random_weights(layer)
    expected_probability, expected_scores = numpy_token_scores(x, *layer.get_weights(), mask)

    probability, scores = layer(x, mask=mask, return_token_scores=True)

    np.testing.assert_allclose(probability, expected_probability, **TOLERANCE)
    np.testing.assert_allclose(scores, expected_scores, **TOLERANCE)
    assert np.all(keras.ops.convert_to_numpy(scores)[~mask] == 0)
    logit = keras.ops.sum(scores, axis=1, keepdims=True) + layer.score_bias
    np.testing.assert_allclose(keras.ops.sigmoid(logit), probability, **TOLERANCE)
    # The fully masked row: the bias alone.
    np.testing.assert_allclose(probability[3], keras.ops.sigmoid(layer.score_bias), **TOLERANCE)
    np.testing.assert_allclose(layer(x), layer(x, mask=np.ones((5, 9), bool)), **TOLERANCE)


def test_token_scores_take_the_mask_of_an_embedding():
    tokens = np.array([[4, 2, 0, 0], [1, 0, 0, 0]])
    model = keras.Sequential([
        keras.Input((4,), dtype="int32"),
        keras.layers.Embedding(6, 3, mask_zero=True),
        TokenScores(2, activation="tanh"),
    ])
    for layer in model.layers:
        set_random_weights(layer)
    embedded = model.layers[0](tokens)
    np.testing.assert_allclose(model(tokens), model.layers[1](embedded, mask=tokens != 0), **TOLERANCE)
    assert not np.allclose(model(tokens), model.layers[1](embedded, mask=np.ones((2, 4), bool)))


# --- Configs and saving ---------------------------------------------------

NON_DEFAULT = {
    WindowedAttention: dict(
        window=2, num_heads=2, key_dim=3, value_dim=5, causal=True, dropout=0.1, use_bias=False,
        output_shape=6, kernel_initializer="he_normal", bias_initializer="ones",
        kernel_regularizer="l2", bias_regularizer="l1", kernel_constraint="non_neg",
        bias_constraint="unit_norm", seed=4,
    ),
    AttentionPooling: dict(units=5, kernel_initializer="he_normal", bias_initializer="ones"),
    TokenScores: dict(units=5, activation="tanh", kernel_initializer="he_normal", bias_initializer="ones"),
}
DEFAULT = {WindowedAttention: dict(window=0), AttentionPooling: {}, TokenScores: dict(units=1)}


@pytest.mark.parametrize("cls", list(NON_DEFAULT))
def test_config_holds_every_argument(cls):
    config = cls(**NON_DEFAULT[cls]).get_config()
    default = cls(**DEFAULT[cls]).get_config()
    for name in NON_DEFAULT[cls]:
        assert config[name] != default[name], f"{name} is not in the config"
    assert cls.from_config(config).get_config() == config


def test_saved_model_reloads(tmp_path):
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(20, 8, mask_zero=True)(inputs)
    x = WindowedAttention(**NON_DEFAULT[WindowedAttention])(x)
    pooled = AttentionPooling(units=4)(x)
    probability = TokenScores(3)(x)
    model = keras.Model(inputs, [pooled, probability])
    path = tmp_path / "model.keras"
    model.save(path)
    # No custom_objects, safe_mode on: importing kerasseq registered the classes.
    loaded = keras.saving.load_model(path, safe_mode=True)

    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    tokens = np.array([[3, 1, 4, 1, 5, 9, 2], [6, 5, 3, 0, 0, 0, 0]])
    for ours, theirs in zip(loaded(tokens), model(tokens)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)


# --- Errors ---------------------------------------------------------------

ERRORS = {
    "window": (
        lambda: WindowedAttention(-1),
        "WindowedAttention received window=-1. `window` must be a non-negative integer, "
        "e.g. WindowedAttention(window=5).",
    ),
    "window_float": (
        lambda: WindowedAttention(2.5),
        "WindowedAttention received window=2.5. `window` must be a non-negative integer",
    ),
    "num_heads": (
        lambda: WindowedAttention(5, num_heads=0),
        "WindowedAttention received num_heads=0. `num_heads` must be a positive integer, "
        "e.g. WindowedAttention(window=5, num_heads=2).",
    ),
    "key_dim": (
        lambda: WindowedAttention(5, key_dim=0),
        "WindowedAttention received key_dim=0. `key_dim` must be a positive integer",
    ),
    "key_dim_too_small": (
        lambda: WindowedAttention(1, num_heads=4)(np.zeros((2, 5, 3), "float32")),
        "WindowedAttention received inputs with 3 features and num_heads=4, so key_dim "
        "defaults to 3 // 4 = 0. Pass key_dim, e.g. WindowedAttention(window=1, num_heads=4, "
        "key_dim=16), or use at most 3 heads.",
    ),
    "dropout": (
        lambda: WindowedAttention(5, dropout=1.0),
        "WindowedAttention received dropout=1.0. `dropout` is a fraction",
    ),
    "output_shape": (
        lambda: WindowedAttention(5, output_shape=(4, 2)),
        "WindowedAttention received output_shape=(4, 2). `output_shape` must be a positive integer",
    ),
    "rank": (
        lambda: WindowedAttention(1)(np.zeros((2, 5), "float32")),
        "WindowedAttention received inputs of shape (2, 5) (rank 2). Expected rank 3: "
        "(batch, timesteps, features)",
    ),
    "pooling_units": (
        lambda: AttentionPooling(units=0),
        "AttentionPooling received units=0. `units` must be a positive integer, "
        "e.g. AttentionPooling(units=32).",
    ),
    "token_units": (
        lambda: TokenScores(0),
        "TokenScores received units=0. `units` must be a positive integer, e.g. TokenScores(units=16).",
    ),
    "token_activation": (
        lambda: TokenScores(4, activation="tanhh"),
        "TokenScores received activation='tanhh', which is not a known activation",
    ),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_name_the_argument_and_the_fix(case):
    make, message = ERRORS[case]
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


# --- Training -------------------------------------------------------------

HEADS = {
    "windowed_attention_then_pooling": lambda: [
        WindowedAttention(1, num_heads=2, dropout=0.1, seed=1),
        AttentionPooling(),
        keras.layers.Dense(1, "sigmoid"),
    ],
    "token_scores": lambda: [TokenScores(4)],
}


def head_model(head):
    return keras.Sequential([
        keras.Input((6,), dtype="int32"), keras.layers.Embedding(10, 4, mask_zero=True), *HEADS[head](),
    ])


TOKENS = np.array([[1, 2, 3, 0, 0, 0], [4, 5, 6, 7, 8, 9], [0] * 6, [9, 9, 0, 0, 0, 0]])
LABELS = np.array([[1.0], [0.0], [1.0], [0.0]])


@pytest.mark.parametrize("head", list(HEADS))
def test_gradients_reach_every_weight_and_are_finite(head):
    model = head_model(head)
    with tf.GradientTape() as tape:
        loss = keras.losses.binary_crossentropy(LABELS, model(TOKENS, training=True))
    gradients = tape.gradient(loss, model.trainable_weights)
    for weight, gradient in zip(model.trainable_weights, gradients):
        gradient = tf.convert_to_tensor(gradient).numpy()  # the embedding's: IndexedSlices
        assert np.all(np.isfinite(gradient)), weight.path
        # A key bias adds q . b_k to every score of a row, which the softmax
        # ignores: its gradient is 0 (in MultiHeadAttention too).
        if not weight.path.endswith("key/bias"):
            assert np.any(gradient != 0), f"no gradient reaches {weight.path}"


@pytest.mark.parametrize("head", list(HEADS))
def test_fit_runs(head):
    model = head_model(head)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(TOKENS, LABELS, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = model.get_weights()
    assert all(np.all(np.isfinite(w)) for w in after)
    assert sum(not np.allclose(a, b) for a, b in zip(before, after)) >= len(after) - 1
