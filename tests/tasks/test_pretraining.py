"""The language model teaches the classifier: a word-level LM trained on the
training reviews starts `build_sentiment_model`'s embeddings and encoder."""

import json

import numpy as np
import pytest

import kerasseq  # noqa: F401
from kerasseq import runs
from kerasseq.cli import main
from kerasseq.tasks.lm import LanguageModelConfig
from kerasseq.tasks.lm import LanguageModelTask
from kerasseq.tasks.sentiment import SentimentConfig
from kerasseq.tasks.sentiment import SentimentTask
from pipelines.lm import load_imdb_text
from tests.pipelines.test_text import write_fake_imdb
from tests.tasks.test_sentiment_task import write_reviews

TINY = dict(cell="gru", units=4, depth=1, embedding_dim=6)


def test_imdb_corpus_reads_training_and_unlabeled_reviews_never_test(tmp_path):
    corpus = load_imdb_text(write_fake_imdb(tmp_path), validation_split=0.5, seed=0)
    train = corpus.vocabulary.join(corpus.vocabulary.decode(corpus.train)).splitlines()
    validation = corpus.vocabulary.join(corpus.vocabulary.decode(corpus.validation)).splitlines()
    # 4 labeled training reviews, half held out; the unlabeled one trains.
    assert len(train) == 3 and len(validation) == 2 and corpus.test is None
    assert "no label here" in train
    # Standardized as the sentiment models read them: lower case, no HTML,
    # punctuation but ! and ? dropped (the vocabulary is the training lines').
    assert set(corpus.vocabulary.tokens) <= {"<unk>", "<eos>", "a", "wonderful", "film", "loved", "it",
                                             "!", "great", "acting", "story", "dull", "and", "boring",
                                             "awful", "i", "left", "early", "no", "label", "here"}
    words = set(" ".join(train + validation).split())
    assert not {"brilliant", "terrible"} & words  # the test reviews


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrain")
    reviews = write_reviews(root / "reviews.csv")
    import pandas as pd

    text = root / "reviews.txt"
    text.write_text("\n".join(pd.read_csv(reviews)["review"]) + "\n")
    task = LanguageModelTask(LanguageModelConfig(data=str(text), epochs=1, batch_size=4, seq_len=8,
                                                 baselines=[], samples=0, **TINY))
    runs.train(task, root / "lm")
    return root, reviews


def sentiment(root, reviews, **overrides):
    values = dict(data=str(reviews), text_column="review", label_column="sentiment", baselines=[],
                  pretrained=str(root / "lm"), batch_size=16, **TINY)
    return SentimentTask(SentimentConfig(**{**values, **overrides}))


def test_the_classifier_starts_from_the_language_models_embeddings_and_encoder(lm_run):
    import keras

    from pipelines.lm import Vocabulary

    root, reviews = lm_run
    lm = keras.saving.load_model(root / "lm" / "model.keras")
    lm_vocabulary = Vocabulary.load(root / "lm" / "vocabulary.json")
    task = sentiment(root, reviews)
    model = task.build_model()
    rows = model.get_layer("embedding").get_weights()[0]
    lm_rows = lm.get_layer("embedding").get_weights()[0]
    for i, token in enumerate(task.vocabulary):
        if token in lm_vocabulary.index:
            np.testing.assert_array_equal(rows[i], lm_rows[lm_vocabulary.index[token]])
    assert not rows[0].any()  # padding
    np.testing.assert_array_equal(rows[1], lm_rows[0])  # [UNK] is <unk>
    for theirs, ours in zip(lm.get_layer("gru_0").get_weights(), model.get_layer("gru_0").get_weights()):
        np.testing.assert_array_equal(theirs, ours)


@pytest.mark.parametrize("overrides, message", [
    (dict(units=5), r"argument --pretrained: build_sentiment_model received encoder='gru_lm', whose "
                    r"layer 'gru_0' has weights of shapes"),
    (dict(bidirectional=True), "argument --pretrained: build_sentiment_model received encoder='gru_lm' "
                               "with bidirectional=True"),
    (dict(cell="lstm"), "argument --pretrained: build_sentiment_model received encoder='gru_lm', which "
                        "has no layer 'lstm_0'"),
])
def test_a_mismatched_encoder_is_a_clear_error(lm_run, overrides, message, capsys):
    root, reviews = lm_run
    flags = [f"--{k}" if v is True else f"--{k}={v}" for k, v in overrides.items()]
    assert main(["train", "sentiment", "--data", str(reviews), "--text-column", "review",
                 "--label-column", "sentiment", "--pretrained", str(root / "lm"), "--cell", "gru",
                 "--units", "4", "--embedding-dim", "6", *flags, "--out", str(root / "bad")]) == 2
    assert message in capsys.readouterr().err.replace("\n", " ")
    assert not (root / "bad").exists()


def test_pretrained_must_be_a_finished_lm_run(lm_run, tmp_path):
    root, reviews = lm_run
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    config = json.loads((root / "lm" / "config.json").read_text())
    (unfinished / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="unfinished is not a finished run directory"):
        sentiment(root, reviews, pretrained=str(unfinished)).build_model()
    (unfinished / "metrics.json").write_text("{}")
    (unfinished / "model.keras").write_text("")
    (unfinished / "config.json").write_text(json.dumps({**config, "task": "weather"}))
    with pytest.raises(ValueError, match="SentimentTask received pretrained=.*, a 'weather' run"):
        sentiment(root, reviews, pretrained=str(unfinished)).build_model()
    with pytest.raises(ValueError, match="Start the embeddings from one of them"):
        sentiment(root, reviews, word_vectors="glove.txt")


def test_an_imdb_classifier_refuses_a_language_model_that_read_its_validation_reviews(lm_run):
    from kerasseq.tasks.sentiment import load_pretrained

    root, _ = lm_run
    config = SentimentConfig(data="imdb", pretrained=str(root / "lm"), **TINY)
    with pytest.raises(ValueError, match=r"a language model of data='.*reviews.txt'; this run has "
                                         r"data='imdb', seed=0, validation_split=0.2. Its validation "
                                         r"reviews must be unseen"):
        load_pretrained(config, ["", "[UNK]"])
    saved = json.loads((root / "lm" / "config.json").read_text())
    (root / "lm" / "config.json").write_text(json.dumps({**saved, "data": "imdb", "seed": 1}))
    try:
        with pytest.raises(ValueError, match=r"a language model of data='imdb', seed=1, "
                                             r"validation_split=0.2; this run has data='imdb', seed=0"):
            load_pretrained(config, ["", "[UNK]"])
    finally:
        (root / "lm" / "config.json").write_text(json.dumps(saved))
