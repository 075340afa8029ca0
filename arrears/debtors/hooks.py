"""What runs after the book was brought up to date from a report (registered by arrears.wiring:
the accounts domain, above this one, makes an account for each new book account). A hook takes the
session of one transaction and the organisation, and is idempotent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

BookHook = Callable[[AsyncSession, int], Awaitable[object]]
_after_book: list[BookHook] = []


def on_book_updated(hook: BookHook) -> None:
    if hook not in _after_book:
        _after_book.append(hook)


def registered() -> tuple[BookHook, ...]:
    return tuple(_after_book)


def reset() -> None:
    _after_book.clear()


async def book_updated(session: AsyncSession, org_id: int) -> None:
    for hook in list(_after_book):
        await hook(session, org_id)
