"""Domain events: written in the transaction of the change, then fed to the audit trail,
the outbound webhooks and the WebSocket broadcast.

`record()` adds the event row. In-transaction subscribers (for example the partner platform,
which writes webhook delivery rows) run at once in the same session, so their rows exist exactly
when the change does. After-commit publishers (the WebSocket hub) run only once the transaction
has committed, so nobody is told about a change that was rolled back.

Nothing subscribes by being imported: `arrears.wiring.wire()` registers every handler, publisher
and the session hooks below, and every entry point (server, worker, CLI) calls it at start.
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, mapped_column

from arrears.db import GUID, Base, UTCDateTime, utcnow

log = logging.getLogger(__name__)


def new_event_uuid() -> uuid.UUID:
    """A version 7 UUID: milliseconds since the epoch, then 74 random bits (with the version and
    variant). Events made later sort after; a batch of one millisecond in any order."""
    ms = time.time_ns() // 1_000_000 & ((1 << 48) - 1)
    rand_a, rand_b = secrets.randbits(12), secrets.randbits(62)
    return uuid.UUID(int=ms << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b)


def _uuid7_prefix(now: datetime) -> str:
    """The first 28 hex-and-dash characters of version 7 UUIDs made at `now` (milliseconds since
    the epoch, the version, 12 + 14 + 16 random bits, the variant); 8 hex digits complete one."""
    stamp = f"{int(now.timestamp() * 1000) & ((1 << 48) - 1):012x}"
    variant = 0b10 << 14 | secrets.randbits(14)
    return f"{stamp[:8]}-{stamp[8:]}-7{secrets.randbits(12):03x}-{variant:04x}-{secrets.randbits(16):04x}"


class DomainEvent(Base):
    """One change that matters; the rows are also the audit trail (who, what, before/after, when)."""

    __tablename__ = "domain_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # A client-made unique value: lets a batch of events go out as one INSERT … RETURNING in order.
    # Time-ordered (version 7), so that its unique index grows at its right edge.
    uuid: Mapped[uuid.UUID] = mapped_column(GUID, unique=True, default=new_event_uuid, insert_sentinel=True)
    # On PostgreSQL no key (migration 0030): writers hold the organisation once per transaction
    # (`hold_organisation`) and a trigger takes the events of a deleted one. No index: nothing reads
    # events by organisation but that trigger.
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                               nullable=True)
    # No index on type nor created_at (0024): nothing reads events by them, every event paid for them.
    type: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(128))  # user:1, api_key:pct_…, webhook, system
    subject_type: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


InTransactionHandler = Callable[[AsyncSession, DomainEvent], Awaitable[None]]
Publisher = Callable[[DomainEvent], None]

# For events the database writes in bulk (`record_select`), a handler or publisher may say whether
# it needs to see events of these types at all; one that does not say sees every event.
Wants = Callable[[AsyncSession, int, frozenset[str]], Awaitable[bool]]
PublisherWants = Callable[[frozenset[str]], bool]

_in_tx: list[InTransactionHandler] = []
_publishers: list[Publisher] = []
_wants: dict[Any, Any] = {}


def subscribe(handler: InTransactionHandler, *, wants: Wants | None = None) -> None:
    if handler not in _in_tx:
        _in_tx.append(handler)
    if wants is not None:
        _wants[handler] = wants


def on_commit(publisher: Publisher, *, wants: PublisherWants | None = None) -> None:
    if publisher not in _publishers:
        _publishers.append(publisher)
    if wants is not None:
        _wants[publisher] = wants


def registered() -> tuple[tuple[InTransactionHandler, ...], tuple[Publisher, ...]]:
    """The in-transaction handlers and after-commit publishers, in the order they run."""
    return tuple(_in_tx), tuple(_publishers)


def reset() -> None:
    """Forget every handler and publisher (tests check that wiring alone puts them back)."""
    _in_tx.clear()
    _publishers.clear()
    _wants.clear()


def install_session_hooks() -> None:
    """Publish after commit and forget on rollback, for every session (called by wiring)."""
    if not event.contains(Session, "after_commit", _publish_after_commit):
        event.listen(Session, "after_commit", _publish_after_commit)
    if not event.contains(Session, "after_soft_rollback", _forget_after_rollback):
        event.listen(Session, "after_soft_rollback", _forget_after_rollback)


class OrganisationGone(Exception):
    """The organisation an event (or a row written with it) belongs to was deleted meanwhile."""


async def hold_organisation(session: AsyncSession, org_id: int | None) -> None:
    """What the events' (and the tasks' and history's) organisation key checked row by row
    (migration 0030 dropped it on PostgreSQL), once per transaction: the organisation still there,
    locked `FOR KEY SHARE` (the lock a key check takes) until the transaction ends, so that its
    deletion waits and its trigger then takes the rows this transaction wrote. Raises
    OrganisationGone when it was deleted first. SQLite keeps its keys: nothing to do there."""
    if org_id is None or session.get_bind().dialect.name != "postgresql":
        return
    sync = session.sync_session
    tx = sync.get_nested_transaction() or sync.get_transaction()
    held = sync.info.setdefault("arrears_held_orgs", [])
    # A lock taken in a savepoint that rolled back is gone: only one taken in this transaction or
    # one enclosing it counts.
    if tx is not None and any(o == org_id and _within(tx, t) for t, o in held):
        return
    from sqlalchemy import text

    found = await session.scalar(text("SELECT id FROM organisations WHERE id = :o FOR KEY SHARE"), {"o": org_id})
    if found is None:
        raise OrganisationGone(f"organisation {org_id} was deleted")
    tx = sync.get_nested_transaction() or sync.get_transaction()
    held[:] = [(t, o) for t, o in held if t.is_active] + [(tx, org_id)]


async def record(session: AsyncSession, *, org_id: int | None, type: str, actor: str,
                 subject_type: str, subject_id: Any, before: dict[str, Any] | None = None,
                 after: dict[str, Any] | None = None, data: dict[str, Any] | None = None
                 ) -> DomainEvent:
    await hold_organisation(session, org_id)
    ev = DomainEvent(org_id=org_id, type=type, actor=actor, subject_type=subject_type,
                     subject_id=str(subject_id), before=_jsonable(before), after=_jsonable(after),
                     data=_jsonable(data) or {}, created_at=utcnow())
    session.add(ev)
    await session.flush()
    for handler in list(_in_tx):
        await handler(session, ev)
    sync = session.sync_session
    # Remember the (innermost) transaction the event belongs to: a savepoint that rolls back
    # takes its own events with it and leaves the others.
    tx = sync.get_nested_transaction() or sync.get_transaction()
    sync.info.setdefault("arrears_events", []).append((tx, ev))
    return ev


async def record_many(session: AsyncSession, items: Sequence[Mapping[str, Any]]) -> list[DomainEvent]:
    """`record()` for a batch, in order: one INSERT for all the rows (a bulk change is a few
    round trips, not one per item), then the in-transaction subscribers for each event."""
    now = utcnow()
    evs = [DomainEvent(org_id=i["org_id"], type=i["type"], actor=i["actor"],
                       subject_type=i["subject_type"], subject_id=str(i["subject_id"]),
                       before=_jsonable(i.get("before")), after=_jsonable(i.get("after")),
                       data=_jsonable(i.get("data")) or {}, created_at=now)
           for i in items]
    if not evs:
        return []
    for org_id in sorted({ev.org_id for ev in evs if ev.org_id is not None}):
        await hold_organisation(session, org_id)
    session.add_all(evs)
    await session.flush()
    sync = session.sync_session
    tx = sync.get_nested_transaction() or sync.get_transaction()
    pending = sync.info.setdefault("arrears_events", [])
    for ev in evs:
        for handler in list(_in_tx):
            await handler(session, ev)
        pending.append((tx, ev))
    return evs


BULK_COLUMNS = ("type", "actor", "subject_type", "subject_id", "before", "after", "data")


async def record_select(session: AsyncSession, org_id: int, source: Any, types: Sequence[str]) -> int:
    """Events computed by the database, for passes over many rows (the daily evaluation of
    promises): one INSERT … SELECT from `source`, a SELECT whose columns are BULK_COLUMNS (type,
    actor, subject_type, subject_id as text, before, after, data as JSON built in SQL, with
    Decimals, dates and UUIDs as strings as `record` writes them) and whose `type` is among
    `types`. The in-transaction subscribers and after-commit publishers see each new event as
    with `record_many`, except those that said (`wants`) they need none of these types in this
    organisation: then the rows are not read back at all. Returns how many were written."""
    from sqlalchemy import insert, literal, literal_column, select

    await hold_organisation(session, org_id)
    handlers, publishers = await _readers(session, org_id, types)
    src = source.subquery()
    now = utcnow()
    # Time-ordered ids (version 7): this statement's prefix (time and random bits) and each row's
    # number, so that the unique index takes them at its right edge instead of on random pages.
    prefix, number = _uuid7_prefix(now), "row_number() OVER ()"
    new_uuid: Any = literal_column(f"CAST('{prefix}' || lpad(to_hex({number}), 8, '0') AS uuid)"
                              if session.get_bind().dialect.name == "postgresql"
                              else f"'{prefix}' || printf('%08x', {number})")
    stmt = insert(DomainEvent).from_select(
        ["uuid", "org_id", *BULK_COLUMNS, "created_at"],
        select(new_uuid, literal(org_id), *(src.c[name] for name in BULK_COLUMNS), literal(now, UTCDateTime)))
    if not handlers and not publishers:  # nobody reads them back: no ids either
        return max(int(getattr(await session.execute(stmt), "rowcount", 0) or 0), 0)
    ids = list(await session.scalars(stmt.returning(DomainEvent.id)))
    sync = session.sync_session
    tx = sync.get_nested_transaction() or sync.get_transaction()
    pending = sync.info.setdefault("arrears_events", [])
    for start in range(0, len(ids), 1000):
        for ev in await session.scalars(select(DomainEvent).where(DomainEvent.id.in_(ids[start:start + 1000]))
                                        .order_by(DomainEvent.id)):
            for handler in handlers:
                await handler(session, ev)
            pending.append((tx, ev))
    return len(ids)


async def _readers(session: AsyncSession, org_id: int, types: Sequence[str]
                   ) -> tuple[list[InTransactionHandler], list[Publisher]]:
    """The in-transaction subscribers and after-commit publishers that need to see new events of
    these types in this organisation (those that said with `wants` they need none are left out)."""
    kinds = frozenset(types)
    handlers = [h for h in _in_tx if h not in _wants or await _wants[h](session, org_id, kinds)]
    return handlers, [p for p in _publishers if p not in _wants or _wants[p](kinds)]


async def wanted(session: AsyncSession, org_id: int, types: Sequence[str]) -> bool:
    """Whether anybody needs to see new events of these types in this organisation (as
    `record_select` decides). When none does, a bulk writer may insert such events in its own
    statement (the strategy run writes them in the statement that claims its executions) and need
    not read them back."""
    handlers, publishers = await _readers(session, org_id, types)
    return bool(handlers or publishers)


def _jsonable(value: Any) -> Any:
    """Decimals, dates and UUIDs as strings so that both engines store the same JSON."""
    from datetime import date
    from decimal import Decimal

    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        from arrears.db import isoz

        return isoz(value)
    if isinstance(value, (Decimal, date, uuid.UUID)):
        return str(value)
    return str(value)


def _publish_after_commit(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint was released: the change is not committed until the outer commit
    pending = session.info.pop("arrears_events", [])
    for _, ev in pending:
        for publisher in list(_publishers):
            try:
                publisher(ev)
            except Exception:  # a broken listener must not break the request that committed
                log.exception("event publisher failed for %s", ev.type)


def _forget_after_rollback(session: Session, previous_transaction: Any) -> None:
    """Drop the events of the transaction that rolled back (a savepoint or the whole request)."""
    pending = session.info.get("arrears_events")
    if not pending:
        return
    kept = [(tx, ev) for tx, ev in pending if not _within(tx, previous_transaction)]
    if kept:
        session.info["arrears_events"] = kept
    else:
        session.info.pop("arrears_events", None)


def _within(tx: Any, ancestor: Any) -> bool:
    while tx is not None:
        if tx is ancestor:
            return True
        tx = tx.parent
    return False
