"""One row by its UUID, if the caller's scope lets them see it: the lookup every domain with UUID
ids (accounts, tasks, promises, payments) does, written once. Another organisation's id, or one
that is not a UUID, is the same 404 as an id that does not exist."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.errors import NotFound

Row = TypeVar("Row")


def parse_uuid(value: Any) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value).strip())
    except (ValueError, AttributeError):
        return None


async def get_visible(session: AsyncSession, model: type[Row], raw_id: Any, scope: ColumnElement[bool], what: str,
                      *, for_update: bool = False) -> Row:
    """The row of `model` whose `id` is `raw_id` within `scope`; `for_update` locks it, then reads
    it again. NotFound ("<what> <id> not found.") otherwise."""
    key = parse_uuid(raw_id)
    row = None
    if key is not None:
        q = select(model).where(model.id == key, scope)  # type: ignore[attr-defined]
        if for_update:
            q = q.with_for_update(of=model).execution_options(populate_existing=True)
        row = await session.scalar(q)
    if row is None:
        raise NotFound(f"{what} {str(raw_id)[:64]} not found.")
    return row
