"""Small helpers the tests share: counting rows in a fresh read-only transaction, and Argon2 made
cheap for tests that create many users."""

from __future__ import annotations

from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from arrears.db import transaction
from arrears.identity import crypto


async def count_rows(model: Any, *where: Any) -> int:
    async with transaction(readonly=True) as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crypto, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
