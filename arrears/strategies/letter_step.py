"""The letter step's calls into the letters domain (arrears.letters, below this one): whether a
letter template is one the organisation may use (a built-in or its own), and one stored letter per
account from the step's template, made with the strategy owner's rights (`letter.created` each)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from arrears.errors import NotFound
from arrears.identity.caller import Caller
from arrears.letters import service as letters
from arrears.letters.templates import get_template


async def template_ok(session: AsyncSession, org_id: int, template_id: uuid.UUID) -> bool:
    """A built-in letter template or one of the organisation's own."""
    try:
        await get_template(session, Caller(kind="user", org_id=org_id), template_id)
    except NotFound:
        return False
    return True


async def make_letters(session: AsyncSession, owner: Caller, account_ids: Sequence[uuid.UUID],
                       template_id: uuid.UUID, today: date) -> list[Any]:
    """The letters (one per account, stored), made with the owner's rights; `letter.created` each."""
    made: list[Any] = []
    ids = list(account_ids)
    for start in range(0, len(ids), letters.MAX_ACCOUNTS):  # the letters domain's bound per call
        made.extend(await letters.create_letters(session, owner, ids[start:start + letters.MAX_ACCOUNTS],
                                                 template_id, source="strategy", today=today))
    return made
