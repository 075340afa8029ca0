"""Interactions from a CSV file (RepaySync's bulk upload): a visit or a call from each good row,
each bad row reported with its line. The file's reading is csv_import's; the interaction rules are
interactions.py's."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events
from arrears.customers import csv_import
from arrears.customers.fields import BATCH, REQUIRED, FieldErrors, clean_int, invalid_pk
from arrears.customers.interactions import (
    ONE_OF_LOAN_OR_ACCOUNT,
    RECORDERS,
    PromiseRequest,
    clean_interaction_value,
    clean_promise_fields,
    normalise_disposition,
    org_today,
    record_promises,
    resolve_accounts,
)
from arrears.customers.loans import visible_loan_ids
from arrears.customers.models import INTERACTION_TYPES, Customer, Interaction, Loan
from arrears.customers.schemas import ImportResult, RowError
from arrears.customers.service import customer_scope
from arrears.db import utcnow
from arrears.errors import Conflict, ValidationFailed
from arrears.identity.caller import Caller

INTERACTION_CSV_COLUMNS = ("loan_id", "loan_account_number", "account", "comment", "disposition",
                           "next_call_date", "interaction_type", "promise_amount", "promise_date")
INTERACTION_CSV_ALIASES = {"loan": "loan_id", "type": "interaction_type", "notes": "comment",
                           "follow_up_date": "next_call_date", "account_number": "loan_account_number",
                           "account_id": "account"}


async def bulk_create_interactions(session: AsyncSession, caller: Caller, content: bytes) -> ImportResult:
    """Record an interaction from each good row of a CSV file (`interaction_type` defaults to
    field). A row names its loan by `loan_id` or, beyond the spec, `loan_account_number`, or
    (beyond the spec) an account owed by `account` (its UUID): exactly one of loan and account.
    Beyond the spec: `promise_amount` and `promise_date` (both or neither) record a promise to pay
    with the row's interaction, on its account (a loan's account for a loan)."""
    caller.require_write()
    today = await org_today(session, caller.org_id)
    promised: dict[str, tuple[Decimal, date]] = {}  # by the row's uuid
    table = csv_import.read_table(content, columns=INTERACTION_CSV_COLUMNS, required=("disposition",),
                                  one_of=(("loan_id", "loan_account_number", "account"),),
                                  aliases=INTERACTION_CSV_ALIASES)
    parsed: list[tuple[int, dict[str, Any], FieldErrors, str | None]] = []
    numbers: set[str] = set()
    for row in table.rows():
        if row.problem:
            parsed.append((row.line, {}, {"non_field_errors": [row.problem]}, None))
            continue
        errors: FieldErrors = {}
        kind = normalise_disposition(row.values.get("interaction_type", "")) or "field"
        kind = {"call": "calling", "visit": "field"}.get(kind, kind)
        if kind not in INTERACTION_TYPES:
            errors["interaction_type"] = [f'"{row.values["interaction_type"][:40]}" is not a valid choice. '
                                          "Use field or calling."]
        elif caller.role not in RECORDERS[kind]:
            errors["interaction_type"] = [f"Your role ({caller.role}) cannot record {kind} interactions."]
        clean: dict[str, Any] = {"interaction_type": kind}
        for key in ("comment", "disposition", "next_call_date"):
            raw = row.values.get(key, "")
            if key == "disposition" and not raw:
                errors[key] = [REQUIRED]
                continue
            if key == "disposition" and kind not in INTERACTION_TYPES:
                continue
            try:
                clean[key] = clean_interaction_value(kind if kind in INTERACTION_TYPES else "field",
                                                      key, raw)
            except ValueError as exc:
                errors[key] = [str(exc)]
        try:
            promise = clean_promise_fields(row.values.get("promise_amount"), row.values.get("promise_date"), today)
        except ValidationFailed as exc:
            errors.update(exc.field_errors or {})
            promise = None
        if promise is not None:
            clean["_promise"] = promise
        loan_text = row.values.get("loan_id", "")
        number = row.values.get("loan_account_number", "")
        account_text = row.values.get("account", "")
        if account_text and (loan_text or number):
            errors["non_field_errors"] = [ONE_OF_LOAN_OR_ACCOUNT]
        elif account_text:
            try:
                clean["account_id"] = clean_interaction_value(kind if kind in INTERACTION_TYPES else "field",
                                                              "account_id", account_text)
            except ValueError as exc:
                errors["account"] = [str(exc)]
        elif loan_text:
            try:
                clean["loan_id"] = clean_int(loan_text)
            except ValueError:
                errors["loan_id"] = ["A valid integer is required."]
        elif number:
            numbers.add(number)
        else:
            errors["loan_id"] = [REQUIRED]
        parsed.append((row.line, clean, errors, None if loan_text or account_text or not number else number))

    by_number: dict[str, int] = {}
    wanted_numbers = sorted(numbers)
    for i in range(0, len(wanted_numbers), BATCH):
        found = await session.execute(
            select(Loan.loan_account_number, Loan.id).join(Customer, Customer.id == Loan.customer_id)
            .where(Loan.org_id == caller.org_id, customer_scope(caller),
                   Loan.loan_account_number.in_(wanted_numbers[i:i + BATCH])))
        by_number.update({r.loan_account_number: r.id for r in found})
    for _line, clean, errors, account in parsed:
        if account is not None:
            if account in by_number:
                clean["loan_id"] = by_number[account]
            else:
                errors["loan_account_number"] = [f'No loan with account number "{account[:64]}".']
    visible = await visible_loan_ids(session, caller, [c["loan_id"] for _, c, _, _ in parsed
                                                        if "loan_id" in c])
    accounts = await resolve_accounts(session, caller, sorted({c["account_id"] for _, c, _, _ in parsed
                                                                if "account_id" in c}))
    for _line, clean, errors, _ in parsed:
        if "account_id" in clean:
            ref = accounts.get(clean["account_id"])
            if ref is None:
                errors["account"] = [invalid_pk(clean.pop("account_id"))]
            else:
                clean["account_id"], clean["loan_id"] = ref.id, ref.loan_id
                if ref.loan_id is not None:  # the account's own loan: visible with it
                    visible.add(ref.loan_id)

    result = ImportResult()
    now = utcnow()
    rows_out: list[dict[str, Any]] = []
    for line, clean, errors, _ in parsed:
        if clean.get("loan_id") is not None and clean["loan_id"] not in visible and "loan_id" not in errors:
            errors["loan_id"] = [invalid_pk(clean["loan_id"])]
        if errors:
            result.errors.append(RowError(line, errors))
            continue
        promise = clean.pop("_promise", None)
        rows_out.append({"org_id": caller.org_id, "uuid": uuid.uuid4(), "timestamp": now, "created_at": now,
                         "updated_at": now, "created_by_id": caller.user_id,
                         "account_id": None, **clean})
        if promise is not None:
            promised[str(rows_out[-1]["uuid"])] = promise
    result.created_ids = await _insert_many(session, Interaction, rows_out,
                                            "The upload clashed with another; upload it again.")
    result.records_created = len(result.created_ids)
    if result.records_created:
        await events.record(session, org_id=caller.org_id, type="interaction.bulk_created",
                            actor=caller.actor, subject_type="interaction_import",
                            subject_id=result.created_ids[0],
                            data={"records_created": result.records_created,
                                  "errors": len(result.errors), "interaction_ids": result.created_ids})
    await record_promises(session, caller, [
        PromiseRequest(new_id, row["account_id"], row.get("loan_id"), *promised[str(row["uuid"])])
        for new_id, row in zip(result.created_ids, rows_out, strict=True) if str(row["uuid"]) in promised])
    return result


async def _insert_many(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]],
                       race_message: str) -> list[int]:
    """Insert in batches of BATCH rows (one multi-row INSERT … RETURNING per batch, on both
    engines); the new ids in the order of `rows`, matched back through each row's uuid."""
    ids: list[int] = []
    try:
        for i in range(0, len(rows), BATCH):
            chunk = rows[i:i + BATCH]
            result = await session.execute(insert(model).returning(model.id, model.uuid), chunk)
            by_uuid = {u: new_id for new_id, u in result.all()}
            ids.extend(by_uuid[r["uuid"]] for r in chunk)
    except IntegrityError as exc:
        raise Conflict(race_message) from exc
    return ids
