"""When strategies run: every day at the organisation's chosen time, after every completed upload,
and by hand.

- Daily: one job per organisation and local day (dedupe key `strategies:daily:<org>:<day>`), due
  at the default strategy's `run_time` (else the earliest strategy's; 08:00 when none says) in the
  organisation's time zone. It first queues the next day's (a failing day never stops the chain),
  then runs. The chain is seeded at worker start for every organisation with strategies, and
  when a strategy is created. The local day and zone come from the promises' daily job helpers.
- After an upload: the book hook (wired in arrears.wiring after the promises' evaluation) queues a
  `strategies.after_upload` job in the upload's transaction; it runs after that transaction —
  the promises evaluated, nobody who just paid is chased.
- By hand: the API queues `strategies.run` for a run row it made; the CLI runs in-process.
Each run commits chunk by chunk; the step executions' unique key keeps a repeated or
interrupted run from doing anything twice.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.db import session_factory, transaction, utcnow
from arrears.debtors.book import zone_of
from arrears.errors import NotFound
from arrears.identity.caller import Caller
from arrears.identity.service import get_org
from arrears.jobs.queue import enqueue
from arrears.jobs.registry import JobContext, Permanent, handler
from arrears.promises.calendar import org_today
from arrears.strategies import runner
from arrears.strategies.models import Strategy, StrategyRun

DAILY = "strategies.daily"
AFTER_UPLOAD = "strategies.after_upload"
RUN = "strategies.run"
DEFAULT_TIME = time(8, 0)


def daily_key(org_id: int, day: date) -> str:
    return f"strategies:daily:{org_id}:{day.isoformat()}"


async def run_time(session: AsyncSession, org_id: int) -> time:
    """The organisation's chosen time: its default strategy's, else the earliest one's."""
    rows = (await session.execute(select(Strategy.is_default, Strategy.run_time)
                                  .where(Strategy.org_id == org_id))).all()
    defaults = [r.run_time for r in rows if r.is_default and r.run_time is not None]
    times = defaults or sorted(r.run_time for r in rows if r.run_time is not None)
    return times[0] if times else DEFAULT_TIME


async def schedule(session: AsyncSession, org_id: int, day: date) -> None:
    """Queue the organisation's run of `day` (nothing when it is there already, done or not)."""
    org = await get_org(session, org_id)
    at = datetime.combine(day, await run_time(session, org_id), tzinfo=zone_of(org)).astimezone(UTC)
    await enqueue(session, DAILY, {"org_id": org_id, "date": day.isoformat()}, org_id=org_id, run_at=at,
                  max_attempts=5, dedupe_key=daily_key(org_id, day))


async def ensure_chain(session: AsyncSession, org_id: int) -> None:
    """Today's job and tomorrow's, for one organisation (a passed time runs at once)."""
    today = await org_today(session, org_id)
    await schedule(session, org_id, today)
    await schedule(session, org_id, today + timedelta(days=1))


async def seed(session: AsyncSession) -> int:
    """At worker start: the chain of every organisation that has strategies."""
    orgs = sorted(set(await session.scalars(select(Strategy.org_id).distinct())))
    for org_id in orgs:
        await ensure_chain(session, org_id)
    return len(orgs)


async def on_book_updated(session: AsyncSession, org_id: int) -> None:
    """The book hook (after the promises' one): a run once this upload's transaction committed."""
    if await session.scalar(select(Strategy.id).where(Strategy.org_id == org_id, Strategy.paused.is_(False))
                            .limit(1)) is not None:
        await enqueue(session, AFTER_UPLOAD, {"org_id": org_id, "at": utcnow().isoformat()}, org_id=org_id)


async def _run_org(org_id: int, trigger: str) -> None:
    """A whole run: its row first (committed), then the run in its own session, chunk by chunk."""
    async with transaction() as s:
        run_id = (await runner.start_run(s, Caller.system(org_id), strategy_id=None, trigger=trigger,
                                         status="queued")).id
    await run_existing(run_id)


async def run_existing(run_id: uuid.UUID, *, progress: runner.Progress | None = None) -> StrategyRun:
    """Carry out a run row made earlier (by the API), committed chunk by chunk; failed on error."""
    async with session_factory() as s:
        run = await s.get(StrategyRun, run_id)
        if run is None or run.status not in ("queued", "running"):
            raise Permanent(f"run {run_id} is not waiting")
        try:
            await runner.execute(s, run, checkpoint=s.commit, progress=progress)
            await s.commit()
        except Exception as exc:
            await s.rollback()
            await mark_failed(run_id, exc)
            raise
        return run


async def mark_failed(run_id: uuid.UUID, exc: BaseException) -> None:
    async with transaction() as s:
        run = await s.get(StrategyRun, run_id)
        if run is not None:
            run.status, run.error, run.finished_at = "failed", str(exc)[:2000], utcnow()


def _payload(ctx: JobContext, *names: str) -> list[Any]:
    try:
        return [ctx.payload[n] for n in names]
    except (KeyError, TypeError) as exc:
        raise Permanent(f"bad payload: {exc}") from None


@handler(DAILY)
async def daily(ctx: JobContext) -> None:
    org_raw, day_raw = _payload(ctx, "org_id", "date")
    try:
        org_id, day = int(org_raw), date.fromisoformat(day_raw)
    except (TypeError, ValueError) as exc:
        raise Permanent(f"bad payload: {exc}") from None
    async with transaction() as s:
        try:
            today = max(day, await org_today(s, org_id))
        except NotFound:
            return  # the organisation is gone: so is its chain
        if await s.scalar(select(Strategy.id).where(Strategy.org_id == org_id).limit(1)) is None:
            return  # no strategies any more: the chain ends (a new strategy starts it again)
        await schedule(s, org_id, today + timedelta(days=1))
    await _run_org(org_id, "schedule")


@handler(AFTER_UPLOAD)
async def after_upload(ctx: JobContext) -> None:
    (org_raw,) = _payload(ctx, "org_id")
    await _run_org(int(org_raw), "upload")


@handler(RUN)
async def run_job(ctx: JobContext) -> None:
    (run_raw,) = _payload(ctx, "run_id")
    await run_existing(uuid.UUID(str(run_raw)))
