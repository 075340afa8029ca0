"""The parse pool: a child that passes a limit or dies is a ParseFailed, never the caller's death,
and the next call gets a working child."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from arrears.sandbox import ParseFailed, ParseLimits, ParsePool
from tests.security import child_tasks


@pytest.fixture
def pool() -> Iterator[ParsePool]:
    pool = ParsePool(ParseLimits(memory_mb=128, cpu_seconds=2, wall_seconds=6, workers=1))
    yield pool
    pool.shutdown()


def test_a_child_is_reused_between_calls(pool: ParsePool) -> None:
    first = pool.call(child_tasks.pid)
    assert pool.call(child_tasks.pid) == first
    assert list(pool.stream(child_tasks.count, 5)) == [0, 1, 2, 3, 4]
    assert pool.call(child_tasks.pid) == first


def test_an_exception_comes_back_and_the_child_stays(pool: ParsePool) -> None:
    first = pool.call(child_tasks.pid)
    with pytest.raises(ValueError, match="bad cell"):
        pool.call(child_tasks.fail, "bad cell")
    assert pool.call(child_tasks.pid) == first


def test_memory_past_the_limit_is_refused(pool: ParsePool) -> None:
    assert pool.call(child_tasks.allocate, 32) == 32 << 20
    with pytest.raises(ParseFailed) as failed:
        pool.call(child_tasks.allocate, 512)
    assert failed.value.reason == "memory"
    assert "ARREARS_PARSE_MEMORY_MB" in failed.value.message
    assert pool.call(child_tasks.allocate, 32) == 32 << 20  # a fresh child


def test_an_aborted_parser_is_a_refusal(pool: ParsePool) -> None:
    before = pool.call(child_tasks.pid)
    with pytest.raises(ParseFailed) as failed:
        pool.call(child_tasks.abort)
    assert failed.value.reason == "memory"
    assert "SIGABRT" in failed.value.message
    assert pool.call(child_tasks.pid) != before


@pytest.mark.slow
def test_cpu_time_is_limited_by_the_kernel(pool: ParsePool) -> None:
    with pytest.raises(ParseFailed) as failed:
        pool.call(child_tasks.spin)
    assert failed.value.reason in ("cpu", "time")  # SIGXCPU at 2 s of CPU, or the 6 s wall on a busy machine
    assert pool.call(child_tasks.allocate, 1) == 1 << 20


@pytest.mark.slow
def test_wall_time_is_limited_by_the_parent(pool: ParsePool) -> None:
    with pytest.raises(ParseFailed) as failed:
        pool.call(child_tasks.sleep, 60)
    assert failed.value.reason == "time"
    assert "ARREARS_PARSE_WALL_SECONDS" in failed.value.message
    assert pool.call(child_tasks.allocate, 1) == 1 << 20


def test_a_stream_left_early_stops_its_child(pool: ParsePool) -> None:
    before = pool.call(child_tasks.pid)
    stream = pool.stream(child_tasks.count, 10_000_000)
    assert next(stream) == 0
    stream.close()
    assert pool.call(child_tasks.pid) != before
    assert pool.peak_rss() > 0
