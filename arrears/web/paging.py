"""Server-side paging for every list in the UI: the core's paging, clamped rather than refused
(a person typing a URL gets the nearest page rather than an error)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from fastapi import Request
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.paging import Page, PageRequest, PageRule, fetch, of_list

T = TypeVar("T")
DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100

__all__ = ["DEFAULT_PER_PAGE", "MAX_PER_PAGE", "Page", "page_params", "paged_list", "paged_query"]


def page_params(request: Request, default: int = DEFAULT_PER_PAGE, maximum: int = MAX_PER_PAGE
                ) -> tuple[int, int]:
    """`page` and `per_page` from the query string, kept in range."""
    req = PageRule(default, maximum).clamp(request.query_params.get("page"), request.query_params.get("per_page"))
    return req.page, req.size


async def paged_query(db: AsyncSession, q: Select[Any], page: int, per_page: int, *,
                      scalars: bool = True) -> Page[Any]:
    return await fetch(db, q, PageRequest(page, per_page), scalars=scalars, last_when_past=True)


def paged_list(items: Sequence[T], page: int, per_page: int) -> Page[T]:
    return of_list(items, PageRequest(page, per_page), last_when_past=True)
