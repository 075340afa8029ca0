"""The rules of premium collections: policies, collections and their state machine.

Services take a session and the `Caller` (who acts, for its organisation: `caller.org_id`; it needs
write access), flush, and never
commit: the request or job scope does. Every change is recorded through `arrears.events.record`
in the same transaction: `policy.created | policy.updated | policy.activated | policy.cancelled`
(exactly one per change, the most specific) and `collection.updated`, with the spec's object in
`data`, so that the audit trail, the outbound webhooks and the WebSocket all see the same thing.

Public API (what a debit-order run calls):

* `Caller.system(org_id, "debit_order_run:…")` for jobs, the face's API-key caller for webhooks:
  who acts (`caller.actor` in the audit trail, `updated_by(caller)` in the events' data).
* `get_policy(session, org_id, policy_number)`, `get_collection(session, org_id, reference)`.
* `upsert_policy(session, caller, PolicyUpdateIn)`; cancelling a policy cancels its `pending`
  collections (`cancel_pending_collections`), each through the state machine with its event.
* `link_customer(session, caller, policy, customer_id)`: the policyholder as a customer of the
  same organisation (`policies.customer_id`, ON DELETE SET NULL).
* `create_collection(session, caller, policy, collection_date=…, amount=None, …)`: a new collection
  (`pending` unless told otherwise), amount = the policy's premium unless given.
* `transition_collection(session, caller, collection, status, policy=None, **fields)`: one move
  through the state machine (409 `INVALID_STATUS_TRANSITION` when refused, False for a repeat).
* `transition_collections(session, caller, collections, status, **fields)`: the same for many
  collections (one query for their policies), e.g. pending → submitted when a bank file goes out.
* `update_collections(session, caller, items, isolate=…)`: the webhook's find-or-record-and-move,
  batched (two queries to load up to 100 items, the named policies locked first; one executemany
  for their UPDATEs); with `isolate` a refused item is that item's error and the others go on.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

import arrears.realtime.hub  # noqa: F401  (committed events reach the WebSocket hub, here or via Redis)
from arrears import events
from arrears.db import utcnow
from arrears.errors import DomainError, NotFound, ValidationFailed
from arrears.identity.caller import Caller
from arrears.identity.models import Organisation
from arrears.premiums.errors import PremiumErrorCode
from arrears.premiums.models import Collection, Policy
from arrears.premiums.schemas import (
    POLICY_NOT_NULL,
    POLICY_REQUIRED,
    CollectionUpdateIn,
    PolicyUpdateIn,
    audit_value,
    collection_out,
    policy_out,
)
from arrears.premiums.state import (
    FINAL,
    OPEN,
    CollectionStatus,
    InvalidTransition,
    PolicyStatus,
    check_transition,
    parse_status,
)

log = logging.getLogger(__name__)

#: Fields of a collection a status update may also set (besides `status` and `amount`).
COLLECTION_DETAIL_FIELDS = ("failure_reason", "investec_reference", "bank_reference", "transaction_date")
POLICY_FIELDS = ("client_name", "client_id_number", "client_email", "client_phone", "premium_amount",
                 "frequency", "status", "mandate_reference", "bank_account_holder",
                 "bank_account_number", "bank_branch_code", "bank_account_type",
                 "next_collection_date", "collection_day")
_OPEN_VALUES = tuple(s.value for s in OPEN)
_FINAL_VALUES = frozenset(s.value for s in FINAL)


class PolicyNotFound(NotFound):
    code = PremiumErrorCode.POLICY_NOT_FOUND


class CollectionNotFound(NotFound):
    code = PremiumErrorCode.COLLECTION_NOT_FOUND


def updated_by(caller: Caller) -> str:
    """What the spec's events show as who changed premium data: `webhook` (a cell captive's API
    key), `user` or `system` (the audit trail's name is `caller.actor`)."""
    return {"api_key": "webhook", "user": "user"}.get(caller.kind, "system")


def captive_out(org: Organisation) -> dict[str, Any]:
    return {"id": str(org.uuid), "name": org.name}


_CAPTIVES = "arrears_premium_captives"


def know_captive(session: AsyncSession, org: Organisation) -> None:
    """The organisation a face has already read (with the API key): its events need not load it."""
    session.sync_session.info.setdefault(_CAPTIVES, {})[org.id] = captive_out(org)


async def _captive(session: AsyncSession, caller: Caller) -> dict[str, Any]:
    # Kept per session: the identity map holds objects weakly, and a batch of events would
    # otherwise load the organisation (and autoflush) once per event.
    cache: dict[int, dict[str, Any]] = session.sync_session.info.setdefault(_CAPTIVES, {})
    if caller.org_id not in cache:
        org = await session.get(Organisation, caller.org_id)
        if org is None:
            raise NotFound(f"Organisation {caller.org_id} not found")
        cache[caller.org_id] = captive_out(org)
    return cache[caller.org_id]


@asynccontextmanager
async def savepoint(session: AsyncSession) -> AsyncIterator[None]:
    """`session.begin_nested()` that keeps the events recorded before it when it rolls back.

    (`arrears.events` forgets every pending event on any rollback, a savepoint's included; the
    events of the items before a failed one must still be published after the commit.)"""
    info = session.sync_session.info
    kept = list(info.get("arrears_events", ()))
    try:
        async with session.begin_nested():
            yield
    except BaseException:
        info["arrears_events"] = kept
        raise


def new_collection_reference() -> str:
    return "COL_" + secrets.token_hex(6).upper()


# ---------------------------------------------------------------- lookups


async def get_policy(session: AsyncSession, org_id: int, policy_number: str, *,
                     for_update: bool = False) -> Policy:
    q = select(Policy).where(Policy.org_id == org_id, Policy.policy_number == policy_number)
    if for_update:
        q = q.with_for_update(key_share=True)
    policy = await session.scalar(q)
    if policy is None:
        raise PolicyNotFound(f"Policy {policy_number} not found")
    return policy


async def get_collection(session: AsyncSession, org_id: int, reference: str, *,
                         for_update: bool = False) -> tuple[Collection, Policy]:
    q = (select(Collection, Policy).join(Policy, Policy.id == Collection.policy_id)
         .where(Collection.org_id == org_id, Collection.collection_reference == reference))
    if for_update:
        q = q.with_for_update(of=Collection, key_share=True)
    row = (await session.execute(q)).first()
    if row is None:
        raise CollectionNotFound(f"Collection {reference} not found")
    return row[0], row[1]


# ---------------------------------------------------------------- policies


@dataclass
class PolicyResult:
    policy: Policy
    created: bool
    event_type: str | None  # None when nothing changed
    # The pending collections a cancellation cancelled with the policy.
    cancelled_collections: list[Collection] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.event_type is not None


def policy_event_type(before_status: str | None, after_status: str) -> str:
    """The one, most specific event type of a policy change."""
    if before_status is None:
        return "policy.created"
    if before_status != after_status:
        if after_status == PolicyStatus.ACTIVE:
            return "policy.activated"
        if after_status == PolicyStatus.CANCELLED:
            return "policy.cancelled"
    return "policy.updated"


async def upsert_policy(session: AsyncSession, caller: Caller, data: PolicyUpdateIn) -> PolicyResult:
    """Create the policy, or change only the fields sent. No change → no write, no event."""
    caller.require_write()
    sent = data.sent()
    nulls = sorted(f for f in POLICY_NOT_NULL if f in sent and sent[f] is None)
    if nulls:
        raise ValidationFailed(f"Invalid request: {', '.join(nulls)} cannot be null",
                               field_errors={f: ["This field cannot be null."] for f in nulls})
    policy = await session.scalar(
        select(Policy).where(Policy.org_id == caller.org_id, Policy.policy_number == data.policy_number)
        .with_for_update(key_share=True))
    if policy is None:
        missing = [f for f in POLICY_REQUIRED if f not in sent]
        if missing:
            raise ValidationFailed(
                f"Invalid request: policy {data.policy_number} does not exist yet; a new policy "
                f"needs {', '.join(missing)}", field_errors={f: ["This field is required."] for f in missing})
        created = await _create_policy(session, caller, data.policy_number, sent)
        if created is not None:
            return created
        # Another request created it first (a race on the unique policy number): update it.
        policy = await get_policy(session, caller.org_id, data.policy_number, for_update=True)
    return await _update_policy(session, caller, policy, sent)


async def _create_policy(session: AsyncSession, caller: Caller, number: str,
                         sent: dict[str, Any]) -> PolicyResult | None:
    values = dict(sent)
    values.setdefault("status", PolicyStatus.ACTIVE.value)
    values.setdefault("bank_account_type", "current")
    if values.get("collection_day") is None and values.get("next_collection_date"):
        values["collection_day"] = values["next_collection_date"].day
    now = utcnow()
    policy = Policy(org_id=caller.org_id, policy_number=number, created_at=now, updated_at=now, **values)
    try:
        async with savepoint(session):
            session.add(policy)
            await session.flush()
    except IntegrityError:
        return None
    out = policy_out(policy)
    await events.record(session, org_id=caller.org_id, type="policy.created", actor=caller.actor,
                        subject_type="policy", subject_id=policy.uuid, before=None, after=out,
                        data={"policy": out, "cell_captive": await _captive(session, caller),
                              "updated_by": updated_by(caller)})
    return PolicyResult(policy, True, "policy.created")


async def _update_policy(session: AsyncSession, caller: Caller, policy: Policy,
                         sent: dict[str, Any]) -> PolicyResult:
    values = dict(sent)
    if (values.get("next_collection_date") and "collection_day" not in values
            and policy.collection_day is None):
        values["collection_day"] = values["next_collection_date"].day
    changes = {f: v for f, v in values.items() if not policy.holds(f, v)}
    if not changes:
        return PolicyResult(policy, False, None)
    before_status = policy.status
    before = {f: audit_value(f, getattr(policy, f)) for f in changes}
    for f, v in changes.items():
        setattr(policy, f, v)
    policy.updated_at = utcnow()
    etype = policy_event_type(before_status, policy.status)
    out = policy_out(policy)
    await events.record(session, org_id=caller.org_id, type=etype, actor=caller.actor,
                        subject_type="policy", subject_id=policy.uuid, before=before,
                        after={f: audit_value(f, v) for f, v in changes.items()},
                        data={"policy": out, "cell_captive": await _captive(session, caller),
                              "updated_by": updated_by(caller)})
    cancelled = []
    if etype == "policy.cancelled":
        cancelled = await cancel_pending_collections(session, caller, policy)
    return PolicyResult(policy, False, etype, cancelled)


async def link_customer(session: AsyncSession, caller: Caller, policy: Policy,
                        customer_id: int | None) -> bool:
    """Link the policy to its policyholder, a customer of the same organisation (None unlinks).
    True when the link changed; one `policy.updated` event. Another organisation's customer is
    not found (the foreign key alone would accept it)."""
    from arrears.customers.models import Customer  # the customers domain is optional here

    caller.require_write()
    if policy.org_id != caller.org_id:
        raise PolicyNotFound(f"Policy {policy.policy_number} not found")
    if customer_id is not None and await session.scalar(
            select(Customer.id).where(Customer.id == customer_id, Customer.org_id == caller.org_id)) is None:
        raise NotFound(f"Customer {customer_id} not found")
    if policy.customer_id == customer_id:
        return False
    before = {"customer_id": policy.customer_id}
    policy.customer_id = customer_id
    policy.updated_at = utcnow()
    await events.record(session, org_id=caller.org_id, type="policy.updated", actor=caller.actor,
                        subject_type="policy", subject_id=policy.uuid, before=before,
                        after={"customer_id": customer_id},
                        data={"policy": policy_out(policy), "cell_captive": await _captive(session, caller),
                              "updated_by": updated_by(caller)})
    return True


#: What a collection cancelled with its policy says why.
POLICY_CANCELLED_REASON = "Policy cancelled"


async def cancel_pending_collections(session: AsyncSession, caller: Caller, policy: Policy) -> list[Collection]:
    """Cancel the policy's `pending` collections (one `collection.updated` event each).

    Only `pending`: a `submitted` collection is already in a bank file, and whether the bank
    collects it is the bank's answer to tell (its webhook still moves it to a final status)."""
    caller.require_write()
    pending = list((await session.scalars(
        select(Collection).where(Collection.org_id == caller.org_id, Collection.policy_id == policy.id,
                                 Collection.status == CollectionStatus.PENDING.value)
        .order_by(Collection.id).with_for_update(key_share=True))).all())
    if not pending:
        return []
    return await transition_collections(session, caller, pending, CollectionStatus.CANCELLED.value,
                                        failure_reason=POLICY_CANCELLED_REASON)


# ---------------------------------------------------------------- collections: one move

_UNSET: Any = object()


def _plan(col: Collection, status: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The column changes an update makes, checked in full before anything is touched."""
    target = parse_status(status)
    moves = check_transition(col.status, target)  # raises InvalidTransition
    changes: dict[str, Any] = {}
    if moves:
        changes["status"] = target.value
    amount = fields.get("amount", _UNSET)
    if amount is not _UNSET and amount is not None and Decimal(amount) != col.amount:
        if col.status in _FINAL_VALUES:
            raise InvalidTransition(f"Collection {col.collection_reference} is {col.status}, a final "
                                    "status; its amount can no longer change")
        changes["amount"] = Decimal(amount)
    for f in COLLECTION_DETAIL_FIELDS:
        value = fields.get(f, _UNSET)
        if value is not _UNSET and getattr(col, f) != value:
            changes[f] = value
    if moves and target in FINAL:
        changes["processed_at"] = utcnow()
    return changes


async def _change(session: AsyncSession, caller: Caller, col: Collection, policy: Policy,
                  changes: dict[str, Any], *, created: bool = False) -> dict[str, Any] | None:
    """Apply planned changes to the object (no query) and return the event to record for them,
    None when nothing changed. Recording is left to the caller, so that a batch flushes all its
    UPDATEs together (one executemany) before its events."""
    if not changes and not created:
        return None
    before = None if created else {f: audit_value(f, getattr(col, f)) for f in changes}
    for f, v in changes.items():
        setattr(col, f, v)
    col.updated_at = utcnow()
    out = collection_out(col, policy)  # this change's state, even if a later one moves it on
    return dict(org_id=caller.org_id, type="collection.updated", actor=caller.actor,
                subject_type="collection", subject_id=col.uuid, before=before,
                after=out if created else {f: audit_value(f, v) for f, v in changes.items()},
                data={"collection": out, "cell_captive": await _captive(session, caller),
                      "updated_by": updated_by(caller)})


async def _record(session: AsyncSession, pending: Sequence[dict[str, Any] | None]) -> None:
    await events.record_many(session, [ev for ev in pending if ev is not None])


async def _apply(session: AsyncSession, caller: Caller, col: Collection, policy: Policy,
                 changes: dict[str, Any], *, created: bool = False) -> None:
    await _record(session, [await _change(session, caller, col, policy, changes, created=created)])


async def transition_collection(session: AsyncSession, caller: Caller, collection: Collection,
                                status: str, *, policy: Policy | None = None, **fields: Any) -> bool:
    """Move one collection (fields: amount, failure_reason, investec_reference, bank_reference,
    transaction_date). True when something changed; raises InvalidTransition (409)."""
    unknown = set(fields) - {"amount", *COLLECTION_DETAIL_FIELDS}
    if unknown:
        raise TypeError(f"unknown collection fields: {', '.join(sorted(unknown))}")
    caller.require_write()
    if collection.org_id != caller.org_id:
        raise CollectionNotFound(f"Collection {collection.collection_reference} not found")
    changes = _plan(collection, status, fields)
    if not changes:
        return False
    policy = policy or await session.get(Policy, collection.policy_id)
    assert policy is not None
    await _apply(session, caller, collection, policy, changes)
    return True


async def transition_collections(session: AsyncSession, caller: Caller,
                                 collections: Sequence[Collection], status: str,
                                 **fields: Any) -> list[Collection]:
    """Move many collections to `status` (all or nothing: one refused move raises before any
    change). Returns those that changed; each change is one `collection.updated` event."""
    caller.require_write()
    ids = {c.policy_id for c in collections}
    policies = {p.id: p for p in (await session.scalars(select(Policy).where(Policy.id.in_(ids)))).all()}
    plans = []
    for c in collections:
        if c.org_id != caller.org_id:
            raise CollectionNotFound(f"Collection {c.collection_reference} not found")
        plans.append((c, _plan(c, status, fields)))
    changed, pending = [], []
    for c, changes in plans:
        if changes:
            pending.append(await _change(session, caller, c, policies[c.policy_id], changes))
            changed.append(c)
    await _record(session, pending)  # the first event's flush writes every UPDATE at once
    return changed


async def create_collection(session: AsyncSession, caller: Caller, policy: Policy, *,
                            collection_date: date, amount: Decimal | None = None,
                            collection_reference: str | None = None, status: str = "pending",
                            require_active_policy: bool = True, **fields: Any) -> Collection:
    """Record a new collection of `policy` (one per policy and date). The amount defaults to the
    policy's premium; a final status sets processed_at. One `collection.updated` event."""
    caller.require_write()
    if policy.org_id != caller.org_id:
        raise PolicyNotFound(f"Policy {policy.policy_number} not found")
    if require_active_policy and policy.status != PolicyStatus.ACTIVE:
        raise DomainError(f"Policy {policy.policy_number} is {policy.status}; only active policies "
                          "are collected", code=PremiumErrorCode.POLICY_NOT_ACTIVE, status=409)
    target = parse_status(status)
    now = utcnow()
    col = Collection(org_id=caller.org_id, policy_id=policy.id,
                     collection_reference=collection_reference or new_collection_reference(),
                     amount=Decimal(amount) if amount is not None else policy.premium_amount,
                     status=target.value, collection_date=collection_date,
                     processed_at=now if target in FINAL else None, created_at=now, updated_at=now,
                     **{f: v for f, v in fields.items() if f in COLLECTION_DETAIL_FIELDS})
    try:
        async with savepoint(session):
            session.add(col)
            await session.flush()
    except IntegrityError:
        raise DomainError(f"Policy {policy.policy_number} already has a collection on "
                          f"{collection_date.isoformat()} or the reference is taken",
                          code=PremiumErrorCode.COLLECTION_EXISTS, status=409) from None
    await _apply(session, caller, col, policy, {}, created=True)
    return col


# ---------------------------------------------------------------- collections: the webhook


@dataclass
class ItemResult:
    index: int
    collection: Collection | None = None
    policy: Policy | None = None
    created: bool = False
    error: DomainError | None = None


@dataclass
class _Book:
    """The collections and policies a batch of updates names, loaded in two queries and kept
    current as the batch records and moves collections."""

    org_id: int
    by_ref: dict[str, Collection] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    policy_by_id: dict[int, Policy] = field(default_factory=dict)
    by_date: dict[tuple[int, date], Collection] = field(default_factory=dict)
    open_by_policy: dict[int, list[Collection]] = field(default_factory=dict)

    def add(self, col: Collection) -> None:
        self.by_ref[col.collection_reference] = col
        self.by_date[(col.policy_id, col.collection_date)] = col
        if col.status not in _FINAL_VALUES:
            lst = self.open_by_policy.setdefault(col.policy_id, [])
            if col not in lst:
                lst.append(col)

    def settle(self, col: Collection) -> None:
        if col.status in _FINAL_VALUES:
            lst = self.open_by_policy.get(col.policy_id, [])
            if col in lst:
                lst.remove(col)

    def add_policy(self, p: Policy) -> None:
        self.policies[p.policy_number] = p
        self.policy_by_id[p.id] = p

    async def load(self, session: AsyncSession, items: Sequence[CollectionUpdateIn]) -> None:
        refs = {i.collection_reference for i in items if i.collection_reference}
        numbers = {i.policy_number for i in items if i.policy_number}
        dates = {i.collection_date for i in items if i.collection_date}
        if numbers:
            # The named policies are locked first, in id order (as a policy update and a
            # debit-order run lock them, before their collections): two batches recording the
            # same new collections in different orders would otherwise deadlock on the unique
            # (policy, date) index; now the second waits and finds them recorded.
            q0 = (select(Policy).where(Policy.org_id == self.org_id, Policy.policy_number.in_(numbers))
                  .order_by(Policy.id).with_for_update(key_share=True))
            for pol in (await session.scalars(q0)).all():
                self.add_policy(pol)
        conds: list[ColumnElement[bool]] = []
        if refs:
            conds.append(Collection.collection_reference.in_(refs))
        if numbers:
            per_policy: ColumnElement[bool] = Collection.status.in_(_OPEN_VALUES)
            if dates:
                per_policy = or_(per_policy, Collection.collection_date.in_(dates))
            conds.append(and_(Policy.policy_number.in_(numbers), per_policy))
        if conds:
            q = (select(Collection, Policy).join(Policy, Policy.id == Collection.policy_id)
                 .where(Collection.org_id == self.org_id, or_(*conds))
                 .order_by(Collection.id).with_for_update(of=Collection, key_share=True))
            for col, pol in (await session.execute(q)).all():
                self.add_policy(pol)
                self.add(col)

    def policy(self, number: str) -> Policy:
        p = self.policies.get(number)
        if p is None:
            raise PolicyNotFound(f"Policy {number} not found")
        return p

    def find(self, item: CollectionUpdateIn) -> tuple[Collection | None, Policy]:
        """The collection an update names, or (None, policy) when it must be recorded."""
        ref, number, on = item.collection_reference, item.policy_number, item.collection_date
        if ref:
            col = self.by_ref.get(ref)
            if col is not None:
                pol = self.policy_by_id[col.policy_id]
                if number and pol.policy_number != number:
                    raise CollectionNotFound(f"Collection {ref} not found for policy {number}")
                return col, pol
            if number and on:
                pol = self.policy(number)
                other = self.by_date.get((pol.id, on))
                if other is not None:
                    raise CollectionNotFound(
                        f"Collection {ref} not found; policy {number} has collection "
                        f"{other.collection_reference} on {on.isoformat()}")
                return None, pol
            raise CollectionNotFound(f"Collection {ref} not found")
        assert number is not None
        pol = self.policy(number)
        if on:
            return self.by_date.get((pol.id, on)), pol
        open_cols = self.open_by_policy.get(pol.id) or []
        if not open_cols:
            raise CollectionNotFound(f"Policy {number} has no pending or submitted collection; send "
                                     "collection_date or collection_reference")
        return max(open_cols, key=lambda c: (c.collection_date, c.id or 0)), pol


def _fields(item: CollectionUpdateIn) -> dict[str, Any]:
    return {f: getattr(item, f) for f in ("amount", *COLLECTION_DETAIL_FIELDS)
            if f in item.model_fields_set}


async def _update_one(session: AsyncSession, caller: Caller, book: _Book, item: CollectionUpdateIn
                      ) -> tuple[Collection, Policy, bool, dict[str, Any] | None]:
    """One item: find (or record) its collection and plan and apply its move in memory. Every
    refusal (DomainError) is raised before anything of the item is changed, so a bulk request
    needs no savepoint per item. Returns the event to record."""
    col, pol = book.find(item)
    if col is None:
        assert item.collection_date is not None
        target = parse_status(item.status)
        fields = _fields(item)
        now = utcnow()
        col = Collection(org_id=caller.org_id, policy_id=pol.id,
                         collection_reference=item.collection_reference or new_collection_reference(),
                         amount=fields.pop("amount", None) or pol.premium_amount, status=target.value,
                         collection_date=item.collection_date,
                         processed_at=now if target in FINAL else None, created_at=now,
                         updated_at=now, **fields)
        # The earlier items' changes go out first: a rolled-back savepoint would undo them too.
        await session.flush()
        try:
            async with savepoint(session):
                session.add(col)
                await session.flush()
        except IntegrityError:
            # Recorded by a concurrent request since we looked: load it and update it instead.
            again = _Book(caller.org_id)
            await again.load(session, [item])
            found, _ = again.find(item)
            if found is None:
                raise
            for c in again.by_ref.values():
                book.add(c)
            return await _update_one(session, caller, book, item)
        book.add(col)
        return col, pol, True, await _change(session, caller, col, pol, {}, created=True)
    changes = _plan(col, item.status, _fields(item))
    ev = await _change(session, caller, col, pol, changes)
    book.settle(col)
    return col, pol, False, ev


async def update_collections(session: AsyncSession, caller: Caller,
                             items: Sequence[CollectionUpdateIn | DomainError], *,
                             isolate: bool = True) -> list[ItemResult]:
    """Apply status updates in order (a later item sees what an earlier one did). With
    `isolate`, a refused item becomes that item's error and the others go on; without, the
    first error is raised.

    Round trips for a batch, whatever its size: the two loading queries, the collections'
    UPDATEs in one executemany, then the events (`arrears.events.record`, one INSERT each).
    No savepoint per item: every refusal is raised before its item changes anything, and only a
    recording (an INSERT that can race) runs in a savepoint of its own."""
    caller.require_write()
    good = [i for i in items if isinstance(i, CollectionUpdateIn)]
    book = _Book(caller.org_id)
    if good:
        await book.load(session, good)
    await _captive(session, caller)  # load the organisation once, outside any savepoint
    results: list[ItemResult] = []
    pending: list[dict[str, Any] | None] = []
    for index, item in enumerate(items):
        try:
            if isinstance(item, DomainError):
                raise item
            col, pol, created, ev = await _update_one(session, caller, book, item)
        except DomainError as exc:
            if not isolate:
                raise
            results.append(ItemResult(index, error=exc))
            continue
        pending.append(ev)
        results.append(ItemResult(index, col, pol, created))
    await _record(session, pending)
    return results
