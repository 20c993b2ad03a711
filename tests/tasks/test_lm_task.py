"""Tests for `LanguageModelTask` and `kerasseq train lm`: corpus, vocabulary
saved with the run, n-gram baselines on the same tokens, metrics, samples,
`evaluate`, and user errors."""

import json
import math

import numpy as np
import pytest

import kerasseq  # noqa: F401
from kerasseq.cli import main
from kerasseq.tasks.lm import LanguageModelConfig
from kerasseq.tasks.lm import LanguageModelTask
from tests.tasks.killed_run import assert_killed_run_resumes

SMALL = ["--units", "8", "--embedding-dim", "8", "--batch-size", "4", "--seq-len", "10",
         "--learning-rate", "0.02", "--samples", "2", "--sample-length", "12"]


def write_corpus(path, lines=300, seed=0):
    """Sentences from a tiny grammar: most words follow from the one before."""
    rng = np.random.default_rng(seed)
    subjects, verbs, objects = ["the cat", "a dog", "my bird"], ["sees", "eats", "likes"], ["fish", "seeds", "bread"]
    text = "\n".join(f"{rng.choice(subjects)} {rng.choice(verbs)} the {rng.choice(objects)} today"
                     for _ in range(lines))
    path.write_text(text + "\n")
    return path


@pytest.fixture(scope="module")
def word_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("lm")
    data = write_corpus(root / "corpus.txt")
    run = root / "run"
    assert main(["train", "lm", "--data", str(data), "--test-split", "0.1", "--epochs", "3",
                 "--ngram-order", "3", *SMALL, "--out", str(run)]) == 0
    return run, data


def test_run_directory_holds_vocabulary_baselines_metrics_and_samples(word_run):
    run, _ = word_run
    for name in ("config.json", "model.keras", "metrics.json", "history.csv", "vocabulary.json",
                 "samples.txt", "plots/loss.png", "plots/perplexity.png", "baselines/unigram.npz", "baselines/bigram.npz",
                 "baselines/trigram.npz", "baselines/kneser_ney.npz"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["task"] == "lm" and metrics["level"] == "word"
    assert list(metrics["models"]) == ["lstm_lm", "unigram", "bigram", "trigram", "kneser_ney"]
    vocabulary = json.loads((run / "vocabulary.json").read_text())
    assert metrics["vocabulary_size"] == len(vocabulary["tokens"]) and vocabulary["tokens"][0] == "<unk>"
    for split in ("val", "test"):
        # Every model predicts the same tokens: each one after the split's first.
        counts = {m[split]["tokens"] for m in metrics["models"].values()}
        assert counts == {metrics["num_tokens"][split] - 1}
        for m in metrics["models"].values():
            assert m[split]["perplexity"] == pytest.approx(math.exp(m[split]["nats_per_token"]))
    models = metrics["models"]
    # The grammar is learnable: the LSTM beats the unigram model by far.
    assert models["lstm_lm"]["val"]["perplexity"] < 0.6 * models["unigram"]["val"]["perplexity"]
    assert len(metrics["samples"]) == 2
    assert all(s["text"].startswith(s["prompt"]) for s in metrics["samples"])
    assert metrics["samples"][0]["text"] in (run / "samples.txt").read_text()


def test_evaluate_recomputes_the_same_figures(word_run):
    from kerasseq import runs

    run, _ = word_run
    saved = json.loads((run / "metrics.json").read_text())["models"]
    results = runs.evaluate(run)
    assert list(results) == list(saved)
    for name in saved:
        for split in ("val", "test"):
            assert results[name][split]["perplexity"] == pytest.approx(saved[name][split]["perplexity"],
                                                                       rel=1e-5)


def test_evaluate_refuses_data_with_another_vocabulary(word_run, tmp_path, capsys):
    import shutil

    run, data = word_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    changed = write_corpus(tmp_path / "other.txt", lines=300, seed=1)
    changed.write_text(changed.read_text().replace("bread", "cake"))
    config = json.loads((copy / "config.json").read_text())
    config["data"] = str(changed)
    (copy / "config.json").write_text(json.dumps(config))
    assert main(["evaluate", str(copy)]) == 2
    error = capsys.readouterr().err
    assert "vocabulary.json" in error and "the data changed since the run was trained" in error


def test_character_level_reports_bits_per_character(tmp_path):
    data = write_corpus(tmp_path / "corpus.txt", lines=60)
    task = LanguageModelTask(LanguageModelConfig(data=str(data), level="char", epochs=1, batch_size=4,
                                                 seq_len=20, units=8, embedding_dim=4,
                                                 baselines=["kneser_ney"]))
    assert task.vocabulary.level == "char" and task.splits == ("val",)
    model = task.build_baselines()["kneser_ney"]
    task.fit_baseline("kneser_ney", model)
    scores = task.evaluate(model)["val"]
    assert scores["bits_per_char"] == pytest.approx(scores["nats_per_token"] / math.log(2))
    assert scores["nats_per_char"] == scores["nats_per_token"]


def test_stateless_models_train_on_shuffled_windows(tmp_path):
    data = write_corpus(tmp_path / "corpus.txt", lines=40)
    task = LanguageModelTask(LanguageModelConfig(data=str(data), stateful=False, epochs=1, batch_size=4,
                                                 seq_len=5, units=4, embedding_dim=4, baselines=[]))
    first = [x.numpy() for x, _ in task.dataset("train", shuffle=True, seed=1)]
    again = [x.numpy() for x, _ in task.dataset("train", shuffle=True, seed=1)]
    other = [x.numpy() for x, _ in task.dataset("train", shuffle=True, seed=2)]
    assert all((a == b).all() for a, b in zip(first, again))
    assert not all(a.shape == b.shape and (a == b).all() for a, b in zip(first, other))
    model = task.build_model()
    assert not any(getattr(layer, "stateful", False) for layer in model.layers)
    history, _ = task.fit(model, verbose=0)
    assert len(history["loss"]) == 1
    assert task.evaluate(model)["val"]["tokens"] == len(task.corpus.validation) - 1


def test_stateful_epochs_start_at_a_seeded_offset(tmp_path):
    data = write_corpus(tmp_path / "corpus.txt", lines=40)
    task = LanguageModelTask(LanguageModelConfig(data=str(data), batch_size=2, seq_len=7, baselines=[]))
    first = [x.numpy() for x, _ in task.dataset("train", shuffle=True, seed=3)][0]
    plain = [x.numpy() for x, _ in task.dataset("train")][0]
    offset = int(np.random.default_rng(3).integers(7))
    np.testing.assert_array_equal(first[0], task.corpus.train[offset: offset + first.shape[1]])
    np.testing.assert_array_equal(plain[0], task.corpus.train[: plain.shape[1]])


@pytest.mark.parametrize("argv, message", [
    (["--data", "ptb", "--level", "char"],
     "argument --level: LanguageModelTask received level='char' with data='ptb'"),
    (["--seq-len", "0"], "argument --seq-len: LanguageModelTask received seq_len=0"),
    (["--data", "ptb", "--max-tokens", "5000"],
     "argument --max-tokens: LanguageModelTask received max_tokens=5000 with data='ptb'"),
    (["--data", "imdb", "--test-split", "0.1"],
     "argument --test-split: LanguageModelTask received test_split=0.1 with data='imdb'"),
    (["--ensemble", "2"], "argument --ensemble: LanguageModelTask received ensemble=2"),
    (["--lr-decay", "1.5"], "argument --lr-decay: LanguageModelTask received lr_decay=1.5"),
    (["--decay-after", "0"], "argument --decay-after: LanguageModelTask received decay_after=0"),
    (["--baselines", "fourgram"], "argument --baselines: LanguageModelTask received baselines=['fourgram']"),
])
def test_bad_options_name_their_flag(argv, message, tmp_path, capsys):
    assert main(["train", "lm", *argv, "--out", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_empty_and_too_short_corpora_are_clear_errors(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n")
    assert main(["train", "lm", "--data", str(empty), "--out", str(tmp_path / "a")]) == 2
    assert f"{empty} is empty. A language model needs a corpus to learn from." in capsys.readouterr().err
    short = tmp_path / "short.txt"
    short.write_text("one two three\nfour five six\n" * 5)
    assert main(["train", "lm", "--data", str(short), "--batch-size", "64", "--out", str(tmp_path / "b")]) == 2
    assert "argument --batch-size: bptt_dataset received a stream of" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_the_learning_rate_decays_every_epoch_after_decay_after(tmp_path):
    data = write_corpus(tmp_path / "corpus.txt", lines=40)
    task = LanguageModelTask(LanguageModelConfig(data=str(data), epochs=4, patience=10, batch_size=4,
                                                 seq_len=10, units=4, embedding_dim=4, baselines=[],
                                                 learning_rate=0.01, decay_after=2, lr_decay=0.25))
    history, _ = task.fit(task.build_model(), verbose=0)
    assert history["learning_rate"] == pytest.approx([0.01, 0.01, 0.0025, 0.000625])


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path):
    data = write_corpus(tmp_path / "corpus.txt", lines=200)
    # Dropout, seeded offsets, and a rate that decays on a schedule: all carry over.
    assert_killed_run_resumes(["train", "lm", "--data", str(data), "--epochs", "4", "--patience", "4",
                               "--dropout", "0.3", "--decay-after", "2", "--baselines", "bigram",
                               *SMALL], tmp_path)
