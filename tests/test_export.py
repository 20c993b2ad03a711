"""Tests for `kerasseq.export` and `kerasseq export`: SavedModels on raw
input that a process importing only TensorFlow serves as the model
predicts, TensorFlow's own CLI, the `.keras` copy, and bad serving input."""

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import kerasseq  # noqa: F401
from kerasseq import tasks
from kerasseq.cli import main
from kerasseq.export import export_saved_model
from kerasseq.validation import ArgumentError
from tests.tasks.test_lm_task import write_corpus
from tests.tasks.test_sentiment_task import write_reviews

CLI = str(Path(sys.executable).parent / "saved_model_cli")


def serve_in_fresh_process(directory, signature, inputs):
    """Calls `signature` of the SavedModel in `directory` in a new Python
    process that imports TensorFlow only; returns its outputs as lists."""
    script = f"""
import json, sys
import tensorflow as tf
# TensorFlow may load Keras for tf.keras; kerasseq must never be needed.
assert not any(m.split('.')[0] in ('kerasseq', 'pipelines', 'tuning') for m in sys.modules)
loaded = tf.saved_model.load({str(directory)!r})
inputs = json.loads(sys.stdin.read())
function = loaded.signatures[{signature!r}]
specs = function.structured_input_signature[1]
out = function(**{{k: tf.constant(v, dtype=specs[k].dtype) for k, v in inputs.items()}})
print(json.dumps({{k: (v.numpy().astype(str) if v.dtype == tf.string else v.numpy()).tolist() for k, v in out.items()}}))
"""
    result = subprocess.run([sys.executable, "-c", script], input=json.dumps(inputs), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def weather_export(tmp_path_factory):
    root = tmp_path_factory.mktemp("export_weather")
    assert main(["train", "weather", "--data", "nyc", "--past", "24", "--units", "4", "--epochs", "1",
                 "--horizon", "6h", "--horizon", "24h", "--baselines", "", "--out", str(root / "run")]) == 0
    assert main(["export", str(root / "run"), "--out", str(root / "served")]) == 0
    return root


def test_weather_savedmodel_serves_raw_windows_as_the_model_predicts(weather_export):
    task = tasks.get("weather")({"data": "nyc", "past": 24, "horizons": ["6h", "24h"]})
    windows = next(iter(task.dataset("test")))[0].numpy()[:8]
    model = keras.saving.load_model(weather_export / "run" / "model.keras")
    expected = model.predict(windows, verbose=0)
    out = serve_in_fresh_process(weather_export / "served" / "1", "serving_default",
                                 {"window": windows.tolist()})
    assert sorted(out) == ["forecast_24h", "forecast_6h"]
    np.testing.assert_allclose(out["forecast_6h"], expected[:, 0, 0], atol=1e-5)
    np.testing.assert_allclose(out["forecast_24h"], expected[:, 1, 0], atol=1e-5)
    # The .keras copy predicts the same.
    again = keras.saving.load_model(weather_export / "served" / "1.keras")
    np.testing.assert_allclose(again.predict(windows, verbose=0), expected, atol=1e-6)


def test_weather_signature_refuses_bad_windows_with_the_fix(weather_export):
    windows = np.zeros((2, 24, 10), "float32")
    script_base = weather_export / "served" / "1"
    for bad, message in [
        (np.zeros((2, 24, 3), "float32"), "The window must be [batch, 24, 10]"),
        (np.zeros((24, 10), "float32"), "The window must be [batch, 24, 10]"),
        (np.where(np.arange(10) == 1, np.nan, windows).astype("float32"),
         "The window holds NaN or infinite values: fill the gaps"),
    ]:
        script = f"""
import numpy as np, tensorflow as tf
f = tf.saved_model.load({str(script_base)!r}).signatures['serving_default']
f(window=tf.constant(np.array({bad.tolist()!r}, dtype='float32')))
"""
        result = subprocess.run([sys.executable, "-c", script.replace("nan", "float('nan')")],
                                capture_output=True, text=True, timeout=300)
        assert result.returncode != 0 and message in result.stderr, result.stderr[-1500:]


def test_saved_model_cli_lists_and_runs_the_signature(weather_export):
    directory = str(weather_export / "served" / "1")
    shown = subprocess.run([CLI, "show", "--dir", directory, "--all"], capture_output=True, text=True,
                           timeout=300)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "signature_def['serving_default']" in shown.stdout
    assert "inputs['window'] tensor_info:\n        dtype: DT_FLOAT\n        shape: (-1, 24, 10)" in shown.stdout
    assert "outputs['forecast_24h'] tensor_info:\n        dtype: DT_FLOAT\n        shape: (-1)" in shown.stdout
    windows = weather_export / "ones.npy"
    np.save(windows, np.ones((2, 24, 10), "float32"))
    run = subprocess.run([CLI, "run", "--dir", directory, "--tag_set", "serve", "--signature_def",
                          "serving_default", "--inputs", f"window={windows}"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    model = keras.saving.load_model(weather_export / "run" / "model.keras")
    expected = model.predict(np.ones((2, 24, 10), "float32"), verbose=0)
    printed = run.stdout[run.stdout.index("Result for output key forecast_24h:"):]
    value = float(printed.split("[")[1].split()[0].rstrip("]"))
    assert value == pytest.approx(float(expected[0, 1, 0]), abs=1e-4)


@pytest.mark.parametrize("head", ["windowed_attention", "token_scores", "max"])
def test_sentiment_savedmodel_serves_raw_text_and_token_weights(head, tmp_path):
    data = write_reviews(tmp_path / "reviews.csv")
    run = tmp_path / "run"
    assert main(["train", "sentiment", "--data", str(data), "--text-column", "review", "--label-column",
                 "sentiment", "--head", head, "--units", "4", "--embedding-dim", "8", "--epochs", "1",
                 "--baselines", "", "--out", str(run)]) == 0
    assert main(["export", str(run), "--out", str(tmp_path / "served"), "--version", "3"]) == 0
    texts = ["a wonderful moving film", "", "awful boring plot, the actor was dull"]
    model = keras.saving.load_model(run / "model.keras")
    expected = model.predict(np.array(texts, dtype=object), verbose=0)[:, 0]
    out = serve_in_fresh_process(tmp_path / "served" / "3", "serving_default", {"text": texts})
    np.testing.assert_allclose(out["probability"], expected, atol=1e-5)
    assert 0 <= out["probability"][1] <= 1  # an empty text gets a prediction
    if head == "max":
        assert sorted(out) == ["probability"]
    else:
        assert out["tokens"][0][:4] == ["a", "wonderful", "moving", "film"]
        assert not any(out["tokens"][1]) and not any(out["token_weights"][1])
        if head == "windowed_attention":
            assert sum(out["token_weights"][0]) == pytest.approx(1, abs=1e-5)
    assert graph_ops_without_cpu_kernels(tmp_path / "served" / "3") == ([], [])


def test_language_model_savedmodel_predicts_and_generates_as_the_model(tmp_path):
    from kerasseq.models.language import generate
    from kerasseq.models.language import stateless_copy
    from pipelines.lm import Vocabulary

    data = write_corpus(tmp_path / "corpus.txt")
    run = tmp_path / "run"
    assert main(["train", "lm", "--data", str(data), "--units", "8", "--embedding-dim", "8", "--batch-size",
                 "4", "--seq-len", "10", "--epochs", "1", "--baselines", "", "--samples", "0",
                 "--out", str(run)]) == 0
    assert main(["export", str(run), "--out", str(tmp_path / "served")]) == 0
    model = keras.saving.load_model(run / "model.keras")
    reference = stateless_copy(model)  # the trained model is stateful, for batches of 4
    vocabulary = Vocabulary.load(run / "vocabulary.json")
    prompts = ["the cat", "", "a zebra sees"]
    out = serve_in_fresh_process(tmp_path / "served" / "1", "serving_default", {"prompt": prompts})
    assert np.shape(out["probabilities"]) == (3, len(vocabulary))
    np.testing.assert_allclose(np.sum(out["probabilities"], axis=1), 1, atol=1e-5)
    for k, prompt in enumerate(prompts):
        tokens = vocabulary.tokenize(prompt)[:-1] or ["<eos>"]
        logits = reference.predict(vocabulary.encode(tokens)[None], verbose=0)[0, -1, :len(vocabulary)]
        expected = np.exp(logits - logits.max())
        np.testing.assert_allclose(out["probabilities"][k], expected / expected.sum(), atol=1e-5)
    generated = serve_in_fresh_process(tmp_path / "served" / "1", "generate",
                                       {"prompt": prompts[:2], "num_tokens": 6})
    for k, prompt in enumerate(prompts[:2]):
        text = generate(model, vocabulary, prompt, length=6, temperature=0)
        assert text.endswith(generated["continuation"][k])
    assert graph_ops_without_cpu_kernels(tmp_path / "served" / "1") == ([], [])


def test_versions_and_errors(tmp_path):
    task = tasks.get("weather")({"data": "nyc", "past": 12, "units": 2, "baselines": []})
    model = task.build_model()
    assert export_saved_model(model, tmp_path / "m", task=task).name == "1"
    assert export_saved_model(model, tmp_path / "m", task=task).name == "2"
    with pytest.raises(ArgumentError, match=r"m/2 already exists\. Pass another version, e\.g\. version=3"):
        export_saved_model(model, tmp_path / "m", version=2, task=task)
    with pytest.raises(ArgumentError, match=r"received version=0\. Pass a positive integer"):
        export_saved_model(model, tmp_path / "m", version=0)
    # Without a task: serving_default over the model's own inputs.
    target = export_saved_model(model, tmp_path / "plain")
    assert (target / "saved_model.pb").is_file() and (tmp_path / "plain" / "1.keras").is_file()


def graph_ops_without_cpu_kernels(directory):
    """Op types in a SavedModel's graph and functions that have no CPU
    kernel (a cuDNN op, say), and the GPU devices nodes are pinned to."""
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow.python.framework import kernels

    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((Path(directory) / "saved_model.pb").read_bytes())
    graph = saved.meta_graphs[0].graph_def
    functions = {f.signature.name for f in graph.library.function}
    nodes = [*graph.node, *(node for f in graph.library.function for node in f.node_def)]
    types = {node.op for node in nodes} - functions
    missing = sorted(op for op in types
                     if not any(k.device_type in ("CPU", "DEFAULT")
                                for k in kernels.get_registered_kernels_for_op(op).kernel))
    return missing, sorted({node.device for node in nodes if "GPU" in node.device.upper()})


@pytest.mark.parametrize("cell,bidirectional", [("elman", False), ("gru", True), ("lstm", False)])
def test_exports_traced_on_a_gpu_run_on_a_cpu(cell, bidirectional, monkeypatch, tmp_path):
    """On a GPU, GRU and LSTM layers (ours, as Keras' own) run cuDNN, whose
    ops have no CPU kernel. Here a GPU is simulated: the layers are built
    and traced as on one, so the cuDNN ops enter the graph."""
    import importlib

    import kerasseq.layers.base

    rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")

    task = tasks.get("weather")({"data": "nyc", "past": 12, "units": 3, "cell": cell,
                                 "bidirectional": bidirectional, "baselines": []})
    reference = task.build_model()
    windows = next(iter(task.dataset("test")))[0].numpy()[:4]
    expected = reference.predict(windows, verbose=0)
    with monkeypatch.context() as gpu:
        gpu.setattr(kerasseq.layers.base, "gpu_available", lambda: True)
        gpu.setattr(rnn, "_is_gpu_available", lambda: True)
        model = task.build_model()
        model.set_weights(reference.get_weights())
        portable = export_saved_model(model, tmp_path / "portable", task=task)
        gpu_only = export_saved_model(model, tmp_path / "gpu_only", task=task, portable=False)
    # The default export holds only ops a CPU runs, and serves as the model.
    assert graph_ops_without_cpu_kernels(portable) == ([], [])
    out = serve_in_fresh_process(portable, "serving_default", {"window": windows.tolist()})
    np.testing.assert_allclose(out["forecast_24h"], expected[:, 0, 0], atol=1e-5)
    missing, _ = graph_ops_without_cpu_kernels(gpu_only)
    assert missing == ([] if cell == "elman" else ["CudnnRNNV3"])


def test_a_cudnn_op_would_be_found(tmp_path):
    import tensorflow as tf

    class Module(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def serve(self, x):
            with tf.device("/GPU:0"):
                y = x + 1
            return tf.raw_ops.CudnnRNNCanonicalToParams(
                num_layers=1, num_units=1, input_size=1, weights=[y[:1]] * 2, biases=[y[:1]] * 2)

    tf.saved_model.save(Module(), str(tmp_path / "m"))
    missing, pinned = graph_ops_without_cpu_kernels(tmp_path / "m")
    assert "CudnnRNNCanonicalToParams" in missing and pinned == ["/device:GPU:0"]


def test_serving_input_of_the_wrong_dtype_is_refused_by_name(weather_export):
    script = f"""
import numpy as np, tensorflow as tf
f = tf.saved_model.load({str(weather_export / "served" / "1")!r}).signatures['serving_default']
f(window=tf.constant(np.zeros((2, 24, 10), 'float64')))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "was expected to be a float tensor but is a double tensor" in result.stderr, result.stderr[-1500:]


@pytest.mark.parametrize("task_name", ["weather", "sentiment"])
def test_an_ensemble_run_exports_its_mean(task_name, tmp_path):
    run = tmp_path / "run"
    if task_name == "weather":
        flags = ["--data", "nyc", "--past", "12", "--horizon", "6h"]
        inputs = np.random.default_rng(0).normal(10, 5, size=(3, 12, 10)).astype("float32")
        served = {"window": inputs.tolist()}
    else:
        data = write_reviews(tmp_path / "reviews.csv")
        flags = ["--data", str(data), "--text-column", "review", "--label-column", "sentiment",
                 "--head", "windowed_attention", "--embedding-dim", "8"]
        inputs = np.array(["a wonderful moving film", "", "the plot was dull"], dtype=object)
        served = {"text": inputs.tolist()}
    assert main(["train", task_name, *flags, "--units", "3", "--epochs", "1", "--ensemble", "2",
                 "--baselines", "", "--out", str(run)]) == 0
    assert main(["export", str(run), "--out", str(tmp_path / "served")]) == 0
    model = keras.saving.load_model(run / "model.keras")
    expected = model.predict(inputs, verbose=0)
    out = serve_in_fresh_process(tmp_path / "served" / "1", "serving_default", served)
    if task_name == "weather":
        np.testing.assert_allclose(out["forecast_6h"], expected[:, 0, 0], atol=1e-5)
    else:
        np.testing.assert_allclose(out["probability"], expected[:, 0], atol=1e-5)
        # The members' mean attention: still a distribution over the tokens.
        assert sum(out["token_weights"][0]) == pytest.approx(1, abs=1e-5)
        assert out["tokens"][0][:4] == ["a", "wonderful", "moving", "film"]


def test_text_exports_read_their_vocabulary_from_assets(tmp_path):
    from kerasseq.models.language import stateless_copy
    from pipelines.lm import Vocabulary

    # Characters, line breaks and tabs included: one token per line holds them.
    data = tmp_path / "chars.txt"
    data.write_text("".join(f"ab\tc {i % 7}\n" for i in range(200)))
    run = tmp_path / "run"
    assert main(["train", "lm", "--data", str(data), "--level", "char", "--units", "4", "--embedding-dim",
                 "4", "--batch-size", "4", "--seq-len", "8", "--epochs", "1", "--baselines", "",
                 "--samples", "0", "--out", str(run)]) == 0
    assert main(["export", str(run), "--out", str(tmp_path / "served")]) == 0
    vocabulary = Vocabulary.load(run / "vocabulary.json")
    lines = (tmp_path / "served" / "1" / "assets" / "vocabulary.txt").read_text().split("\n")[:-1]
    assert lines == [{"\n": "\\n"}.get(t, t) for t in vocabulary.tokens] and "\t" in lines
    prompts = ["ab\tc 3\nab", "zz"]
    out = serve_in_fresh_process(tmp_path / "served" / "1", "serving_default", {"prompt": prompts})
    reference = stateless_copy(keras.saving.load_model(run / "model.keras"))
    for k, prompt in enumerate(prompts):
        logits = reference.predict(vocabulary.encode(list(prompt))[None], verbose=0)[0, -1, :len(vocabulary)]
        expected = np.exp(logits - logits.max())
        np.testing.assert_allclose(out["probabilities"][k], expected / expected.sum(), atol=1e-5)
    assert graph_ops_without_cpu_kernels(tmp_path / "served" / "1") == ([], [])


def test_sentiment_vocabulary_asset_reads_back_into_text_vectorization(tmp_path):
    task = tasks.get("sentiment")({"data": str(write_reviews(tmp_path / "reviews.csv")),
                                   "text_column": "review", "label_column": "sentiment",
                                   "head": "token_scores", "units": 2, "embedding_dim": 4, "baselines": []})
    target = export_saved_model(task.build_model(), tmp_path / "m", task=task)
    layer = keras.layers.TextVectorization(vocabulary=str(target / "assets" / "vocabulary.txt"))
    assert layer.get_vocabulary() == task.vocabulary
    import tensorflow as tf

    serve = tf.saved_model.load(str(target)).signatures["serving_default"]
    tokens = serve(text=tf.constant(["a zebra film"]))["tokens"].numpy().astype(str)[0]
    assert list(tokens[:3]) == ["a", "[UNK]", "film"] and not any(tokens[3:])


def test_vocabulary_files_refuse_tokens_they_cannot_hold(tmp_path):
    from kerasseq.export import vocabulary_asset

    with pytest.raises(ValueError, match=r"an empty token, which a vocabulary file cannot; leave out the "
                                         r"padding token"):
        vocabulary_asset(["", "a"], tmp_path)
    with pytest.raises(ValueError, match=r"the token 'a\\nb', with a line break inside"):
        vocabulary_asset(["a\nb"], tmp_path)
    with pytest.raises(ValueError, match=r"would hold '\\\\n' twice"):
        vocabulary_asset(["\n", "\\n"], tmp_path)
