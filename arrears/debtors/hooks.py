"""What runs after the book was brought up to date from a report (registered by arrears.wiring:
the accounts domain, above this one, makes an account for each new book account). A hook takes the
session of one transaction and the organisation, and is idempotent.

A hook may also say how to do its part of a fresh book (`fresh`: the organisation's first report,
its new rows' ids reserved before they are inserted, see FreshBook) beside the book's own
transaction: the preparation runs on the hooks' connection while the book is written, and returns
what is left to do once the book has committed (run then in place of the hook)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass
class FreshBook:
    """A fresh book's new rows numbered before they exist (PostgreSQL): the report's snapshot
    `snapshot_first + k` becomes customer `customer_first + k` and book account
    `account_first + k` (blocks of both sequences, reserved once the hooks' transaction holds the
    book's lock, each in a short transaction of its own: bulk.reserve_fresh). `kept` turns false when the book's transaction could not keep that numbering
    (its customers' insert fell back to ON CONFLICT): what was prepared is then discarded."""

    org_id: int
    report_id: int
    snapshot_first: int
    customer_first: int
    account_first: int
    kept: bool = True


BookHook = Callable[[AsyncSession, int], Awaitable[object]]
Finish = Callable[[AsyncSession], Awaitable[object]]
FreshHook = Callable[[AsyncSession, FreshBook], Awaitable[Finish]]
_after_book: list[BookHook] = []
_fresh: dict[BookHook, FreshHook] = {}


def on_book_updated(hook: BookHook, *, fresh: FreshHook | None = None) -> None:
    if hook not in _after_book:
        _after_book.append(hook)
    if fresh is not None:
        _fresh[hook] = fresh


def registered() -> tuple[BookHook, ...]:
    return tuple(_after_book)


def prepares_fresh() -> bool:
    """Whether some hook has a fresh book's preparation (the book's job then runs it beside)."""
    return any(hook in _fresh for hook in _after_book)


def reset() -> None:
    _after_book.clear()
    _fresh.clear()


async def book_prepared(session: AsyncSession, book: FreshBook) -> dict[BookHook, Finish]:
    """Each hook's preparation of a fresh book, in the hooks' order; what each leaves to finish."""
    return {hook: await _fresh[hook](session, book) for hook in list(_after_book) if hook in _fresh}


async def book_updated(session: AsyncSession, org_id: int, prepared: dict[BookHook, Finish] | None = None) -> None:
    for hook in list(_after_book):
        finish = (prepared or {}).get(hook)
        await (finish(session) if finish is not None else hook(session, org_id))
