"""Tests for `kerasseq analyze gradients|gates|clusters RUN_DIR`: every
registered task's run, the PNG and JSON written, the numbers equal to the
library functions on the same examples, and errors naming the flag."""

import json

import keras
import numpy as np
import pytest

import kerasseq  # noqa: F401  (registers the layers for load_model)
from kerasseq.analysis import cluster_report
from kerasseq.analysis import final_states
from kerasseq.analysis import gate_trace
from kerasseq.analysis import gradient_flow
from kerasseq.analysis.commands import _decay_per_step
from kerasseq.cli import main
from kerasseq.runs import RunDirectory
from tests.tasks.test_lm_task import write_corpus
from tests.tasks.test_sentiment_task import write_reviews

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Small finished runs of the three tasks."""
    root = tmp_path_factory.mktemp("analyze")
    reviews, corpus = write_reviews(root / "reviews.csv"), write_corpus(root / "corpus.txt")
    commands = {
        "weather": ["train", "weather", "--data", "nyc", "--past", "24", "--units", "4", "--epochs", "1",
                    "--baselines", "naive", "--ensemble", "2"],
        "sentiment": ["train", "sentiment", "--data", str(reviews), "--text-column", "review",
                      "--label-column", "sentiment", "--head", "max", "--units", "4", "--embedding-dim", "8",
                      "--batch-size", "16", "--epochs", "2", "--baselines", "", "--bidirectional"],
        "lm": ["train", "lm", "--data", str(corpus), "--test-split", "0.1", "--cell", "lstm", "--units", "8",
               "--embedding-dim", "8", "--batch-size", "4", "--seq-len", "10", "--epochs", "1",
               "--samples", "0", "--baselines", ""],
    }
    for name, command in commands.items():
        assert main([*command, "--out", str(root / name)]) == 0
    return root


def loaded(run):
    task = RunDirectory(run).load_task()
    return task, task.load_model(RunDirectory(run).model_path)


def read(run, analysis):
    folder = run / "analysis"
    assert (folder / f"{analysis}.png").read_bytes()[:8] == PNG
    return json.loads((folder / f"{analysis}.json").read_text())


@pytest.mark.parametrize("name", ["weather", "sentiment", "lm"])
def test_gradients_of_any_task_are_gradient_flow_on_the_task_s_examples(runs, name):
    run = runs / name
    assert main(["analyze", "gradients", str(run), "--samples", "6", "--seed", "3"]) == 0
    written = read(run, "gradients")
    task, model = loaded(run)
    inputs, targets = task.analysis_examples("test", 6, seed=3)
    flow = gradient_flow(model, inputs, targets)
    assert written["task"] == name and written["samples"] == len(flow["grad_norm"])
    expected = np.where(np.isnan(flow["grad_norm"]), -1, flow["grad_norm"])
    saved = np.array([[-1 if v is None else v for v in row] for row in written["grad_norm"]])
    np.testing.assert_allclose(saved, expected, rtol=1e-5)
    assert written["grad_norm_last"] == pytest.approx(float(flow["by_distance"][0]), rel=1e-5)


@pytest.mark.parametrize("name, text", [("sentiment", "the film was not wonderful at all"),
                                        ("lm", "the cat sees the zebra"), ("weather", None)])
def test_gates_trace_the_given_text_or_a_test_example(runs, name, text):
    run = runs / name
    assert main(["analyze", "gates", str(run), *(["--text", text] if text else [])]) == 0
    written = read(run, "gates")
    task, model = loaded(run)
    inputs, labels = task.analysis_sequence(model, text)
    trace = gate_trace(model, inputs)
    assert written["cell"] == trace["cell"] and written["text"] == text
    for gate, values in trace["gates"].items():
        np.testing.assert_allclose(written["gates"][gate], values, rtol=1e-5)
    if text:
        # Words the training data lacks are read as the unknown token.
        known = set(task.vocabulary.tokens if name == "lm" else task.vocabulary)
        unknown = "<unk>" if name == "lm" else "[UNK]"
        assert written["steps"] == [w if w in known else unknown for w in text.split()]
        assert unknown in written["steps"] and written["steps"][:2] == text.split()[:2]
    else:
        assert written["steps"] == list(range(1, len(values) + 1))


def test_the_summary_s_decay_is_the_fitted_factor_per_step_back():
    # The last step's own value is left out of the fit.
    assert _decay_per_step([9.0, 1.0, 0.5, 0.25, 0.125]) == pytest.approx(0.5)
    assert _decay_per_step([1.0, 2.0, 0.0, 8.0]) == pytest.approx(2.0)  # an underflow is skipped
    assert _decay_per_step([1.0, 2.0]) is None


def test_an_ensemble_run_is_read_through_its_first_member(runs):
    run = runs / "weather"
    task, model = loaded(run)
    member = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    inputs, targets = task.analysis_examples("test", 4, seed=0)
    member.compile(loss=model.loss)
    np.testing.assert_allclose(gradient_flow(model, inputs, targets)["grad_norm"],
                               gradient_flow(member, inputs, targets)["grad_norm"], rtol=1e-6)


def test_the_backward_direction_of_a_bidirectional_run(runs):
    run = runs / "sentiment"
    text = "the film was wonderful"
    assert main(["analyze", "gates", str(run), "--text", text, "--direction", "backward"]) == 0
    written = read(run, "gates")
    task, model = loaded(run)
    trace = gate_trace(model, task.analysis_sequence(model, text)[0], direction="backward")
    assert written["steps"] == text.split()[::-1] and trace["go_backwards"]
    np.testing.assert_allclose(written["gates"]["update"], trace["gates"]["update"], rtol=1e-5)
    assert main(["analyze", "gradients", str(run), "--samples", "4", "--direction", "backward"]) == 0
    written = read(run, "gradients")
    inputs, targets = task.analysis_examples("test", 4, seed=0)
    flow = gradient_flow(model, inputs, targets, direction="backward")
    saved = np.array([[np.nan if v is None else v for v in row] for row in written["grad_norm"]])
    np.testing.assert_allclose(saved, flow["grad_norm"], rtol=1e-5)
    assert written["direction"] == "backward" and written["samples"] == 4


def test_a_corpus_without_a_test_split_asks_for_the_validation_split(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "corpus.txt", lines=60)
    run = tmp_path / "run"
    assert main(["train", "lm", "--data", str(corpus), "--units", "4", "--embedding-dim", "4", "--batch-size",
                 "4", "--seq-len", "5", "--epochs", "1", "--samples", "0", "--baselines", "", "--out",
                 str(run)]) == 0
    assert main(["analyze", "gradients", str(run), "--samples", "3"]) == 2
    assert ("argument --split: The corpus of this run has no test split. Pass split='val' (--split val)."
            in capsys.readouterr().err)
    assert main(["analyze", "gradients", str(run), "--samples", "3", "--split", "val"]) == 0
    assert read(run, "gradients")["samples"] == 3


def test_clusters_of_sentiment_states_are_scored_against_the_classes(runs):
    run = runs / "sentiment"
    assert main(["analyze", "clusters", str(run), "--split", "val", "--samples", "500"]) == 0
    written = read(run, "clusters")
    task, model = loaded(run)
    texts, labels = task.analysis_examples("val", 500, seed=0)
    states = final_states(model, texts)
    expected = cluster_report(states, labels.ravel().astype(int))
    assert written["samples"] == len(texts) < 500  # capped at the split's size
    assert written["silhouette"] == pytest.approx(expected["silhouette"], rel=1e-6)
    assert written["labels"]["silhouette"] == pytest.approx(expected["labels"]["silhouette"], rel=1e-6)
    assert written["best_k"] == expected["best_k"] and "adjusted_rand" in written


def test_clusters_of_a_task_without_classes(runs):
    assert main(["analyze", "clusters", str(runs / "lm"), "--samples", "40"]) == 0
    written = read(runs / "lm", "clusters")
    assert written["units"] == 8 and "labels" not in written and "adjusted_rand" not in written


@pytest.mark.parametrize("run, args, message", [
    ("weather", ["gates", "--text", "rain"], "kerasseq: error: argument --text: The weather task reads no text. "
                                             "Leave out --text to trace an example of the test split."),
    ("weather", ["gradients", "--text", "rain"], "argument --text: analyze_run received text= for 'gradients'"),
    ("weather", ["gradients", "--samples", "0"], "argument --samples: analyze_run received samples=0"),
    ("weather", ["gates", "--layer", "lstm_0"], "argument --layer: gate_trace received layer='lstm_0'"),
    ("sentiment", ["gates", "--text", "<br />"], "argument --text: The text '<br />' has no token the model reads"),
    ("sentiment-missing", ["gates"], "is not a finished run directory"),
    ("weather", ["gates", "--direction", "backward"],
     "argument --direction: gate_trace received direction='backward'"),
    ("sentiment", ["clusters", "--direction", "forward"],
     "argument --direction: analyze_run received direction='forward' for 'clusters'"),
    ("lm", ["clusters", "--samples", "3"],
     "argument --samples: analyze_run got 3 test examples; clusters need 4 or more"),
])
def test_errors_name_the_flag_and_the_fix(runs, capsys, run, args, message):
    assert main(["analyze", args[0], str(runs / run), *args[1:]]) == 2
    assert message in capsys.readouterr().err
