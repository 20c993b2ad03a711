"""Speed and memory: `WindowedAttention` vs `keras.layers.MultiHeadAttention`
with the equivalent dense band mask.

Both layers get the same weights, inputs (batch x T x 64, random float32,
no padding) and band (|i - j| <= window, default 5); 2 heads of 32. The
built-in gets the band as a boolean `attention_mask` of shape (1, T, T),
which it broadcasts over the batch (the cheapest dense form), and computes
all T^2 scores; ours scores blocks of max(16, 2 * window) queries against
their keys only, time and memory linear in T. Before timing, the two
inference outputs are checked to agree.

Time: a training step (forward, then the gradients of a fixed weighted sum
of the outputs w.r.t. the layer's weights) and an inference call, each a
`tf.function`. The two layers alternate single steps (the order flips
every step), because this machine's speed switches between two modes about
1.9x apart for seconds at a time: alternation puts both sides in the same
modes, and medians over many steps drop the rest. The first steps (tracing)
are dropped.

Memory: each (layer, T, step) runs in a fresh subprocess, which reports
its peak memory growth over two steps (the first traces): on a GPU
TensorFlow's peak allocation, on a CPU the peak resident set size (VmHWM,
reset before the steps) over the resident size before them. A case that
runs out of memory prints "OOM" and is not timed.

Run: `python bench/attention.py [--lengths 256,1024,4096] [--repeats 20] [--batch 8]`.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import kerasseq  # noqa: E402

FEATURES, NUM_HEADS = 64, 2
WARMUP = 2


def make_case(kind, batch, timesteps, window):
    """The layer and its step functions, `{"train": f, "inference": f}`,
    on inputs of seed 0; the built-in gets the band mask, weights of seed 1."""
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(batch, timesteps, FEATURES)).astype("float32"))
    cotangent = tf.constant(np.sin(np.arange(batch * timesteps * FEATURES) * 1.3).reshape(x.shape), "float32")
    keras.utils.set_random_seed(1)
    if kind == "ours":
        layer = kerasseq.layers.WindowedAttention(window, num_heads=NUM_HEADS)
        layer.build(x.shape)
        forward = layer
    else:
        layer = keras.layers.MultiHeadAttention(NUM_HEADS, key_dim=FEATURES // NUM_HEADS)
        layer.build(x.shape, x.shape)
        steps = np.arange(timesteps)
        band = tf.constant((np.abs(steps[:, None] - steps[None, :]) <= window)[None])
        forward = lambda inputs: layer(inputs, inputs, attention_mask=band)  # noqa: E731

    @tf.function
    def train():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(forward(x) * cotangent)
        return tape.gradient(loss, layer.trainable_weights)

    @tf.function
    def inference():
        return forward(x)

    return layer, {"train": train, "inference": inference}


def resident_mb(field):
    """`VmRSS` (now) or `VmHWM` (peak) of this process from /proc, in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 2**10
    raise RuntimeError(f"no {field} in /proc/self/status")


def run_memory_case(kind, step, batch, timesteps, window):
    """In a fresh process: the peak memory growth of two steps (the first
    traces), in MB, or "OOM"."""
    _, steps = make_case(kind, batch, timesteps, window)
    gpu = bool(tf.config.list_physical_devices("GPU"))
    if gpu:
        tf.config.experimental.reset_memory_stats("GPU:0")
        before = tf.config.experimental.get_memory_info("GPU:0")["current"] / 2**20
    else:
        # "5" resets the peak (VmHWM) to the current size (Linux >= 4.0), so
        # the peak of the imports does not hide that of the step.
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        before = resident_mb("VmRSS")
    try:
        for _ in range(WARMUP):
            tf.nest.map_structure(lambda t: t.numpy(), steps[step]())
    except (tf.errors.ResourceExhaustedError, MemoryError):
        return "OOM"
    if gpu:
        return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20 - before
    return resident_mb("VmHWM") - before


def memory(kind, step, batch, timesteps, window):
    """`run_memory_case` in a subprocess; "OOM" when it dies of memory."""
    command = [sys.executable, __file__, "--memory-case", json.dumps([kind, step, batch, timesteps, window])]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        # -9: the kernel's OOM killer; else an allocation failed in TensorFlow.
        if result.returncode == -9 or "ResourceExhausted" in result.stderr or "MemoryError" in result.stderr:
            return "OOM"
        raise RuntimeError(f"memory case {command[-1]} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def time_steps(functions, repeats):
    """Alternates single steps of the functions (the order flips each
    repeat); returns their median times in ms."""
    times = [[] for _ in functions]
    for function in functions:
        for _ in range(WARMUP):
            tf.nest.map_structure(lambda t: t.numpy(), function())
    for repeat in range(repeats):
        order = list(range(len(functions)))
        for i in order if repeat % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            tf.nest.map_structure(lambda t: t.numpy(), functions[i]())
            times[i].append(time.perf_counter() - start)
    return [np.median(t) * 1000 for t in times]


def device_name():
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU ({details.get('device_name', gpus[0].name)})"
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def format_memory(value):
    return value if isinstance(value, str) else f"{value:.0f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="256,1024,4096", help="comma-separated sequence lengths T")
    parser.add_argument("--repeats", type=int, default=20, help="alternations per case")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--steps", default="train,inference", help="train, inference or both")
    parser.add_argument("--memory-case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_case:
        print(json.dumps(run_memory_case(*json.loads(args.memory_case))))
        return
    print(f"tensorflow {tf.__version__}, keras {keras.__version__}, device: {device_name()}")
    print(f"batch {args.batch}, {FEATURES} features, {NUM_HEADS} heads, window {args.window}; "
          f"median of {args.repeats} alternating steps per side; memory: peak growth over two "
          f"steps, MB ({'GPU peak' if tf.config.list_physical_devices('GPU') else 'CPU peak RSS'})\n")
    print(f"{'step':<10}{'T':>6}{'keras ms':>11}{'ours ms':>10}{'speedup':>9}{'keras MB':>10}{'ours MB':>9}")
    for timesteps in (int(t) for t in args.lengths.split(",")):
        cases = {kind: make_case(kind, args.batch, timesteps, args.window) for kind in ("keras", "ours")}
        ours, keras_layer = cases["ours"][0], cases["keras"][0]
        ours.set_weights(keras_layer.get_weights())
        checked = False
        for step in args.steps.split(","):
            keras_mb, ours_mb = (
                memory(kind, step, args.batch, timesteps, args.window) for kind in ("keras", "ours")
            )
            if ours_mb == "OOM":
                print(f"{step:<10}{timesteps:>6}  ours ran out of memory", flush=True)
                continue
            if keras_mb == "OOM":
                (ours_ms,) = time_steps([cases["ours"][1][step]], args.repeats)
                keras_ms, speedup = "OOM", "-"
            else:
                if not checked:
                    outputs = [cases[kind][1]["inference"]() for kind in ("ours", "keras")]
                    np.testing.assert_allclose(*outputs, atol=1e-4, err_msg="the layers disagree")
                    checked = True
                keras_ms, ours_ms = time_steps([cases[kind][1][step] for kind in ("keras", "ours")], args.repeats)
                keras_ms, speedup = f"{keras_ms:.1f}", f"{keras_ms / ours_ms:.1f}x"
            print(f"{step:<10}{timesteps:>6}{keras_ms:>11}{ours_ms:>10.1f}{speedup:>9}"
                  f"{format_memory(keras_mb):>10}{format_memory(ours_mb):>9}", flush=True)
    print("\nspeedup = keras time / our time (> 1: ours is faster)")


if __name__ == "__main__":
    main()
