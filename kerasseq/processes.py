"""Helpers for commands that start processes of their own on this machine
(distributed training and tuning): free loopback ports, the arguments a
started process gets, and stopping them all."""

import signal
import socket
import subprocess
from pathlib import Path


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def strip_flags(argv, flags):
    """`argv` without `flags` (`{flag: number of values it takes}`), given
    as `--flag value` or `--flag=value`.

    Example:
    >>> strip_flags(["train", "--workers", "2", "--local", "--out", "r"], {"--workers": 1, "--local": 0})
    ['train', '--out', 'r']
    """
    kept, skip = [], 0
    for arg in argv:
        if skip:
            skip -= 1
            continue
        name = arg.split("=", 1)[0]
        if name in flags:
            skip = flags[name] if "=" not in arg else 0
            continue
        kept.append(arg)
    return kept


def tail(path, lines=20):
    """The last `lines` lines of a log file ("" if there is none)."""
    text = Path(path).read_text(errors="replace").strip().splitlines() if Path(path).exists() else []
    return "\n".join(text[-lines:])


def stop(processes, *, timeout=30):
    """SIGTERM to each running process, then SIGKILL to those still up
    after `timeout` seconds."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
