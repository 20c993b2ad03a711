"""Training throughput of kerasseq's recurrent layers against the Keras built-ins.

For each cell (Elman, GRU in both reset forms, LSTM;
GRU and LSTM with recurrent dropout) and each shape, one
model per side (recurrent layer + Dense(1), Adam, MSE) trains on the same
random batch. The two models alternate single training steps (the order
flips every step), because this machine's speed switches between two modes
about 1.9x apart for seconds at a time: alternation puts both sides in the
same modes, and medians over many steps drop the rest.

GFLOP/s counts the matmuls only: 3 x 2 x batch x timesteps x (features +
units) x gates x units per step (forward, then twice that backward).

Run: `python bench/cells.py [--steps 60] [--quick]`.
"""

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import kerasseq  # noqa: E402

CELLS = {
    # name: (built-in, ours, options, gates)
    "elman": (keras.layers.SimpleRNN, kerasseq.layers.ElmanRNN, {}, 1),
    "gru": (keras.layers.GRU, kerasseq.layers.GRU, {}, 3),
    "gru_reset_before": (keras.layers.GRU, kerasseq.layers.GRU, {"reset_after": False}, 3),
    "lstm": (keras.layers.LSTM, kerasseq.layers.LSTM, {}, 4),
    # Recurrent dropout: the generic loop (one mask per gate, see README).
    "gru_rdrop": (keras.layers.GRU, kerasseq.layers.GRU, {"recurrent_dropout": 0.25}, 3),
    "lstm_rdrop": (keras.layers.LSTM, kerasseq.layers.LSTM, {"recurrent_dropout": 0.25}, 4),
}
SHAPES = [
    # (batch, timesteps, features, units)
    (256, 120, 14, 64),
    (256, 500, 14, 32),
]


def make_model(layer_class, options, shape):
    batch, timesteps, features, units = shape
    inputs = keras.Input((timesteps, features))
    outputs = keras.layers.Dense(1)(layer_class(units, **options)(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    return model


def implementation(layer_class, options, shape):
    """What the layer runs on this machine, for the table."""
    layer = layer_class(shape[3], **options)
    layer.build((None, shape[1], shape[2]))
    if isinstance(layer, kerasseq.layers.base.RecurrentLayer):
        return "cuDNN" if layer.runs_cudnn else layer.implementation_for(gpu=False, training=True)
    gpu = bool(tf.config.list_physical_devices("GPU"))
    cudnn = (gpu and options.get("reset_after", True) and not options.get("recurrent_dropout")
             and layer_class is not keras.layers.SimpleRNN)
    return "cuDNN" if cudnn else "no cuDNN"


def time_pair(models, x, y, steps):
    """Alternates single training steps of the two models; returns their times."""
    times = [[], []]
    for model in models:  # warm up: trace, compile, first allocations
        for _ in range(3):
            model.train_on_batch(x, y)
    for step in range(steps):
        order = (0, 1) if step % 2 == 0 else (1, 0)
        for i in order:
            start = time.perf_counter()
            models[i].train_on_batch(x, y)
            times[i].append(time.perf_counter() - start)
    return [np.asarray(t) for t in times]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="alternations per case")
    parser.add_argument("--quick", action="store_true", help="first shape only, 20 steps")
    parser.add_argument("--cells", default=",".join(CELLS), help="comma-separated cells")
    args = parser.parse_args()
    shapes = SHAPES[:1] if args.quick else SHAPES
    steps = 20 if args.quick else args.steps
    print(f"tensorflow {tf.__version__}, keras {keras.__version__}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, GPUs: {len(tf.config.list_physical_devices('GPU'))}")
    print(f"median of {steps} alternating training steps per side (forward + backward + Adam update)\n")
    header = (f"{'cell':<17}{'batch x steps x feat, units':<29}{'keras ms':>9}{'ours ms':>9}"
              f"{'keras GF/s':>11}{'ours GF/s':>10}{'samples/s ours':>16}{'ratio':>7}  runs")
    print(header)
    ratios = {}
    for name in args.cells.split(","):
        builtin, ours, options, gates = CELLS[name]
        for shape in shapes:
            batch, timesteps, features, units = shape
            rng = np.random.default_rng(0)
            x = tf.constant(rng.normal(size=(batch, timesteps, features)).astype("float32"))
            y = tf.constant(rng.normal(size=(batch, 1)).astype("float32"))
            models = [make_model(builtin, options, shape), make_model(ours, options, shape)]
            keras_times, our_times = time_pair(models, x, y, steps)
            keras_ms, our_ms = 1000 * np.median(keras_times), 1000 * np.median(our_times)
            flops = 3 * 2 * batch * timesteps * (features + units) * gates * units
            ratio = keras_ms / our_ms
            ratios[(name, shape)] = ratio
            print(f"{name:<17}{f'{batch} x {timesteps} x {features}, {units}':<29}{keras_ms:>9.1f}{our_ms:>9.1f}"
                  f"{flops / keras_ms / 1e6:>11.1f}{flops / our_ms / 1e6:>10.1f}"
                  f"{batch / our_ms * 1000:>16,.0f}{ratio:>7.2f}  keras: {implementation(builtin, options, shape)},"
                  f" ours: {implementation(ours, options, shape)}")
    print("\nratio = keras time / our time (throughput ours / keras; > 1 means ours is faster)")
    worst = min(ratios, key=ratios.get)
    print(f"lowest ratio: {ratios[worst]:.2f} ({worst[0]}, shape {worst[1]})")


if __name__ == "__main__":
    main()
