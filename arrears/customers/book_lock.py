"""The organisation's book lock: whatever writes the debtor book (customers, book accounts,
accounts owed) from a report holds it for its transaction (arrears.debtors.service.lock_book).

It lives here, below the book, because a customer's deletion takes it too, before it locks the
customer's row: the book's job holds the lock and then updates customers (their phones and
contacts), and on PostgreSQL the deletion's trigger (migration 0027) takes the lock after the
row. Taken the other way round, a deletion that had locked the row first and the job would wait
for each other (a deadlock, which PostgreSQL breaks by failing one); in this order the deletion
waits for the job. On SQLite every writer takes turns on the database's write lock anyway."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from arrears.db import advisory_lock

# A two-key advisory lock (namespace, organisation id), apart from messaging's and the partners'.
# Migration 0027's triggers name the same namespace.
BOOK_LOCK = 0x424F4F4B  # "BOOK"


async def lock_book(session: AsyncSession, org_id: int) -> None:
    """Hold the organisation's book until this transaction ends (re-entrant within it)."""
    await advisory_lock(session, BOOK_LOCK, org_id)
