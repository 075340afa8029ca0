"""The jobs table: enqueue in the caller's transaction, retries, dead jobs, leases."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from arrears.db import transaction, utcnow
from arrears.jobs import queue, registry
from arrears.jobs.models import Job
from arrears.worker import Worker, run_until_idle

calls: list[dict] = []


@registry.handler("test.ok")
async def _ok(ctx: registry.JobContext) -> None:
    calls.append({"kind": ctx.kind, "payload": ctx.payload, "attempt": ctx.attempt})


@registry.handler("test.flaky")
async def _flaky(ctx: registry.JobContext) -> None:
    calls.append({"kind": ctx.kind, "attempt": ctx.attempt})
    if ctx.attempt < 3:
        raise registry.Retry("provider busy", delay_seconds=0)


@registry.handler("test.broken")
async def _broken(ctx: registry.JobContext) -> None:
    raise RuntimeError("always broken")


@registry.handler("test.permanent")
async def _permanent(ctx: registry.JobContext) -> None:
    raise registry.Permanent("bad input, trying again cannot help")


@pytest.fixture(autouse=True)
def _reset_calls():
    calls.clear()


async def _jobs() -> list[Job]:
    async with transaction(readonly=True) as s:
        return list((await s.scalars(select(Job).order_by(Job.id))).all())


async def test_job_runs_once_and_is_done(env):
    async with transaction() as s:
        await queue.enqueue(s, "test.ok", {"n": 1})
    await run_until_idle()
    [job] = await _jobs()
    assert job.status == "done" and job.attempts == 1 and job.finished_at is not None
    assert calls == [{"kind": "test.ok", "payload": {"n": 1}, "attempt": 1}]
    await run_until_idle()
    assert len(calls) == 1  # a done job never runs again


async def test_rolled_back_transaction_leaves_no_job(env):
    with pytest.raises(RuntimeError):
        async with transaction() as s:
            await queue.enqueue(s, "test.ok", {"n": 1})
            raise RuntimeError("the change failed")
    assert await _jobs() == []
    await run_until_idle()
    assert calls == []


async def test_retry_until_success(env):
    async with transaction() as s:
        await queue.enqueue(s, "test.flaky", max_attempts=5)
    for _ in range(3):
        await run_until_idle()
    [job] = await _jobs()
    assert job.status == "done" and job.attempts == 3
    assert [c["attempt"] for c in calls] == [1, 2, 3]


async def test_failures_back_off_then_die_with_last_error(env):
    async with transaction() as s:
        await queue.enqueue(s, "test.broken", max_attempts=2)
    await run_until_idle()
    [job] = await _jobs()
    assert job.status == "queued" and job.attempts == 1
    assert job.run_at > utcnow()  # backoff: not due again at once
    assert "always broken" in job.last_error
    async with transaction() as s:
        (await s.get(Job, job.id)).run_at = utcnow() - timedelta(seconds=1)
    await run_until_idle()
    [job] = await _jobs()
    assert job.status == "dead" and job.attempts == 2 and "always broken" in job.last_error


async def test_permanent_failure_dies_at_once(env):
    async with transaction() as s:
        await queue.enqueue(s, "test.permanent", max_attempts=5)
    await run_until_idle()
    [job] = await _jobs()
    assert job.status == "dead" and job.attempts == 1 and "cannot help" in job.last_error


async def test_unknown_kind_is_dead_not_lost(env):
    async with transaction() as s:
        await queue.enqueue(s, "test.nobody-handles-this")
    await run_until_idle()
    [job] = await _jobs()
    assert job.status == "dead" and "no handler" in job.last_error


async def test_backoff_grows_and_is_jittered():
    waits = [queue.backoff(a).total_seconds() for a in (1, 2, 3, 4)]
    assert 1 <= waits[0] <= 2 and 2 <= waits[1] <= 4 and 4 <= waits[2] <= 8 and 8 <= waits[3] <= 16
    assert len({queue.backoff(5).total_seconds() for _ in range(20)}) > 1
    assert queue.backoff(50).total_seconds() <= 600


async def test_dedupe_key_enqueues_once(env):
    async with transaction() as s:
        a = await queue.enqueue(s, "test.ok", dedupe_key="import:1")
        b = await queue.enqueue(s, "test.ok", dedupe_key="import:1")
        assert a.id == b.id
    assert len(await _jobs()) == 1


async def test_two_workers_never_run_the_same_job(env):
    async with transaction() as s:
        for n in range(20):
            await queue.enqueue(s, "test.ok", {"n": n})
    w1, w2 = Worker(concurrency=3), Worker(concurrency=3)
    await asyncio.gather(w1.run(until_idle=True), w2.run(until_idle=True))
    await run_until_idle()
    assert sorted(c["payload"]["n"] for c in calls) == list(range(20))
    assert all(j.status == "done" and j.attempts == 1 for j in await _jobs())


WORKER_SCRIPT = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from arrears.jobs import registry
    from arrears.worker import Worker

    marker = Path(sys.argv[1])

    @registry.handler("test.slow")
    async def slow(ctx):
        marker.write_text(str(ctx.attempt))
        await asyncio.sleep(120)

    asyncio.run(Worker(lease_seconds=5, poll_seconds=0.1).run())
""")


@pytest.mark.slow
async def test_killed_worker_job_runs_again_after_lease(env, tmp_path: Path):
    async with transaction() as s:
        job = await queue.enqueue(s, "test.slow", max_attempts=3)
    marker = tmp_path / "started"
    proc = subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT, str(marker)], env=os.environ.copy())  # noqa: ASYNC220 (returns at once; polled below)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, "worker exited early"
            assert time.monotonic() < deadline, "worker never picked the job up"
            await asyncio.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    [stuck] = await _jobs()
    assert stuck.status == "running" and stuck.attempts == 1

    finished: list[int] = []

    @registry.handler("test.slow")
    async def _finish(ctx: registry.JobContext) -> None:
        finished.append(ctx.attempt)

    await run_until_idle()
    assert finished == []  # the lease has not run out yet: nobody steals a live job
    wait = (stuck.lease_until - utcnow()).total_seconds() + 0.3
    await asyncio.sleep(max(0.0, wait))
    await run_until_idle()
    [done] = await _jobs()
    assert finished == [2] and done.status == "done" and done.attempts == 2 and done.id == job.id
