"""The queueing of a captive's daily scheduled run: one job per captive and day (dedupe key
`debit_orders:daily:<org>:<day>`), run at RUN_HOUR. The job itself is in `jobs`; this module is
below the service (which queues the first job when the schedule is turned on) and the job."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from arrears.db import utcnow
from arrears.identity.caller import Caller
from arrears.jobs.queue import enqueue
from arrears.premiums.debit_orders.authority import may_change_settings

DAILY = "debit_orders.daily"
#: The hour (UTC) a scheduled run starts: early, so the file reaches the bank in time.
RUN_HOUR = 4


def daily_key(org_id: int, day: date) -> str:
    return f"debit_orders:daily:{org_id}:{day.isoformat()}"


async def schedule_daily(session: AsyncSession, caller: Caller, day: date) -> None:
    """Queue the caller's captive's job of `day` (at RUN_HOUR, or now when that has passed); a day
    whose job already ran is followed by the next day's. The schedule is a setting: who may change
    the settings may queue it."""
    may_change_settings(caller)
    org_id = caller.org_id
    at = max(datetime.combine(day, time(RUN_HOUR), tzinfo=UTC), utcnow())
    job = await enqueue(session, DAILY, {"org_id": org_id, "date": day.isoformat()}, org_id=org_id,
                        run_at=at, dedupe_key=daily_key(org_id, day))
    if job.status in ("done", "dead"):
        nxt = day + timedelta(days=1)
        await enqueue(session, DAILY, {"org_id": org_id, "date": nxt.isoformat()}, org_id=org_id,
                      run_at=datetime.combine(nxt, time(RUN_HOUR), tzinfo=UTC),
                      dedupe_key=daily_key(org_id, nxt))
