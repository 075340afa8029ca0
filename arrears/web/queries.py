"""Read-only queries the pages need that no domain service offers yet (paged lists, mostly).

Each is scoped to the caller's organisation — and, where the domain has one, through the domain's
own scope function — so they apply the same tenant and visibility rules as the services. They
are candidates to move into their domain's service; nothing here writes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, or_, select

from arrears.identity.caller import Caller
from arrears.identity.models import ApiKey, Membership, User


def like(text: str) -> str:
    esc = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{esc}%"


# ------------------------------------------------------------------ identity


def org_members(caller: Caller, search: str | None = None) -> Any:
    """Users of the caller's organisation with their access there."""
    q = (select(User, Membership.access).join(Membership, Membership.user_id == User.id)
         .where(Membership.org_id == caller.org_id))
    if search and search.strip():
        p = like(search)
        q = q.where(or_(func.lower(User.username).like(p, escape="\\"),
                        func.lower(func.coalesce(User.email, "")).like(p, escape="\\")))
    return q.order_by(User.username, User.id)


def premium_keys(caller: Caller, status: str | None = None) -> Select[Any]:
    """The organisation's own `pct_` keys (premium collection API), newest first; partner
    clients' keys are listed with their client."""
    from arrears.db import utcnow

    q = select(ApiKey).where(ApiKey.org_id == caller.org_id, ApiKey.kind == "pct", ApiKey.client_id.is_(None))
    now = utcnow()
    if status == "active":
        q = q.where(ApiKey.revoked_at.is_(None), or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now))
    elif status == "revoked":
        q = q.where(ApiKey.revoked_at.is_not(None))
    elif status == "expired":
        q = q.where(ApiKey.revoked_at.is_(None), ApiKey.expires_at <= now)
    return q.order_by(ApiKey.created_at.desc(), ApiKey.key_id)


# ------------------------------------------------------------------ customers


def customers(caller: Caller, search: str | None = None, officer_id: int | None = None,
              sort: str = "name", direction: str = "asc") -> Select[Any]:
    """The customers the caller may see (the customers service's own scope), searched by name,
    code, phone or email."""
    from arrears.customers.models import Customer
    from arrears.customers.service import customer_scope

    q = select(Customer).where(customer_scope(caller))
    if search and search.strip():
        p = like(search)
        digits = "".join(ch for ch in search if ch.isdigit())
        conds = [func.lower(Customer.name).like(p, escape="\\"),
                 func.lower(Customer.customer_code).like(p, escape="\\"),
                 func.lower(func.coalesce(Customer.email, "")).like(p, escape="\\")]
        if len(digits) >= 4:
            conds.append(func.coalesce(Customer.phone_e164, "").like(f"%{digits[-9:]}%"))
        q = q.where(or_(*conds))
    if officer_id is not None:
        q = q.where(Customer.assigned_collection_officer_id == officer_id)
    col = {"name": Customer.name, "code": Customer.customer_code, "created": Customer.created_at,
           "city": Customer.city}.get(sort, Customer.name)
    return q.order_by(col.desc() if direction == "desc" else col.asc(), Customer.id)


# ------------------------------------------------------------------ premiums


def policies(caller: Caller, *, search: str | None = None, status: str | None = None,
             frequency: str | None = None) -> Select[Any]:
    from arrears.premiums.models import Policy

    q = select(Policy).where(Policy.org_id == caller.org_id)
    if search and search.strip():
        p = like(search)
        q = q.where(or_(func.lower(Policy.policy_number).like(p, escape="\\"),
                        func.lower(Policy.client_name).like(p, escape="\\")))
    if status:
        q = q.where(Policy.status == status)
    if frequency:
        q = q.where(Policy.frequency == frequency)
    return q.order_by(Policy.updated_at.desc(), Policy.id.desc())


def collections(caller: Caller, *, search: str | None = None, status: str | None = None,
                date_from: Any = None, date_to: Any = None, policy_id: int | None = None) -> Any:
    """(Collection, Policy) rows of the organisation, newest collection date first."""
    from arrears.premiums.models import Collection, Policy

    q = (select(Collection, Policy).join(Policy, Policy.id == Collection.policy_id)
         .where(Collection.org_id == caller.org_id))
    if search and search.strip():
        p = like(search)
        q = q.where(or_(func.lower(Collection.collection_reference).like(p, escape="\\"),
                        func.lower(Policy.policy_number).like(p, escape="\\"),
                        func.lower(Policy.client_name).like(p, escape="\\")))
    if status:
        q = q.where(Collection.status == status)
    if date_from is not None:
        q = q.where(Collection.collection_date >= date_from)
    if date_to is not None:
        q = q.where(Collection.collection_date <= date_to)
    if policy_id is not None:
        q = q.where(Collection.policy_id == policy_id)
    return q.order_by(Collection.collection_date.desc(), Collection.id.desc())


async def collection_outcomes(db: Any, caller: Caller, since: Any) -> dict[str, int]:
    """How many of the organisation's collections dated on or after `since` are in each status."""
    from arrears.premiums.models import Collection

    rows = await db.execute(select(Collection.status, func.count()).where(
        Collection.org_id == caller.org_id, Collection.collection_date >= since).group_by(Collection.status))
    return {status: int(n) for status, n in rows.all()}


# ------------------------------------------------------------------ messaging


def messages(caller: Caller, *, status: str | None = None, channel: str | None = None,
             upload_id: Any = None, search: str | None = None) -> Select[Any]:
    """Every message of the organisation (all faces), newest first."""
    from arrears.messaging.models import Message

    q = select(Message).where(Message.org_id == caller.org_id)
    if status == "pending":
        q = q.where(Message.status.in_(("pending", "sending")))
    elif status:
        q = q.where(Message.status == status)
    if channel:
        q = q.where(Message.channel == channel)
    if upload_id is not None:
        q = q.where(Message.upload_id == upload_id)
    if search and search.strip():
        p = like(search)
        q = q.where(or_(func.lower(Message.recipient).like(p, escape="\\"),
                        func.lower(Message.content).like(p, escape="\\")))
    return q.order_by(Message.created_at.desc(), Message.id.desc())


async def message_counts(db: Any, caller: Caller, since: Any) -> dict[str, int]:
    """Messages of the organisation created since `since`, by status."""
    from arrears.messaging.models import Message

    rows = await db.execute(select(Message.status, func.count()).where(
        Message.org_id == caller.org_id, Message.created_at >= since).group_by(Message.status))
    return {status: int(n) for status, n in rows.all()}


# ------------------------------------------------------------------ debtor books


async def selection_totals(db: Any, report: Any) -> dict[str, Any]:
    """Count, balance and overdue of a report's selected accounts (one query on the partial index
    of selected rows; the report was already checked visible by the debtors service)."""
    from decimal import Decimal

    from arrears.debtors.models import DebtorSnapshot as S

    count, balance, overdue = (await db.execute(
        select(func.count(), func.coalesce(func.sum(S.total_balance), 0), func.coalesce(func.sum(S.overdue_amount), 0))
        .where(S.report_id == report.id, S.is_selected.is_(True)))).one()
    cent = Decimal("0.01")
    return {"count": int(count or 0), "balance": Decimal(str(balance)).quantize(cent),
            "overdue": Decimal(str(overdue)).quantize(cent), "total": int(report.success_rows or 0)}
