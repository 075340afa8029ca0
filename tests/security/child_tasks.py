"""Functions the pool tests run in the parser's child (importable there by name)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator


def pid() -> int:
    return os.getpid()


def allocate(megabytes: int) -> int:
    return len(bytearray(megabytes << 20))


def spin() -> None:
    while True:
        pass


def sleep(seconds: float) -> None:
    time.sleep(seconds)


def abort() -> None:
    os.abort()  # as python-calamine does when an allocation fails


def count(n: int) -> Iterator[int]:
    yield from range(n)


def fail(message: str) -> None:
    raise ValueError(message)
