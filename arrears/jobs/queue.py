"""Enqueue jobs inside the caller's transaction (a rolled-back change leaves no job)."""

from __future__ import annotations

import random
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from arrears.clock import SYSTEM, Clock
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


def _wake_after_commit(session: Session) -> None:
    if session.info.pop("arrears_wake_workers", False):
        wake_workers()


def install_session_hooks() -> None:
    """Wake this process's workers when a transaction that enqueued a job commits (wiring)."""
    if not sa_event.contains(Session, "after_commit", _wake_after_commit):
        sa_event.listen(Session, "after_commit", _wake_after_commit)


# ------------------------------------------------------------------ leases renewed by the job itself


@dataclass
class Lease:
    """The lease of the job the current task runs (set by the worker around the handler). It
    keeps its worker's clock (the system's; a test's own, so that whether a lease ran out depends
    on the time the test lets pass, not on how loaded the machine is)."""

    job_id: int
    worker_id: str
    seconds: float
    renewed: float | None = None  # the clock's time of the last renewal (None: now)
    clock: Clock = SYSTEM

    def __post_init__(self) -> None:
        if self.renewed is None:
            self.renewed = self.clock.time()


def on_clock(clock: Clock) -> datetime:
    """The clock's time as an aware UTC datetime (leases are stored so)."""
    return datetime.fromtimestamp(clock.time(), UTC)


def job_clock() -> Clock:
    """The clock of the job the current task runs (its worker's), the system's outside a job."""
    lease = _current_lease.get()
    return lease.clock if lease is not None else SYSTEM


_current_lease: ContextVar[Lease | None] = ContextVar("arrears_job_lease", default=None)


def set_current_lease(lease: Lease | None) -> Any:
    """Called by the worker; returns the token for `reset_current_lease`."""
    return _current_lease.set(lease)


def reset_current_lease(token: Any) -> None:
    _current_lease.reset(token)


async def renew_lease(session: AsyncSession, *, force: bool = False) -> bool:
    """Extend the running job's lease inside the caller's (write) transaction; True if it did.

    Why: on SQLite a long write transaction holds the database's only write lock, so the worker's
    heartbeat (its own transaction) waits behind it and the lease runs out; the moment the
    transaction commits, another worker would claim the job. Renewed here, the new lease commits
    together with the work (and a rolled-back attempt keeps the old one, so a dead worker's job is
    still claimed again in time). On PostgreSQL the heartbeat is not blocked (and this update would
    make it wait on the row lock), so nothing is done there. Cheap to call often: it writes at most
    every third of the lease, unless `force`.
    """
    lease = _current_lease.get()
    if lease is None or session.get_bind().dialect.name != "sqlite":
        return False
    now = lease.clock.time()
    if not force and lease.renewed is not None and now - lease.renewed < lease.seconds / 3:
        return False
    await session.execute(update(Job).where(Job.id == lease.job_id, Job.locked_by == lease.worker_id)
                          .values(lease_until=on_clock(lease.clock) + timedelta(seconds=lease.seconds)))
    lease.renewed = now
    return True
