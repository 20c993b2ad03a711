"""Gradient flow through time, measured: vanishing gradients in Elman
networks against GRU and LSTM, and exploding gradients with and without
clipping.

Three parts, each row written to `results/gradient_flow.json` as it
finishes (a rerun skips the rows there; `--rerun` trains them again), the
plots to `results/plots/`:

1. The adding problem (Hochreiter & Schmidhuber, 1997), generated from a
   seed: each step holds a number drawn from U(0, 1) and a marker; two
   steps are marked, one in each half of the sequence, and the target is
   the sum of their numbers. Predicting the mean (1.0) gives a mean squared
   error of 1/6; a model that carries both numbers to the end gets ~0.
   Elman, GRU and LSTM (32 units) train for the same number of Adam steps
   at T = 50, 100 and 200; the figure is the test accuracy (share of
   |prediction - target| < 0.04) of the weights that did best on
   validation, and the gradient flow ||dL/dh_t|| on 64 test sequences at
   initialization and after training.
2. The weather task at 120 past steps (Jena, hourly): the same three
   cells' gradient flow at initialization and after training.
3. Exploding gradients: a ReLU Elman network (the course notes' Elman)
   whose recurrent kernel is scaled to spectral radius 1.2, trained with
   plain SGD on the adding problem (T = 50), without clipping and with
   `global_clipnorm=1` (the builders' default clips too): the global
   gradient norm and the loss at every step.

Usage: python bench/gradient_flow.py [--only NAME ...] [--rerun] [--steps N]
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "gradient_flow.json"
# The plots' folder, beside the results file.
PLOTS_NAME = "plots"
CELLS = ("elman", "gru", "lstm")
LENGTHS = (50, 100, 200)
UNITS = 32
BATCH = 64
STEPS = 10000
EVAL_EVERY = 250
TOLERANCE = 0.04
FLOW_SAMPLES = 64
SEED = 0


def adding_problem(count, length, rng):
    """`(inputs (count, length, 2), targets (count, 1))` of the adding problem."""
    values = rng.uniform(0, 1, size=(count, length)).astype("float32")
    markers = np.zeros((count, length), "float32")
    half = length // 2
    first = rng.integers(0, half, size=count)
    second = rng.integers(half, length, size=count)
    rows = np.arange(count)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = (values[rows, first] + values[rows, second])[:, None]
    return np.stack([values, markers], axis=-1), targets


def recurrent_model(cell, length, features, *, units=UNITS, activation="tanh", seed=SEED):
    """One recurrent layer of `cell` and a linear output, compiled with MSE."""
    import keras

    from kerasseq import layers

    keras.utils.set_random_seed(seed)
    kind = {"elman": layers.ElmanRNN, "gru": layers.GRU, "lstm": layers.LSTM}[cell]
    keywords = {"activation": activation} if cell == "elman" else {}
    inputs = keras.Input((length, features))
    hidden = kind(units, name=cell, **keywords)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, name="output")(hidden))
    model.compile(loss="mse")
    return model


def flow_summary(flow):
    """The gradient flow's mean curve and the figures the README quotes."""
    curve = flow["mean"]
    return {"grad_norm_mean": [_finite(v) for v in curve],
            "jacobian_norm_mean": [_finite(v) for v in flow["jacobian_mean"]],
            "ratio_first_to_last": _finite(curve[0] / curve[-1]),
            "jacobian_norm_median": _finite(np.median(flow["jacobian_norm"]))}


def training_step(model, optimizer):
    """A compiled step on a batch `(x, y)` with the MSE loss; returns the
    loss and the global gradient norm before the optimizer clips it."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.MeanSquaredError()

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        gradients = tape.gradient(loss, model.trainable_variables)
        norm = tf.linalg.global_norm(gradients)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss, norm

    return step


def train_adding(cell, length, steps):
    """Trains one cell on the adding problem; returns its row."""
    import keras

    from kerasseq.analysis import gradient_flow

    rng = np.random.default_rng(SEED + length)
    x_val, y_val = adding_problem(1000, length, rng)
    x_test, y_test = adding_problem(1000, length, rng)
    model = recurrent_model(cell, length, 2)
    initial = flow_summary(gradient_flow(model, x_test[:FLOW_SAMPLES], y_test[:FLOW_SAMPLES]))
    train_step = training_step(model, keras.optimizers.Adam(1e-3, global_clipnorm=1.0))

    best = (np.inf, None, 0)
    curve = []
    start = time.perf_counter()
    for step in range(1, steps + 1):
        x, y = adding_problem(BATCH, length, rng)
        train_step(x, y)
        if step % EVAL_EVERY == 0 or step == steps:
            val = float(np.mean((model.predict(x_val, batch_size=500, verbose=0) - y_val) ** 2))
            curve.append([step, val])
            if val < best[0]:
                best = (val, [w.numpy() for w in model.weights], step)
    seconds = time.perf_counter() - start
    model.set_weights(best[1])
    prediction = model.predict(x_test, batch_size=500, verbose=0)
    trained = flow_summary(gradient_flow(model, x_test[:FLOW_SAMPLES], y_test[:FLOW_SAMPLES]))
    return {
        "name": f"adding_{cell}_T{length}", "part": "adding", "cell": cell, "length": length,
        "units": UNITS, "steps": steps, "batch_size": BATCH, "best_step": best[2],
        "val_mse": round(best[0], 5), "val_mse_curve": curve,
        "test_mse": round(float(np.mean((prediction - y_test) ** 2)), 5),
        "test_accuracy": round(float(np.mean(np.abs(prediction - y_test) < TOLERANCE)), 4),
        "train_seconds": round(seconds, 1), "flow_initial": initial, "flow_trained": trained,
    }


def train_weather(cell, epochs):
    """One cell on the Jena hourly data at 120 past steps; returns its row."""
    from kerasseq import tasks
    from kerasseq.analysis import gradient_flow

    task = tasks.get("weather")({"data": "jena", "past": 120, "cell": cell, "units": UNITS, "depth": 1,
                                 "epochs": epochs, "patience": epochs, "baselines": [],
                                 "strategy": "default"})
    model = task.build_model()
    x, y = task.analysis_examples("test", FLOW_SAMPLES, seed=SEED)
    initial = flow_summary(gradient_flow(model, x, y))
    history, seconds = task.fit(model, verbose=0)
    trained = flow_summary(gradient_flow(model, x, y))
    scores = task.evaluate(model)
    return {
        "name": f"weather_{cell}_T120", "part": "weather", "cell": cell, "length": 120, "units": UNITS,
        "epochs": len(history["loss"]), "val_mae": round(scores["val"]["mae"], 4),
        "test_mae": round(scores["test"]["mae"], 4), "train_seconds": round(seconds, 1),
        "flow_initial": initial, "flow_trained": trained,
    }


def train_exploding(clip, steps, *, length=50, radius=1.2, learning_rate=0.01):
    """A ReLU Elman network with its recurrent kernel at spectral radius
    `radius`, trained by SGD with `global_clipnorm=clip` (None: no
    clipping): the global gradient norm and loss at every step."""
    import keras

    from kerasseq.analysis import gradient_flow

    model = recurrent_model("elman", length, 2, activation="relu")
    kernel = model.get_layer("elman").cell.recurrent_kernel
    values = kernel.numpy()
    kernel.assign(values * radius / np.max(np.abs(np.linalg.eigvals(values))))
    rng = np.random.default_rng(SEED)
    x_val, y_val = adding_problem(1000, length, rng)
    # The gradient grows with the distance from the loss instead of fading.
    initial = flow_summary(gradient_flow(model, x_val[:FLOW_SAMPLES], y_val[:FLOW_SAMPLES]))
    train_step = training_step(model, keras.optimizers.SGD(learning_rate, global_clipnorm=clip))

    losses, norms, diverged = [], [], None
    for step in range(1, steps + 1):
        x, y = adding_problem(BATCH, length, rng)
        loss, norm = (float(v) for v in train_step(x, y))
        losses.append(loss)
        norms.append(norm)
        # Diverged: overflowed, or far above where it started (the first
        # loss is measured before any update, so clipping cannot change it).
        if not (np.isfinite(loss) and np.isfinite(norm)) or loss > 1e3 * losses[0]:
            diverged = step
            break
    prediction = model.predict(x_val, batch_size=500, verbose=0)
    val = float(np.mean((prediction - y_val) ** 2))
    return {
        "name": f"exploding_{'clip' if clip else 'noclip'}", "part": "exploding", "cell": "elman_relu",
        "length": length, "radius": radius, "learning_rate": learning_rate, "global_clipnorm": clip,
        "steps": len(losses), "diverged_at_step": diverged,
        "val_mse": round(val, 5) if np.isfinite(val) else None,
        "max_grad_norm": _finite(np.nanmax(norms)), "median_grad_norm": _finite(np.nanmedian(norms)),
        "flow_initial": initial,
        "loss": [_finite(v) for v in losses], "grad_norm": [_finite(v) for v in norms],
    }


def _finite(value):
    """`value` as a float, or None (JSON null) where it overflowed."""
    return float(value) if np.isfinite(value) else None


def plot(rows, folder):
    """The figures of `rows` into `folder`."""
    from kerasseq.analysis.reports import _pyplot

    pyplot = _pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    by_name = {row["name"]: row for row in rows}
    for part, lengths in (("adding", LENGTHS), ("weather", (120,))):
        for length in lengths:
            chosen = [by_name.get(f"{part}_{cell}_T{length}") for cell in CELLS]
            if not all(chosen):
                continue
            figure, axes = pyplot.subplots(1, 2, figsize=(11, 3.8), sharey=True)
            for axis, key, title in zip(axes, ("flow_initial", "flow_trained"), ("at initialization", "trained")):
                for row in chosen:
                    curve = row[key]["grad_norm_mean"]
                    axis.plot(np.arange(1, len(curve) + 1), curve, label=row["cell"])
                axis.set_yscale("log")
                axis.set_xlabel("time step t (the loss is read after the last)")
                axis.set_title(f"{part}, T = {length}: {title}")
                axis.legend()
            axes[0].set_ylabel("mean ||dL/dh_t||")
            figure.tight_layout()
            figure.savefig(folder / f"gradient_flow_{part}_T{length}.png", dpi=100)
            pyplot.close(figure)
    runs = [by_name.get("exploding_noclip"), by_name.get("exploding_clip")]
    if all(runs):
        figure, axes = pyplot.subplots(1, 2, figsize=(11, 3.8))
        for row, label in zip(runs, ("no clipping", "global_clipnorm=1")):
            steps = np.arange(1, row["steps"] + 1)
            loss = np.array([np.nan if v is None else v for v in row["loss"]])
            norm = np.array([np.nan if v is None else v for v in row["grad_norm"]])
            # Markers: a run that diverges in a few steps is a few points.
            axes[0].plot(steps, loss, ".-", markersize=3, label=label)
            axes[1].plot(steps, norm, ".-", markersize=3, label=label)
        for axis, name in zip(axes, ("training loss (MSE)", "global gradient norm before clipping")):
            axis.set_yscale("log")
            axis.set_xlabel("SGD step")
            axis.set_title(name)
            axis.legend()
        figure.suptitle("ReLU Elman network, recurrent kernel at spectral radius 1.2, adding problem T = 50")
        figure.tight_layout()
        figure.savefig(folder / "exploding_gradients.png", dpi=100)
        pyplot.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="row names to run (default: all)")
    parser.add_argument("--rerun", action="store_true", help="train the chosen rows again")
    parser.add_argument("--steps", type=int, default=STEPS, help="Adam steps per adding-problem model")
    parser.add_argument("--weather-epochs", type=int, default=5)
    parser.add_argument("--exploding-steps", type=int, default=300)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from quality_common import machine

    saved = json.loads(args.out.read_text()) if args.out.exists() else {"rows": []}
    rows = {row["name"]: row for row in saved["rows"]}
    jobs = {}
    for cell in CELLS:
        for length in LENGTHS:
            jobs[f"adding_{cell}_T{length}"] = lambda c=cell, t=length: train_adding(c, t, args.steps)
    for cell in CELLS:
        jobs[f"weather_{cell}_T120"] = lambda c=cell: train_weather(c, args.weather_epochs)
    jobs["exploding_noclip"] = lambda: train_exploding(None, args.exploding_steps)
    jobs["exploding_clip"] = lambda: train_exploding(1.0, args.exploding_steps)
    unknown = sorted(set(args.only or []) - set(jobs))
    if unknown:
        parser.error(f"unknown rows {unknown}; choose from {list(jobs)}")
    for name, job in jobs.items():
        if (args.only and name not in args.only) or (name in rows and not args.rerun):
            continue
        print(f"{name} ...", flush=True)
        rows[name] = job()
        row = rows[name]
        shown = {k: v for k, v in row.items() if not isinstance(v, (list, dict))}
        print(json.dumps(shown), flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        ordered = [rows[n] for n in jobs if n in rows]
        args.out.write_text(json.dumps({"machine": machine(), "tolerance": TOLERANCE, "rows": ordered},
                                       indent=1))
    # Beside the results file: a smoke run (--out elsewhere) keeps the README's plots.
    plot([rows[n] for n in jobs if n in rows], args.out.parent / PLOTS_NAME)


if __name__ == "__main__":
    main()
