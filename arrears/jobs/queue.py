"""Enqueue jobs inside the caller's transaction (a rolled-back change leaves no job)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.db import utcnow
from arrears.jobs.models import Job

_wakeups: list[Any] = []  # asyncio.Event of in-process workers, set after a commit


async def enqueue(session: AsyncSession, kind: str, payload: dict[str, Any] | None = None, *,
                  org_id: int | None = None, run_at: datetime | None = None,
                  max_attempts: int = 5, dedupe_key: str | None = None) -> Job:
    if dedupe_key is not None:
        existing = await session.scalar(select(Job).where(Job.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    job = Job(kind=kind, payload=payload or {}, org_id=org_id, run_at=run_at or utcnow(),
              max_attempts=max_attempts, dedupe_key=dedupe_key, status="queued", attempts=0)
    session.add(job)
    await session.flush()
    session.sync_session.info["arrears_wake_workers"] = True
    return job


def backoff(attempt: int, *, base: float = 2.0, cap: float = 600.0) -> timedelta:
    """Exponential backoff with full jitter: attempt 1 waits up to 2 s, then 4 s, 8 s … (capped)."""
    ceiling = min(cap, base * (2 ** (attempt - 1)))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def register_wakeup(ev: Any) -> None:
    _wakeups.append(ev)


def unregister_wakeup(ev: Any) -> None:
    if ev in _wakeups:
        _wakeups.remove(ev)


def wake_workers() -> None:
    for ev in list(_wakeups):
        ev.set()
