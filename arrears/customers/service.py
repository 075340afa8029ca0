"""The rules of customers, loans and interactions (field visits and calls).

Services take a session and the caller, flush and never commit (the request scope does). Every
query is scoped to the caller's organisation; another organisation's ids are simply not found.

Who sees what (the RepaySync roles):

- admin, manager: everything in their organisation.
- collection_officer: the customers assigned to them, those customers' loans, every interaction
  on those loans, and any interaction they recorded themselves.
- calling_agent, field_officer: every customer and loan (they work the whole book), but only the
  interactions they recorded themselves, of their own kind (calls, visits).

Who may change what (on top of write access to the organisation):

- customers and loans: anyone who can see them may create and update them; only admins and
  managers delete them (a delete removes the loans and interactions under them).
- field interactions: admins, managers, collection officers and field officers record them;
  calling interactions: admins, managers, collection officers and calling agents. Only the
  person who recorded an interaction, an admin or a manager changes or deletes it.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, false, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events
from arrears.customers import csv_import
from arrears.customers.models import INTERACTION_TYPES, Customer, Interaction, Loan
from arrears.customers.phones import parse_email, parse_phone, region_or_default, try_parse_phone
from arrears.customers.schemas import CustomerSeed, ImportResult, RowError, TimelineEntry, TimelineSource
from arrears.db import dialect_insert, utcnow
from arrears.errors import Conflict, Forbidden, NotFound, ValidationFailed
from arrears.identity import service as identity
from arrears.identity.caller import Caller
from arrears.identity.models import Membership, User

# ------------------------------------------------------------------ vocabulary

MANAGERS = ("admin", "manager")
SEE_ALL_CUSTOMERS = ("admin", "manager", "calling_agent", "field_officer")

FIELD_DISPOSITIONS = ("visited", "not_home", "promise_to_pay", "paid", "partial_payment", "refused",
                      "dispute", "wrong_address", "moved")
CALLING_DISPOSITIONS = ("called", "no_answer", "promise_to_pay", "paid", "partial_payment", "refused",
                        "dispute", "wrong_number", "callback_requested", "voicemail")
DISPOSITIONS: dict[str, tuple[str, ...]] = {"field": FIELD_DISPOSITIONS, "calling": CALLING_DISPOSITIONS}
RECORDERS: dict[str, tuple[str, ...]] = {
    "field": ("admin", "manager", "collection_officer", "field_officer"),
    "calling": ("admin", "manager", "collection_officer", "calling_agent"),
}

# Generated customer codes: no 0/O, 1/I/L lookalikes.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
MAX_CODE_LENGTH = 50
MAX_ID = 2**31 - 1  # ids beyond an INTEGER column are not found, never a database error
MAX_COMMENT = 10_000
EARLIEST_DATE = date(1900, 1, 1)
MAX_PRINCIPAL = Decimal("999999999999.99")
MAX_RATE = Decimal("999.99")
MAX_TENURE = 600
CENT = Decimal("0.01")
BATCH = 1000
GENERATE_ATTEMPTS = 5  # fresh codes to try when a generated one was taken by a concurrent request

CUSTOMER_FIELDS = ("customer_code", "name", "phone", "email", "assigned_collection_officer_id",
                   "address_line_1", "address_line_2", "city", "state", "pincode", "date_of_birth",
                   "contact_person")
CUSTOMER_TEXT_LIMITS = {"name": 255, "address_line_1": 255, "address_line_2": 255, "city": 100,
                        "state": 100, "pincode": 20, "contact_person": 255}
LOAN_FIELDS = ("loan_account_number", "principal_amount", "interest_rate", "loan_type",
               "tenure_months", "loan_date", "customer_id")
INTERACTION_FIELDS = ("loan_id", "comment", "disposition", "next_call_date")

REQUIRED = "This field is required."
NOT_NULL = "This field may not be null."
NOT_BLANK = "This field may not be blank."

_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?Z?)?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

FieldErrors = dict[str, list[str]]


def today_utc() -> date:
    return utcnow().date()


def _invalid_pk(value: Any) -> str:
    return f'Invalid pk "{value}" - object does not exist.'


# ------------------------------------------------------------------ value parsing


def parse_date(value: Any) -> date:
    """A date from a date or an ISO string (YYYY-MM-DD; YYYY/MM/DD and a midnight time are
    accepted from spreadsheets); ValueError otherwise."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        m = _DATE.match(value.strip())
        if m:
            try:
                return date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                pass
    raise ValueError("Date has wrong format. Use one of these formats instead: YYYY-MM-DD.")


def _text(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            raise ValueError("Not a valid string.")
        value = str(value)
    value = " ".join(value.split())  # one line: tabs, newlines and runs of spaces become one space
    if _CONTROL.search(value):
        raise ValueError("Remove the control characters from this field.")
    if len(value) > limit:
        raise ValueError(f"Ensure this field has no more than {limit} characters.")
    return value or None


def _decimal(value: Any, *, low: Decimal, high: Decimal, low_inclusive: bool) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValueError("A valid number is required.")
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation as exc:
        raise ValueError("A valid number is required.") from exc
    if not number.is_finite():
        raise ValueError("A valid number is required.")
    if number != number.quantize(CENT, rounding="ROUND_DOWN"):
        raise ValueError("Ensure that there are no more than 2 decimal places.")
    if number < low or (number == low and not low_inclusive):
        op = "greater than or equal to" if low_inclusive else "greater than"
        raise ValueError(f"Ensure this value is {op} {low}.")
    if number > high:
        raise ValueError(f"Ensure this value is less than or equal to {high}.")
    return number.quantize(CENT)


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("A valid integer is required.")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("+").isdigit():
        return int(value.strip())
    raise ValueError("A valid integer is required.")


def money(value: Decimal) -> str:
    """"50000.00": money and rates as RepaySync writes them."""
    return format(Decimal(value).quantize(CENT), "f")


def normalise_disposition(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", value.strip().lower()).strip("_")


# ------------------------------------------------------------------ scopes


def _valid_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def customer_scope(caller: Caller) -> ColumnElement[bool]:
    """The customers this caller may see."""
    org = Customer.org_id == caller.org_id
    if caller.role in SEE_ALL_CUSTOMERS:
        return org
    if caller.role == "collection_officer" and caller.user_id is not None:
        return and_(org, Customer.assigned_collection_officer_id == caller.user_id)
    return false()


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


def _can_change_interaction(caller: Caller, row: Interaction) -> bool:
    return caller.role in MANAGERS or (caller.user_id is not None and row.created_by_id == caller.user_id)


async def _region(session: AsyncSession, org_id: int) -> str:
    org = await identity.get_org(session, org_id)
    return region_or_default(identity.org_setting(org, "default_region"))


# ------------------------------------------------------------------ customers: snapshots, cleaning


def customer_snapshot(c: Customer) -> dict[str, Any]:
    return {"id": c.id, "customer_code": c.customer_code, "name": c.name, "phone": c.phone,
            "phone_e164": c.phone_e164, "email": c.email, "contact_person": c.contact_person,
            "address_line_1": c.address_line_1, "address_line_2": c.address_line_2, "city": c.city,
            "state": c.state, "pincode": c.pincode, "date_of_birth": c.date_of_birth,
            "assigned_collection_officer_id": c.assigned_collection_officer_id}


def clean_customer_fields(values: Mapping[str, Any], *, region: str, today: date
                          ) -> tuple[dict[str, Any], FieldErrors]:
    """Each given field, checked and normalised on its own (no database). Blank text → None."""
    out: dict[str, Any] = {}
    errors: FieldErrors = {}
    for key, raw in values.items():
        try:
            if key == "customer_code":
                code = _text(raw, MAX_CODE_LENGTH)
                out[key] = " ".join(code.split()) if code else None
            elif key == "phone":
                text = _text(raw, 64)
                phone = parse_phone(text, region) if text else None
                out["phone"] = phone.display if phone else None
                out["phone_e164"] = phone.e164 if phone else None
            elif key == "email":
                text = _text(raw, 254)
                out[key] = parse_email(text) if text else None
            elif key == "date_of_birth":
                if raw is None or (isinstance(raw, str) and not raw.strip()):
                    out[key] = None
                else:
                    dob = parse_date(raw)
                    if dob > today:
                        raise ValueError("Date of birth cannot be in the future.")
                    if dob < EARLIEST_DATE:
                        raise ValueError(f"Date of birth cannot be before {EARLIEST_DATE.isoformat()}.")
                    out[key] = dob
            elif key == "assigned_collection_officer_id":
                out[key] = None if raw is None or raw == "" else _int(raw)
            elif key in CUSTOMER_TEXT_LIMITS:
                out[key] = _text(raw, CUSTOMER_TEXT_LIMITS[key])
            else:
                raise ValueError("Unknown field.")
        except ValueError as exc:
            errors.setdefault(key, []).append(str(exc))
    if "name" in values and "name" not in errors and out.get("name") is None:
        errors["name"] = [NOT_NULL if values["name"] is None else NOT_BLANK]
    return out, errors


async def _officers(session: AsyncSession, org_id: int, ids: Iterable[int]) -> dict[int, User]:
    wanted = [i for i in set(ids) if _valid_id(i)]
    if not wanted:
        return {}
    rows = await session.scalars(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == org_id, User.id.in_(wanted)))
    return {u.id: u for u in rows}


def _officer_problem(user_id: int, found: Mapping[int, User]) -> str | None:
    user = found.get(user_id)
    if user is None:
        return _invalid_pk(user_id)
    if user.role != "collection_officer":
        return f"User {user_id} is not a collection officer."
    if not user.is_active:
        return f"User {user_id} is inactive."
    return None


async def _code_taken(session: AsyncSession, org_id: int, code: str, exclude_id: int | None = None
                      ) -> bool:
    q = select(Customer.id).where(Customer.org_id == org_id, Customer.customer_code == code)
    if exclude_id is not None:
        q = q.where(Customer.id != exclude_id)
    return (await session.scalar(q.limit(1))) is not None


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


async def _generate_codes(session: AsyncSession, org_id: int, count: int, avoid: set[str]) -> list[str]:
    """`count` fresh codes, unique among themselves, `avoid` and the organisation's customers."""
    codes: list[str] = []
    while len(codes) < count:
        batch = {new_code() for _ in range(count - len(codes))} - avoid - set(codes)
        if batch:
            taken = set(await session.scalars(select(Customer.customer_code).where(
                Customer.org_id == org_id, Customer.customer_code.in_(batch))))
            codes.extend(sorted(batch - taken))
    return codes


async def _check_customer_rules(session: AsyncSession, caller: Caller, clean: dict[str, Any],
                                errors: FieldErrors, *, exclude_id: int | None) -> None:
    """Database checks: the code is free, the officer is a collection officer of the org."""
    if caller.role == "collection_officer" and "assigned_collection_officer_id" in clean \
            and clean["assigned_collection_officer_id"] is None:
        # A collection officer's customers are never left unassigned (they would vanish from view).
        clean["assigned_collection_officer_id"] = caller.user_id
    officer = clean.get("assigned_collection_officer_id")
    if officer is not None and "assigned_collection_officer_id" not in errors:
        problem = _officer_problem(officer, await _officers(session, caller.org_id, [officer]))
        if problem:
            errors["assigned_collection_officer_id"] = [problem]
    code = clean.get("customer_code")
    if code and "customer_code" not in errors and await _code_taken(session, caller.org_id, code,
                                                                   exclude_id):
        errors["customer_code"] = ["A customer with this customer code already exists."]


# ------------------------------------------------------------------ customers: the API


async def list_customers(session: AsyncSession, caller: Caller) -> list[Customer]:
    rows = await session.scalars(select(Customer).where(customer_scope(caller)).order_by(Customer.id))
    return list(rows)


async def get_customer(session: AsyncSession, caller: Caller, customer_id: int, *,
                       for_update: bool = False) -> Customer:
    """The customer if the caller may see it; NotFound for other organisations' ids.
    `for_update` locks the row (PostgreSQL) so that a concurrent change or delete of it waits,
    then sees the outcome: a customer deleted meanwhile is not found, never changed twice."""
    customer = None
    if _valid_id(customer_id):
        q = select(Customer).where(Customer.id == customer_id, customer_scope(caller))
        if for_update:
            q = q.with_for_update(of=Customer).execution_options(populate_existing=True)
        customer = await session.scalar(q)
    if customer is None:
        raise NotFound(f"Customer {customer_id} not found.")
    return customer


async def create_customer(session: AsyncSession, caller: Caller, data: Mapping[str, Any]) -> Customer:
    """A new customer. `data` keys: CUSTOMER_FIELDS; `name` is required; a missing or null
    `customer_code` is generated."""
    caller.require_write()
    values = {k: data.get(k) for k in CUSTOMER_FIELDS if k in data}
    values.setdefault("assigned_collection_officer_id", None)
    clean, errors = clean_customer_fields(values, region=await _region(session, caller.org_id),
                                          today=today_utc())
    if "name" not in values:
        errors["name"] = [REQUIRED]
    await _check_customer_rules(session, caller, clean, errors, exclude_id=None)
    if errors:
        raise ValidationFailed("Invalid customer", field_errors=errors)
    generated = not clean.get("customer_code")
    attempts = GENERATE_ATTEMPTS if generated else 1
    for attempt in range(attempts):
        if generated:
            clean["customer_code"] = (await _generate_codes(session, caller.org_id, 1, set()))[0]
        customer = Customer(org_id=caller.org_id, **clean)
        try:
            # A savepoint: a concurrent request that took the same code leaves this transaction
            # usable, to answer the spec's field error or to try another generated code.
            async with session.begin_nested():
                session.add(customer)
                await session.flush()
            break
        except IntegrityError as exc:
            if attempt == attempts - 1:
                message = "A customer with this customer code already exists."
                raise ValidationFailed(message, field_errors={"customer_code": [message]}) from exc
    await events.record(session, org_id=caller.org_id, type="customer.created", actor=caller.actor,
                        subject_type="customer", subject_id=customer.id,
                        after=customer_snapshot(customer))
    return customer


async def update_customer(session: AsyncSession, caller: Caller, customer_id: int,
                          changes: Mapping[str, Any]) -> Customer:
    """Set exactly the given fields (a PUT passes them all, a PATCH some). A null
    `customer_code` keeps the current code."""
    caller.require_write()
    customer = await get_customer(session, caller, customer_id, for_update=True)
    values = {k: changes[k] for k in CUSTOMER_FIELDS if k in changes}
    clean, errors = clean_customer_fields(values, region=await _region(session, caller.org_id),
                                          today=today_utc())
    if "customer_code" in clean and not clean["customer_code"]:
        del clean["customer_code"]
    await _check_customer_rules(session, caller, clean, errors, exclude_id=customer.id)
    if errors:
        raise ValidationFailed("Invalid customer", field_errors=errors)
    before = customer_snapshot(customer)
    for key, value in clean.items():
        setattr(customer, key, value)
    await _flush_unique(session, "customer_code", "A customer with this customer code already exists.")
    after = customer_snapshot(customer)
    changed = sorted(k for k in after if after[k] != before[k])
    if changed:
        await events.record(session, org_id=caller.org_id, type="customer.updated",
                            actor=caller.actor, subject_type="customer", subject_id=customer.id,
                            before=before, after=after, data={"changed": changed})
    return customer


async def delete_customer(session: AsyncSession, caller: Caller, customer_id: int) -> None:
    """Admins and managers only: the customer goes with its loans and their interactions."""
    caller.require_write()
    customer = await get_customer(session, caller, customer_id, for_update=True)
    caller.require_role(*MANAGERS)
    loans = select(Loan.id).where(Loan.customer_id == customer.id).scalar_subquery()
    n_loans = await session.scalar(select(func.count()).select_from(Loan)
                                   .where(Loan.customer_id == customer.id)) or 0
    n_interactions = await session.scalar(select(func.count()).select_from(Interaction)
                                          .where(Interaction.loan_id.in_(loans))) or 0
    before = customer_snapshot(customer)
    try:
        async with session.begin_nested():
            await session.execute(delete(Interaction).where(Interaction.loan_id.in_(
                select(Loan.id).where(Loan.customer_id == customer.id))))
            await session.execute(delete(Loan).where(Loan.customer_id == customer.id))
            await session.delete(customer)
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"Customer {customer_id} has records elsewhere (accounts, policies or "
                       "messages) and cannot be deleted.") from exc
    await events.record(session, org_id=caller.org_id, type="customer.deleted", actor=caller.actor,
                        subject_type="customer", subject_id=customer_id, before=before,
                        data={"loans_deleted": n_loans, "interactions_deleted": n_interactions})


async def _flush_unique(session: AsyncSession, field: str, message: str) -> None:
    """Flush; a unique-constraint race with another request becomes a field error."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ValidationFailed(message, field_errors={field: [message]}) from exc


# ------------------------------------------------------------------ customers: bulk upload

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
    region = await _region(session, caller.org_id)
    today = today_utc()
    officers = {u.id: u for u in await session.scalars(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == caller.org_id, User.role == "collection_officer"))}
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
            elif problem := _officer_problem(officer, officers):
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
    rows = {line: {"org_id": caller.org_id, "uuid": _uuid(), "created_at": now, "updated_at": now,
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
        fresh = await _generate_codes(session, caller.org_id, len(missing), set(first_line_of))
        for line, code in zip(missing, fresh, strict=True):
            rows[line]["customer_code"] = code
        inserted = await _insert_new_customers(session, [rows[line] for line in sorted(pending)])
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


def _uuid() -> uuid.UUID:
    return uuid.uuid4()


CODE_TAKEN = "A customer with this customer code already exists."


async def _insert_new_customers(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> dict[uuid.UUID, int]:
    """Insert the rows whose code the organisation does not have yet, in batches; {uuid: new id}
    of those inserted. A code another transaction holds uncommitted makes PostgreSQL wait for it
    and skip the row when it commits, so concurrent imports never fail on each other. The rows
    go in code order so that two imports of overlapping codes lock them in the same order (no
    deadlock)."""
    ordered = sorted(rows, key=lambda r: r["customer_code"])
    inserted: dict[uuid.UUID, int] = {}
    for i in range(0, len(ordered), BATCH):
        stmt = (dialect_insert(session, Customer)
                .on_conflict_do_nothing(index_elements=["org_id", "customer_code"])
                .returning(Customer.id, Customer.uuid))
        result = await session.execute(stmt, ordered[i:i + BATCH])
        inserted.update({u: new_id for new_id, u in result.all()})
    return inserted


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


# ------------------------------------------------------------------ customers: for other domains


async def get_or_create_by_code(session: AsyncSession, org_id: int, code: str, *,
                                name: str | None = None, phone: str | None = None,
                                email: str | None = None, contact: str | None = None,
                                actor: str = "system") -> Customer:
    """The organisation's customer with this code, created when missing. For imports: lenient
    (an invalid phone keeps its text with no E.164 form; an invalid email is dropped) and
    never overwriting — an existing customer only gains the details it lacks."""
    found = await get_or_create_many(session, org_id, [CustomerSeed(code, name, phone, email, contact)],
                                     actor=actor)
    customer = await session.get(Customer, found[_seed_code(code)])
    assert customer is not None
    return customer


def _seed_code(code: str) -> str:
    text = " ".join(str(code or "").split())[:MAX_CODE_LENGTH]
    if not text:
        raise ValidationFailed("A customer code is required",
                               field_errors={"customer_code": [REQUIRED]})
    return text


def _seed_values(seed: CustomerSeed, region: str) -> dict[str, Any]:
    def cut(value: str | None, limit: int) -> str | None:
        text = " ".join(str(value).split())[:limit] if value is not None else ""
        return text or None

    phone_text = cut(seed.phone, 32)
    parsed = try_parse_phone(phone_text, region)
    email = cut(seed.email, 254)
    if email:
        try:
            email = parse_email(email)
        except ValueError:
            email = None
    return {"name": cut(seed.name, 255), "phone": parsed.display if parsed else phone_text,
            "phone_e164": parsed.e164 if parsed else None, "email": email,
            "contact_person": cut(seed.contact, 255)}


async def get_or_create_many(session: AsyncSession, org_id: int, seeds: Iterable[CustomerSeed], *,
                             actor: str = "system") -> dict[str, int]:
    """{code: customer id} for every seed, creating the missing customers in batched inserts and
    filling in blank phone/email/contact/name of existing ones. The first seed of a code wins."""
    region = await _region(session, org_id)
    wanted: dict[str, dict[str, Any]] = {}
    for seed in seeds:
        code = _seed_code(seed.code)
        if code not in wanted:
            wanted[code] = _seed_values(seed, region)
    found: dict[str, int] = {}
    ids: list[int] = []
    fill = ("name", "phone", "phone_e164", "email", "contact_person")
    pending = list(wanted)
    # Usually one pass. A code a concurrent import creates between our look-up and our insert is
    # skipped by the insert (after waiting for that import to commit) and found by the next pass.
    for _attempt in range(GENERATE_ATTEMPTS):
        for i in range(0, len(pending), BATCH):
            rows = await session.execute(select(Customer.id, Customer.customer_code, *[
                getattr(Customer, f) for f in fill]).where(Customer.org_id == org_id,
                                                           Customer.customer_code.in_(pending[i:i + BATCH])))
            for row in rows:
                found[row.customer_code] = row.id
                given = wanted[row.customer_code]
                gaps = {f: given[f] for f in fill if getattr(row, f) in (None, "") and given[f]}
                if "phone" not in gaps:
                    gaps.pop("phone_e164", None)  # the E.164 form only ever comes with its phone
                if gaps:
                    await session.execute(update(Customer).where(Customer.id == row.id)
                                          .values(**gaps, updated_at=utcnow()))
        now = utcnow()
        new_rows = [{"org_id": org_id, "uuid": _uuid(), "customer_code": code, "created_at": now,
                     "updated_at": now, "assigned_collection_officer_id": None,
                     **(wanted[code] | {"name": wanted[code]["name"] or code})}
                    for code in pending if code not in found]
        inserted = await _insert_new_customers(session, new_rows) if new_rows else {}
        for new_row in new_rows:
            if new_row["uuid"] in inserted:
                found[new_row["customer_code"]] = inserted[new_row["uuid"]]
                ids.append(inserted[new_row["uuid"]])
        pending = [code for code in pending if code not in found]
        if not pending:
            break
    else:
        raise Conflict("Another import created some of these customers at the same time; "
                       "run the import again.")
    if len(ids) == 1:
        customer = await session.get(Customer, ids[0])
        assert customer is not None
        await events.record(session, org_id=org_id, type="customer.created", actor=actor,
                            subject_type="customer", subject_id=ids[0],
                            after=customer_snapshot(customer))
    elif ids:
        await events.record(session, org_id=org_id, type="customer.bulk_created", actor=actor,
                            subject_type="customer_import", subject_id=ids[0],
                            data={"records_created": len(ids), "customer_ids": ids})
    return found


# ------------------------------------------------------------------ loans


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
    if _valid_id(loan_id):
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
                text = _text(raw, 64)
                if not text:
                    raise ValueError(NOT_BLANK)
                out[key] = text
            elif key == "principal_amount":
                out[key] = _decimal(raw, low=Decimal(0), high=MAX_PRINCIPAL, low_inclusive=False)
            elif key == "interest_rate":
                out[key] = _decimal(raw, low=Decimal(0), high=MAX_RATE, low_inclusive=True)
            elif key == "loan_type":
                text = _text(raw, 50)
                if not text:
                    raise ValueError(NOT_BLANK)
                out[key] = text
            elif key == "tenure_months":
                months = _int(raw)
                if not 1 <= months <= MAX_TENURE:
                    raise ValueError(f"Ensure this value is between 1 and {MAX_TENURE}.")
                out[key] = months
            elif key == "loan_date":
                when = parse_date(raw)
                if when < EARLIEST_DATE:
                    raise ValueError(f"Ensure this date is on or after {EARLIEST_DATE.isoformat()}.")
                out[key] = when
            elif key == "customer_id":
                customer_id = _int(raw)
                visible = _valid_id(customer_id) and await session.scalar(
                    select(Customer.id).where(Customer.id == customer_id, customer_scope(caller)))
                if not visible:
                    raise ValueError(_invalid_pk(raw))
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
    await _flush_unique(session, "loan_account_number",
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
    await _flush_unique(session, "loan_account_number",
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


# ------------------------------------------------------------------ interactions


def interaction_snapshot(row: Interaction) -> dict[str, Any]:
    return {"id": row.id, "loan_id": row.loan_id, "interaction_type": row.interaction_type,
            "comment": row.comment, "disposition": row.disposition, "timestamp": row.timestamp,
            "next_call_date": row.next_call_date, "created_by_id": row.created_by_id}


def _check_type(interaction_type: str) -> None:
    if interaction_type not in INTERACTION_TYPES:
        raise NotFound(f"Unknown interaction type {interaction_type!r}.")


def _require_recorder(caller: Caller, interaction_type: str) -> None:
    if caller.role not in RECORDERS[interaction_type]:
        raise Forbidden(f"Your role ({caller.role}) cannot record {interaction_type} interactions.")


def _clean_interaction_value(interaction_type: str, key: str, raw: Any) -> Any:
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
        return _int(raw)
    raise ValueError("Unknown field.")


async def _visible_loan_ids(session: AsyncSession, caller: Caller, ids: Iterable[int]) -> set[int]:
    wanted = sorted({i for i in ids if _valid_id(i)})
    found: set[int] = set()
    for i in range(0, len(wanted), BATCH):
        found.update(await session.scalars(
            select(Loan.id).join(Customer, Customer.id == Loan.customer_id)
            .where(Loan.id.in_(wanted[i:i + BATCH]), Loan.org_id == caller.org_id, customer_scope(caller))))
    return found


async def _clean_interaction(session: AsyncSession, caller: Caller, interaction_type: str,
                             values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    errors: FieldErrors = {}
    for key, raw in values.items():
        try:
            out[key] = _clean_interaction_value(interaction_type, key, raw)
        except ValueError as exc:
            errors.setdefault(key, []).append(str(exc))
    if "loan_id" in out and out["loan_id"] not in await _visible_loan_ids(session, caller, [out["loan_id"]]):
        errors["loan_id"] = [_invalid_pk(values["loan_id"])]
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
    if _valid_id(interaction_id):
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
    """Record a visit or a call. `loan_id` and `disposition` are required; `created_by` and
    `timestamp` are the caller and now."""
    caller.require_write()
    _check_type(interaction_type)
    _require_recorder(caller, interaction_type)
    values = {k: data[k] for k in INTERACTION_FIELDS if k in data}
    missing = {k: [REQUIRED] for k in ("loan_id", "disposition") if k not in data}
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


INTERACTION_CSV_COLUMNS = ("loan_id", "loan_account_number", "comment", "disposition",
                           "next_call_date", "interaction_type")
INTERACTION_CSV_ALIASES = {"loan": "loan_id", "type": "interaction_type", "notes": "comment",
                           "follow_up_date": "next_call_date", "account_number": "loan_account_number"}


async def bulk_create_interactions(session: AsyncSession, caller: Caller, content: bytes) -> ImportResult:
    """Record an interaction from each good row of a CSV file (`interaction_type` defaults to
    field). A row names its loan by `loan_id` or, beyond the spec, `loan_account_number`."""
    caller.require_write()
    table = csv_import.read_table(content, columns=INTERACTION_CSV_COLUMNS, required=("disposition",),
                                  one_of=(("loan_id", "loan_account_number"),),
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
                clean[key] = _clean_interaction_value(kind if kind in INTERACTION_TYPES else "field",
                                                      key, raw)
            except ValueError as exc:
                errors[key] = [str(exc)]
        loan_text = row.values.get("loan_id", "")
        number = row.values.get("loan_account_number", "")
        if loan_text:
            try:
                clean["loan_id"] = _int(loan_text)
            except ValueError:
                errors["loan_id"] = ["A valid integer is required."]
        elif number:
            numbers.add(number)
        else:
            errors["loan_id"] = [REQUIRED]
        parsed.append((row.line, clean, errors, None if loan_text or not number else number))

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
    visible = await _visible_loan_ids(session, caller, [c["loan_id"] for _, c, _, _ in parsed
                                                        if "loan_id" in c])

    result = ImportResult()
    now = utcnow()
    rows_out: list[dict[str, Any]] = []
    for line, clean, errors, _ in parsed:
        if "loan_id" in clean and clean["loan_id"] not in visible and "loan_id" not in errors:
            errors["loan_id"] = [_invalid_pk(clean["loan_id"])]
        if errors:
            result.errors.append(RowError(line, errors))
            continue
        rows_out.append({"org_id": caller.org_id, "uuid": _uuid(), "timestamp": now, "created_at": now,
                         "updated_at": now, "created_by_id": caller.user_id, **clean})
    result.created_ids = await _insert_many(session, Interaction, rows_out,
                                            "The upload clashed with another; upload it again.")
    result.records_created = len(result.created_ids)
    if result.records_created:
        await events.record(session, org_id=caller.org_id, type="interaction.bulk_created",
                            actor=caller.actor, subject_type="interaction_import",
                            subject_id=result.created_ids[0],
                            data={"records_created": result.records_created,
                                  "errors": len(result.errors), "interaction_ids": result.created_ids})
    return result


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


# ------------------------------------------------------------------ timeline

_timeline_sources: list[TimelineSource] = []


def register_timeline_source(fn: TimelineSource) -> TimelineSource:
    """Add a source of timeline entries (usable as a decorator). Later domains (messages,
    balances, policies) register theirs from their own modules; this package imports none of
    them. A source returns the entries about one customer that the caller may see."""
    if fn not in _timeline_sources:
        _timeline_sources.append(fn)
    return fn


async def timeline(session: AsyncSession, caller: Caller, customer_id: int) -> list[TimelineEntry]:
    """Everything that happened with a customer, newest first."""
    customer = await get_customer(session, caller, customer_id)
    entries: list[TimelineEntry] = []
    for source in list(_timeline_sources):
        entries.extend(await source(session, caller, customer))
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries


@register_timeline_source
async def _customer_entries(session: AsyncSession, caller: Caller, customer: Customer
                            ) -> list[TimelineEntry]:
    return [TimelineEntry("customer", customer.created_at, f"Customer {customer.customer_code} added",
                          {"customer_code": customer.customer_code, "name": customer.name})]


@register_timeline_source
async def _loan_entries(session: AsyncSession, caller: Caller, customer: Customer) -> list[TimelineEntry]:
    loans = await session.scalars(select(Loan).where(Loan.customer_id == customer.id,
                                                     Loan.org_id == caller.org_id))
    return [TimelineEntry(
        "loan", datetime.combine(loan.loan_date, time(0), tzinfo=UTC),
        f"{loan.loan_type.capitalize()} loan {loan.loan_account_number} of "
        f"{money(loan.principal_amount)} over {loan.tenure_months} months at {money(loan.interest_rate)}%",
        {"loan": loan.id, "loan_account_number": loan.loan_account_number,
         "principal_amount": loan.principal_amount, "interest_rate": loan.interest_rate,
         "loan_type": loan.loan_type, "tenure_months": loan.tenure_months, "loan_date": loan.loan_date})
        for loan in loans]


@register_timeline_source
async def _interaction_entries(session: AsyncSession, caller: Caller, customer: Customer
                               ) -> list[TimelineEntry]:
    rows = await session.execute(
        select(Interaction, Loan.loan_account_number).join(Loan, Loan.id == Interaction.loan_id)
        .where(Loan.customer_id == customer.id, interaction_scope(caller)))
    out = []
    for row, number in rows.all():
        what = "Visit" if row.interaction_type == "field" else "Call"
        summary = f"{what} on loan {number}: {row.disposition.replace('_', ' ')}"
        if row.next_call_date:
            summary += f"; next contact {row.next_call_date.isoformat()}"
        out.append(TimelineEntry(
            f"interaction.{row.interaction_type}", row.timestamp, summary,
            {"id": row.id, "loan": row.loan_id, "interaction_type": row.interaction_type,
             "disposition": row.disposition, "comment": row.comment,
             "next_call_date": row.next_call_date, "created_by": row.created_by_id}))
    return out


__all__ = [
    "CALLING_DISPOSITIONS", "DISPOSITIONS", "FIELD_DISPOSITIONS", "bulk_create_customers",
    "bulk_create_interactions", "create_customer", "create_interaction", "create_loan",
    "customer_scope", "delete_customer", "delete_interaction", "delete_loan", "due_interactions",
    "get_customer", "get_interaction", "get_loan", "get_or_create_by_code", "get_or_create_many",
    "interaction_scope", "list_customers", "list_interactions", "list_loans", "money",
    "register_timeline_source", "timeline", "update_customer", "update_interaction", "update_loan",
]
