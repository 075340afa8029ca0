"""Transaction-scoped locks for the check-then-write rules that no unique index expresses: the
per-customer contact cap (count the recent messages, then write more) and template names that
are unique regardless of case. On PostgreSQL a transaction advisory lock per organisation makes
concurrent requests take their turn between the check and the commit; on SQLite every writer
holds the database's write lock from BEGIN already (BEGIN IMMEDIATE), so there is nothing to do.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Two-key advisory locks (namespace, organisation id): they never conflict with the one-key
# locks used elsewhere (partners.fanout.DRAIN_LOCK).
_BASE = 0x4D534700  # "MSG\0"
CONTACT_CAP = _BASE + 1
TEMPLATE_NAMES = _BASE + 2


async def org_lock(session: AsyncSession, kind: int, org_id: int) -> None:
    """Wait until no other open transaction holds this organisation's `kind` lock; hold it until
    this transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:kind, :org)"), {"kind": kind, "org": org_id})
