"""The daily scheduled run of a captive (when its `schedule_enabled` setting is on).

One job per captive and day (dedupe key `debit_orders:daily:<org>:<day>`). It first queues the
next day's job (so one failing day never stops the schedule), then runs the debit orders due on
day + `lead_days` and applies the auto-success rule as of the day. Every step is idempotent
(`service.execute_run`, `settlement.settle`), so a worker that dies at any line just runs it again.
Turning the setting off ends the chain: the next job finds it off and does nothing. The queueing
(`schedule_daily`) is in `daily`, re-exported here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from arrears.db import transaction, utcnow
from arrears.identity.caller import Caller
from arrears.jobs.queue import enqueue
from arrears.jobs.registry import JobContext, Permanent, handler
from arrears.premiums.debit_orders.daily import DAILY, RUN_HOUR, daily_key, schedule_daily
from arrears.premiums.debit_orders.service import execute_run
from arrears.premiums.debit_orders.settings import get_settings
from arrears.premiums.debit_orders.settlement import auto_success, settle


@handler(DAILY)
async def daily_run(ctx: JobContext) -> None:
    try:
        org_id = int(ctx.payload["org_id"])
        day = date.fromisoformat(ctx.payload["date"])
    except (KeyError, TypeError, ValueError) as exc:
        raise Permanent(f"bad payload: {exc}") from None
    async with transaction() as s:
        settings = await get_settings(s, org_id)
        if settings is None or not settings.schedule_enabled:
            return
        lead = settings.lead_days
        # A job that ran late (the worker was down) is followed by tomorrow's, not by a burst of
        # the days missed: the next run catches up every policy due since.
        nxt = max(day, utcnow().date()) + timedelta(days=1)
        await enqueue(s, DAILY, {"org_id": org_id, "date": nxt.isoformat()}, org_id=org_id,
                      run_at=datetime.combine(nxt, time(RUN_HOUR), tzinfo=UTC),
                      dedupe_key=daily_key(org_id, nxt))
    await execute_run(Caller.system(org_id, "schedule"), day + timedelta(days=lead), today=day)
    async with transaction() as s:
        # `settle` never looks past today (a job run early by a skewed clock must not fail).
        await settle(s, auto_success(org_id), min(day, utcnow().date()))


__all__ = ["DAILY", "RUN_HOUR", "daily_key", "daily_run", "schedule_daily"]
