"""Tests for the sentiment builders, the baselines and `explain`."""

import keras
import numpy as np
import pytest

import kerasseq  # noqa: F401 (registers the layers for load_model)
from kerasseq.models import HEADS
from kerasseq.models import build_bag_of_words_model
from kerasseq.models import build_ensemble
from kerasseq.models import build_majority_model
from kerasseq.models import build_sentiment_model
from kerasseq.models import explain
from kerasseq.models import render_html
from kerasseq.models import render_terminal
from kerasseq.validation import ArgumentError
from pipelines.text import build_vectorizer

TRAIN = ["a wonderful moving film", "great acting and a great story", "i loved it",
         "dull and boring", "an awful film", "i hated it"]
# Empty, blank, another script, unknown words, and a review far past max_length.
ODD = np.array(["", "   ", "日本語のテキスト", "zzz qqq", "great " * 3000], dtype=object)


@pytest.fixture(scope="module")
def vectorizer():
    return build_vectorizer(TRAIN, max_tokens=50)


def small_model(vectorizer=None, **keywords):
    keras.utils.set_random_seed(0)
    keywords = {"units": 4, "embedding_dim": 6, "window": 1, "max_length": 8 if vectorizer else None,
                **keywords}
    return build_sentiment_model(vocab_size=None if vectorizer else 30, vectorizer=vectorizer,
                                 **keywords)


@pytest.mark.parametrize("head", HEADS)
def test_every_head_on_token_ids(head):
    model = small_model(head=head)
    ids = np.array([[3, 4, 5, 0, 0], [6, 0, 0, 0, 0]])
    probabilities = model(ids).numpy()
    assert probabilities.shape == (2, 1) and np.all((probabilities > 0) & (probabilities < 1))
    # Padding is masked: more padding changes nothing.
    np.testing.assert_allclose(model(np.pad(ids, [[0, 0], [0, 4]])).numpy(), probabilities, atol=1e-6)


@pytest.mark.parametrize("head", HEADS)
# Saved before any training, the optimizer has no state to load.
@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_raw_text_models_round_trip_and_take_odd_input(head, vectorizer, tmp_path):
    model = small_model(vectorizer, head=head, bidirectional=head == "max")
    texts = np.array(TRAIN + list(ODD), dtype=object)
    predicted = model.predict(texts, verbose=0)
    assert predicted.shape == (len(texts), 1) and np.all(np.isfinite(predicted))
    # Only the kept end of the long review is read: the same as 8 "great"s.
    np.testing.assert_allclose(predicted[-1], model.predict(np.array(["great " * 8], dtype=object),
                                                            verbose=0)[0], atol=1e-6)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(texts, verbose=0), predicted, atol=1e-6)


def test_truncate_start_reads_the_beginning(vectorizer):
    model = small_model(vectorizer, head="mean", truncate="start", max_length=2)
    both = model.predict(np.array(["great story dull boring", "great story"], dtype=object), verbose=0)
    np.testing.assert_allclose(both[0], both[1], atol=1e-6)


def test_embeddings_start_the_embedding(vectorizer):
    size = vectorizer.vocabulary_size()
    matrix = np.arange(size * 3, dtype="float32").reshape(size, 3) / 100
    model = build_sentiment_model(vectorizer=vectorizer, embeddings=matrix, units=4)
    np.testing.assert_array_equal(model.get_layer("embedding").get_weights()[0], matrix)


def test_builder_errors(vectorizer):
    with pytest.raises(ArgumentError, match="head='pool'. Expected one of 'last', 'mean'"):
        build_sentiment_model(vocab_size=10, head="pool")
    with pytest.raises(ArgumentError, match="received neither vocab_size nor a vectorizer"):
        build_sentiment_model()
    with pytest.raises(ArgumentError, match=r"embeddings of shape \(4, 3\); expected \(vocab_size, "
                                            r"embedding_dim\) = \(10, \.\.\.\)"):
        build_sentiment_model(vocab_size=10, embeddings=np.zeros((4, 3)))
    bag = keras.layers.TextVectorization(output_mode="multi_hot", vocabulary=["a"])
    with pytest.raises(ArgumentError, match="output_mode='multi_hot': the recurrent model reads token ids"):
        build_sentiment_model(vectorizer=bag)
    with pytest.raises(ValueError, match="window=-1"):
        build_sentiment_model(vocab_size=10, window=-1)


def test_majority_model_predicts_the_prior():
    model = build_majority_model(0.25)
    np.testing.assert_allclose(model.predict(ODD, verbose=0), 0.25, atol=1e-6)
    assert not model.trainable_weights
    with pytest.raises(ArgumentError, match="positive_rate=1.0"):
        build_majority_model(1.0)


def test_bag_of_words_learns_the_words():
    vectorizer = build_vectorizer(TRAIN, output_mode="tf_idf", ngrams=2)
    model = build_bag_of_words_model(vectorizer, learning_rate=0.1)
    labels = np.array([1, 1, 1, 0, 0, 0], "float32")
    model.fit(np.array(TRAIN, dtype=object), labels, epochs=30, verbose=0)
    predicted = model.predict(np.array(TRAIN, dtype=object), verbose=0).ravel()
    assert np.all((predicted > 0.5) == labels.astype(bool))


def test_ensemble_of_classifiers_compiles_like_its_members(vectorizer):
    members = [small_model(vectorizer, head="last") for _ in range(2)]
    ensemble = build_ensemble(members)
    assert ensemble.inputs[0].name == "text"
    assert ensemble.get_compile_config()["loss"] == "binary_crossentropy"
    texts = np.array(TRAIN, dtype=object)
    expected = np.mean([m.predict(texts, verbose=0) for m in members], axis=0)
    np.testing.assert_allclose(ensemble.predict(texts, verbose=0), expected, atol=1e-6)


def test_explain_attention_weights(vectorizer):
    model = small_model(vectorizer, head="attention")
    texts = ["a wonderful film", "zzz great", ""]
    explanations = explain(model, texts)
    first = explanations[0]
    assert [token for token, _ in first["tokens"]] == ["a", "wonderful", "film"]
    assert [token for token, _ in explanations[1]["tokens"]] == ["[UNK]", "great"]
    assert explanations[2]["tokens"] == []
    assert first["kind"] == "attention"
    assert sum(w for _, w in first["tokens"]) == pytest.approx(1.0, abs=1e-5)
    probability = float(model.predict(np.array(texts[:1], dtype=object), verbose=0)[0, 0])
    assert first["probability"] == pytest.approx(probability, abs=1e-6)
    assert first["label"] == ("positive" if probability >= 0.5 else "negative")


def test_explain_token_scores_add_up_to_the_logit(vectorizer):
    model = small_model(vectorizer, head="token_scores")
    [result] = explain(model, ["great story but dull"], class_names=("neg", "pos"))
    score_bias = model.get_layer("token_scores").score_bias.numpy()[0]
    logit = score_bias + sum(score for _, score in result["tokens"])
    assert result["probability"] == pytest.approx(1 / (1 + np.exp(-logit)), abs=1e-5)
    assert result["kind"] == "token_scores" and result["label"] in ("neg", "pos")


def test_explain_errors_and_renderings(vectorizer):
    with pytest.raises(ValueError, match="whose head has no per-token weights"):
        explain(small_model(vectorizer, head="last"), ["x"])
    with pytest.raises(ValueError, match="takes token ids and no vocabulary"):
        explain(small_model(head="attention"), [[3, 4]])
    with pytest.raises(TypeError, match="explain received a int at position 0"):
        explain(small_model(vectorizer, head="attention"), [7])
    ids_model = small_model(head="attention")
    vocabulary = [f"w{i}" for i in range(30)]
    [result] = explain(ids_model, [[3, 4]], vocabulary=vocabulary)
    assert result["text"] == "w3 w4"
    explanations = [{"probability": 0.9, "label": "positive", "kind": "token_scores",
                     "tokens": [("good", 2.0), ("<b>", -1.0)]}]
    assert render_terminal(explanations, color=False) == "positive (p=0.900): good[+2.00] <b>[-1.00]"
    colored = render_terminal(explanations)
    assert "\033[48;5;46mgood\033[0m" in colored and "\033[48;5;124m<b>\033[0m" in colored
    page = render_html(explanations, title="t")
    assert 'title="+2.0000">good</mark>' in page and "&lt;b&gt;" in page


def test_default_vectorizer_without_max_length_takes_an_all_empty_batch():
    vectorizer = keras.layers.TextVectorization(vocabulary=["good", "bad"])
    model = build_sentiment_model(vectorizer=vectorizer, units=4, head="attention")
    predicted = model.predict(np.array(["", "  "], dtype=object), verbose=0)
    assert predicted.shape == (2, 1) and np.all(np.isfinite(predicted))
    [result] = explain(model, ["good zzz"])
    assert [token for token, _ in result["tokens"]] == ["good", "[UNK]"]


def test_explain_an_ensemble_through_its_first_member(vectorizer):
    members = [small_model(vectorizer, head="token_scores") for _ in range(2)]
    [result] = explain(build_ensemble(members), ["great story"])
    [first] = explain(members[0], ["great story"])
    assert result == first


def test_vocabulary_and_truncation_errors(vectorizer):
    with pytest.raises(ArgumentError, match=r"vocab_size=5 and a vectorizer of \d+ tokens"):
        build_sentiment_model(vocab_size=5, vectorizer=vectorizer)
    with pytest.raises(ArgumentError, match="max_length=10 without a vectorizer"):
        build_sentiment_model(vocab_size=5, max_length=10)
