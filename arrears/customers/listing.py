"""Customers as a list for people: the ones the caller may see (the service's own scope),
searched and sorted."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, or_, select

from arrears.customers.models import Customer
from arrears.customers.service import customer_scope
from arrears.identity.caller import Caller

SORTS = {"name": Customer.name, "code": Customer.customer_code, "created": Customer.created_at,
         "city": Customer.city}


def _like(text: str) -> str:
    esc = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{esc}%"


def customer_list(caller: Caller, search: str | None = None, officer_id: int | None = None,
                  sort: str = "name", direction: str = "asc") -> Select[Any]:
    """Searched by name, code or email, or by the last digits of the phone (four or more)."""
    q = select(Customer).where(customer_scope(caller))
    if search and search.strip():
        p = _like(search)
        digits = "".join(ch for ch in search if ch.isdigit())
        conds = [func.lower(Customer.name).like(p, escape="\\"),
                 func.lower(Customer.customer_code).like(p, escape="\\"),
                 func.lower(func.coalesce(Customer.email, "")).like(p, escape="\\")]
        if len(digits) >= 4:
            conds.append(func.coalesce(Customer.phone_e164, "").like(f"%{digits[-9:]}%"))
        q = q.where(or_(*conds))
    if officer_id is not None:
        q = q.where(Customer.assigned_collection_officer_id == officer_id)
    col = SORTS.get(sort, Customer.name)
    return q.order_by(col.desc() if direction == "desc" else col.asc(), Customer.id)
