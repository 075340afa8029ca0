"""Job handlers of messaging (found by arrears.jobs.registry.load_all_handlers)."""

from __future__ import annotations

import logging

from arrears.db import transaction
from arrears.jobs.registry import JobContext, handler
from arrears.messaging import outbox, receipts

log = logging.getLogger("arrears.messaging.jobs")


@handler(outbox.DRAIN_JOB)
async def drain(ctx: JobContext) -> None:
    """Send every due message; idempotent (messages are claimed with leases)."""
    stats = await outbox.drain()
    if stats.claimed or stats.reconciled:
        log.info("messaging drain: %s", stats)


@handler(outbox.RECEIPT_JOB)
async def simulated_receipt(ctx: JobContext) -> None:
    """The simulation's delivery reports, through the same code as the providers' webhooks."""
    async with transaction() as s:
        await receipts.simulated(s, ctx.payload.get("refs") or [], str(ctx.payload.get("status") or "delivered"))
