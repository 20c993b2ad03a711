"""Language-model speed: training and generation tokens/s, ours vs Keras.

Training: TensorFlow's classic PTB "small" configuration, a stateful
2 x 200 LSTM language model (`build_language_model(vocab_size=10000,
embedding_dim=200, units=200, depth=2, stateful=True)`), against the same
model built from `keras.layers.LSTM` (same embedding, two stateful LSTMs,
Dense(10000) logits) and compiled the same way (`compile_language_model`:
Adam with global_clipnorm=5, token cross-entropy from logits, perplexity),
its initial weights copied from ours (our LSTM has Keras' weight layout).
Before timing, the two models' logits are checked to agree. Both read the
same (batch, 35) batches of PTB training ids in order (`bptt_dataset`),
each carrying its state from batch to batch; random ids when PTB is not in
the data directory (`$KERASSEQ_DATA_DIR`, else `../shared/data` beside the
checkout, as `make test` does), which the output says.

Generation: `generate` (a stateful batch-1 copy of the model, one step per
new token; the copy and its traced step are made by the first call, the
warm-up, and later calls refresh its weights) against a naive loop that
runs `model.predict_on_batch` of a stateless copy (same weights) on the
whole growing context for each token. Both are greedy
(temperature 0) from the same 20-token prompt, so they should write the
same continuation; the output says whether they did. A `generate` call of
one token gives its fixed cost, hence the per-token rate once it is paid.

The sides alternate single steps (the order flips every step), because
this machine's speed switches between two modes about 1.9x apart for
seconds at a time: alternation puts both sides in the same modes, and
medians drop the rest. Warm-up steps (tracing) are dropped.

Run: `python bench/lm.py [--steps 40] [--quick]`.
"""

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The shared data beside the checkout, as the Makefile's `make test` finds it.
SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
if "KERASSEQ_DATA_DIR" not in os.environ and SHARED_DATA.is_dir():
    os.environ["KERASSEQ_DATA_DIR"] = str(SHARED_DATA)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from attention import device_name  # noqa: E402
from cells import implementation  # noqa: E402

import kerasseq  # noqa: E402
from kerasseq.models.language import build_language_model  # noqa: E402
from kerasseq.models.language import compile_language_model  # noqa: E402
from kerasseq.models.language import generate  # noqa: E402
from kerasseq.models.language import reset_states  # noqa: E402
from pipelines.data import find  # noqa: E402
from pipelines.lm import Vocabulary  # noqa: E402
from pipelines.lm import bptt_dataset  # noqa: E402
from pipelines.lm import load_ptb  # noqa: E402


# TensorFlow's PTB "small" model (Zaremba et al. 2014) and its batches.
VOCAB_SIZE, EMBEDDING_DIM, UNITS, DEPTH, SEQ_LEN = 10000, 200, 200, 2, 35
TRAIN_WARMUP = 3
PROMPT_TOKENS, GENERATE_TOKENS = 20, 100


def load_stream():
    """The PTB training and validation streams and vocabulary, or random
    ids over a made-up vocabulary; and a line saying which."""
    if find("ptb.train.txt.gz") is not None or find("ptb/ptb.train.txt") is not None:
        corpus = load_ptb()
        if len(corpus.vocabulary) == VOCAB_SIZE:
            return (corpus.train, corpus.validation, corpus.vocabulary,
                    f"PTB ({len(corpus.train):,} training tokens, from {corpus.source})")
    rng = np.random.default_rng(0)
    vocabulary = Vocabulary(["<unk>", *(f"w{i}" for i in range(1, VOCAB_SIZE))])
    ids = rng.integers(VOCAB_SIZE, size=2_000_000, dtype="int32")
    return ids[:1_900_000], ids[1_900_000:], vocabulary, (
        "RANDOM ids (PTB not found: set KERASSEQ_DATA_DIR to the folder holding ptb/ptb.train.txt.gz)")


def reference_model(batch_size):
    """The same language model from `keras.layers.LSTM`, compiled as ours."""
    inputs = keras.Input((None,), batch_size=batch_size, dtype="int32")
    x = keras.layers.Embedding(VOCAB_SIZE, EMBEDDING_DIM)(inputs)
    for _ in range(DEPTH):
        x = keras.layers.LSTM(UNITS, return_sequences=True, stateful=True)(x)
    model = keras.Model(inputs, keras.layers.Dense(VOCAB_SIZE)(x))
    return compile_language_model(model)


def alternate(functions, repeats, warmup):
    """Runs `functions[i](repeat)` in turn, the order flipping each repeat,
    after `warmup` calls of each; returns each one's times, in seconds."""
    for function in functions:
        for step in range(warmup):
            function(step)
    times = [[] for _ in functions]
    order = list(range(len(functions)))
    for repeat in range(repeats):
        for i in order if repeat % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            functions[i](warmup + repeat)
            times[i].append(time.perf_counter() - start)
    return [np.asarray(t) for t in times]


def runs(model, builtin):
    """How a model's LSTMs run here, for the table."""
    loop = implementation(builtin, {}, (None, SEQ_LEN, EMBEDDING_DIM, UNITS))
    return loop + (", XLA" if model.jit_compile else "")


def bench_training(stream, batch_size, steps):
    """Times ours and the reference, alternating steps on the same batches.
    Returns our model (its weights trained a little) and the table row."""
    keras.utils.set_random_seed(0)
    ours = build_language_model(vocab_size=VOCAB_SIZE, embedding_dim=EMBEDDING_DIM, units=UNITS,
                                depth=DEPTH, stateful=True, batch_size=batch_size)
    reference = reference_model(batch_size)
    reference.set_weights(ours.get_weights())
    batches = list(bptt_dataset(stream, batch_size=batch_size, seq_len=SEQ_LEN)
                   .take(TRAIN_WARMUP + steps))
    if len(batches) < TRAIN_WARMUP + steps:
        raise ValueError(f"The stream holds {len(batches)} batches of {batch_size} x {SEQ_LEN}; "
                         f"--steps {steps} needs {TRAIN_WARMUP + steps}. Pass fewer --steps.")
    x = batches[0][0]
    np.testing.assert_allclose(ours(x, training=False), reference(x, training=False), atol=1e-4,
                               err_msg="our model and the Keras one disagree")
    reset_states(ours)
    reset_states(reference)
    models = [reference, ours]
    keras_times, our_times = alternate(
        [lambda step, model=model: model.train_on_batch(*batches[step]) for model in models],
        steps, TRAIN_WARMUP,
    )
    tokens = batch_size * SEQ_LEN
    row = (f"{batch_size:<7}{1000 * np.median(keras_times):>10.1f}{1000 * np.median(our_times):>9.1f}"
           f"{tokens / np.median(keras_times):>13,.0f}{tokens / np.median(our_times):>12,.0f}"
           f"{np.median(keras_times / our_times):>7.2f}"
           f"  keras: {runs(reference, keras.layers.LSTM)}, ours: {runs(ours, kerasseq.layers.LSTM)}")
    return ours, row


def naive_generate(model, vocabulary, prompt, *, length):
    """Greedy continuation of `prompt` (a list of tokens) that runs the
    stateless `model` on the whole context for every new token."""
    ids = list(vocabulary.encode(prompt))
    new = []
    for _ in range(length):
        logits = model.predict_on_batch(np.array([ids], "int32"))[0, -1]
        new.append(int(np.argmax(logits)))
        ids.append(new[-1])
    return vocabulary.join(vocabulary.decode(new))


def bench_generation(model, vocabulary, prompt, repeats, length):
    """Times `generate` (whole calls of `length` and of 1 token) against
    `naive_generate`; returns the table rows."""
    stateless = build_language_model(vocab_size=VOCAB_SIZE, embedding_dim=EMBEDDING_DIM, units=UNITS,
                                     depth=DEPTH, compile=False)
    stateless.set_weights(model.get_weights())
    texts = {}

    def ours(step):
        texts["ours"] = generate(model, vocabulary, prompt, length=length, temperature=0)

    def ours_one(step):
        generate(model, vocabulary, prompt, length=1, temperature=0)

    def naive(step):
        texts["naive"] = naive_generate(stateless, vocabulary, prompt, length=length)

    naive_times, our_times, one_times = alternate([naive, ours, ours_one], repeats, 1)
    same = texts["ours"].endswith(texts["naive"])
    row = (f"{length:<8}{np.median(naive_times):>9.2f}{np.median(our_times):>8.2f}"
           f"{length / np.median(naive_times):>13,.0f}{length / np.median(our_times):>12,.0f}"
           f"{np.median(naive_times / our_times):>7.2f}  same continuation: {'yes' if same else 'NO'}")
    # A call reads the prompt and refreshes the copy's weights once; the rest is per token.
    per_token = (np.median(our_times) - np.median(one_times)) / (length - 1)
    fixed = f"generate's fixed cost (a 1-token call): {np.median(one_times):.2f} s"
    rate = f"{1 / per_token:,.0f} tokens/s once paid" if per_token > 0 else "no per-token cost measurable"
    return [row, f"{fixed}; {rate}"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="alternating training steps per case")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: batch 20 only, 5 steps, one 20-token generation")
    args = parser.parse_args()
    steps = 5 if args.quick else args.steps
    batch_sizes = (20,) if args.quick else (20, 64)
    repeats, length = (1, 20) if args.quick else (5, GENERATE_TOKENS)
    print(f"tensorflow {tf.__version__}, keras {keras.__version__}, device: {device_name()}")
    train, validation, vocabulary, source = load_stream()
    print(f"data: {source}")
    print(f"model: {DEPTH} x {UNITS} LSTM, embedding {EMBEDDING_DIM}, vocabulary {VOCAB_SIZE:,}, "
          f"stateful, {SEQ_LEN} steps per batch")
    print(f"train: median of {steps} alternating train_on_batch steps per side after {TRAIN_WARMUP} "
          f"warm-up steps; generate: median of {repeats} alternating calls after one warm-up\n")
    print(f"{'batch':<7}{'keras ms':>10}{'ours ms':>9}{'keras tok/s':>13}{'ours tok/s':>12}{'ratio':>7}",
          flush=True)
    for batch_size in batch_sizes:
        model, row = bench_training(train, batch_size, steps)
        if batch_size == batch_sizes[0]:
            generation_model = model
        print(row, flush=True)
    prompt = vocabulary.decode(validation[:PROMPT_TOKENS])
    print(f"\n{'tokens':<8}{'naive s':>9}{'ours s':>8}{'naive tok/s':>13}{'ours tok/s':>12}{'ratio':>7}"
          f"  (greedy, {PROMPT_TOKENS}-token prompt; naive: predict_on_batch on the whole context)", flush=True)
    for row in bench_generation(generation_model, vocabulary, prompt, repeats, length):
        print(row, flush=True)
    print("\nratio = median over alternations of keras (or naive) time / our time (> 1: ours is faster)")


if __name__ == "__main__":
    main()
