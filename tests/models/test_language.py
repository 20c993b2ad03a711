"""Tests for the language models: `build_language_model`, stateful
copies, stream evaluation and `generate`."""

import keras
import numpy as np
import pytest

import kerasseq  # noqa: F401 (registers the layers for load_model)
from kerasseq import layers
from kerasseq.layers.embedding import TiedEmbedding
from kerasseq.models.language import ResetStates
from kerasseq.models.language import build_language_model
from kerasseq.models.language import check_vocabulary
from kerasseq.models.language import evaluate_language_model
from kerasseq.models.language import generate
from kerasseq.models.language import reset_states
from kerasseq.models.language import stateful_copy
from kerasseq.validation import ArgumentError
from pipelines.lm import Vocabulary

VOCAB = 12
WORDS = Vocabulary(["<unk>", "<eos>", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j"])
CHARS = Vocabulary(["<unk>", "\n", " ", "a", "b", "c", "d", "e", "f", "g", "h", "i"], level="char")


def cross_entropy(logits, targets):
    """NumPy token cross-entropy of `logits (..., V)` for integer `targets (...)`."""
    logits = np.asarray(logits, "float64")
    top = logits.max(axis=-1, keepdims=True)
    log_z = top[..., 0] + np.log(np.exp(logits - top).sum(axis=-1))
    return log_z - np.take_along_axis(logits, np.asarray(targets)[..., None], axis=-1)[..., 0]


def tiny_model(scale=0.6, **keywords):
    """A small language model whose weights (normal, standard deviation
    `scale`) are large enough for its predictions to depend on the context."""
    keras.utils.set_random_seed(0)
    keywords = {"vocab_size": VOCAB, "embedding_dim": 6, "units": 8, "depth": 1, **keywords}
    model = build_language_model(**keywords)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(scale=scale, size=w.shape).astype("float32") for w in model.get_weights()])
    return model


# --- build_language_model ----------------------------------------------------


@pytest.mark.parametrize("cell, layer_class", [("elman", layers.ElmanRNN), ("gru", layers.GRU),
                                               ("lstm", layers.LSTM)])
def test_every_cell_gives_logits_per_step(cell, layer_class):
    model = tiny_model(cell=cell, depth=2)
    assert model.name == f"{cell}_lm"
    assert type(model.get_layer(f"{cell}_0")) is layer_class and type(model.get_layer(f"{cell}_1")) is layer_class
    assert model.get_layer(f"{cell}_1").return_sequences
    assert tuple(model.output.shape) == (None, None, VOCAB)
    assert model(np.zeros((2, 5), "int32")).shape == (2, 5, VOCAB)


def test_tied_weights_drop_the_output_matrix():
    untied = tiny_model(embedding_dim=8, units=8)
    tied = tiny_model(embedding_dim=8, units=8, tie_weights=True)
    assert type(tied.get_layer("embedding")) is TiedEmbedding
    assert "projection" not in [layer.name for layer in tied.layers]
    # The Dense output's (8, VOCAB) kernel is gone; its bias is TiedEmbedding's output bias.
    assert untied.count_params() - tied.count_params() == 8 * VOCAB
    assert [tuple(w.shape) for w in tied.weights].count((VOCAB, 8)) == 1
    assert tied(np.zeros((2, 5), "int32")).shape == (2, 5, VOCAB)


def test_tied_weights_project_when_units_differ():
    untied = tiny_model(embedding_dim=6, units=8)
    tied = tiny_model(embedding_dim=6, units=8, tie_weights=True)
    projection = tied.get_layer("projection")
    assert tuple(projection.kernel.shape) == (8, 6)
    assert untied.count_params() - tied.count_params() == 8 * VOCAB - (8 * 6 + 6)


def test_compiled_with_clipped_adam_and_weighted_perplexity():
    model = tiny_model(learning_rate=0.01)
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert model.optimizer.global_clipnorm == 5.0
    np.testing.assert_allclose(model.optimizer.learning_rate.numpy(), 0.01)
    assert tiny_model(clipnorm=None).optimizer.global_clipnorm is None
    assert tiny_model(clipnorm=1.0).optimizer.global_clipnorm == 1.0
    assert not tiny_model(compile=False).compiled


def test_compiled_loss_and_perplexity_skip_padding():
    model = tiny_model()
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, VOCAB, size=(2, 2, 4))
    weights = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], "float32")
    logs = model.evaluate(x, y, sample_weight=weights, batch_size=2, verbose=0, return_dict=True)
    entropy = cross_entropy(model(x), y)
    nats = (entropy * weights).sum() / weights.sum()
    np.testing.assert_allclose(logs["loss"], nats, rtol=1e-5)
    np.testing.assert_allclose(logs["perplexity"], np.exp(nats), rtol=1e-5)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_dropout_layers_only_when_asked(dropout):
    model = tiny_model(dropout=dropout)
    names = [layer.name for layer in model.layers]
    assert ("output_dropout" in names) == (dropout > 0)
    assert model.get_layer("lstm_0").dropout == dropout
    ids = np.arange(10).reshape(2, 5)
    inference = model(ids, training=False)
    np.testing.assert_allclose(model(ids, training=False), inference)
    assert np.allclose(model(ids, training=True), inference) == (dropout == 0)


def test_builder_errors():
    with pytest.raises(ArgumentError, match=r"build_language_model received batch_size=None. `batch_size` must "
                                            r"be a positive integer, e.g. build_language_model\(\.\.\., "
                                            r"stateful=True, batch_size=20\)."):
        build_language_model(vocab_size=VOCAB, embedding_dim=4, units=4, stateful=True)
    with pytest.raises(ArgumentError, match="build_language_model received vocab_size=0"):
        build_language_model(vocab_size=0)
    with pytest.raises(ArgumentError, match="build_language_model received cell='rnn'"):
        build_language_model(vocab_size=VOCAB, embedding_dim=4, units=4, cell="rnn")
    with pytest.raises(ArgumentError, match="build_language_model received dropout=1.0"):
        build_language_model(vocab_size=VOCAB, embedding_dim=4, units=4, dropout=1.0)


# --- stateful_copy, reset_states, ResetStates ---------------------------------

IDS = np.random.default_rng(5).integers(0, VOCAB, size=(2, 7)).astype("int32")


@pytest.mark.parametrize("tie_weights", [False, True])
def test_a_stateful_copy_continues_where_it_stopped(tie_weights):
    model = tiny_model(depth=2, tie_weights=tie_weights)
    copy = stateful_copy(model, 2)
    assert tuple(copy.input.shape) == (2, None)
    assert all(copy.get_layer(f"lstm_{i}").stateful and not model.get_layer(f"lstm_{i}").stateful
               for i in range(2))
    whole = model(IDS).numpy()
    np.testing.assert_allclose(copy(IDS[:, :3]), whole[:, :3], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(copy(IDS[:, 3:]), whole[:, 3:], rtol=1e-5, atol=1e-5)
    # Without the state, the second part reads differently.
    assert not np.allclose(model(IDS[:, 3:]), whole[:, 3:], atol=1e-3)
    reset_states(copy)
    np.testing.assert_allclose(copy(IDS[:, :3]), whole[:, :3], rtol=1e-5, atol=1e-5)


def test_a_stateful_copy_shares_no_variables():
    model = tiny_model()
    copy = stateful_copy(model, 2)
    assert not {id(v) for v in copy.weights} & {id(v) for v in model.weights}
    before = model(IDS).numpy()
    for variable in copy.trainable_weights:
        variable.assign(variable * 0.0)
    np.testing.assert_array_equal(model(IDS), before)


def test_stateful_copy_needs_a_functional_model():
    class Identity(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="stateful_copy received Identity 'identity', which is not a "
                                         "functional model"):
        stateful_copy(Identity(name="identity"), 2)


def test_stateful_copy_of_a_sequential_model():
    model = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(VOCAB, 4),
                              layers.GRU(4, return_sequences=True), keras.layers.Dense(VOCAB)])
    copy = stateful_copy(model, 2)
    whole = model(IDS).numpy()
    np.testing.assert_allclose(copy(IDS[:, :3]), whole[:, :3], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(copy(IDS[:, 3:]), whole[:, 3:], rtol=1e-5, atol=1e-5)


def test_reset_states_callback_zeros_the_state():
    model = tiny_model(stateful=True, batch_size=2)
    first = model(IDS).numpy()
    assert not np.allclose(model(IDS), first, atol=1e-3), "the state was not carried over"
    callback = ResetStates()
    callback.set_model(model)
    for hook in (lambda: callback.on_epoch_begin(0), callback.on_test_begin, callback.on_test_end):
        model(IDS)
        hook()
        np.testing.assert_allclose(model(IDS), first, rtol=1e-5, atol=1e-6)


# --- evaluate_language_model --------------------------------------------------

STREAM = np.random.default_rng(7).integers(0, VOCAB, size=24).astype("int32")


def reference_nats(model, ids, batch_size):
    """NumPy: the stream cut into `batch_size` contiguous rows (the last one
    padded), each row read by the stateless model in one call."""
    predictions = len(ids) - 1
    steps = -(-predictions // batch_size)
    pad = steps * batch_size - predictions
    x = np.concatenate([ids[:-1], np.zeros(pad, "int32")]).reshape(batch_size, steps)
    y = np.concatenate([ids[1:], np.zeros(pad, "int32")]).reshape(batch_size, steps)
    weights = (np.arange(steps * batch_size) < predictions).reshape(batch_size, steps)
    entropy = cross_entropy(model(x), y)
    return entropy[weights].mean()


@pytest.mark.parametrize("keywords", [{"depth": 2}, {"cell": "gru", "tie_weights": True}])
def test_evaluation_reads_each_row_as_one_sequence(keywords):
    model = tiny_model(**keywords)
    expected = reference_nats(model, STREAM, batch_size=2)
    result = evaluate_language_model(model, STREAM, batch_size=2, seq_len=3)
    assert result["tokens"] == len(STREAM) - 1 == 23
    np.testing.assert_allclose(result["nats_per_token"], expected, rtol=1e-5)
    np.testing.assert_allclose(result["perplexity"], np.exp(expected), rtol=1e-5)
    # The state matters: rows read in 3-token pieces without it score otherwise.
    pieces = [(STREAM[i:i + 4][:-1], STREAM[i:i + 4][1:]) for i in range(0, 23, 3)]
    forgetful = np.mean(np.concatenate([cross_entropy(model(x[None]), y[None]).ravel() for x, y in pieces]))
    assert abs(forgetful - expected) > 1e-3


def test_evaluation_does_not_depend_on_seq_len():
    model = tiny_model()
    results = [evaluate_language_model(model, STREAM, batch_size=2, seq_len=n)["nats_per_token"]
               for n in (1, 3, 5, 50)]
    np.testing.assert_allclose(results, results[0], rtol=1e-5)
    # With batch_size=1 the whole stream is one row.
    np.testing.assert_allclose(evaluate_language_model(model, STREAM, batch_size=1, seq_len=4)["nats_per_token"],
                               reference_nats(model, STREAM, 1), rtol=1e-5)


def test_evaluation_of_a_stateful_model_with_another_batch_size():
    model = tiny_model(stateful=True, batch_size=4)
    stateless = tiny_model()
    expected = reference_nats(stateless, STREAM, batch_size=2)
    np.testing.assert_allclose(evaluate_language_model(model, STREAM, batch_size=2, seq_len=3)["nats_per_token"],
                               expected, rtol=1e-5)


def test_evaluation_checks_the_vocabulary():
    model = tiny_model(vocab_size=5)
    with pytest.raises(ValueError, match="The data has token ids up to 11, but 'lstm_lm' predicts over 5 "
                                         "tokens: the model was trained with another vocabulary"):
        evaluate_language_model(model, STREAM, batch_size=2, seq_len=3)
    check_vocabulary(model, 5)


# --- generate -----------------------------------------------------------------


def greedy_ids(model, ids, length):
    """The argmax chain: the model reads the whole growing sequence each time."""
    ids = list(ids)
    new = []
    for _ in range(length):
        token = int(np.argmax(model(np.array([ids], "int32"))[0, -1]))
        ids.append(token)
        new.append(token)
    return new


@pytest.fixture(scope="module")
def model():
    # Larger weights, so that greedy chains do not settle on one token at once.
    return tiny_model(scale=1.5)


def test_the_seed_fixes_the_sample(model):
    first = generate(model, WORDS, ["a", "b"], length=8, seed=3)
    assert first.startswith("a b ")
    assert generate(model, WORDS, ["a", "b"], length=8, seed=3) == first
    assert generate(model, WORDS, ["a", "b"], length=8, seed=4) != first


def test_temperature_zero_is_the_argmax_chain(model):
    new = greedy_ids(model, WORDS.encode(["a", "b"]), 6)
    assert len(set(new)) > 1, "a constant chain would hide a wrong order"
    expected = "a b " + WORDS.join(WORDS.decode(new))
    assert generate(model, WORDS, ["a", "b"], length=6, temperature=0) == expected
    # top_k=1 leaves only the most likely token, whatever the temperature and seed.
    assert generate(model, WORDS, ["a", "b"], length=6, top_k=1, temperature=2.0, seed=1) == expected


def test_a_prompt_ending_a_line_continues_on_the_next(model):
    new = greedy_ids(model, WORDS.encode(["a", "b", "<eos>"]), 4)
    assert new != greedy_ids(model, WORDS.encode(["a", "b"]), 4), "the line break changes nothing"
    assert generate(model, WORDS, "a b\n", length=4, temperature=0) == "a b\n" + WORDS.join(WORDS.decode(new))


def test_a_prompt_without_line_break_continues_its_line(model):
    new = greedy_ids(model, WORDS.encode(["a", "b"]), 4)
    assert generate(model, WORDS, "a b", length=4, temperature=0) == "a b " + WORDS.join(WORDS.decode(new))


def test_a_prompt_of_unknown_words(model):
    new = greedy_ids(model, [0, 0], 4)
    assert generate(model, WORDS, ["zzz", "qqq"], length=4, temperature=0) == (
        "zzz qqq " + WORDS.join(WORDS.decode(new)))
    text = generate(model, WORDS, "zzz qqq", length=4, seed=0)
    assert text.startswith("zzz qqq ") and len(text) > len("zzz qqq ")


def test_an_empty_prompt_starts_a_line(model):
    new = greedy_ids(model, WORDS.encode(["<eos>"]), 5)
    assert generate(model, WORDS, "", length=5, temperature=0) == WORDS.join(WORDS.decode(new))
    new = greedy_ids(model, CHARS.encode(["\n"]), 5)
    assert generate(model, CHARS, "", length=5, temperature=0) == "".join(CHARS.decode(new))


def test_char_prompts_are_continued_without_separator(model):
    new = greedy_ids(model, CHARS.encode(list("ab c")), 5)
    assert generate(model, CHARS, "ab c", length=5, temperature=0) == "ab c" + "".join(CHARS.decode(new))


def test_generate_errors(model):
    with pytest.raises(ArgumentError, match=r"generate received length=0. `length` must be a positive integer, "
                                            r"e.g. length=100."):
        generate(model, WORDS, "a", length=0)
    for temperature in (-1, "hot", True):
        with pytest.raises(ArgumentError, match=f"generate received temperature={temperature!r}. Pass a "
                                                "number >= 0"):
            generate(model, WORDS, "a", length=2, temperature=temperature)
    with pytest.raises(ArgumentError, match="generate received top_k=0. .* e.g. top_k=40."):
        generate(model, WORDS, "a", length=2, top_k=0)
    with pytest.raises(TypeError, match="generate received prompt=5. Pass a str"):
        generate(model, WORDS, 5, length=2)
    larger = Vocabulary([*WORDS.tokens, "k"])
    with pytest.raises(ValueError, match="The data has token ids up to 12, but 'lstm_lm' predicts over 12 "
                                         "tokens"):
        generate(model, larger, "a", length=2)


def test_generate_samples_only_tokens_the_vocabulary_names(model):
    # The model predicts over 12 ids; a vocabulary of the first 4 still generates.
    smaller = Vocabulary(WORDS.tokens[:4])
    for seed in range(5):
        text = generate(model, smaller, "a b\n", length=20, temperature=5.0, seed=seed)
        assert set(text.split()) <= {"<unk>", "a", "b"}


def test_sgd_is_the_other_optimizer():
    model = build_language_model(vocab_size=VOCAB, embedding_dim=4, units=4, optimizer="sgd",
                                 learning_rate=1.0)
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert float(model.optimizer.learning_rate) == 1.0 and model.optimizer.global_clipnorm == 5.0
    with pytest.raises(ArgumentError, match="compile_language_model received optimizer='rmsprop'. "
                                            "Expected one of 'adam', 'sgd'."):
        build_language_model(vocab_size=VOCAB, embedding_dim=4, units=4, optimizer="rmsprop")
