"""The rules of interactions: field visits and calls recorded on loans, and the work queue of
follow-ups that are due. Who records which kind, and who sees and changes which, is written in
service.py's docstring."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events
from arrears.customers.fields import (
    EARLIEST_DATE,
    NOT_BLANK,
    NOT_NULL,
    REQUIRED,
    FieldErrors,
    clean_int,
    invalid_pk,
    parse_date,
    today_utc,
    valid_id,
)
from arrears.customers.loans import get_loan, visible_loan_ids
from arrears.customers.models import INTERACTION_TYPES, Customer, Interaction, Loan
from arrears.customers.service import MANAGERS, customer_scope
from arrears.db import utcnow
from arrears.errors import Forbidden, NotFound, ValidationFailed
from arrears.identity import service as identity
from arrears.identity.caller import Caller

FIELD_DISPOSITIONS = ("visited", "not_home", "promise_to_pay", "paid", "partial_payment", "refused",
                      "dispute", "wrong_address", "moved")
CALLING_DISPOSITIONS = ("called", "no_answer", "promise_to_pay", "paid", "partial_payment", "refused",
                        "dispute", "wrong_number", "callback_requested", "voicemail")
DISPOSITIONS: dict[str, tuple[str, ...]] = {"field": FIELD_DISPOSITIONS, "calling": CALLING_DISPOSITIONS}
RECORDERS: dict[str, tuple[str, ...]] = {
    "field": ("admin", "manager", "collection_officer", "field_officer"),
    "calling": ("admin", "manager", "collection_officer", "calling_agent"),
}

MAX_COMMENT = 10_000
INTERACTION_FIELDS = ("loan_id", "account_id", "comment", "disposition", "next_call_date")
ONE_OF_LOAN_OR_ACCOUNT = "Give exactly one of loan and account."


# ------------------------------------------------------------------ accounts owed (beyond the spec)


@dataclass(frozen=True)
class AccountRef:
    """An account owed as an interaction needs it: its id, and its loan when it is a loan's."""

    id: uuid.UUID
    loan_id: int | None


# The accounts domain (above this one) says which accounts a caller may record on: it registers
# one resolver through arrears.wiring. Without it, no account is found.
AccountResolver = Callable[[AsyncSession, Caller, Sequence[str]], Awaitable[Mapping[str, AccountRef]]]
_account_resolvers: list[AccountResolver] = []


def register_account_resolver(resolver: AccountResolver) -> None:
    if resolver not in _account_resolvers:
        _account_resolvers.append(resolver)


def unregister_account_resolver(resolver: AccountResolver) -> None:
    if resolver in _account_resolvers:
        _account_resolvers.remove(resolver)


async def resolve_accounts(session: AsyncSession, caller: Caller, values: Sequence[str]) -> dict[str, AccountRef]:
    """The accounts among `values` (UUID strings) that the caller may see, by the value given."""
    found: dict[str, AccountRef] = {}
    for resolver in _account_resolvers:
        found.update(await resolver(session, caller, values))
    return found


# ------------------------------------------------------------------ promises to pay (beyond the spec)


@dataclass(frozen=True)
class PromiseRequest:
    """A promise to pay recorded with an interaction (its `promise_amount` and `promise_date`,
    cleaned): made on the interaction's account, or its loan's account."""

    interaction_id: int
    account_id: uuid.UUID | None
    loan_id: int | None
    amount: Decimal
    due_date: date


# The promises domain (above this one) records them: it registers one recorder through arrears.wiring.
PromiseRecorder = Callable[[AsyncSession, Caller, Sequence[PromiseRequest]], Awaitable[object]]
_promise_recorders: list[PromiseRecorder] = []
MAX_PROMISE_AMOUNT = Decimal("999999999999.99")


def register_promise_recorder(recorder: PromiseRecorder) -> None:
    if recorder not in _promise_recorders:
        _promise_recorders.append(recorder)


def unregister_promise_recorder(recorder: PromiseRecorder) -> None:
    if recorder in _promise_recorders:
        _promise_recorders.remove(recorder)


async def record_promises(session: AsyncSession, caller: Caller, items: Sequence[PromiseRequest]) -> None:
    if items:
        for recorder in _promise_recorders:
            await recorder(session, caller, items)


def clean_promise_fields(amount: Any, due: Any, today: date) -> tuple[Decimal, date] | None:
    """`promise_amount` and `promise_date` as given with an interaction: both or neither; an
    amount more than 0 with two decimals at most, a date not before `today` (the organisation's).
    Raises ValidationFailed naming the fields."""
    blank = [v is None or (isinstance(v, str) and not v.strip()) for v in (amount, due)]
    if all(blank):
        return None
    errors: FieldErrors = {}
    if blank[0] or blank[1]:
        missing = "promise_amount" if blank[0] else "promise_date"
        raise ValidationFailed("Invalid interaction", field_errors={
            missing: ["Give promise_amount and promise_date together."]})
    value = None
    try:
        if isinstance(amount, bool):
            raise InvalidOperation
        value = Decimal(repr(amount) if isinstance(amount, float) else str(amount).strip())
        if not value.is_finite() or value <= 0 or value > MAX_PROMISE_AMOUNT or value != value.quantize(Decimal("0.01")):
            errors["promise_amount"] = ["Must be more than 0, with at most two decimals."]
    except InvalidOperation:
        errors["promise_amount"] = ["Not a valid amount."]
    day = None
    try:
        day = due if isinstance(due, date) else date.fromisoformat(str(due).strip())
        if day < today:
            errors["promise_date"] = [f"Must not be in the past (today is {today.isoformat()})."]
    except ValueError:
        errors["promise_date"] = ["Not a valid date (YYYY-MM-DD)."]
    if errors:
        raise ValidationFailed("Invalid interaction", field_errors=errors)
    assert value is not None and day is not None
    return value.quantize(Decimal("0.01")), day


async def org_today(session: AsyncSession, org_id: int) -> date:
    """Today in the organisation's time zone (its `timezone` setting, Johannesburg by default)."""
    from zoneinfo import ZoneInfo

    org = await identity.get_org(session, org_id)
    name = identity.org_setting(org, "timezone")
    try:
        zone = ZoneInfo(name if isinstance(name, str) and name else "Africa/Johannesburg")
    except (ValueError, KeyError):
        zone = ZoneInfo("Africa/Johannesburg")
    return utcnow().astimezone(zone).date()


def normalise_disposition(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", value.strip().lower()).strip("_")


def interaction_scope(caller: Caller) -> ColumnElement[bool]:
    """The interactions this caller may see."""
    org = Interaction.org_id == caller.org_id
    if caller.role in MANAGERS:
        return org
    own = Interaction.created_by_id == caller.user_id
    if caller.role == "field_officer":
        return and_(org, own, Interaction.interaction_type == "field")
    if caller.role == "calling_agent":
        return and_(org, own, Interaction.interaction_type == "calling")
    if caller.role == "collection_officer":
        assigned = (select(Loan.id).join(Customer, Customer.id == Loan.customer_id)
                    .where(Loan.org_id == caller.org_id,
                           Customer.assigned_collection_officer_id == caller.user_id))
        return and_(org, or_(own, Interaction.loan_id.in_(assigned)))
    return false()


def recordable_types(caller: Caller) -> list[str]:
    """The kinds of interaction this caller may record now (none with read-only access)."""
    if caller.access != "write":
        return []
    return [t for t in ("calling", "field") if caller.role in RECORDERS[t]]


def _can_change_interaction(caller: Caller, row: Interaction) -> bool:
    return caller.role in MANAGERS or (caller.user_id is not None and row.created_by_id == caller.user_id)


# ------------------------------------------------------------------ interactions


def interaction_snapshot(row: Interaction) -> dict[str, Any]:
    return {"id": row.id, "loan_id": row.loan_id,
            "account_id": str(row.account_id) if row.account_id else None, "interaction_type": row.interaction_type,
            "comment": row.comment, "disposition": row.disposition, "timestamp": row.timestamp,
            "next_call_date": row.next_call_date, "created_by_id": row.created_by_id}


def _check_type(interaction_type: str) -> None:
    if interaction_type not in INTERACTION_TYPES:
        raise NotFound(f"Unknown interaction type {interaction_type!r}.")


def _require_recorder(caller: Caller, interaction_type: str) -> None:
    if caller.role not in RECORDERS[interaction_type]:
        raise Forbidden(f"Your role ({caller.role}) cannot record {interaction_type} interactions.")


def clean_interaction_value(interaction_type: str, key: str, raw: Any) -> Any:
    if key == "comment":
        if raw is None:
            return ""
        if not isinstance(raw, str):
            raise ValueError("Not a valid string.")
        text = raw.strip()
        if len(text) > MAX_COMMENT:
            raise ValueError(f"Ensure this field has no more than {MAX_COMMENT} characters.")
        return text
    if key == "disposition":
        if raw is None:
            raise ValueError(NOT_NULL)
        if not isinstance(raw, str):
            raise ValueError("Not a valid string.")
        if not raw.strip():
            raise ValueError(NOT_BLANK)
        value = normalise_disposition(raw)
        allowed = DISPOSITIONS[interaction_type]
        if value not in allowed:
            raise ValueError(f'"{raw.strip()[:40]}" is not a valid choice for a {interaction_type} '
                             f"interaction. Use one of: {', '.join(allowed)}.")
        return value
    if key == "next_call_date":
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        when = parse_date(raw)
        if when < EARLIEST_DATE:
            raise ValueError(f"Ensure this date is on or after {EARLIEST_DATE.isoformat()}.")
        return when
    if key == "loan_id":
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            raise ValueError(NOT_NULL if raw is None else NOT_BLANK)
        return clean_int(raw)
    if key == "account_id":
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            raise ValueError(NOT_NULL if raw is None else NOT_BLANK)
        try:
            return str(uuid.UUID(str(raw).strip()))
        except ValueError as exc:
            raise ValueError("Must be a valid UUID.") from exc
    raise ValueError("Unknown field.")


async def _clean_interaction(session: AsyncSession, caller: Caller, interaction_type: str,
                             values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    errors: FieldErrors = {}
    for key, raw in values.items():
        try:
            out[key] = clean_interaction_value(interaction_type, key, raw)
        except ValueError as exc:
            errors.setdefault(key, []).append(str(exc))
    if "loan_id" in values and "account_id" in values:
        errors.setdefault("non_field_errors", []).append(ONE_OF_LOAN_OR_ACCOUNT)
    if "loan_id" in out and out["loan_id"] not in await visible_loan_ids(session, caller, [out["loan_id"]]):
        errors["loan_id"] = [invalid_pk(values["loan_id"])]
    if "loan_id" in out:
        out["account_id"] = None  # a loan named again: the interaction is the loan's
    elif "account_id" in out:
        ref = (await resolve_accounts(session, caller, [out["account_id"]])).get(out["account_id"])
        if ref is None:
            errors["account_id"] = [invalid_pk(str(values["account_id"])[:64])]
        else:
            out["account_id"], out["loan_id"] = ref.id, ref.loan_id
    if errors:
        raise ValidationFailed("Invalid interaction", field_errors=errors)
    return out


async def list_interactions(session: AsyncSession, caller: Caller, interaction_type: str,
                            loan_id: int) -> list[Interaction]:
    """The caller's visible interactions of this type on a loan it can see (oldest first)."""
    _check_type(interaction_type)
    loan = await get_loan(session, caller, loan_id)
    rows = await session.scalars(
        select(Interaction).where(Interaction.loan_id == loan.id,
                                  Interaction.interaction_type == interaction_type,
                                  interaction_scope(caller))
        .order_by(Interaction.timestamp, Interaction.id))
    return list(rows)


async def get_interaction(session: AsyncSession, caller: Caller, interaction_type: str,
                          interaction_id: int, *, for_update: bool = False) -> Interaction:
    """The interaction if the caller may see it; `for_update` locks it as get_customer does."""
    _check_type(interaction_type)
    row = None
    if valid_id(interaction_id):
        q = select(Interaction).where(
            Interaction.id == interaction_id, Interaction.interaction_type == interaction_type,
            interaction_scope(caller))
        if for_update:
            q = q.with_for_update(of=Interaction).execution_options(populate_existing=True)
        row = await session.scalar(q)
    if row is None:
        raise NotFound(f"{interaction_type.capitalize()} interaction {interaction_id} not found.")
    return row


async def create_interaction(session: AsyncSession, caller: Caller, interaction_type: str,
                             data: Mapping[str, Any]) -> Interaction:
    """Record a visit or a call. `disposition` and exactly one of `loan_id` and (beyond the spec)
    `account_id` are required; `created_by` and `timestamp` are the caller and now."""
    caller.require_write()
    _check_type(interaction_type)
    _require_recorder(caller, interaction_type)
    values = {k: data[k] for k in INTERACTION_FIELDS if k in data}
    missing = {k: [REQUIRED] for k in ("disposition",) if k not in data}
    if "loan_id" not in data and "account_id" not in data:
        missing["loan_id"] = [REQUIRED]
    try:
        clean = await _clean_interaction(session, caller, interaction_type, values)
    except ValidationFailed as exc:
        raise ValidationFailed("Invalid interaction",
                               field_errors=(exc.field_errors or {}) | missing) from exc
    if missing:
        raise ValidationFailed("Invalid interaction", field_errors=missing)
    now = utcnow()
    row = Interaction(org_id=caller.org_id, interaction_type=interaction_type, timestamp=now,
                      created_by_id=caller.user_id, comment=clean.pop("comment", ""), **clean)
    session.add(row)
    await session.flush()
    await events.record(session, org_id=caller.org_id, type="interaction.created", actor=caller.actor,
                        subject_type="interaction", subject_id=row.id, after=interaction_snapshot(row))
    return row


async def update_interaction(session: AsyncSession, caller: Caller, interaction_type: str,
                             interaction_id: int, changes: Mapping[str, Any]) -> Interaction:
    """Set exactly the given fields; the type, author and timestamp never change."""
    caller.require_write()
    row = await get_interaction(session, caller, interaction_type, interaction_id, for_update=True)
    if not _can_change_interaction(caller, row):
        raise Forbidden("Only the person who recorded an interaction, an admin or a manager may change it.")
    clean = await _clean_interaction(session, caller, interaction_type,
                                     {k: changes[k] for k in INTERACTION_FIELDS if k in changes})
    before = interaction_snapshot(row)
    for key, value in clean.items():
        setattr(row, key, value)
    await session.flush()
    after = interaction_snapshot(row)
    changed = sorted(k for k in after if after[k] != before[k])
    if changed:
        await events.record(session, org_id=caller.org_id, type="interaction.updated",
                            actor=caller.actor, subject_type="interaction", subject_id=row.id,
                            before=before, after=after, data={"changed": changed})
    return row


async def delete_interaction(session: AsyncSession, caller: Caller, interaction_type: str,
                             interaction_id: int) -> None:
    caller.require_write()
    row = await get_interaction(session, caller, interaction_type, interaction_id, for_update=True)
    if not _can_change_interaction(caller, row):
        raise Forbidden("Only the person who recorded an interaction, an admin or a manager may delete it.")
    before = interaction_snapshot(row)
    await session.delete(row)
    await session.flush()
    await events.record(session, org_id=caller.org_id, type="interaction.deleted", actor=caller.actor,
                        subject_type="interaction", subject_id=interaction_id, before=before)


async def due_interactions(session: AsyncSession, caller: Caller, on: date | None = None
                           ) -> list[tuple[Interaction, Loan, Customer]]:
    """The caller's work queue: for each loan it can see, the latest interaction (by timestamp),
    when its next_call_date is on or before `on` (today, UTC, by default) and the caller may see
    it. Most overdue first."""
    on = on or today_utc()
    latest = (select(Interaction.id.label("id"), func.row_number().over(
        partition_by=Interaction.loan_id,
        order_by=(Interaction.timestamp.desc(), Interaction.id.desc())).label("rn"))
        .where(Interaction.org_id == caller.org_id).subquery())
    q = (select(Interaction, Loan, Customer)
         .join(latest, and_(latest.c.id == Interaction.id, latest.c.rn == 1))
         .join(Loan, Loan.id == Interaction.loan_id)
         .join(Customer, Customer.id == Loan.customer_id)
         .where(Interaction.next_call_date.is_not(None), Interaction.next_call_date <= on,
                interaction_scope(caller), customer_scope(caller))
         .order_by(Interaction.next_call_date, Interaction.timestamp, Interaction.id))
    return [(r[0], r[1], r[2]) for r in (await session.execute(q)).all()]
