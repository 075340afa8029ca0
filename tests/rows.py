"""Counting rows in a fresh read-only transaction (the concurrency tests' check)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from arrears.db import transaction


async def count_rows(model: Any, *where: Any) -> int:
    async with transaction(readonly=True) as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)
