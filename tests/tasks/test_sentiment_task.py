"""Tests for `SentimentTask` and `kerasseq train sentiment`: data, splits, run
directory, metrics, explanations, resume and user errors."""

import json

import keras
import numpy as np
import pandas as pd
import pytest

import kerasseq  # noqa: F401
from kerasseq.cli import main
from kerasseq.tasks.sentiment import SentimentConfig
from kerasseq.tasks.sentiment import SentimentTask
from kerasseq.validation import ArgumentError
from tests.tasks.killed_run import assert_killed_run_resumes

POSITIVE = ["great", "wonderful", "loved", "brilliant", "moving"]
NEGATIVE = ["awful", "boring", "hated", "dull", "terrible"]
SMALL = ["--units", "4", "--embedding-dim", "8", "--batch-size", "16"]


def write_reviews(path, count=120, labels=("neg", "pos"), seed=0):
    """A CSV of short reviews whose sentiment words give the label away."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        label = labels[i % len(labels)]
        words = POSITIVE if label == labels[-1] else NEGATIVE
        filler = rng.choice(["the", "film", "was", "a", "plot", "actor"], size=rng.integers(2, 12))
        rows.append({"review": " ".join([*filler, *rng.choice(words, size=2)]), "sentiment": label})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory):
    """A finished run on a small CSV: GRU with the token-scores head and both baselines."""
    root = tmp_path_factory.mktemp("sentiment")
    data = write_reviews(root / "reviews.csv")
    run = root / "run"
    assert main(["train", "sentiment", "--data", str(data), "--text-column", "review",
                 "--label-column", "sentiment", "--head", "token_scores", "--epochs", "3",
                 "--learning-rate", "0.02", *SMALL, "--out", str(run)]) == 0
    return run


def test_run_directory_holds_metrics_plots_and_explanations(csv_run):
    for name in ("config.json", "model.keras", "metrics.json", "history.csv", "plots/loss.png",
                 "plots/roc.png", "plots/explain.html", "plots/explain.json",
                 "baselines/majority.keras", "baselines/bag_of_words.keras"):
        assert (csv_run / name).is_file(), name
    metrics = json.loads((csv_run / "metrics.json").read_text())
    # The label mapping is saved with the run.
    assert metrics["task"] == "sentiment" and metrics["class_names"] == ["neg", "pos"]
    # 10% test, then 20% of the rest for validation (the defaults), per class.
    assert metrics["num_texts"] == {"train": 86, "val": 22, "test": 12}
    assert list(metrics["models"]) == ["gru_token_scores", "majority", "bag_of_words"]
    for name, model in metrics["models"].items():
        for split in ("val", "test"):
            m = model[split]
            assert set(m) >= {"accuracy", "precision", "recall", "f1", "auc", "confusion_matrix"}
            assert sum(map(sum, m["confusion_matrix"])) == m["num_examples"]
    assert metrics["models"]["majority"]["test"]["auc"] == 0.5
    # The words give the label away: the model learns them in three epochs.
    assert metrics["models"]["gru_token_scores"]["test"]["accuracy"] >= 0.9
    explanations = json.loads((csv_run / "plots/explain.json").read_text())
    assert explanations and all(e["kind"] == "token_scores" for e in explanations)
    assert "<mark" in (csv_run / "plots/explain.html").read_text()


def test_evaluate_recomputes_the_same_figures(csv_run):
    from kerasseq import runs

    saved = json.loads((csv_run / "metrics.json").read_text())["models"]
    results = runs.evaluate(csv_run)
    assert list(results) == list(saved)
    for name in saved:
        for split in ("val", "test"):
            for key in ("accuracy", "f1", "auc"):
                assert results[name][split][key] == pytest.approx(saved[name][split][key], abs=1e-6)


def test_saved_model_takes_raw_text(csv_run):
    model = keras.saving.load_model(csv_run / "model.keras")
    texts = np.array(["", "   ", "great wonderful loved", "awful boring hated",
                      "日本語のテキスト", "great " * 5000], dtype=object)
    predicted = model.predict(texts, verbose=0).ravel()
    assert np.all(np.isfinite(predicted))
    assert predicted[2] > 0.5 > predicted[3]


def test_imdb_task_splits(data_file):
    data_file("aclImdb_v1.tar.xz")
    task = SentimentTask(SentimentConfig(limit=300, max_length=50, baselines=[]))
    assert {k: len(v[0]) for k, v in task.splits.items()} == {"train": 300, "val": 300, "test": 300}
    assert task.class_names == ("neg", "pos")
    assert task.lengths["train"].max() <= 50
    # The vocabulary comes from the training texts only.
    train_words = set(" ".join(task.splits["train"][0]).lower().split())
    assert "the" in task.vocabulary and len(task.vocabulary) <= 20000
    assert len(train_words) > 0
    x, y = next(iter(task.dataset("train", shuffle=True, seed=0)))
    assert x.dtype == "string" and x.shape[0] == 64 and set(np.unique(y.numpy())) <= {0.0, 1.0}


def test_imdb_trains_through_the_cli(data_file, tmp_path):
    data_file("aclImdb_v1.tar.xz")
    run = tmp_path / "imdb"
    assert main(["train", "sentiment", "--data", "imdb", "--limit", "200", "--max-length", "60",
                 "--epochs", "1", "--baselines", "majority", "--head", "windowed_attention",
                 "--window", "2", *SMALL, "--out", str(run)]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["num_texts"] == {"train": 200, "val": 200, "test": 200}
    assert 0 <= metrics["models"]["gru_windowed_attention"]["test"]["accuracy"] <= 1


@pytest.mark.parametrize("labels, message", [
    (("neg", "neutral", "pos"), "found 3 classes ['neg', 'neutral', 'pos']"),
    (("pos",), "found 1 class"),
])
def test_wrong_number_of_classes_is_a_one_line_error(labels, message, tmp_path, capsys):
    data = write_reviews(tmp_path / "three.csv", count=30, labels=labels)
    code = main(["train", "sentiment", "--data", str(data), "--text-column", "review",
                 "--label-column", "sentiment", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("kerasseq: error: ") and message in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_missing_column_names_the_flag(tmp_path, capsys):
    data = write_reviews(tmp_path / "r.csv", count=30)
    assert main(["train", "sentiment", "--data", str(data), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kerasseq: error: argument --text-column: ")
    assert "text_column='text', which is not a column of r.csv" in err


def test_class_names_choose_the_positive_class(tmp_path, capsys):
    data = write_reviews(tmp_path / "r.csv", count=30)
    common = dict(data=str(data), text_column="review", label_column="sentiment", baselines=[])
    task = SentimentTask({**common, "class_names": ["pos", "neg"]})
    assert task.class_names == ("pos", "neg")
    assert "Labels: 0 = 'pos', 1 = 'neg' (the positive class)" in capsys.readouterr().out
    with pytest.raises(ArgumentError, match=r"class_names=\['pos', 'neg'\] for imdb"):
        SentimentTask({"data": "imdb", "class_names": ["pos", "neg"]})


def test_task_errors(tmp_path):
    data = write_reviews(tmp_path / "r.csv", count=30)
    common = dict(data=str(data), text_column="review", label_column="sentiment")
    with pytest.raises(ArgumentError, match=r"baselines=\['nbsvm'\]; \['nbsvm'\] are not baselines"):
        SentimentTask({**common, "baselines": ["nbsvm"]})
    with pytest.raises(ValueError, match="SentimentTask received max_length=0"):
        SentimentTask({**common, "max_length": 0})
    with pytest.raises(ArgumentError, match="keep='middle'") as error:
        SentimentTask({**common, "truncate": "middle", "baselines": []}).build_model()
    assert SentimentTask.option_for(error.value.argument) == "truncate"


def test_help_lists_the_options_and_an_example(capsys):
    with pytest.raises(SystemExit):
        main(["train", "sentiment", "--help"])
    out = capsys.readouterr().out
    for flag in ("--data", "--head", "--window", "--max-length", "--truncate", "--word-vectors",
                 "--bidirectional", "--limit"):
        assert flag in out
    assert out.rstrip().endswith("--out runs/imdb-gru")


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path):
    data = write_reviews(tmp_path / "reviews.csv", count=240)
    # Dropout and a learning rate that halves, so that seeds and schedules carry over.
    assert_killed_run_resumes(["train", "sentiment", "--data", str(data), "--text-column", "review",
                               "--label-column", "sentiment", "--epochs", "5", "--patience", "5",
                               "--dropout", "0.3", "--baselines", "", *SMALL, "--batch-size", "8"],
                              tmp_path)


def test_word_vectors_start_the_embeddings(tmp_path):
    data = write_reviews(tmp_path / "r.csv", count=40)
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("great 1 2 3\nawful -1 -2 -3\nunrelated 9 9 9\n")
    task = SentimentTask(dict(data=str(data), text_column="review", label_column="sentiment",
                              word_vectors=str(vectors), baselines=[], units=4))
    embedding = task.build_model().get_layer("embedding").get_weights()[0]
    assert embedding.shape == (len(task.vocabulary), 3)
    np.testing.assert_array_equal(embedding[task.vocabulary.index("great")], [1, 2, 3])
    np.testing.assert_array_equal(embedding[task.vocabulary.index("awful")], [-1, -2, -3])


def test_ensemble_run_explains_its_first_member(tmp_path):
    data = write_reviews(tmp_path / "r.csv", count=60)
    run = tmp_path / "run"
    assert main(["train", "sentiment", "--data", str(data), "--text-column", "review",
                 "--label-column", "sentiment", "--ensemble", "2", "--epochs", "1",
                 "--baselines", "", *SMALL, "--out", str(run)]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert list(metrics["models"]) == ["gru_attention", "gru_attention_seed0", "gru_attention_seed1"]
    ensemble = keras.saving.load_model(run / "model.keras")
    assert ensemble.get_compile_config()["loss"] == "binary_crossentropy"
    assert json.loads((run / "plots/explain.json").read_text())[0]["kind"] == "attention"
