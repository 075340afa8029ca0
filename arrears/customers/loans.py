"""The rules of loans: a loan belongs to a customer, and the caller sees the loans of the
customers it sees (see service.py for who sees what). Only admins and managers delete a loan; its
interactions go with it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events
from arrears.customers.fields import (
    BATCH,
    EARLIEST_DATE,
    NOT_BLANK,
    NOT_NULL,
    REQUIRED,
    FieldErrors,
    clean_decimal,
    clean_int,
    clean_text,
    flush_unique,
    invalid_pk,
    money,
    parse_date,
    valid_id,
)
from arrears.customers.models import Customer, Interaction, Loan
from arrears.customers.service import MANAGERS, customer_scope, get_customer
from arrears.errors import Conflict, NotFound, ValidationFailed
from arrears.identity.caller import Caller

MAX_PRINCIPAL = Decimal("999999999999.99")
MAX_RATE = Decimal("999.99")
MAX_TENURE = 600
LOAN_FIELDS = ("loan_account_number", "principal_amount", "interest_rate", "loan_type",
               "tenure_months", "loan_date", "customer_id")


def loan_snapshot(loan: Loan) -> dict[str, Any]:
    return {"id": loan.id, "customer_id": loan.customer_id,
            "loan_account_number": loan.loan_account_number,
            "principal_amount": money(loan.principal_amount), "interest_rate": money(loan.interest_rate),
            "loan_type": loan.loan_type, "tenure_months": loan.tenure_months, "loan_date": loan.loan_date}


def _loan_query(caller: Caller) -> Any:
    return (select(Loan).join(Customer, Customer.id == Loan.customer_id)
            .where(Loan.org_id == caller.org_id, customer_scope(caller)))


async def list_loans(session: AsyncSession, caller: Caller, customer_id: int | None = None) -> list[Loan]:
    q = _loan_query(caller)
    if customer_id is not None:
        customer = await get_customer(session, caller, customer_id)
        q = q.where(Loan.customer_id == customer.id)
    return list(await session.scalars(q.order_by(Loan.id)))


async def get_loan(session: AsyncSession, caller: Caller, loan_id: int, *, for_update: bool = False) -> Loan:
    """The loan if the caller may see it; `for_update` locks it as get_customer does."""
    loan = None
    if valid_id(loan_id):
        q = _loan_query(caller).where(Loan.id == loan_id)
        if for_update:
            q = q.with_for_update(of=Loan).execution_options(populate_existing=True)
        loan = await session.scalar(q)
    if loan is None:
        raise NotFound(f"Loan {loan_id} not found.")
    return loan


async def _clean_loan(session: AsyncSession, caller: Caller, values: Mapping[str, Any],
                      exclude_id: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    errors: FieldErrors = {}
    for key, raw in values.items():
        try:
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                raise ValueError(NOT_NULL if raw is None else NOT_BLANK)
            if key == "loan_account_number":
                text = clean_text(raw, 64)
                if not text:
                    raise ValueError(NOT_BLANK)
                out[key] = text
            elif key == "principal_amount":
                out[key] = clean_decimal(raw, low=Decimal(0), high=MAX_PRINCIPAL, low_inclusive=False)
            elif key == "interest_rate":
                out[key] = clean_decimal(raw, low=Decimal(0), high=MAX_RATE, low_inclusive=True)
            elif key == "loan_type":
                text = clean_text(raw, 50)
                if not text:
                    raise ValueError(NOT_BLANK)
                out[key] = text
            elif key == "tenure_months":
                months = clean_int(raw)
                if not 1 <= months <= MAX_TENURE:
                    raise ValueError(f"Ensure this value is between 1 and {MAX_TENURE}.")
                out[key] = months
            elif key == "loan_date":
                when = parse_date(raw)
                if when < EARLIEST_DATE:
                    raise ValueError(f"Ensure this date is on or after {EARLIEST_DATE.isoformat()}.")
                out[key] = when
            elif key == "customer_id":
                customer_id = clean_int(raw)
                visible = valid_id(customer_id) and await session.scalar(
                    select(Customer.id).where(Customer.id == customer_id, customer_scope(caller)))
                if not visible:
                    raise ValueError(invalid_pk(raw))
                out[key] = customer_id
        except ValueError as exc:
            errors.setdefault(key, []).append(str(exc))
    number = out.get("loan_account_number")
    if number:
        q = select(Loan.id).where(Loan.org_id == caller.org_id, Loan.loan_account_number == number)
        if exclude_id is not None:
            q = q.where(Loan.id != exclude_id)
        if await session.scalar(q.limit(1)) is not None:
            errors["loan_account_number"] = ["A loan with this loan account number already exists."]
    if errors:
        raise ValidationFailed("Invalid loan", field_errors=errors)
    return out


async def create_loan(session: AsyncSession, caller: Caller, data: Mapping[str, Any]) -> Loan:
    """A new loan; every field of LOAN_FIELDS is required and the customer must be one the caller
    can see in its organisation."""
    caller.require_write()
    missing = {k: [REQUIRED] for k in LOAN_FIELDS if k not in data}
    try:
        clean = await _clean_loan(session, caller, {k: data[k] for k in LOAN_FIELDS if k in data}, None)
    except ValidationFailed as exc:
        raise ValidationFailed("Invalid loan", field_errors=(exc.field_errors or {}) | missing) from exc
    if missing:
        raise ValidationFailed("Invalid loan", field_errors=missing)
    loan = Loan(org_id=caller.org_id, **clean)
    session.add(loan)
    await flush_unique(session, "loan_account_number",
                        "A loan with this loan account number already exists.")
    await events.record(session, org_id=caller.org_id, type="loan.created", actor=caller.actor,
                        subject_type="loan", subject_id=loan.id, after=loan_snapshot(loan))
    return loan


async def update_loan(session: AsyncSession, caller: Caller, loan_id: int,
                      changes: Mapping[str, Any]) -> Loan:
    caller.require_write()
    loan = await get_loan(session, caller, loan_id, for_update=True)
    clean = await _clean_loan(session, caller, {k: changes[k] for k in LOAN_FIELDS if k in changes},
                              loan.id)
    before = loan_snapshot(loan)
    for key, value in clean.items():
        setattr(loan, key, value)
    await flush_unique(session, "loan_account_number",
                        "A loan with this loan account number already exists.")
    after = loan_snapshot(loan)
    changed = sorted(k for k in after if after[k] != before[k])
    if changed:
        await events.record(session, org_id=caller.org_id, type="loan.updated", actor=caller.actor,
                            subject_type="loan", subject_id=loan.id, before=before, after=after,
                            data={"changed": changed})
    return loan


async def delete_loan(session: AsyncSession, caller: Caller, loan_id: int) -> None:
    """Admins and managers only; the loan's interactions go with it."""
    caller.require_write()
    loan = await get_loan(session, caller, loan_id, for_update=True)
    caller.require_role(*MANAGERS)
    before = loan_snapshot(loan)
    n = await session.scalar(select(func.count()).select_from(Interaction)
                             .where(Interaction.loan_id == loan.id)) or 0
    try:
        async with session.begin_nested():
            await session.execute(delete(Interaction).where(Interaction.loan_id == loan.id))
            await session.delete(loan)
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"Loan {loan_id} has records elsewhere and cannot be deleted.") from exc
    await events.record(session, org_id=caller.org_id, type="loan.deleted", actor=caller.actor,
                        subject_type="loan", subject_id=loan_id, before=before,
                        data={"interactions_deleted": n})


async def visible_loan_ids(session: AsyncSession, caller: Caller, ids: Iterable[int]) -> set[int]:
    wanted = sorted({i for i in ids if valid_id(i)})
    found: set[int] = set()
    for i in range(0, len(wanted), BATCH):
        found.update(await session.scalars(
            select(Loan.id).join(Customer, Customer.id == Loan.customer_id)
            .where(Loan.id.in_(wanted[i:i + BATCH]), Loan.org_id == caller.org_id, customer_scope(caller))))
    return found
