"""The worker: claims jobs with leases, runs their handlers, retries with backoff, keeps the dead.

On PostgreSQL jobs are claimed with `FOR UPDATE SKIP LOCKED`, so any number of worker processes
share the table; on SQLite the write lock taken at BEGIN serialises claims. A job whose lease
has run out (its worker was killed) is claimed again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import traceback
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from arrears import outages
from arrears.clock import SYSTEM, Clock
from arrears.db import get_engine, transaction, utcnow
from arrears.jobs import queue
from arrears.jobs.models import Job
from arrears.jobs.registry import JobContext, Permanent, Retry, get_handler

log = logging.getLogger("arrears.worker")


class Worker:
    def __init__(self, *, concurrency: int = 4, lease_seconds: float = 30.0,
                 poll_seconds: float = 1.0, engine: AsyncEngine | None = None,
                 kinds: set[str] | None = None, clock: Clock = SYSTEM) -> None:
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.concurrency = concurrency
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_seconds = poll_seconds
        self.engine = engine
        self.kinds = kinds
        self.clock = clock  # the leases' (a test's own: whether one ran out is its time, not the machine's)
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._db_backoff = outages.DbBackoff(where="worker")

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def claim(self) -> Job | None:
        now = utcnow()
        leased = queue.on_clock(self.clock)
        async with transaction(engine=self.engine) as s:
            due = or_(and_(Job.status == "queued", Job.run_at <= now),
                      and_(Job.status == "running", Job.lease_until < leased))
            q = select(Job).where(due)
            if self.kinds:
                q = q.where(Job.kind.in_(self.kinds))
            q = q.order_by(Job.run_at, Job.id).limit(1)
            if s.get_bind().dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            job = await s.scalar(q)
            if job is None:
                return None
            if job.status == "running" and job.attempts >= job.max_attempts:
                # Its worker died on the last attempt: keep it, with the reason, for a person.
                job.status = "dead"
                job.last_error = (job.last_error or "") + "\nworker lost (lease expired) on last attempt"
                job.finished_at = now
                return None
            job.status = "running"
            job.attempts += 1
            job.lease_until = leased + self.lease
            job.locked_by = self.id
            return job

    async def _heartbeat(self, job_id: int) -> None:
        while True:
            await self.clock.sleep(self.lease.total_seconds() / 3)
            try:
                async with transaction(engine=self.engine) as s:
                    await s.execute(update(Job).where(Job.id == job_id, Job.locked_by == self.id)
                                    .values(lease_until=queue.on_clock(self.clock) + self.lease))
            except Exception as exc:  # noqa: BLE001 - e.g. SQLite busy behind the job's own write
                # The job may hold SQLite's write lock (it renews its lease itself then, see
                # queue.renew_lease); a failed beat must not end the heartbeat for good.
                log.warning("job %s: lease not renewed (%s); trying again", job_id, exc)

    async def _finish(self, job_id: int, **values: object) -> None:
        # Through a database outage the outcome is written once it is back; if the lease ran
        # out meanwhile, another worker has the job (locked_by differs) and this write is void.
        while True:
            try:
                async with transaction(engine=self.engine) as s:
                    await s.execute(update(Job).where(Job.id == job_id, Job.locked_by == self.id)
                                    .values(**values))
                return
            except Exception as exc:
                if not outages.db_unavailable(exc) or self._stop.is_set():
                    raise
                await self._db_backoff.wait(exc)

    async def run_one(self, job: Job) -> None:
        fn = get_handler(job.kind)
        ctx = JobContext.of(job)
        beat = asyncio.create_task(self._heartbeat(job.id))
        # Lets a long write transaction of the handler renew the lease itself (SQLite).
        token = queue.set_current_lease(queue.Lease(job.id, self.id, self.lease.total_seconds(), clock=self.clock))
        try:
            if fn is None:
                raise Permanent(f"no handler for job kind {job.kind!r}")
            await fn(ctx)
        except Permanent as exc:
            await self._finish(job.id, status="dead", last_error=str(exc), finished_at=utcnow(),
                               lease_until=None)
            log.warning("job %s (%s) dead: %s", job.id, job.kind, exc)
        except Exception as exc:  # any failure is retried until max_attempts
            err = "".join(traceback.format_exception_only(exc)).strip()
            if outages.db_unavailable(exc):  # not the job's fault: run again, attempt not counted
                await self._finish(job.id, status="queued", last_error=err, lease_until=None,
                                   locked_by=None, attempts=Job.attempts - 1,
                                   run_at=utcnow() + queue.backoff(1))
                log.warning("job %s (%s) cut by a database outage; it will run again", job.id, job.kind)
            elif job.attempts >= job.max_attempts:
                await self._finish(job.id, status="dead", last_error=err, finished_at=utcnow(),
                                   lease_until=None)
                log.error("job %s (%s) dead after %s attempts: %s", job.id, job.kind,
                          job.attempts, err)
            else:
                delay = (timedelta(seconds=exc.delay_seconds)
                         if isinstance(exc, Retry) and exc.delay_seconds is not None
                         else queue.backoff(job.attempts))
                await self._finish(job.id, status="queued", last_error=err, lease_until=None,
                                   locked_by=None, run_at=utcnow() + delay)
                log.info("job %s (%s) will retry in %.1fs: %s", job.id, job.kind,
                         delay.total_seconds(), err)
        else:
            await self._finish(job.id, status="done", finished_at=utcnow(), lease_until=None,
                               last_error=None)
        finally:
            queue.reset_current_lease(token)
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    async def run(self, *, until_idle: bool = False) -> None:
        """Work until stopped (or, with until_idle, until no job is due)."""
        from arrears.wiring import wire, worker_started

        wire()  # every job handler, event handler and table, as in the server and the CLI
        await worker_started(self.engine)
        queue.register_wakeup(self._wake)
        try:
            while not self._stop.is_set():
                while len(self._running) < self.concurrency:
                    try:
                        job = await self.claim()
                    except Exception as exc:  # the database is away: back off, claim again
                        if not outages.db_unavailable(exc):
                            raise
                        await self._db_backoff.wait(exc)
                        break
                    self._db_backoff.ok()
                    if job is None:
                        break
                    task = asyncio.create_task(self.run_one(job))
                    self._running.add(task)
                    task.add_done_callback(self._running.discard)
                if until_idle and not self._running:
                    return
                self._wake.clear()
                waiters: list[asyncio.Task[Any]] = [asyncio.create_task(self._wake.wait())]
                if self._running:
                    waiters.append(asyncio.create_task(
                        asyncio.wait(set(self._running), return_when=asyncio.FIRST_COMPLETED)))
                done, pending = await asyncio.wait(waiters, timeout=self.poll_seconds,
                                                   return_when=asyncio.FIRST_COMPLETED)
                for p in pending:
                    p.cancel()
        finally:
            queue.unregister_wakeup(self._wake)
            if self._running:
                await asyncio.gather(*self._running, return_exceptions=True)


async def run_until_idle(engine: AsyncEngine | None = None) -> None:
    """Drain every due job once (tests and the CLI use this)."""
    await Worker(engine=engine or get_engine(), concurrency=1).run(until_idle=True)
