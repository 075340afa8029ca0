"""Job handlers of the partner platform (found by arrears.jobs.registry.load_all_handlers)."""

from __future__ import annotations

from arrears.jobs.registry import JobContext, handler
from arrears.partners import delivery
from arrears.partners.fanout import DRAIN_JOB


@handler(DRAIN_JOB)
async def drain_webhooks(ctx: JobContext) -> None:
    """Send every due webhook delivery; idempotent (deliveries are claimed with leases)."""
    await delivery.drain()
