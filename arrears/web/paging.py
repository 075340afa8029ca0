"""Server-side paging for every list in the UI."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Request
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")
DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100


@dataclass
class Page(Generic[T]):
    items: list[T]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page)) if self.per_page else 1

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        return 0 if not self.total else (self.page - 1) * self.per_page + 1

    @property
    def last_index(self) -> int:
        return min(self.total, self.page * self.per_page)


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None and value.strip() else default
    except ValueError:
        return default


def page_params(request: Request, default: int = DEFAULT_PER_PAGE, maximum: int = MAX_PER_PAGE
                ) -> tuple[int, int]:
    """`page` and `per_page` from the query string, kept in range (a person typing a URL gets the
    nearest page rather than an error)."""
    page = max(1, _int(request.query_params.get("page"), 1))
    per_page = min(maximum, max(1, _int(request.query_params.get("per_page"), default)))
    return page, per_page


async def paged_query(db: AsyncSession, q: Select[Any], page: int, per_page: int, *,
                      scalars: bool = True) -> Page[Any]:
    total = await db.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(page, pages)
    q = q.limit(per_page).offset((page - 1) * per_page)
    rows = list((await db.scalars(q)).all()) if scalars else list((await db.execute(q)).all())
    return Page(rows, page, per_page, int(total))


def paged_list(items: Sequence[T], page: int, per_page: int) -> Page[T]:
    total = len(items)
    pages = max(1, math.ceil(total / per_page))
    page = min(page, pages)
    start = (page - 1) * per_page
    return Page(list(items[start:start + per_page]), page, per_page, total)
