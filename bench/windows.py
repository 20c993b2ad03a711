"""Windows per second: `windowed_dataset` vs `keras.utils.timeseries_dataset_from_array`.

Both get the same arguments in the same process: a Jena-size series
(420,551 rows x 14 columns of random float32, not the real file: throughput
does not depend on the values), sequence_length=120, sampling_rate=6,
batch_size=256, shuffle=True. The two are read alternately, CHUNK batches
at a time, so a slow spell of the machine hits both; the first round is a
warmup and dropped. Each chunk reads a fresh iterator and is timed from its
first batch on: a kept iterator would fill its prefetch buffer while the
other pipeline is timed, and the chunk would then time the buffer. The time
to the first batch (shuffle set-up, buffers) is reported on its own.
Reported: medians over rounds.

A second table times training steps of a GRU forecaster (32 units) fed
by `forecast_dataset` (windows gathered on the host, copied to the
accelerator batch by batch) and by `device_forecast_dataset` (start rows
in, windows gathered on the accelerator by `WindowGather`), alternating
STEPS steps at a time; each step includes fetching its batch. On a CPU the
two gather the same rows on the same device, so the ratio shows what the
device path costs; on a GPU, what the copies it saves were worth.

Run: PYTHONPATH=. python bench/windows.py
"""

import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from pipelines.windows import windowed_dataset  # noqa: E402

NUM_ROWS, NUM_COLUMNS = 420_551, 14
ARGS = dict(sequence_length=120, sampling_rate=6, batch_size=256, shuffle=True, seed=0)
CHUNK, ROUNDS = 20, 15
STEPS, STEP_ROUNDS = 4, 15


def time_chunk(dataset):
    """Returns (seconds to the first batch, windows/s over the next CHUNK)."""
    start = time.perf_counter()
    iterator = iter(dataset)
    next(iterator)
    first = time.perf_counter()
    windows = sum(int(next(iterator)[0].shape[0]) for _ in range(CHUNK))
    return first - start, windows / (time.perf_counter() - first)


def main():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(NUM_ROWS, NUM_COLUMNS)).astype("float32")
    targets = data[:, 1]
    datasets = {
        "ours": windowed_dataset(data, targets, **ARGS),
        "keras": keras.utils.timeseries_dataset_from_array(data, targets, **ARGS),
    }
    timings = {name: [] for name in datasets}
    for _ in range(ROUNDS + 1):
        for name, dataset in datasets.items():
            timings[name].append(time_chunk(dataset))
    first = {name: statistics.median(t[0] for t in ts[1:]) for name, ts in timings.items()}
    rate = {name: statistics.median(t[1] for t in ts[1:]) for name, ts in timings.items()}

    print(f"data: {NUM_ROWS} x {NUM_COLUMNS} random float32; {ARGS}")
    print(f"tensorflow {tf.__version__}, keras {keras.__version__}, "
          f"GPUs: {len(tf.config.list_physical_devices('GPU'))}, CPUs: {os.cpu_count()}")
    print(f"{'':6} {'windows/s':>12} {'first batch':>12}   "
          f"(medians of {ROUNDS} chunks of {CHUNK} batches)")
    for name in datasets:
        print(f"{name:6} {rate[name]:12,.0f} {first[name] * 1000:9,.0f} ms")
    print(f"ratio ours/keras {rate['ours'] / rate['keras']:.1f}")
    training_steps(data)


def training_steps(data):
    """Steps/s of one model trained on host-gathered and device-gathered windows."""
    from kerasseq.models import build_weather_model
    from pipelines import device_forecast_dataset
    from pipelines import forecast_dataset

    keywords = dict(targets=1, past=ARGS["sequence_length"], sampling_rate=ARGS["sampling_rate"],
                    horizons=24 * 6, batch_size=ARGS["batch_size"], shuffle=True, seed=0)
    model = build_weather_model(num_features=NUM_COLUMNS, sequence_length=keywords["past"], cell="gru",
                                units=32)
    device, gather = device_forecast_dataset(data, **keywords)
    wrapper = keras.Sequential([keras.Input((), dtype="int64"), gather, model])
    wrapper.compile(optimizer=model.optimizer, loss=model.loss)
    fed = {"host": (model, iter(forecast_dataset(data, **keywords).repeat())),
           "device": (wrapper, iter(device.repeat()))}
    timings = {name: [] for name in fed}
    for _ in range(STEP_ROUNDS + 1):
        for name, (trained, batches) in fed.items():
            start = time.perf_counter()
            for _ in range(STEPS):
                trained.train_on_batch(*next(batches))
            timings[name].append(STEPS / (time.perf_counter() - start))
    rate = {name: statistics.median(ts[1:]) for name, ts in timings.items()}
    print(f"\ntraining steps, GRU(32) forecaster, batch {ARGS['batch_size']}, past {keywords['past']} "
          f"(medians of {STEP_ROUNDS} rounds of {STEPS} steps)")
    for name in fed:
        print(f"{name:6} {rate[name]:8.2f} steps/s")
    print(f"ratio device/host {rate['device'] / rate['host']:.2f}")


if __name__ == "__main__":
    main()
