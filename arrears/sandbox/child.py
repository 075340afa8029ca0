"""The child side of the parse pool: set the hard limits once, then serve calls until the pipe closes.

Runs in a process of its own (`python -c`, started by the pool). A call is (function, args, kwargs); the
function's result is sent back, or, when it is an iterator, each of its items and then an end
mark, so that a large file streams back in blocks while the parent stores the earlier ones (the
pipe's buffer is the back-pressure).
"""

from __future__ import annotations

import os
import pickle
import resource
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

# Native libraries start no thread pools of their own in the child: fewer mappings under RLIMIT_AS.
_SINGLE_THREADED = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS")


def vm_size() -> int:
    """This process's address space in bytes (VmSize)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _limit_cpu(seconds: int) -> None:
    # RLIMIT_CPU counts the process's whole life: each call gets `seconds` more than used so far.
    # Past the soft limit the kernel sends SIGXCPU, whose default action ends the process.
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(_cpu_used()) + 1 + seconds
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _send_error(conn: Connection, exc: BaseException) -> None:
    try:
        payload = pickle.dumps(exc)
        pickle.loads(payload)  # an exception that cannot come back whole goes as text
    except Exception:  # noqa: BLE001 - any pickling problem
        exc = RuntimeError(f"{type(exc).__name__}: {exc}")
    conn.send(("raise", exc))


def main(argv: list[str]) -> None:
    """Entry point of `python -c`: argv is the socket's fd, the memory limit in bytes, the CPU
    seconds per call and the modules to preload (comma-separated)."""
    fd, memory_bytes, cpu_seconds, preload = argv
    serve(Connection(int(fd)), int(memory_bytes), int(cpu_seconds), tuple(filter(None, preload.split(","))))


def serve(conn: Connection, memory_bytes: int, cpu_seconds: int, preload: tuple[str, ...]) -> None:
    """The child's main loop."""
    for name in _SINGLE_THREADED:
        os.environ[name] = "1"
    import importlib

    for module in preload:  # the parsers, loaded once per child, before the limit is counted
        importlib.import_module(module)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crashed parser leaves no core file
    limit = vm_size() + memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    conn.send(("ready", os.getpid()))
    while True:
        try:
            function, args, kwargs = conn.recv()
        except (EOFError, OSError):
            return  # the parent went away
        _limit_cpu(cpu_seconds)
        try:
            result: Any = function(*args, **kwargs)
            if isinstance(result, Iterator):
                for item in result:
                    conn.send(("item", item))
                conn.send(("end", None))
            else:
                conn.send(("result", result))
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
            _send_error(conn, exc)
            if isinstance(exc, MemoryError):
                return  # the heap may be fragmented past use: the pool starts a fresh child
