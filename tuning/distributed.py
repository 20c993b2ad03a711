"""Keras Tuner's distributed mode on this machine: one chief, N workers.

Keras Tuner runs a search across processes through three environment
variables: `KERASTUNER_TUNER_ID` ("chief" for the process that holds the
oracle, any other name for a worker), `KERASTUNER_ORACLE_IP` and
`KERASTUNER_ORACLE_PORT` (where the chief listens, over gRPC). Each process
runs the same `kerasseq tune` command; the chief hands out trials, the
workers train them, and the chief writes the job's reports at the end.
`launch` starts them all on loopback; across machines, run the same command
on each with those variables set (see the README).
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from kerasseq.processes import free_port
from kerasseq.processes import stop as _stop
from kerasseq.processes import strip_flags
from kerasseq.processes import tail as _tail
from kerasseq.validation import ArgumentError
from kerasseq.validation import check_positive_int

# Flags that only the launching command has.
_LAUNCHER_FLAGS = {"--distributed": 0, "--workers": 1, "--overwrite": 0}


def environment(tuner_id, port, ip="127.0.0.1"):
    """The environment of one process of a distributed search.

    Args:
        tuner_id: "chief", or a worker's name (e.g. "tuner0").
        port: the chief's port.
        ip: the chief's address.

    Returns:
        A copy of `os.environ` with Keras Tuner's three variables set.

    Example:
    >>> environment("tuner0", 8000)["KERASTUNER_ORACLE_PORT"]
    '8000'
    """
    return {**os.environ, "KERASTUNER_TUNER_ID": tuner_id, "KERASTUNER_ORACLE_IP": ip,
            "KERASTUNER_ORACLE_PORT": str(port)}


def worker_arguments(argv):
    """`kerasseq` arguments without the launcher's own flags."""
    return strip_flags(argv, _LAUNCHER_FLAGS)


def _listening(port):
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def launch(argv, *, workers, out, overwrite=False, start_timeout=300, max_restarts=2):
    """Runs `kerasseq ARGV` as a Keras Tuner chief and `workers` workers on
    loopback, and waits for them.

    The chief's output goes to this terminal; each worker's to
    `OUT/logs/tuner_N.log` (its process id in `tuner_N.pid`). A worker that
    dies (killed, out of memory) is started again under its id, and
    Keras Tuner hands it the trial it was running; one that keeps failing
    stops the job after `max_restarts` restarts. Finished trials stay, and
    the same command resumes the search.

    Args:
        argv: the `kerasseq tune ...` arguments (the launcher's flags are
            dropped for the processes it starts).
        workers: the number of worker processes.
        out: the job directory.
        overwrite: delete the job directory first.
        start_timeout: seconds the chief may take to start listening.
        max_restarts: restarts of each worker before the job stops.
    """
    check_positive_int("workers", workers, owner="kerasseq tune --distributed", example="workers=2")
    if "KERASTUNER_TUNER_ID" in os.environ:
        raise ArgumentError("workers", "kerasseq tune --distributed starts its own chief and workers, but "
                                       f"KERASTUNER_TUNER_ID={os.environ['KERASTUNER_TUNER_ID']!r} is set. "
                                       "Unset it, or run without --distributed to be that process.")
    try:
        import grpc  # noqa: F401
        from google import protobuf  # noqa: F401
    except ImportError as error:
        raise ArgumentError("workers", f"Distributed tuning needs gRPC and protobuf ({error}). "
                                       "Install them: pip install 'kerasseq[distributed]'.") from None
    job = Path(out)
    if overwrite and job.exists():
        shutil.rmtree(job)
    logs = job / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [sys.executable, "-m", "kerasseq.cli", *worker_arguments(argv)]
    chief = subprocess.Popen(command, env=environment("chief", port))
    processes = [chief]
    try:
        deadline = time.monotonic() + start_timeout
        while not _listening(port):
            if chief.poll() is not None:
                raise RuntimeError(f"The tuning chief exited ({chief.returncode}) before it listened "
                                   f"on port {port}; its error is above.")
            if time.monotonic() > deadline:
                raise RuntimeError(f"The tuning chief did not listen on port {port} within "
                                   f"{start_timeout} s; stopped it.")
            time.sleep(0.5)
        print(f"Tuning chief listening on 127.0.0.1:{port}; starting {workers} worker(s), logs in {logs}/")
        def start(i):
            with open(logs / f"tuner_{i}.log", "a") as log:
                worker = subprocess.Popen(command, env=environment(f"tuner{i}", port), stdout=log,
                                          stderr=subprocess.STDOUT)
            (logs / f"tuner_{i}.pid").write_text(str(worker.pid))
            return worker

        processes.extend(start(i) for i in range(workers))
        restarts = [0] * workers
        while chief.poll() is None:
            for i, worker in enumerate(processes[1:]):
                if worker.poll() in (None, 0):
                    continue
                # The chief waits for a dead worker's trial forever: a worker
                # started again under the same id is handed that trial, and
                # resumes it from its last finished epoch.
                if restarts[i] == max_restarts:
                    raise RuntimeError(
                        f"Tuning worker tuner{i} failed {max_restarts + 1} times (last exit "
                        f"{worker.returncode}); the job stopped. Its log ({logs / f'tuner_{i}.log'}) "
                        f"ends:\n{_tail(logs / f'tuner_{i}.log')}\nFinished trials are kept; run the "
                        "same command to resume.")
                restarts[i] += 1
                print(f"Tuning worker tuner{i} exited ({worker.returncode}); starting it again "
                      f"({restarts[i]} of {max_restarts}) to finish its trial.")
                processes[1 + i] = start(i)
            time.sleep(0.5)
        if chief.returncode != 0:
            raise RuntimeError(f"The tuning chief failed ({chief.returncode}); its error is above.")
    finally:
        _stop(processes)
