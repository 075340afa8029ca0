"""Policies and collections as lists for people, and how the recent collections turned out.
Admins and managers only: each list checks its caller (`require_viewer`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.errors import Forbidden
from arrears.identity.caller import Caller
from arrears.premiums import service, webhook_log
from arrears.premiums.models import Collection, Policy


def may_view(caller: Caller) -> bool:
    """Premium collections are for the organisation's admins and managers."""
    return caller.is_manager_or_admin


def require_viewer(caller: Caller) -> None:
    if not may_view(caller):
        raise Forbidden("Premium collections are for admins and managers.")


def _like(text: str) -> str:
    esc = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{esc}%"


def policy_list(caller: Caller, *, search: str | None = None, status: str | None = None,
                frequency: str | None = None) -> Select[Any]:
    """The organisation's policies, last changed first; search by number or client name."""
    require_viewer(caller)
    q = select(Policy).where(Policy.org_id == caller.org_id)
    if search and search.strip():
        p = _like(search)
        q = q.where(or_(func.lower(Policy.policy_number).like(p, escape="\\"),
                        func.lower(Policy.client_name).like(p, escape="\\")))
    if status:
        q = q.where(Policy.status == status)
    if frequency:
        q = q.where(Policy.frequency == frequency)
    return q.order_by(Policy.updated_at.desc(), Policy.id.desc())


def collection_list(caller: Caller, *, search: str | None = None, status: str | None = None,
                    date_from: date | None = None, date_to: date | None = None,
                    policy_id: int | None = None) -> Any:
    """(Collection, Policy) rows of the organisation, newest collection date first."""
    require_viewer(caller)
    q = (select(Collection, Policy).join(Policy, Policy.id == Collection.policy_id)
         .where(Collection.org_id == caller.org_id))
    if search and search.strip():
        p = _like(search)
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


async def collection_outcomes(session: AsyncSession, caller: Caller, since: date) -> dict[str, int]:
    """How many of the organisation's collections dated on or after `since` are in each status."""
    require_viewer(caller)
    rows = await session.execute(select(Collection.status, func.count()).where(
        Collection.org_id == caller.org_id, Collection.collection_date >= since).group_by(Collection.status))
    return {status: int(n) for status, n in rows.all()}


async def policy(session: AsyncSession, caller: Caller, policy_number: str) -> Policy:
    """One of the organisation's policies, for a viewer (404 for another organisation's)."""
    require_viewer(caller)
    return await service.get_policy(session, caller.org_id, policy_number)


async def request_log(session: AsyncSession, caller: Caller, *, page: int, limit: int) -> Any:
    """The premium API's request log of the organisation, for a viewer."""
    require_viewer(caller)
    return await webhook_log.list_logs(session, caller.org_id, page=page, limit=limit)
