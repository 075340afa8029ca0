"""The process's clock: wall-clock seconds and sleeping, in one object the application state
holds (`state.clock`), so that code whose correctness is a matter of time (the messaging pacer,
the job leases) can be run by a test on a clock of its own instead of on the machine's, whose
stalls under load no assertion can tell from a bug."""

from __future__ import annotations

import asyncio
import time


class Clock:
    """The system's clock. A test's clock overrides both methods and sets `simulated`."""

    simulated = False  # True: times come from the test, not the machine (Redis must not use its own)

    def time(self) -> float:
        """Seconds since the epoch (UTC)."""
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


SYSTEM = Clock()
