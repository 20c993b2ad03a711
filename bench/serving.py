"""Serving speed: each task's exported SavedModel, loaded with
`tf.saved_model.load`, against `model.predict` on the same inputs.

For each task a model of its default configuration is built on real data
(weather: the embedded NYC 2013 hours; sentiment: IMDB test reviews, the
vocabulary adapted on the training reviews; language model: PTB
validation sentences), exported with `kerasseq.export.export_saved_model`
and loaded back. Untrained weights: speed does not depend on them. Two
figures per task: the latency of one request (batch 1) and the throughput
of batches of 256. The SavedModel's `serving_default` and `model.predict`
alternate call by call (this machine's speed switches between two modes
about 1.9x apart), and medians are reported with their ratio
(predict / SavedModel: above 1, serving is faster). The language model's
`predict` reads token ids (tokenized beforehand, not timed); its SavedModel
tokenizes the prompt inside.

Run: `python bench/serving.py [--repeats 30] [--tasks weather,sentiment,lm]`.
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def _inputs(name, task, size):
    """`(serving kwargs, predict input)` of `size` examples of real data."""
    import tensorflow as tf

    if name == "weather":
        windows = np.concatenate([x.numpy() for x, _ in task.dataset("test").take(8)])[:size]
        return {"window": tf.constant(windows)}, windows
    if name == "sentiment":
        texts = task.splits["test"][0][:size]
        return {"text": tf.constant(list(texts))}, np.asarray(texts, dtype=object)
    sentences = task.vocabulary.join(task.vocabulary.decode(task.corpus.split("val")[:20 * size])).split("\n")
    prompts = [s for s in sentences if s.strip()][:size]
    ids = [task.vocabulary.encode(task.vocabulary.tokenize(p)[:-1]) for p in prompts]
    width = max(len(i) for i in ids)
    padded = np.stack([np.pad(i, (0, width - len(i))) for i in ids]).astype("int32")
    return {"prompt": tf.constant(prompts)}, padded


def _median_pair(serve, predict, repeats):
    """Median seconds of `serve()` and `predict()`, alternated, first calls dropped."""
    serve(), predict()
    times = {"serve": [], "predict": []}
    for k in range(repeats):
        for side in (("serve", serve), ("predict", predict))[:: 1 if k % 2 == 0 else -1]:
            start = time.perf_counter()
            side[1]()
            times[side[0]].append(time.perf_counter() - start)
    return float(np.median(times["serve"])), float(np.median(times["predict"]))


def bench(name, repeats):
    import tensorflow as tf

    from kerasseq import tasks
    from kerasseq.export import export_saved_model
    from kerasseq.models.language import stateless_copy

    config = {"weather": {"data": "nyc"}, "sentiment": {"data": "imdb"}, "lm": {"data": "ptb"}}[name]
    task = tasks.get(name)({**config, "baselines": []})
    model = task.build_model()
    with tempfile.TemporaryDirectory() as directory:
        target = export_saved_model(model, f"{directory}/m", task=task)
        signature = tf.saved_model.load(str(target)).signatures["serving_default"]
        reference = stateless_copy(model) if name == "lm" else model
        rows = []
        for size in (1, 256):
            feed, array = _inputs(name, task, size)
            serve_s, predict_s = _median_pair(lambda: signature(**feed),
                                              lambda: reference.predict(array, batch_size=256, verbose=0),
                                              repeats)
            rows.append((size, serve_s, predict_s))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--tasks", default="weather,sentiment,lm")
    args = parser.parse_args()

    import kerasseq  # noqa: F401

    print("| task | batch | SavedModel ms | predict ms | ratio (predict / SavedModel) | SavedModel examples/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in args.tasks.split(","):
        for size, serve_s, predict_s in bench(name, args.repeats):
            print(f"| {name} | {size} | {1000 * serve_s:.2f} | {1000 * predict_s:.2f} | "
                  f"{predict_s / serve_s:.2f} | {size / serve_s:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
