"""The rules of customers; loans, interactions, their CSV uploads and the timeline have their own
modules beside this one (loans.py, interactions.py, customer_upload.py, interaction_upload.py,
timeline.py).

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

import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, false, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events
from arrears.customers.book_lock import lock_book
from arrears.customers.fields import (
    BATCH,
    EARLIEST_DATE,
    NOT_BLANK,
    NOT_NULL,
    REQUIRED,
    FieldErrors,
    clean_int,
    clean_text,
    flush_unique,
    invalid_pk,
    parse_date,
    today_utc,
    valid_id,
)
from arrears.customers.models import Customer, Interaction, Loan
from arrears.customers.phones import parse_email, parse_phone, region_or_default, try_parse_phone
from arrears.customers.schemas import CustomerSeed
from arrears.db import dialect_insert, utcnow
from arrears.errors import Conflict, NotFound, ValidationFailed
from arrears.identity import service as identity
from arrears.identity.caller import Caller
from arrears.identity.models import Membership, User

# ------------------------------------------------------------------ vocabulary

MANAGERS = ("admin", "manager")
SEE_ALL_CUSTOMERS = ("admin", "manager", "calling_agent", "field_officer")

# Generated customer codes: no 0/O, 1/I/L lookalikes.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
MAX_CODE_LENGTH = 50
GENERATE_ATTEMPTS = 5  # fresh codes to try when a generated one was taken by a concurrent request

CUSTOMER_FIELDS = ("customer_code", "name", "phone", "email", "assigned_collection_officer_id",
                   "address_line_1", "address_line_2", "city", "state", "pincode", "date_of_birth",
                   "contact_person")
CUSTOMER_TEXT_LIMITS = {"name": 255, "address_line_1": 255, "address_line_2": 255, "city": 100,
                        "state": 100, "pincode": 20, "contact_person": 255}
CODE_TAKEN = "A customer with this customer code already exists."


def customer_scope(caller: Caller) -> ColumnElement[bool]:
    """The customers this caller may see."""
    org = Customer.org_id == caller.org_id
    if caller.role in SEE_ALL_CUSTOMERS:
        return org
    if caller.role == "collection_officer" and caller.user_id is not None:
        return and_(org, Customer.assigned_collection_officer_id == caller.user_id)
    return false()


async def org_region(session: AsyncSession, org_id: int) -> str:
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
                code = clean_text(raw, MAX_CODE_LENGTH)
                out[key] = " ".join(code.split()) if code else None
            elif key == "phone":
                text = clean_text(raw, 64)
                phone = parse_phone(text, region) if text else None
                out["phone"] = phone.display if phone else None
                out["phone_e164"] = phone.e164 if phone else None
            elif key == "email":
                text = clean_text(raw, 254)
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
                out[key] = None if raw is None or raw == "" else clean_int(raw)
            elif key in CUSTOMER_TEXT_LIMITS:
                out[key] = clean_text(raw, CUSTOMER_TEXT_LIMITS[key])
            else:
                raise ValueError("Unknown field.")
        except ValueError as exc:
            errors.setdefault(key, []).append(str(exc))
    if "name" in values and "name" not in errors and out.get("name") is None:
        errors["name"] = [NOT_NULL if values["name"] is None else NOT_BLANK]
    return out, errors


async def _officers(session: AsyncSession, org_id: int, ids: Iterable[int]) -> dict[int, User]:
    """The organisation's users among `ids`, each held `FOR KEY SHARE` until the transaction ends
    (PostgreSQL: the lock the officer's foreign key took before migration 0032), so that a user's
    deletion waits for the assignment, and its trigger then unassigns the customer."""
    wanted = [i for i in sorted(set(ids)) if valid_id(i)]
    if not wanted:
        return {}
    rows = await session.scalars(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == org_id, User.id.in_(wanted)).order_by(User.id)
        .with_for_update(key_share=True, of=User))
    return {u.id: u for u in rows}


async def assignable_officers(session: AsyncSession, caller: Caller) -> list[User]:
    """The organisation's active collection officers: the people a customer can be assigned to."""
    rows = await session.scalars(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == caller.org_id, User.role == "collection_officer", User.is_active)
        .order_by(User.id))
    return list(rows)


def may_delete(caller: Caller) -> bool:
    """Whether the caller may delete customers and loans (admins and managers with write access)."""
    return caller.access == "write" and caller.role in MANAGERS


def officer_problem(user_id: int, found: Mapping[int, User]) -> str | None:
    user = found.get(user_id)
    if user is None:
        return invalid_pk(user_id)
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


async def generate_codes(session: AsyncSession, org_id: int, count: int, avoid: set[str]) -> list[str]:
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
        problem = officer_problem(officer, await _officers(session, caller.org_id, [officer]))
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
    if valid_id(customer_id):
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
    clean, errors = clean_customer_fields(values, region=await org_region(session, caller.org_id),
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
            clean["customer_code"] = (await generate_codes(session, caller.org_id, 1, set()))[0]
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
                          changes: Mapping[str, Any], *, require: tuple[str, ...] = ()) -> Customer:
    """Set exactly the given fields. `require` names fields that must be among them (a PUT's
    `name`); a missing one is a field error beside every other. A null `customer_code` keeps the
    current code."""
    caller.require_write()
    customer = await get_customer(session, caller, customer_id, for_update=True)
    values = {k: changes[k] for k in CUSTOMER_FIELDS if k in changes}
    clean, errors = clean_customer_fields(values, region=await org_region(session, caller.org_id),
                                          today=today_utc())
    for field in require:
        if field not in values:
            errors.setdefault(field, []).append(REQUIRED)
    if "customer_code" in clean and not clean["customer_code"]:
        del clean["customer_code"]
    await _check_customer_rules(session, caller, clean, errors, exclude_id=customer.id)
    if errors:
        raise ValidationFailed("Invalid customer", field_errors=errors)
    before = customer_snapshot(customer)
    for key, value in clean.items():
        setattr(customer, key, value)
    await flush_unique(session, "customer_code", "A customer with this customer code already exists.")
    after = customer_snapshot(customer)
    changed = sorted(k for k in after if after[k] != before[k])
    if changed:
        await events.record(session, org_id=caller.org_id, type="customer.updated",
                            actor=caller.actor, subject_type="customer", subject_id=customer.id,
                            before=before, after=after, data={"changed": changed})
    return customer


async def delete_customer(session: AsyncSession, caller: Caller, customer_id: int) -> None:
    """Admins and managers only: the customer goes with its loans and their interactions. A book
    job of the organisation in progress (which may be updating this customer) finishes first."""
    caller.require_write()
    # The book's lock before the customer's row, in the book job's order (book_lock's text).
    await lock_book(session, caller.org_id)
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


async def insert_new_customers(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> dict[uuid.UUID, int]:
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


# ------------------------------------------------------------------ customers: for other domains


async def get_or_create_by_code(session: AsyncSession, caller: Caller, code: str, *,
                                name: str | None = None, phone: str | None = None,
                                email: str | None = None, contact: str | None = None) -> Customer:
    """The caller's organisation's customer with this code, created when missing. For imports:
    lenient (an invalid phone keeps its text with no E.164 form; an invalid email is dropped) and
    never overwriting — an existing customer only gains the details it lacks."""
    found = await get_or_create_many(session, caller, [CustomerSeed(code, name, phone, email, contact)])
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


async def get_or_create_many(session: AsyncSession, caller: Caller, seeds: Iterable[CustomerSeed]
                             ) -> dict[str, int]:
    """{code: customer id} for every seed, in the caller's organisation, creating the missing
    customers in batched inserts and filling in blank phone/email/contact/name of existing ones.
    The first seed of a code wins. Anyone with write access, as `create_customer`."""
    caller.require_write()
    org_id, actor = caller.org_id, caller.actor
    region = await org_region(session, org_id)
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
        new_rows = [{"org_id": org_id, "uuid": uuid.uuid4(), "customer_code": code, "created_at": now,
                     "updated_at": now, "assigned_collection_officer_id": None,
                     **(wanted[code] | {"name": wanted[code]["name"] or code})}
                    for code in pending if code not in found]
        inserted = await insert_new_customers(session, new_rows) if new_rows else {}
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
