"""The harness writes a test's queued request-log rows before the next test starts, as a server's
shutdown does: the tests share one event loop and `client` starts no lifespan, so a row left
queued was written by the log's timer during the next test's setup — beside its TRUNCATE on
PostgreSQL (a deadlock, seen once) or into its fresh tables. The two tests run in this order
(pytest keeps a file's order; `--dist loadfile` keeps the file on one worker)."""

from __future__ import annotations

from sqlalchemy import func, select

from arrears import request_logs
from arrears.db import transaction
from arrears.premiums import webhook_log
from arrears.premiums.models import WebhookLog


async def test_a_test_ends_with_a_row_queued(world) -> None:
    org = await world.org("Queued log row")
    webhook_log.submit(webhook_log.LogEntry("/api/webhooks/payment", "POST", 200, 1, org_id=org.id))
    assert request_logs._writer._queues  # queued: written within FLUSH_INTERVAL, not before this test ends


async def test_the_next_test_finds_nothing_queued_and_no_row_of_the_last(world) -> None:
    assert not request_logs._writer._queues
    async with transaction(readonly=True) as s:
        assert await s.scalar(select(func.count()).select_from(WebhookLog)) == 0
