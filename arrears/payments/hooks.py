"""What runs after payments change, inside the same transaction.

    on_payments_changed(fn)      # fn(session, org_id, account_ids) -> Awaitable[None]

`fn` is awaited after every change of payments — one recorded through the API, a bulk list, an
import, a match by hand, a reversal — once per change, with the organisation and the ids of the
accounts whose payments changed (a sorted list of UUIDs; never an unmatched line's, which has no
account). It runs after the accounts' balances and `paid_up`/`active` statuses are settled, in
the same transaction: what it writes commits or rolls back with the payments. Registration is done
in arrears.wiring `wire()` only (the promises domain registers its evaluator there); nothing
registers itself on import. Idempotent: a function registered twice runs once.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable

from sqlalchemy.ext.asyncio import AsyncSession

PaymentsChanged = Callable[[AsyncSession, int, list[uuid.UUID]], Awaitable[None]]
_handlers: list[PaymentsChanged] = []


def on_payments_changed(fn: PaymentsChanged) -> None:
    if fn not in _handlers:
        _handlers.append(fn)


def registered() -> tuple[PaymentsChanged, ...]:
    return tuple(_handlers)


def reset() -> None:
    _handlers.clear()


async def payments_changed(session: AsyncSession, org_id: int, account_ids: Iterable[uuid.UUID | None]) -> None:
    ids = sorted({i for i in account_ids if i is not None})
    if not ids:
        return
    for fn in list(_handlers):
        await fn(session, org_id, ids)


# The name the promises branch (and its tests) call it by.
notify = payments_changed
