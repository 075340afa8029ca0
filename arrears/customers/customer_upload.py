"""Customers from a CSV file (RepaySync's bulk upload): each good row becomes a customer, each
bad row is reported with its line. The file's reading is csv_import's; the customer rules are the
customers service's."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events
from arrears.customers import csv_import
from arrears.customers.fields import BATCH, REQUIRED, today_utc
from arrears.customers.models import Customer
from arrears.customers.schemas import ImportResult, RowError
from arrears.customers.service import (
    CODE_TAKEN,
    GENERATE_ATTEMPTS,
    clean_customer_fields,
    generate_codes,
    insert_new_customers,
    officer_problem,
    org_region,
)
from arrears.db import utcnow
from arrears.errors import Conflict
from arrears.identity.caller import Caller
from arrears.identity.models import Membership, User

CUSTOMER_CSV_COLUMNS = ("customer_code", "name", "phone", "email", "address_line_1", "address_line_2",
                        "city", "state", "pincode", "date_of_birth", "assigned_collection_officer")
CUSTOMER_CSV_ALIASES = {"code": "customer_code", "customer_name": "name", "phone_number": "phone",
                        "mobile": "phone", "cell": "phone", "email_address": "email",
                        "address1": "address_line_1", "address2": "address_line_2",
                        "address_line1": "address_line_1", "address_line2": "address_line_2",
                        "pin_code": "pincode", "postal_code": "pincode", "dob": "date_of_birth",
                        "collection_officer": "assigned_collection_officer"}


async def bulk_create_customers(session: AsyncSession, caller: Caller, content: bytes) -> ImportResult:
    """Create a customer from each good row of a CSV file, in batched inserts; report each bad row
    with its line. A file that cannot be read at all (no header, wrong columns) raises CsvError
    and creates nothing.

    `assigned_collection_officer` (optional, beyond the spec) takes a user id or a username.
    """
    caller.require_write()
    table = csv_import.read_table(content, columns=CUSTOMER_CSV_COLUMNS, required=("name",),
                                  aliases=CUSTOMER_CSV_ALIASES)
    region = await org_region(session, caller.org_id)
    today = today_utc()
    # Held FOR KEY SHARE, as their foreign key did (PostgreSQL: migration 0032 dropped it).
    officers = {u.id: u for u in await session.scalars(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == caller.org_id, User.role == "collection_officer").order_by(User.id)
        .with_for_update(key_share=True, of=User))}
    by_username = {u.username.lower(): u.id for u in officers.values()}
    default_officer = caller.user_id if caller.role == "collection_officer" else None

    result = ImportResult()
    good: list[tuple[int, dict[str, Any]]] = []
    first_line_of: dict[str, int] = {}
    for row in table.rows():
        if row.problem:
            result.errors.append(RowError(row.line, {"non_field_errors": [row.problem]}))
            continue
        values: dict[str, Any] = {k: v for k, v in row.values.items() if k != "assigned_collection_officer"}
        clean, errors = clean_customer_fields(values, region=region, today=today)
        if not row.values.get("name"):
            errors["name"] = [REQUIRED]
        officer_text = row.values.get("assigned_collection_officer", "")
        officer: int | None = default_officer
        if officer_text:
            officer = (int(officer_text) if officer_text.isdigit()
                       else by_username.get(officer_text.lower()))
            if officer is None:
                errors["assigned_collection_officer"] = [
                    f'No collection officer with username "{officer_text[:50]}".']
            elif officer not in officers:
                errors["assigned_collection_officer"] = [
                    f"User {officer} is not a collection officer of this organisation."]
            elif problem := officer_problem(officer, officers):
                errors["assigned_collection_officer"] = [problem]
        clean["assigned_collection_officer_id"] = officer
        code = clean.get("customer_code")
        if code and "customer_code" not in errors:
            if code in first_line_of:
                errors["customer_code"] = [f'Duplicate customer code "{code}" in this file '
                                           f"(first on line {first_line_of[code]})."]
            else:
                first_line_of[code] = row.line
        if errors:
            result.errors.append(RowError(row.line, errors))
        else:
            good.append((row.line, clean))

    # Codes already in the database, looked up in chunks (never the whole table).
    given = [c for _, c in good if c.get("customer_code")]
    taken: set[str] = set()
    codes = [c["customer_code"] for c in given]
    for i in range(0, len(codes), BATCH):
        taken.update(await session.scalars(select(Customer.customer_code).where(
            Customer.org_id == caller.org_id, Customer.customer_code.in_(codes[i:i + BATCH]))))
    kept: list[tuple[int, dict[str, Any]]] = []
    for line, clean in good:
        if clean.get("customer_code") in taken:
            result.errors.append(RowError(line, {"customer_code": [CODE_TAKEN]}))
        else:
            kept.append((line, clean))
    generated = {line for line, clean in kept if not clean.get("customer_code")}

    now = utcnow()
    rows: dict[int, dict[str, Any]] = {line: {"org_id": caller.org_id, "uuid": uuid.uuid4(), "created_at": now, "updated_at": now,
                   "name": None, "phone": None, "phone_e164": None, "email": None,
                   "address_line_1": None, "address_line_2": None, "city": None, "state": None,
                   "pincode": None, "date_of_birth": None, "contact_person": None,
                   "assigned_collection_officer_id": None} | clean for line, clean in kept}
    # A concurrent upload (or create) may take a code between the check above and the insert:
    # the insert skips those rows (PostgreSQL waits for the other transaction to end first), a
    # given code is then reported as taken, as it would be had the other request come first,
    # and a generated one is replaced.
    created: dict[int, int] = {}
    pending = set(rows)
    for _attempt in range(GENERATE_ATTEMPTS):
        missing = sorted(line for line in pending if line in generated)
        fresh = await generate_codes(session, caller.org_id, len(missing), set(first_line_of))
        for line, code in zip(missing, fresh, strict=True):
            rows[line]["customer_code"] = code
        inserted = await insert_new_customers(session, [rows[line] for line in sorted(pending)])
        created.update({line: inserted[rows[line]["uuid"]] for line in pending if rows[line]["uuid"] in inserted})
        pending = {line for line in pending if line not in created}
        for line in sorted(pending - generated):
            result.errors.append(RowError(line, {"customer_code": [CODE_TAKEN]}))
        pending &= generated
        if not pending:
            break
    else:
        raise Conflict("Another upload created some of these customer codes at the same time; "
                       "upload the file again.")
    result.errors.sort(key=lambda e: e.line)
    result.created_ids = [created[line] for line in sorted(created)]
    result.records_created = len(result.created_ids)
    if result.records_created:
        await events.record(session, org_id=caller.org_id, type="customer.bulk_created",
                            actor=caller.actor, subject_type="customer_import",
                            subject_id=result.created_ids[0],
                            data={"records_created": result.records_created,
                                  "errors": len(result.errors), "customer_ids": result.created_ids})
    return result
