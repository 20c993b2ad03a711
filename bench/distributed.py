"""Training speed of one process vs a local 2-worker cluster
(MultiWorkerMirroredStrategy on loopback), and the per-step cost of the
collective ops.

Three set-ups train the weather task's GRU forecaster (32 units, 48-hour
windows of the embedded NYC 2013 data) for EPOCHS epochs, and each reports
its time per training step over the epochs after the first (compilation
and warm-up left out), the median over those epochs:

- `single_64`: one process, batches of 64 windows;
- `workers_2x32`: two worker processes, 32 windows each per step, one
  global batch of 64 (the same updates as `single_64`);
- `single_32`: one process, batches of 32: what a worker computes per
  step, so `workers_2x32 - single_32` is the cost of the all-reduce and
  the synchronization.

The set-ups alternate, ROUNDS times, and medians over rounds are reported.
On this machine (2 CPU cores) a second worker brings no more compute: one
process already uses both cores, so two workers split the same cores and
add the all-reduce; speed-ups need workers on separate machines or GPUs.

Run: `python bench/distributed.py [--rounds 3] [--epochs 3]`.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CONFIG = {"data": "nyc", "past": 48, "units": 32, "baselines": [], "patience": 100}


def worker(batch_size, epochs):
    """Trains once (one process, or one worker of TF_CONFIG's cluster);
    prints the median step time of the epochs after the first."""
    import keras

    from kerasseq import tasks

    task = tasks.get("weather")({**CONFIG, "batch_size": batch_size, "epochs": epochs})

    class StepTimes(keras.callbacks.Callback):
        """Each epoch's training time (to the start of its validation) per step."""

        def __init__(self):
            super().__init__()
            self.times, self.epoch = [], 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch, self.steps, self.started = epoch, 0, time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1

        def on_test_begin(self, logs=None):
            # The epoch's last step has finished: validation waits for it.
            if self.epoch > 0:
                self.times.append((time.perf_counter() - self.started) / self.steps)

    with task.strategy.scope():
        model = task.build_model()
    steps = StepTimes()
    task.fit(model, callbacks=[steps], verbose=0)
    replicas = model.distribute_strategy.num_replicas_in_sync
    print(json.dumps({"step_s": statistics.median(steps.times), "replicas": replicas}), flush=True)


def run(setup, epochs):
    """Runs `setup`; returns its median step time in seconds."""
    from kerasseq.processes import free_port

    command = [sys.executable, __file__, "--worker"]
    if setup != "workers_2x32":
        batch = setup.split("_")[1]
        out = subprocess.run([*command, batch, str(epochs)], capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])["step_s"]
    cluster = {"worker": [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]}
    processes = [
        subprocess.Popen([*command, "32", str(epochs)], stdout=subprocess.PIPE, text=True,
                         env={**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster,
                                                                     "task": {"type": "worker",
                                                                              "index": i}})})
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=1200)[0] for p in processes]
    if any(p.returncode for p in processes):
        raise RuntimeError(f"a worker failed: {[p.returncode for p in processes]}")
    reports = [json.loads(o.strip().splitlines()[-1]) for o in outputs]
    assert all(r["replicas"] == 2 for r in reports)
    # A step ends when both workers have their share of the gradient.
    return max(r["step_s"] for r in reports)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--worker", nargs=2, type=int, metavar=("BATCH", "EPOCHS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    setups = ["single_64", "workers_2x32", "single_32"]
    times = {s: [] for s in setups}
    for _ in range(args.rounds):
        for setup in setups:
            times[setup].append(run(setup, args.epochs))
    step = {s: statistics.median(t) for s, t in times.items()}
    print(f"weather GRU(32), NYC 2013, 48-hour windows; {args.epochs} epochs per run, steps after the "
          f"first epoch; medians of {args.rounds} alternated rounds; CPUs: {os.cpu_count()}")
    print(f"{'set-up':14} {'ms/step':>8} {'windows/s':>10}")
    for setup in setups:
        batch = 64 if setup != "single_32" else 32
        print(f"{setup:14} {step[setup] * 1000:8.1f} {batch / step[setup]:10,.0f}")
    print(f"ratio workers_2x32 / single_64 (windows/s): {step['single_64'] / step['workers_2x32']:.2f}")
    print(f"collective overhead per step (workers_2x32 - single_32): "
          f"{(step['workers_2x32'] - step['single_32']) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
