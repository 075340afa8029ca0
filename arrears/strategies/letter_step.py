"""The letter step's one call into the letters domain (arrears.letters, below this one): one
letter per account from the step's letter template, made as the strategy's owner. Until that
domain is there, `available()` is False and a run counts the step's accounts as excluded
(`letters_unavailable`) rather than firing it."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from arrears.identity.caller import Caller


def _service() -> Any | None:
    try:
        return importlib.import_module("arrears.letters.service")
    except ModuleNotFoundError:
        return None


def available() -> bool:
    return _service() is not None


async def make_letters(session: AsyncSession, owner: Caller, account_ids: Sequence[uuid.UUID],
                       template_id: uuid.UUID, today: date) -> list[Any]:
    """The letters (one per account, stored), made with the owner's rights; `letter.created` each."""
    service = _service()
    if service is None:
        raise RuntimeError("the letters domain is not installed")
    letters: list[Any] = await service.create_letters(session, owner, list(account_ids), template_id,
                                                      source="strategy", today=today)
    return letters
