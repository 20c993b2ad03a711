"""tf.distribute for every task: the strategy `--strategy` names, the cluster
in `TF_CONFIG` checked before TensorFlow waits on it, and N workers started
on this machine.

`get_strategy("multi_worker")` is TensorFlow's `MultiWorkerMirroredStrategy`
over the cluster of `TF_CONFIG` (one process per worker, the same command on
each); `launch_local` starts such a cluster on loopback ports, where only
worker 0 (the chief) writes the run directory and the others train on a
scratch copy. With a hand-written `TF_CONFIG`, give each worker an `--out`
of its own.

Example:
>>> strategy = get_strategy("auto")  # doctest: +SKIP
>>> with strategy.scope():  # doctest: +SKIP
...     model = task.build_model()
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kerasseq.processes import free_port
from kerasseq.processes import stop
from kerasseq.processes import strip_flags
from kerasseq.processes import tail
from kerasseq.validation import ArgumentError
from kerasseq.validation import check_one_of
from kerasseq.validation import check_positive_int

STRATEGIES = ("auto", "default", "mirrored", "multi_worker")
EXAMPLE = ('{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
           '"task": {"type": "worker", "index": 0}}')
# Flags of the launching command only.
_LAUNCHER_FLAGS = {"--workers": 1, "--local": 0, "--strategy": 1}
_STRATEGY = {}


def cluster_config():
    """`TF_CONFIG`, parsed and checked, or None when it is not set.

    Returns:
        `{"cluster": {job: [address, ...]}, "task": {"type", "index"}}`.

    Raises:
        ArgumentError: naming what to fix, for JSON that does not parse, a
            cluster without workers, a malformed address, a task type that
            is not one of the cluster's jobs or an index out of range.
    """
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return None
    fix = f"Set TF_CONFIG on each worker to JSON such as {EXAMPLE}."
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ArgumentError("strategy", f"TF_CONFIG is not JSON ({error}): {text[:200]!r}. {fix}") from None
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict) \
            or not isinstance(config.get("task"), dict):
        raise ArgumentError("strategy", f"TF_CONFIG needs a 'cluster' and a 'task' object; it holds "
                                        f"{text[:200]!r}. {fix}")
    cluster, task = config["cluster"], config["task"]
    unknown = sorted(set(cluster) - {"chief", "worker"})
    if unknown or not cluster.get("worker") and not cluster.get("chief"):
        raise ArgumentError("strategy", f"TF_CONFIG's cluster has the jobs {sorted(cluster)}; "
                                        "MultiWorkerMirroredStrategy takes 'worker' (and at most one "
                                        f"'chief') only. {fix}")
    for job, addresses in cluster.items():
        if not isinstance(addresses, list) or not all(_is_address(a) for a in addresses):
            raise ArgumentError("strategy", f"TF_CONFIG's {job!r} job lists {addresses!r}; each "
                                            f"address must be 'host:port'. {fix}")
    kind, index = task.get("type"), task.get("index")
    if kind not in cluster:
        raise ArgumentError("strategy", f"TF_CONFIG's task type {kind!r} is not a job of its cluster "
                                        f"({sorted(cluster)}). Set task.type to one of them.")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cluster[kind]):
        raise ArgumentError("strategy", f"TF_CONFIG's task index {index!r} is out of range: the "
                                        f"cluster's {kind!r} job has {len(cluster[kind])} address(es), "
                                        f"so the index is 0 to {len(cluster[kind]) - 1}.")
    return config


def get_strategy(name="auto"):
    """The `tf.distribute.Strategy` named `name`, made once per process.

    Args:
        name: "default" (one device), "mirrored" (every GPU of this
            machine), "multi_worker" (the cluster of `TF_CONFIG`), or
            "auto": multi_worker when `TF_CONFIG` is set, mirrored with
            several GPUs, else default.

    Returns:
        The strategy; build models in its `scope()`.
    """
    import tensorflow as tf

    check_one_of("strategy", name, STRATEGIES, owner="get_strategy")
    # TF_CONFIG concerns these two only: a stray one leaves the others be.
    config = cluster_config() if name in ("auto", "multi_worker") else None
    if name == "auto":
        # Physical devices: listing logical ones would start TensorFlow's
        # runtime, after which collective ops can no longer be set up.
        many_gpus = len(tf.config.list_physical_devices("GPU")) > 1
        name = "multi_worker" if config else "mirrored" if many_gpus else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name not in _STRATEGY:
        _patch_keras_distributed()
        if name == "mirrored":
            _STRATEGY[name] = tf.distribute.MirroredStrategy()
        else:
            if config is None:
                raise ArgumentError("strategy", "strategy='multi_worker' needs the cluster in TF_CONFIG, "
                                                f"e.g. {EXAMPLE}; or start local workers with "
                                                "--workers N --local.")
            _check_port_free(config["cluster"][config["task"]["type"]][config["task"]["index"]])
            _STRATEGY[name] = tf.distribute.MultiWorkerMirroredStrategy()
    return _STRATEGY[name]


def launch_local(argv, *, workers, out, poll=0.5):
    """Runs `kerasseq ARGV` as `workers` processes of one
    MultiWorkerMirroredStrategy cluster on loopback ports, and waits.

    Worker 0 is the chief: its output goes to this terminal and it writes
    the run directory `out`. The others run on a copy of it (so that an
    interrupted run resumes the same on every worker) in a scratch
    directory, their output in a log there, whose end is shown if the
    worker fails. If a worker fails, the others are stopped at once (no
    worker waits on a dead peer), and the command says so; running it
    again resumes from the last finished epoch. Once the chief has
    finished, the others are stopped.

    Args:
        argv: the `kerasseq train ...` arguments (the launcher's flags are
            dropped; each process gets `--strategy multi_worker`).
        workers: the number of processes, 2 or more.
        out: the run directory (`--out`).
        poll: seconds between checks on the workers.
    """
    count = check_positive_int("workers", workers, owner="kerasseq train --local", example="--workers 2")
    if count < 2:
        raise ArgumentError("workers", f"kerasseq train --local received --workers {workers}. Pass 2 or "
                                       "more, or train without --workers --local for one process.")
    if os.environ.get("TF_CONFIG"):
        raise ArgumentError("workers", "kerasseq train --workers --local writes each worker's TF_CONFIG, "
                                       "but TF_CONFIG is set. Unset it, or run without --workers --local "
                                       "to be that worker.")
    out = Path(out)
    ports = set()
    while len(ports) < count:
        ports.add(free_port())
    cluster = {"worker": [f"127.0.0.1:{port}" for port in sorted(ports)]}
    command = [sys.executable, "-m", "kerasseq.cli", *strip_flags(argv, _LAUNCHER_FLAGS),
               "--strategy", "multi_worker"]
    scratch = Path(tempfile.mkdtemp(prefix="kerasseq-workers-"))
    processes = []
    try:
        # Every copy before any worker starts, so that all see the same run.
        for index in range(1, count):
            if out.exists() and "--overwrite" not in argv:
                shutil.copytree(out, scratch / f"worker_{index}")
        for index in range(count):
            # One process would take each GPU's whole memory.
            env = {**os.environ, "TF_FORCE_GPU_ALLOW_GROWTH": "true",
                   "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
            if index == 0:
                processes.append(subprocess.Popen(command, env=env))
                continue
            copy = scratch / f"worker_{index}"
            with open(scratch / f"worker_{index}.log", "w") as log:
                processes.append(subprocess.Popen(_with_out(command, copy), env=env, stdout=log,
                                                  stderr=subprocess.STDOUT))
        print(f"Started {count} workers on {', '.join(cluster['worker'])} (process ids "
              f"{', '.join(str(p.pid) for p in processes)}); worker 0 writes {out}/", flush=True)
        while True:
            failed = next(((i, p) for i, p in enumerate(processes) if p.poll() not in (None, 0)), None)
            if failed is not None:
                index, process = failed
                log = " Its error is above." if index == 0 else \
                    f" Its output ends:\n{tail(scratch / f'worker_{index}.log')}\n"
                # Exit status 2: a usage error, which a rerun repeats.
                then = " Fix it and run again." if process.returncode == 2 else \
                    " Run the same command to resume from the last finished epoch."
                raise RuntimeError(f"Worker {index} exited ({process.returncode}); the other workers were "
                                   f"stopped.{log}{then}")
            if processes[0].poll() == 0:
                # The chief has written the run; the others only repeat its
                # evaluation in their scratch copies.
                return
            time.sleep(poll)
    finally:
        stop(processes)
        shutil.rmtree(scratch, ignore_errors=True)


def _with_out(command, directory):
    arguments = strip_flags(command, {"--out": 1})
    return [*arguments, "--out", str(directory)]


def _is_address(address):
    host, _, port = address.rpartition(":") if isinstance(address, str) else ("", "", "")
    return bool(host) and port.isdigit()


def _check_port_free(address):
    host, _, port = address.rpartition(":")
    local = {"localhost", "127.0.0.1", "0.0.0.0", "[::1]", socket.gethostname(), socket.getfqdn()}
    if host not in local:
        return
    with socket.socket() as probe:
        # As servers bind: a port a killed worker left in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("", int(port)))
        except OSError as error:
            raise ArgumentError("strategy", f"Port {port} of this worker's address {address} (TF_CONFIG) "
                                            f"is in use ({error.strerror}). Stop what listens there, or "
                                            "give this worker another port in every worker's "
                                            "TF_CONFIG.") from None


def _patch_keras_distributed():
    """Mends Keras 3's fit under a tf.distribute strategy in two places
    (see keras-team/keras#20585):

    - Before the first epoch it reads a batch to build the loss and metrics
      from its shapes, from an iterator of its own: a dataset that
      reshuffles on each pass then trains on its second order, not the one
      a single process trains on. And under MultiWorkerMirroredStrategy it
      fails "reducing" that batch. The build needs shapes only: here it
      takes them from the dataset's `element_spec`.
    - Under MultiWorkerMirroredStrategy it averages scalar logs over an axis
      0 they do not have, and fails.

    The tests compare a 2-worker run with a single process, step for step.
    """
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer, "_kerasseq_distributed", False):
        return
    import tensorflow as tf

    symbolic_build = trainer.TensorFlowTrainer._maybe_symbolic_build
    reduce_per_replica = trainer.reduce_per_replica

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None or iterator is None:
            return symbolic_build(self, iterator=iterator, data_batch=data_batch)
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=iterator.data_adapter.get_tf_dataset().element_spec)

    def reduce(values, strategy, reduction):
        if reduction not in ("auto", "mean") or not trainer._collective_all_reduce_multi_worker(strategy):
            return reduce_per_replica(values, strategy, reduction)

        def mean(value):
            if not trainer._is_per_replica_instance(value):
                return value
            rank = strategy.experimental_local_results(value)[0].shape.rank
            return strategy.reduce("MEAN", value, axis=0 if rank else None)

        return tf.nest.map_structure(mean, values)

    trainer.TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
    trainer.reduce_per_replica = reduce
    trainer._kerasseq_distributed = True
