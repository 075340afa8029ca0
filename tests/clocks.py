"""A clock for tests (injected as `arrears.state.state.clock`): time moves only when the test
sets it or when code sleeps on it, so what a test asserts about a schedule does not depend on how
loaded the machine is."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from arrears.clock import Clock


class SimulatedClock(Clock):
    """`now` moves forward only by sleeps on this clock (or a test setting it). A sleeper wakes at
    the moment it asked for, never sooner: after a short real pause (`scale` of the simulated
    time, so that work the sleeper must not overtake, like a send started before its slot, has
    time to show itself at an earlier simulated time), the clock is moved to that moment unless
    another sleeper took it further. `wakes` lists those moments, in the order they were asked."""

    simulated = True

    def __init__(self, start: float = 1_000_000.0, scale: float = 0.05) -> None:
        self.now = start
        self.scale = scale
        self.wakes: list[float] = []
        self._waiting: list[tuple[float, asyncio.Future[None]]] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        target = self.now + max(0.0, seconds)  # taken at the call, as the caller computed it
        self.wakes.append(target)
        await asyncio.sleep(max(0.0, seconds) * self.scale)
        self.now = max(self.now, target)
        for moment, reached in self._waiting:
            if moment <= self.now and not reached.done():
                reached.set_result(None)

    async def until(self, moment: float) -> None:
        """Return once the clock is at `moment` (woken by the sleep that takes it there)."""
        if self.now >= moment:
            return
        reached = asyncio.get_running_loop().create_future()
        self._waiting.append((moment, reached))
        try:
            await reached
        finally:
            self._waiting.remove((moment, reached))


def pace_on_a_simulated_clock(stand_in: Any) -> SimulatedClock:
    """The messaging pacer and a provider's stand-in (its `clock`) keep the time of a clock of the
    test's: the pacer never finds itself late (a loaded machine stalls the sends, not the clock),
    so its schedule is exact. The env fixture's reset puts the system's clock back."""
    from arrears.state import state

    clock = SimulatedClock()
    state.clock = clock
    stand_in.clock = clock.time  # a message's time is the clock's when the stand-in takes it
    return clock


def assert_paced(clock: SimulatedClock, taken_at: list[float], start: float, count: int, rate: float,
                 batch: int) -> None:
    """`count` messages went in batches of `batch` (the last one may be short) at exactly `rate`."""
    step = batch / rate
    batches = math.ceil(count / batch)
    # The slots were handed out back to back, whoever asked: the drains slept until exactly these
    # moments, and the last batch's slot began (batches - 1) steps after the first — the rate, exactly.
    assert sorted(clock.wakes) == pytest.approx([start + step * k for k in range(1, batches)]), (
        [w - start for w in sorted(clock.wakes)], step)
    assert clock.now == pytest.approx(start + step * (batches - 1))
    # Never faster: the i-th message taken (in the stand-in's order) was taken no sooner than the
    # slot of the i-th message scheduled.
    times = sorted(taken_at)
    assert len(times) == count
    for i, at in enumerate(times):
        assert at >= start + (i // batch) * step - 1e-6, (i, at - start)
