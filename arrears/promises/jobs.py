"""The daily evaluation of an organisation's promises, at local midnight in its time zone.

There is no scheduler: one job per organisation and local day (dedupe key
`promises:daily:<org>:<day>`, run at 00:00 of that day in the organisation's time zone), which
first queues the next day's job (so a failing day never stops the chain), then evaluates the
organisation's open promises with "today" its local date (`evaluate.daily_pass`: on PostgreSQL in
lanes, each its own transaction; what a failed lane left is done by the job's next attempt). The
chain is seeded at worker start (`seed`) for every organisation that has promises, and when a
promise is recorded (the first one starts it; a chain that went missing is started again).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.db import transaction
from arrears.debtors.book import zone_of
from arrears.errors import NotFound
from arrears.identity.service import get_org
from arrears.jobs.queue import enqueue
from arrears.jobs.registry import JobContext, Permanent, handler
from arrears.promises.calendar import org_today
from arrears.promises.evaluate import daily_pass
from arrears.promises.models import Promise

DAILY = "promises.daily"


def daily_key(org_id: int, day: date) -> str:
    return f"promises:daily:{org_id}:{day.isoformat()}"


def local_midnight(org: object, day: date) -> datetime:
    """00:00 of `day` in the organisation's time zone, in UTC."""
    return datetime.combine(day, time(0), tzinfo=zone_of(org)).astimezone(UTC)


async def schedule(session: AsyncSession, org_id: int, day: date) -> None:
    """Queue the organisation's job of `day` (nothing when it is there already, done or not)."""
    org = await get_org(session, org_id)
    await enqueue(session, DAILY, {"org_id": org_id, "date": day.isoformat()}, org_id=org_id,
                  run_at=local_midnight(org, day), max_attempts=5, dedupe_key=daily_key(org_id, day))


async def ensure_chain(session: AsyncSession, org_id: int) -> None:
    """Today's job (already done, or due now) and tomorrow's, for one organisation."""
    today = await org_today(session, org_id)
    await schedule(session, org_id, today)
    await schedule(session, org_id, today + timedelta(days=1))


async def seed(session: AsyncSession) -> int:
    """At worker start: the chain of every organisation that has promises."""
    orgs = sorted(set(await session.scalars(select(Promise.org_id).distinct())))
    for org_id in orgs:
        await ensure_chain(session, org_id)
    return len(orgs)


@handler(DAILY)
async def daily(ctx: JobContext) -> None:
    try:
        org_id = int(ctx.payload["org_id"])
        day = date.fromisoformat(ctx.payload["date"])
    except (KeyError, TypeError, ValueError) as exc:
        raise Permanent(f"bad payload: {exc}") from None
    async with transaction() as s:
        try:
            today = max(day, await org_today(s, org_id))
        except NotFound:
            return  # the organisation is gone: so is its chain
        # A late job (the worker was down) is followed by tomorrow's, not by the days missed.
        await schedule(s, org_id, today + timedelta(days=1))
    await daily_pass(org_id, today=today)
