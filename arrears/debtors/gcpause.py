"""Pausing Python's cyclic garbage collector while an import reads its rows.

An import allocates a few container objects per row (the row's list from calamine, tuples while
the block is taken apart into columns), so the collector runs every few hundred rows and walks
the young objects each time: measured on the 200,000-row benchmark, 1 to 1.9 s of a 4 s reading
phase (docs/benchmarks-import.md). Nothing an import makes is a reference cycle, so the collector
has nothing to find there; it is paused for the reading phase and resumed after it (reference
counting still frees everything as usual). Imports running at once in one process share the
pause: the collector resumes when the last of them ends.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_holders = 0
_was_enabled = True


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
