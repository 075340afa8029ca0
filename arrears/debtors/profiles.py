"""Import profiles: the column mappings an organisation confirmed, one per header signature.

Saving one needs write access (it changes how the organisation's later files are read); listing
and deleting them is for admins and managers. Another organisation's profile is not found.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events
from arrears.db import utcnow
from arrears.debtors.mapping import Column, ColumnMapping, as_json
from arrears.debtors.models import ImportProfile
from arrears.errors import Forbidden, NotFound
from arrears.identity.caller import Caller


def _managers(caller: Caller) -> None:
    if not caller.is_manager_or_admin:
        raise Forbidden("Only admins and managers can see or delete import profiles")


async def for_org(session: AsyncSession, org_id: int) -> dict[str, dict[str, str | None]]:
    """Every profile of the organisation: signature -> mapping (small: one per layout)."""
    rows = await session.execute(select(ImportProfile.signature, ImportProfile.mapping)
                                 .where(ImportProfile.org_id == org_id))
    return {sig: dict(mapping) for sig, mapping in rows}


async def save(session: AsyncSession, caller: Caller, *, signature: str, columns: list[Column],
               mapping: ColumnMapping, filename: str | None = None) -> ImportProfile:
    """Keep the confirmed mapping of every column for this header signature (replacing the last)."""
    caller.require_write()
    full = {c.index: (mapping[c.index] if c.index in mapping else c.field) for c in columns}
    profile = await session.scalar(select(ImportProfile).where(ImportProfile.org_id == caller.org_id,
                                                               ImportProfile.signature == signature))
    if profile is None:
        profile = ImportProfile(org_id=caller.org_id, signature=signature, created_by=caller.user_id)
        session.add(profile)
    profile.labels = {str(c.index): c.label for c in columns}
    profile.mapping = as_json(full)
    profile.sample_filename = (filename or "")[:255] or None
    profile.updated_at = utcnow()
    await session.flush()
    await events.record(session, org_id=caller.org_id, type="import_profile.saved", actor=caller.actor,
                        subject_type="import_profile", subject_id=profile.id,
                        data={"id": str(profile.id), "signature": signature})
    return profile


async def list_profiles(session: AsyncSession, caller: Caller, *, offset: int = 0, limit: int = 20
                        ) -> tuple[list[ImportProfile], int]:
    _managers(caller)
    where = ImportProfile.org_id == caller.org_id
    total = await session.scalar(select(func.count()).select_from(ImportProfile).where(where)) or 0
    rows = await session.scalars(select(ImportProfile).where(where)
                                 .order_by(ImportProfile.updated_at.desc(), ImportProfile.id)
                                 .offset(offset).limit(limit))
    return list(rows), total


async def delete(session: AsyncSession, caller: Caller, profile_id: Any) -> None:
    _managers(caller)
    caller.require_write()
    try:
        key = uuid.UUID(str(profile_id))
    except ValueError:
        raise NotFound("Import profile not found") from None
    profile = await session.scalar(select(ImportProfile).where(ImportProfile.id == key,
                                                               ImportProfile.org_id == caller.org_id))
    if profile is None:
        raise NotFound("Import profile not found")
    await session.delete(profile)
    await session.flush()
    await events.record(session, org_id=caller.org_id, type="import_profile.deleted", actor=caller.actor,
                        subject_type="import_profile", subject_id=key, data={"id": str(key)})


def mapping_view(profile: ImportProfile) -> list[dict[str, Any]]:
    """The profile's columns, for people: index, heading, field."""
    labels: Mapping[str, str] = profile.labels or {}
    stored: Mapping[str, str | None] = profile.mapping or {}
    return [{"index": int(k), "label": labels.get(k, ""), "field": v}
            for k, v in sorted(stored.items(), key=lambda kv: int(kv[0]))]
