"""The premium face's request log (`GET /api/webhooks/logs`): one row per request to
`/api/webhooks/…`, with the key used, the answer's status and the processing time.

Rows are written off the request path: `submit()` queues the entry and arrears.request_logs (the
one writer of per-request logs) inserts the queue in one statement per FLUSH_INTERVAL, in its own
transaction. A request therefore pays no
extra round trip for its log line, and a failed request (whose transaction rolled back) is logged
the same way as a successful one. Reading the log first flushes this process's queue; entries of
other processes appear within FLUSH_INTERVAL. The audit trail is `domain_events`, written in the
request's transaction; this log is the captive's activity view.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import paging, request_logs
from arrears.db import utcnow
from arrears.identity.models import ApiKey
from arrears.paging import Page, PageRule
from arrears.premiums.models import WebhookLog

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
# The premium face's paging: page, limit (default 50, at most 100).
PAGES = PageRule(DEFAULT_LIMIT, MAX_LIMIT, size_name="limit")


@dataclass(frozen=True)
class LogEntry:
    endpoint: str
    method: str
    response_status: int
    processing_time_ms: int
    org_id: int | None = None
    api_key_id: uuid.UUID | None = None
    api_key_prefix: str | None = None
    error_code: str | None = None
    idempotency_key: str | None = None
    ip: str | None = None
    # When the request named a key the resolver refused (revoked, expired): its hash, so that the
    # writer can still file the line under the key's captive.
    key_hash: str | None = None
    created_at: datetime | None = None

    def values(self) -> dict[str, Any]:
        return {"id": uuid.uuid4(), "org_id": self.org_id, "api_key_id": self.api_key_id,
                "api_key_prefix": self.api_key_prefix, "endpoint": self.endpoint[:500],
                "method": self.method[:10], "response_status": self.response_status,
                "error_code": self.error_code[:64] if self.error_code else None,
                "processing_time_ms": max(0, self.processing_time_ms),
                "idempotency_key": self.idempotency_key[:255] if self.idempotency_key else None,
                "ip": self.ip, "created_at": self.created_at or utcnow()}


async def _rows(session: AsyncSession, entries: list[LogEntry]) -> list[dict[str, Any]]:
    """The entries as rows; a refused key's entry is filed under the key's captive."""
    hashes = {e.key_hash for e in entries if e.org_id is None and e.key_hash}
    keys: dict[str, Any] = {}
    if hashes:
        rows = await session.execute(select(ApiKey.key_hash, ApiKey.id, ApiKey.org_id, ApiKey.key_id)
                                     .where(ApiKey.key_hash.in_(hashes)))
        keys = {r.key_hash: r for r in rows}
    values = []
    for e in entries:
        k = keys.get(e.key_hash or "") if e.org_id is None else None
        if k is not None:
            e = replace(e, org_id=k.org_id, api_key_id=k.id, api_key_prefix=k.key_id)
        values.append(e.values())
    return values


LOG = request_logs.RequestLog("webhook", WebhookLog.__table__, queued=True, prepare=_rows)


def submit(entry: LogEntry) -> None:
    """Queue one log line (written within request_logs.FLUSH_INTERVAL)."""
    if entry.created_at is None:
        entry = replace(entry, created_at=utcnow())
    request_logs.submit(LOG, entry)


async def flush() -> None:
    await request_logs.flush()


async def list_logs(session: AsyncSession, org_id: int, *, page: int = 1, limit: int = DEFAULT_LIMIT,
                    status_code: int | None = None) -> Page[WebhookLog]:
    """This organisation's log, newest first."""
    req = PAGES.check(page, limit)
    where = [WebhookLog.org_id == org_id]
    if status_code is not None:
        where.append(WebhookLog.response_status == status_code)
    total = await session.scalar(select(func.count()).select_from(WebhookLog).where(*where)) or 0
    return await paging.fetch(session, select(WebhookLog).where(*where)
                              .order_by(WebhookLog.created_at.desc(), WebhookLog.id), req, total=int(total))
