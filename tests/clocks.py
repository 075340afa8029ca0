"""A clock for tests (injected as `arrears.state.state.clock`): time moves only when the test
sets it or when code sleeps on it, so what a test asserts about a schedule does not depend on how
loaded the machine is."""

from __future__ import annotations

import asyncio

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
