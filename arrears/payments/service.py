"""The rules of payments: recording (one, a bulk list), matching by hand, reversing, reading.

A payment names its account by `account` (the UUID of an accounts row) or by `reference` (a book
account's code or a loan's account number, matched within the organisation); one that matches no
account is kept `unmatched` (no account) until a person matches it. `amount` is more than 0 with
at most two decimals; `paidOn` the day it was paid; `externalId` (the bank's or the caller's id)
makes recording idempotent per organisation: the same id again adds nothing and answers the
payment it already made.

Who may:
- record, import and match: admins, managers and collection officers with write access, and
  `ins_` keys (their `payments:write` scope is the face's check);
- reverse (a bounced payment): admins and managers only;
- read: anyone in the organisation — a user sees the payments of the accounts they may see
  (arrears.accounts.service.account_scope) and the unmatched ones; a key all of its organisation's.
Another organisation's ids are 404.

Every change is audited through events with before/after: `payment.recorded` and
`payment.reversed` (webhook events), `payment.matched` (audit), `payments.imported` (one per
file). After each change the accounts' `paid_up`/`active` statuses are settled and the
arrears.payments.hooks handlers run, in the same transaction.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, String, and_, any_, bindparam, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events
from arrears.accounts import service as accounts
from arrears.accounts.ageing import level_schedule
from arrears.accounts.models import Account
from arrears.customers.models import Loan
from arrears.db import advisory_lock, utcnow
from arrears.debtors.models import DebtorAccount
from arrears.errors import Conflict, Forbidden, NotFound, ValidationFailed
from arrears.identity.caller import Caller
from arrears.payments import balances
from arrears.payments.allocation import OLDEST_FIRST, allocate_buckets, fill_instalments
from arrears.payments.errors import PaymentErrorCode
from arrears.payments.hooks import notify as notify_payments_changed
from arrears.payments.models import STATUSES, Payment, PaymentImport
from arrears.validation import NOT_A_DATE, clean_amount, clean_date, clean_text
from arrears.visible import get_visible, parse_uuid

RECORDED_EVENT = "payment.recorded"
REVERSED_EVENT = "payment.reversed"
MATCHED_EVENT = "payment.matched"
IMPORTED_EVENT = "payments.imported"
RECORDERS = ("admin", "manager", "collection_officer")
MAX_BULK = 1000
MAX_NOTE = 2000
_METHOD = re.compile(r"[a-z0-9_ -]{1,32}")
MATCH_CHUNK = 500
PAYMENTS_LOCK = 0x5041594D  # "PAYM", keyed by the organisation


async def lock_payments(session: AsyncSession, org_id: int) -> None:
    """Hold the organisation's payments until this transaction ends: two requests (or imports)
    recording the same external id take turns, so the second finds the first's payment instead of
    failing on the unique index."""
    await advisory_lock(session, PAYMENTS_LOCK, org_id)


# ------------------------------------------------------------------ who may


def require_recorder(caller: Caller) -> None:
    """Recording, importing and matching: admins, managers, collection officers with write access; keys."""
    caller.require_write()
    if caller.kind == "user" and caller.role not in RECORDERS:
        raise Forbidden("Only admins, managers and collection officers may record, import or match payments.")


def require_reverser(caller: Caller) -> None:
    caller.require_write()
    if caller.kind != "user" or not caller.is_manager_or_admin:
        raise Forbidden("Only admins and managers may reverse a payment.")


def payment_scope(caller: Caller) -> ColumnElement[bool]:
    org = Payment.org_id == caller.org_id
    if caller.kind == "api_key":
        return org
    return and_(org, or_(Payment.account_id.is_(None),
                         Payment.account_id.in_(select(Account.id).where(accounts.account_scope(caller)))))


# ------------------------------------------------------------------ input


@dataclass(frozen=True)
class PaymentIn:
    account_id: uuid.UUID | None
    reference: str | None
    amount: Decimal
    paid_on: date
    method: str | None
    external_id: str | None
    note: str | None


def clean_payment(data: Mapping[str, Any]) -> tuple[PaymentIn | None, dict[str, list[str]]]:
    """A payment body (camelCase keys) checked: (the payment, {}) or (None, field errors)."""
    errors: dict[str, list[str]] = {}
    known = {"account", "accountId", "reference", "amount", "paidOn", "method", "externalId", "note"}
    for key in data:
        if key not in known:
            errors[key] = ["Unknown field."]
    account_raw = data.get("account", data.get("accountId"))
    account_id = None
    if account_raw is not None:
        account_id = accounts.parse_account_id(account_raw)
        if account_id is None:
            errors["account"] = ["Not a valid account id (a UUID)."]
    reference = None
    try:
        reference = clean_text(data.get("reference"), 255)
    except ValueError as exc:
        errors["reference"] = [str(exc)]
    if account_raw is None and not reference and "reference" not in errors:
        errors["account"] = ["Give the account (its id) or a reference (account code or loan number)."]
    amount = Decimal(0)
    try:
        amount = clean_amount(data.get("amount"))
    except ValueError as exc:
        errors["amount"] = [str(exc)]
    paid_on = date.min
    try:
        paid_on = clean_date(data.get("paidOn"))
        if paid_on.year < 1900:
            raise ValueError(NOT_A_DATE)
    except ValueError as exc:
        errors["paidOn"] = [str(exc)]
    method = None
    try:
        method = clean_text(data.get("method"), 32)
        if method is not None:
            method = method.lower()
            if not _METHOD.fullmatch(method):
                raise ValueError("Letters, digits, spaces, _ and - only (eft, cash, card, debit_order …).")
    except ValueError as exc:
        errors["method"] = [str(exc)]
    external_id = note = None
    for key, limit in (("externalId", 128), ("note", MAX_NOTE)):
        try:
            value = clean_text(data.get(key), limit)
        except ValueError as exc:
            errors[key] = [str(exc)]
            continue
        if key == "externalId":
            external_id = value
        else:
            note = value
    if errors:
        return None, errors
    return PaymentIn(account_id, reference, amount, paid_on, method, external_id, note), {}


# ------------------------------------------------------------------ matching by reference


def among(session: AsyncSession, column: Any, values: Sequence[str]) -> list[ColumnElement[bool]]:
    """`column` among `values`, as few conditions as the engine allows: one `= ANY(array)` on
    PostgreSQL (one parameter however many values), IN lists of MATCH_CHUNK on SQLite."""
    wanted = sorted(set(values))
    if not wanted:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return [column == any_(bindparam(None, wanted, type_=ARRAY(String())))]
    return [column.in_(wanted[i:i + MATCH_CHUNK]) for i in range(0, len(wanted), MATCH_CHUNK)]


async def match_references(session: AsyncSession, org_id: int, references: Sequence[str]
                           ) -> dict[str, uuid.UUID]:
    """The account of each reference that names exactly one: a book account's code or a loan's
    account number, as written or in capitals."""
    wanted = {r for r in references if r} | {r.upper() for r in references if r}
    found: dict[str, set[uuid.UUID]] = {}
    queries = [select(DebtorAccount.account_code, Account.id).join(Account, Account.debtor_account_id == DebtorAccount.id)
               .where(DebtorAccount.org_id == org_id, c) for c in among(session, DebtorAccount.account_code, list(wanted))]
    queries += [select(Loan.loan_account_number, Account.id).join(Account, Account.loan_id == Loan.id)
                .where(Loan.org_id == org_id, c) for c in among(session, Loan.loan_account_number, list(wanted))]
    for q in queries:
        for ref, account_id in await session.execute(q):
            found.setdefault(ref, set()).add(account_id)
    out: dict[str, uuid.UUID] = {}
    for ref in references:
        hits = (found.get(ref) or found.get(ref.upper())) if ref else None
        if hits and len(hits) == 1:
            out[ref] = next(iter(hits))
    return out


TOKEN_PATTERN = r"[A-Za-z0-9][A-Za-z0-9/_.-]*[A-Za-z0-9]"  # the same in PostgreSQL's regular expressions
_TOKEN = re.compile(TOKEN_PATTERN)


def reference_tokens(text: str) -> list[str]:
    """The words of a bank narrative that could be an account code ('ACB CREDIT K1001' → K1001):
    with a digit in them, at least two characters."""
    return [t for t in _TOKEN.findall(text) if any(ch.isdigit() for ch in t)]


async def match_lines(session: AsyncSession, org_id: int, references: Sequence[str]) -> dict[str, uuid.UUID]:
    """Each reference's account: the whole reference first, else the one account its words name."""
    exact = await match_references(session, org_id, references)
    return {**exact, **await match_words(session, org_id, [r for r in set(references) if r and r not in exact])}


async def match_words(session: AsyncSession, org_id: int, texts: Sequence[str]) -> dict[str, uuid.UUID]:
    """The one account the words of each text name, for texts that named none whole. A word that
    is one of those texts (a reference that is a single word, the usual unknown code) was looked
    up already and named none: it is not asked again."""
    tried = set(texts)
    tokens = {r: reference_tokens(r) for r in tried if r}
    by_token = await match_references(session, org_id,
                                      sorted({t for ts in tokens.values() for t in ts if t not in tried}))
    out: dict[str, uuid.UUID] = {}
    for ref, ts in tokens.items():
        hits = {by_token[t] for t in ts if t in by_token}
        if len(hits) == 1:
            out[ref] = hits.pop()
    return out


# ------------------------------------------------------------------ recording


def payment_after(p: Payment) -> dict[str, Any]:
    """The audit's view of a payment."""
    return {"accountId": str(p.account_id) if p.account_id else None, "amount": p.amount,
            "paidOn": p.paid_on.isoformat(), "status": p.status, "method": p.method, "reference": p.reference,
            "externalId": p.external_id}


def _event(p: Payment, type_: str, actor: str, before: dict[str, Any] | None) -> dict[str, Any]:
    return {"org_id": p.org_id, "type": type_, "actor": actor, "subject_type": "payment", "subject_id": p.id,
            "before": before, "after": payment_after(p),
            "data": {"paymentId": str(p.id), **payment_after(p)}}


@dataclass(frozen=True)
class Recorded:
    payment: Payment
    created: bool  # False: its external id was recorded before, nothing added


async def _existing(session: AsyncSession, org_id: int, external_ids: Sequence[str]) -> dict[str, Payment]:
    out: dict[str, Payment] = {}
    wanted = sorted(set(external_ids))
    for start in range(0, len(wanted), MATCH_CHUNK):
        rows = await session.scalars(select(Payment).where(Payment.org_id == org_id,
                                                           Payment.external_id.in_(wanted[start:start + MATCH_CHUNK])))
        out.update({p.external_id: p for p in rows if p.external_id is not None})
    return out


async def record_many(session: AsyncSession, caller: Caller, items: Sequence[Mapping[str, Any]], *,
                      bulk: bool = True) -> list[Recorded]:
    """Record a list of payments (all checked first: one bad item refuses the list, naming it, and
    nothing is written). An item whose `externalId` was recorded before answers that payment."""
    require_recorder(caller)
    if not isinstance(items, Sequence) or not items:
        raise ValidationFailed("Invalid payments: give at least one.", field_errors={"payments": ["Give at least one."]})
    if len(items) > MAX_BULK:
        raise ValidationFailed(f"Invalid payments: at most {MAX_BULK} at once.",
                               field_errors={"payments": [f"At most {MAX_BULK} at once."]})
    errors: dict[str, list[str]] = {}
    clean: list[PaymentIn] = []
    prefix = "payments" if bulk else ""  # a bulk list's errors name the item: payments[3].amount
    for n, item in enumerate(items):
        if not isinstance(item, Mapping):
            errors[f"payments[{n}]"] = ["Must be an object."]
            continue
        p, errs = clean_payment(item)
        errors.update({(f"{prefix}[{n}].{k}" if prefix else k): v for k, v in errs.items()})
        if p is not None:
            clean.append(p)
    if errors:
        raise ValidationFailed("Invalid payment: " + ", ".join(errors), field_errors=errors)
    # Named accounts must be ones the caller sees (404 otherwise, another organisation's too).
    by_id: dict[uuid.UUID, Account] = {}
    for named in sorted({p.account_id for p in clean if p.account_id is not None}):
        by_id[named] = await accounts.get_account(session, caller, named)
    matched = await match_lines(session, caller.org_id, [p.reference for p in clean
                                                         if p.account_id is None and p.reference])
    await lock_payments(session, caller.org_id)
    existing = await _existing(session, caller.org_id, [p.external_id for p in clean if p.external_id])
    now = utcnow()
    out: list[Recorded] = []
    new: list[Payment] = []
    for p in clean:
        if p.external_id and p.external_id in existing:
            out.append(Recorded(existing[p.external_id], False))
            continue
        account_id = p.account_id or (matched.get(p.reference) if p.reference else None)
        row = Payment(id=uuid.uuid4(), org_id=caller.org_id, account_id=account_id, amount=p.amount,
                      paid_on=p.paid_on, method=p.method, reference=p.reference, external_id=p.external_id,
                      status="recorded" if account_id else "unmatched", source="api", note=p.note,
                      created_by=caller.actor, created_at=now, updated_at=now)
        new.append(row)
        out.append(Recorded(row, True))
        if p.external_id:
            existing[p.external_id] = row  # the same id twice in one list: the second adds nothing
    if new:
        session.add_all(new)
        await session.flush()
        await events.record_many(session, [_event(p, RECORDED_EVENT, caller.actor, None) for p in new])
        await changed(session, caller, [p.account_id for p in new])
    return out


async def record(session: AsyncSession, caller: Caller, data: Mapping[str, Any]) -> Recorded:
    if not isinstance(data, Mapping):
        raise ValidationFailed("Invalid payment: the body must be an object.")
    return (await record_many(session, caller, [data], bulk=False))[0]


async def changed(session: AsyncSession, caller: Caller, account_ids: Sequence[uuid.UUID | None],
                  import_id: uuid.UUID | None = None) -> None:
    """After the caller changed payments (these accounts', or an import's): settle the accounts'
    paid_up/active statuses, then run the hooks (write access; the caller's organisation only)."""
    caller.require_write()
    ids = sorted({i for i in account_ids if i is not None})
    if not ids:
        return
    await balances.settle(session, caller, account_ids=() if import_id else ids, import_id=import_id)
    await notify_payments_changed(session, caller.org_id, ids)


# ------------------------------------------------------------------ reading


async def get_payment(session: AsyncSession, caller: Caller, payment_id: Any, *, for_update: bool = False) -> Payment:
    return await get_visible(session, Payment, payment_id, payment_scope(caller), "Payment", for_update=for_update)


@dataclass(frozen=True)
class PaymentFilter:
    status: str | None = None
    account_id: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    import_id: str | None = None


def list_query(caller: Caller, f: PaymentFilter) -> Select[Any]:
    errors: dict[str, list[str]] = {}
    q = select(Payment).where(payment_scope(caller))
    if f.status is not None:
        if f.status not in STATUSES:
            errors["status"] = [f"Must be one of {', '.join(STATUSES)}."]
        q = q.where(Payment.status == f.status)
    if f.account_id is not None:
        key = accounts.parse_account_id(f.account_id)
        if key is None:
            errors["accountId"] = ["Not a valid account id (a UUID)."]
        q = q.where(Payment.account_id == key)
    if f.import_id is not None:
        key = parse_uuid(f.import_id)
        if key is None:
            errors["importId"] = ["Not a valid import id (a UUID)."]
        q = q.where(Payment.import_id == key)
    if f.date_from is not None:
        q = q.where(Payment.paid_on >= f.date_from)
    if f.date_to is not None:
        q = q.where(Payment.paid_on <= f.date_to)
    if f.date_from and f.date_to and f.date_from > f.date_to:
        errors["dateFrom"] = ["Must be on or before dateTo."]
    if errors:
        raise ValidationFailed("Invalid list parameters: " + ", ".join(errors), field_errors=errors)
    return q


async def list_payments(session: AsyncSession, caller: Caller, f: PaymentFilter, *, offset: int, limit: int
                        ) -> tuple[list[Payment], int]:
    q = list_query(caller, f)
    total = int(await session.scalar(select(func.count()).select_from(q.subquery())) or 0)
    rows = list(await session.scalars(q.order_by(Payment.paid_on.desc(), Payment.created_at.desc(), Payment.id)
                                      .offset(offset).limit(limit)))
    return rows, total


async def payments_of_account(session: AsyncSession, account: Account) -> list[Payment]:
    return list(await session.scalars(select(Payment).where(Payment.account_id == account.id)
                                      .order_by(Payment.paid_on, Payment.created_at, Payment.id)))


async def get_import(session: AsyncSession, caller: Caller, import_id: Any) -> PaymentImport:
    key = parse_uuid(import_id)
    row = await session.scalar(select(PaymentImport).where(PaymentImport.id == key,
                                                          PaymentImport.org_id == caller.org_id)) if key else None
    if row is None:
        raise NotFound(f"Payments import {str(import_id)[:64]} not found.")
    return row


# ------------------------------------------------------------------ match, reverse


async def match(session: AsyncSession, caller: Caller, payment_id: Any, account_id: Any) -> Payment:
    """Give an unmatched payment its account (one the caller sees); it then counts as recorded."""
    require_recorder(caller)
    payment = await get_payment(session, caller, payment_id, for_update=True)
    if accounts.parse_account_id(account_id) is None:
        raise ValidationFailed("Invalid match: accountId", field_errors={"accountId": ["Not a valid account id (a UUID)."]})
    account = await accounts.get_account(session, caller, account_id)
    if payment.status != "unmatched":
        raise Conflict(f"Only an unmatched payment can be matched; this one is {payment.status}.",
                       code=PaymentErrorCode.PAYMENT_NOT_UNMATCHED)
    before = payment_after(payment)
    now = utcnow()
    payment.account_id, payment.status = account.id, "recorded"
    payment.matched_by, payment.matched_at, payment.updated_at = caller.actor, now, now
    await session.flush()
    await events.record_many(session, [_event(payment, MATCHED_EVENT, caller.actor, before)])
    await changed(session, caller, [account.id])
    return payment


async def reverse(session: AsyncSession, caller: Caller, payment_id: Any, reason: Any) -> Payment:
    """A bounced payment: `reversed`, kept for the record, counting nowhere from now on."""
    require_reverser(caller)
    payment = await get_payment(session, caller, payment_id, for_update=True)
    try:
        clean_reason = clean_text(reason, MAX_NOTE, required="A reason is required.")
    except ValueError as exc:
        raise ValidationFailed("Invalid reversal: reason", field_errors={"reason": [str(exc)]}) from None
    if payment.status == "reversed":
        raise Conflict("This payment is reversed already.", code=PaymentErrorCode.PAYMENT_REVERSED)
    before = payment_after(payment)
    now = utcnow()
    payment.status = "reversed"
    payment.reversed_by, payment.reversed_at, payment.reversal_reason, payment.updated_at = (
        caller.actor, now, clean_reason, now)
    await session.flush()
    ev = _event(payment, REVERSED_EVENT, caller.actor, before)
    ev["data"]["reason"] = clean_reason
    await events.record_many(session, [ev])
    await changed(session, caller, [payment.account_id])
    return payment


# ------------------------------------------------------------------ allocation, per account


async def allocation_of(session: AsyncSession, account: Account) -> dict[str, Any]:
    """Where an account's counted payments went: a book account's buckets net of them (oldest
    first), a loan's instalments with what each has been paid."""
    paid = (await accounts.net_payments(session, [account.id]))[account.id]
    if account.kind == "book":
        book = await session.get(DebtorAccount, account.debtor_account_id)
        assert book is not None
        buckets = {name: getattr(book, name) for name in OLDEST_FIRST}
        return {"paid": paid, "buckets": allocate_buckets(buckets, paid)}
    loan = await session.get(Loan, account.loan_id)
    assert loan is not None
    schedule = level_schedule(loan.principal_amount, loan.tenure_months, loan.loan_date)
    return {"paid": paid, "instalments": [{"number": i.number, "dueDate": i.due.isoformat(), "amount": i.amount,
                                           "paid": covered} for i, covered in fill_instalments(schedule, paid)]}
