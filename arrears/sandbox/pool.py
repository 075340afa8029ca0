"""A small pool of child processes that parse untrusted files under hard limits.

A native parser can abort its whole process on a 2 KB file (python-calamine allocating a sheet's
whole range, PDFium expanding a form that draws itself): only a process boundary contains that.
Each child sets RLIMIT_AS and RLIMIT_CPU on itself; the parent waits at most the wall-clock limit
for each answer and kills the child past it. A child that dies, or is killed, is replaced by a
fresh one for the next call; its call raises ParseFailed. Children are reused between calls, so
a parse pays for a pipe, not for a Python start-up.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from arrears.sandbox.limits import ParseLimits, get_parse_limits
from arrears.state import in_thread, state

log = logging.getLogger("arrears.sandbox")

T = TypeVar("T")
# Modules every child imports before its memory limit is set (the parsers and their helpers).
PRELOAD = ("python_calamine", "pypdfium2", "numpy", "arrears.debtors.reading", "arrears.debtors.pdf")
_START_SECONDS = 60.0  # a child that has not started in this time is broken
_RECYCLE_RSS = 768 << 20  # a child that grew past this is replaced after its call
_RECYCLE_CALLS = 200
_CHILD_MAIN = "import sys; from arrears.sandbox.child import main; main(sys.argv[1:])"


class ParseFailed(Exception):
    """The parser's process died or passed a limit; the file is to be refused, never retried.

    `reason` is one of "memory", "cpu", "time", "crashed".
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _describe_death(exitcode: int | None, limits: ParseLimits) -> ParseFailed:
    if exitcode is not None and exitcode < 0:
        number = -exitcode
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        if number == signal.SIGXCPU:
            return ParseFailed("cpu", f"reading it took more than {limits.cpu_seconds} s of processor time "
                                      "(ARREARS_PARSE_CPU_SECONDS)")
        if number in (signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGKILL):
            return ParseFailed("memory", f"its reader stopped ({name}), as happens when a file needs more "
                                         f"than the {limits.memory_mb} MiB a parse may use "
                                         "(ARREARS_PARSE_MEMORY_MB) or is malformed")
        return ParseFailed("crashed", f"its reader stopped ({name})")
    return ParseFailed("crashed", f"its reader stopped (exit status {exitcode})")


class _Child:
    """One parser process: `python -c` running child.main on one end of a socket pair.

    Its own interpreter (not a fork of a server with threads and sockets), and not
    multiprocessing's spawn either, which re-runs the parent's main script in the child."""

    def __init__(self, limits: ParseLimits) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _CHILD_MAIN, str(theirs.fileno()), str(limits.memory_bytes),
                 str(limits.cpu_seconds), ",".join(PRELOAD)],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, close_fds=True)
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.calls = 0
        if not self.conn.poll(_START_SECONDS):
            self.kill()
            raise ParseFailed("crashed", "the parser process did not start")
        try:
            kind, self.pid = self.conn.recv()
        except (EOFError, OSError) as exc:
            self.kill()
            raise _describe_death(self._reap(), limits) from exc
        assert kind == "ready"

    def alive(self) -> bool:
        return self.process.poll() is None

    def _reap(self) -> int | None:
        try:
            return self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(5)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            log.warning("parser process %s did not end after SIGKILL", self.process.pid)
        self.conn.close()

    def peak_rss(self) -> int:
        return _status_bytes(self.process.pid, "VmHWM:")

    def rss(self) -> int:
        return _status_bytes(self.process.pid, "VmRSS:")


def _status_bytes(pid: int | None, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class ParsePool:
    """Children that run parse functions under the limits; thread-safe."""

    def __init__(self, limits: ParseLimits | None = None) -> None:
        self.limits = limits or get_parse_limits()
        self._idle: list[_Child] = []
        self._count = 0
        self._cond = threading.Condition()
        self._peak = 0  # the highest VmHWM of any child seen so far
        self._closed = False

    # -------------------------------------------------------------- children

    def _acquire(self) -> _Child:
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError("the parse pool is shut down")
                while self._idle:
                    child = self._idle.pop()
                    if child.alive():
                        return child
                    self._count -= 1
                if self._count < self.limits.workers:
                    self._count += 1
                    break
                self._cond.wait()
        try:
            return _Child(self.limits)
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise

    def _release(self, child: _Child, healthy: bool) -> None:
        child.calls += 1
        self._peak = max(self._peak, child.peak_rss())
        keep = healthy and child.alive() and child.calls < _RECYCLE_CALLS and child.rss() < _RECYCLE_RSS
        if not keep:
            child.kill()
        with self._cond:
            if keep and not self._closed:
                self._idle.append(child)
            else:
                if keep:
                    child.kill()
                self._count -= 1
            self._cond.notify()

    def warm(self, children: int = 1) -> None:
        """Start children ahead of the first file (the server and the worker do at start)."""
        started = [self._acquire() for _ in range(min(children, self.limits.workers))]
        for child in started:
            self._release(child, True)

    def peak_rss(self) -> int:
        """The highest peak RSS (VmHWM) of any child, the live ones included."""
        with self._cond:
            live = [c.peak_rss() for c in self._idle]
        return max([self._peak, *live])

    def shutdown(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._count -= len(idle)
            self._cond.notify_all()
        for child in idle:
            child.kill()

    # -------------------------------------------------------------- calls

    def _receive(self, child: _Child, deadline: float) -> tuple[str, Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not child.conn.poll(remaining):
            child.kill()
            raise ParseFailed("time", f"reading it took longer than {self.limits.wall_seconds:g} s "
                                      "(ARREARS_PARSE_WALL_SECONDS)")
        try:
            message: tuple[str, Any] = child.conn.recv()
        except (EOFError, OSError) as exc:
            raise _describe_death(child._reap(), self.limits) from exc
        if message[0] == "raise":
            raised = message[1]
            if isinstance(raised, MemoryError):
                raise ParseFailed("memory", f"it needs more than the {self.limits.memory_mb} MiB a parse may "
                                            "use (ARREARS_PARSE_MEMORY_MB)") from None
            raise raised
        return message

    def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """function(*args, **kwargs) in a child; its exceptions are raised here, its death as ParseFailed."""
        child = self._acquire()
        healthy = False
        try:
            child.conn.send((function, args, kwargs))
            deadline = time.monotonic() + self.limits.wall_seconds
            kind, value = self._receive(child, deadline)
            healthy = kind == "result"
            return value
        except ParseFailed:
            raise
        except Exception:
            healthy = child.alive()  # the function raised: the child is fine
            raise
        finally:
            self._release(child, healthy)

    def stream(self, function: Callable[..., Iterator[T]], *args: Any,
               **kwargs: Any) -> Generator[T, None, None]:
        """The items of function(*args, **kwargs) (an iterator) made in a child, as they come.

        The wall-clock limit covers the whole stream. Closing the iterator early stops the child
        (it is killed mid-stream and replaced)."""
        child = self._acquire()
        healthy = False
        try:
            child.conn.send((function, args, kwargs))
            deadline = time.monotonic() + self.limits.wall_seconds
            while True:
                kind, value = self._receive(child, deadline)
                if kind == "end":
                    healthy = True
                    return
                if kind == "result":  # not an iterator after all
                    healthy = True
                    yield from value
                    return
                yield value
        except ParseFailed:
            raise
        except GeneratorExit:
            raise
        except Exception:
            healthy = child.alive() and _ended(child)
            raise
        finally:
            self._release(child, healthy)


def _ended(child: _Child) -> bool:
    # After a "raise" message the child has finished its call; any other failure left it mid-call.
    return not child.conn.poll(0)


def get_pool() -> ParsePool:
    """The process's parse pool (made on first use, with the limits of the settings), kept by
    the application state: `state.close()` stops its children."""
    return state.obtain("sandbox.pool", ParsePool, usable=lambda pool: not pool._closed,
                        close=in_thread(ParsePool.shutdown), lasting=True)


def warm_pool_in_background() -> None:
    """Start the first child without waiting for it (server and worker start-up)."""
    threading.Thread(target=_warm_quietly, name="parse-pool-warm", daemon=True).start()


def _warm_quietly() -> None:
    try:
        get_pool().warm(1)
    except Exception:  # noqa: BLE001 - the first parse will start one and report the problem
        log.warning("the parse pool could not start a child", exc_info=True)
