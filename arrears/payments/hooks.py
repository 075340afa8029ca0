"""What runs after payments changed on some accounts (recorded, reversed, matched): registered by
arrears.wiring (the promises domain evaluates the accounts' promises). A hook takes the session of
the payment's transaction, the organisation and the accounts, and is idempotent."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

PaymentsHook = Callable[[AsyncSession, int, Sequence[uuid.UUID]], Awaitable[object]]
_hooks: list[PaymentsHook] = []


def on_payments_changed(fn: PaymentsHook) -> None:
    if fn not in _hooks:
        _hooks.append(fn)


def registered() -> tuple[PaymentsHook, ...]:
    return tuple(_hooks)


def reset() -> None:
    _hooks.clear()


async def notify(session: AsyncSession, org_id: int, account_ids: Sequence[uuid.UUID]) -> None:
    """Call every hook, in the caller's transaction (the payment's)."""
    for fn in list(_hooks):
        await fn(session, org_id, account_ids)
