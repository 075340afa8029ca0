"""One paging for every list: the page parameters and their 400, count + offset, one `Page`.

Each face keeps its own names, default and maximum (a `PageRule`) and renders the
`ValidationFailed` raised here in its own error body. The web UI clamps instead of refusing
(`PageRule.clamp`), since people type URLs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.errors import ValidationFailed

T = TypeVar("T")

# OFFSET and LIMIT are signed 64-bit integers on SQLite and PostgreSQL: a page whose last row
# lies beyond this is refused (400) rather than overflowing in the database (500).
MAX_ROW = 2**63 - 1


@dataclass(frozen=True)
class PageRequest:
    """A page asked for, already checked: 1 ≤ page, 1 ≤ size ≤ the rule's maximum."""

    page: int
    size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


@dataclass(frozen=True)
class PageRule:
    """A list's paging convention: the page-size parameter's name, its default and maximum."""

    default: int
    maximum: int
    size_name: str = "per_page"

    @staticmethod
    def last_page(size: int) -> int:
        """The last page whose rows a 64-bit OFFSET + LIMIT can still reach."""
        return MAX_ROW // size

    def check(self, page: int | str | None = None, size: int | str | None = None) -> PageRequest:
        """The page asked for, or ValidationFailed (400) naming every bad value. Strings are
        read as whole numbers; None or "" means the default."""
        errors: dict[str, list[str]] = {}
        number = _whole(page, "page", 1, errors)
        per = _whole(size, self.size_name, self.default, errors)
        if number is not None and number < 1:
            errors["page"] = ["must be 1 or more"]
        if per is not None and not 1 <= per <= self.maximum:
            errors[self.size_name] = [f"must be between 1 and {self.maximum}"]
        if not errors and number is not None and per is not None and number > self.last_page(per):
            errors["page"] = [f"must be at most {self.last_page(per)} with {self.size_name} {per}"]
        if errors:
            raise ValidationFailed("; ".join(f"{k}: {v[0]}" for k, v in errors.items()), field_errors=errors)
        assert number is not None and per is not None
        return PageRequest(number, per)

    def clamp(self, page: int | str | None = None, size: int | str | None = None) -> PageRequest:
        """The nearest valid page: what the web UI shows for a value out of range or unreadable."""
        per = min(self.maximum, max(1, _lenient(size, self.default)))
        return PageRequest(min(self.last_page(per), max(1, _lenient(page, 1))), per)


def _whole(value: int | str | None, name: str, default: int, errors: dict[str, list[str]]) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, bool):
        errors[name] = ["must be a whole number"]
        return None
    if isinstance(value, int):
        return value
    text = value.strip()
    try:
        return int(text) if len(text) <= 40 else int("x")  # no 4,000-digit conversions
    except ValueError:
        errors[name] = [f"must be a whole number, not {text[:40]!r}"]
        return None


def _lenient(value: int | str | None, default: int) -> int:
    number = _whole(value, "", default, {})
    return default if number is None else number


def page_count(total: int, size: int) -> int:
    """How many pages of `size` hold `total` rows: 0 when there are none (as the APIs say)."""
    return math.ceil(total / size) if total else 0


@dataclass
class Page(Generic[T]):
    """One page of a list: its items, the total of the whole list, the page and its size."""

    items: list[T]
    total: int
    page: int
    size: int

    @property
    def pages(self) -> int:
        return page_count(self.total, self.size)

    @property
    def has_more(self) -> bool:
        return self.page < self.pages

    # What the web UI's pager shows.
    @property
    def last_page(self) -> int:
        return max(1, self.pages)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.has_more

    @property
    def first_index(self) -> int:
        return 0 if not self.total else min(self.total, (self.page - 1) * self.size + 1)

    @property
    def last_index(self) -> int:
        return min(self.total, self.page * self.size)

    def with_items(self, items: list[Any]) -> Page[Any]:
        """The same page over other items (the rows turned into what a face shows)."""
        return Page(items, self.total, self.page, self.size)


async def count(session: AsyncSession, query: Select[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0)


async def fetch(session: AsyncSession, query: Select[Any], req: PageRequest, *, scalars: bool = True,
                total: int | None = None, last_when_past: bool = False) -> Page[Any]:
    """Count the query's rows (unless `total` is given), then read the page's rows.
    `last_when_past` shows the last page for a page past the end (the web UI); the APIs answer
    an empty page with the right total."""
    if total is None:
        total = await count(session, query)
    if last_when_past:
        req = PageRequest(min(req.page, max(1, math.ceil(total / req.size))), req.size)
    q = query.offset(req.offset).limit(req.size)
    rows = list((await session.scalars(q)).all()) if scalars else list((await session.execute(q)).all())
    return Page(rows, total, req.page, req.size)


def of_list(items: Sequence[T], req: PageRequest, *, last_when_past: bool = False) -> Page[T]:
    """A page of a list already in memory."""
    total = len(items)
    page = min(req.page, max(1, math.ceil(total / req.size))) if last_when_past else req.page
    start = (page - 1) * req.size
    return Page(list(items[start:start + req.size]), total, page, req.size)
