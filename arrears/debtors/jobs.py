"""Job handlers of the debtor book (found by the worker through this module's name)."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.ext.asyncio import AsyncEngine

from arrears.db import get_engine, transaction
from arrears.debtors import bulk, hooks, service
from arrears.debtors.hooks import FreshBook, book_updated
from arrears.debtors.imports import BOOK_JOB, ImportFailed, find_report, run_import, said_by, update_book
from arrears.debtors.service import IMPORT_JOB
from arrears.jobs.registry import JobContext, Permanent, handler

# The tables each bulk load fills (fixed names: never built from input).
IMPORT_TABLES = ("debtor_snapshots",)
BOOK_TABLES = ("debtor_accounts", "debtor_snapshot_ranks", "customers", "accounts")
# Of those, the ones update_book writes (the accounts owed, the after-book hooks', are the last one).
_BOOK_FIRST = ("debtor_accounts", "debtor_snapshot_ranks", "customers")
_HOOKS_TABLE = "accounts"  # what the after-book hooks write (BOOK_TABLES less _BOOK_FIRST)


async def analyze(tables: tuple[str, ...]) -> None:
    """Fresh planner statistics right after a bulk load. Without them PostgreSQL plans the book's
    pages for the handful of rows it saw before (93 rows guessed for 200,000) until autovacuum
    gets round to the table. PostgreSQL: `ANALYZE (SKIP_LOCKED)` samples each table, leaving it
    to an ANALYZE or vacuum already running on it; each table on a connection of its own, at
    once (the book's three take about the time of the largest), debtor_accounts and customers on
    the columns their readers need, on a smaller sample (bulk.analyze_table). SQLite: `ANALYZE`
    with a small analysis limit (a sample of each index, so it stays cheap on a large book)."""
    engine = get_engine()
    if engine.dialect.name == "postgresql":
        await asyncio.gather(*(_analyze_one(engine, table) for table in tables))
        return
    async with engine.begin() as conn:
        await conn.exec_driver_sql("PRAGMA analysis_limit=1000")
        for table in tables:
            await conn.exec_driver_sql(f"ANALYZE {table}")


async def _analyze_one(engine: AsyncEngine, table: str) -> None:
    async with engine.begin() as conn:
        await bulk.analyze_table(conn, table)


async def after_upload(upload: int | str) -> None:
    """The after-book hooks (the accounts owed, arrears.accounts) for the organisation of a
    completed upload, in their own transaction after the book's: a worker killed in between runs
    the whole job again, and both parts are idempotent."""
    async with transaction() as s:
        report = await find_report(s, upload)
        if report is not None and report.status == "completed":
            await book_updated(s, report.org_id)


async def book_job(upload: int | str, *, actor: str = "system", timings: dict[str, float] | None = None) -> None:
    """The book's job: `update_book`, the after-book hooks (`after_upload`: the accounts owed), then
    fresh statistics of the tables they wrote (BOOK_TABLES). On PostgreSQL the ANALYZE of the
    tables update_book wrote runs beside the hooks, on connections of its own, once update_book
    has committed (the accounts owed only read the book; ANALYZE takes no lock that an insert or
    a read waits for): a fresh book's statistics are no longer a step of their own after it. On
    SQLite the steps take turns (one writer at a time). A fresh book on PostgreSQL (the
    organisation's first report) has its customers and its accounts owed written beside the book
    accounts instead, each table's statistics in the transaction that wrote it
    (`_fresh_book_job`). `timings`, when given, gets each step's seconds: "book", "owed" and
    "analyze" (what the statistics took after the hooks; on the fresh path "owed" is what the
    hooks' transaction took after update_book returned, and "analyze" what is left after it:
    nothing unless the book was written the usual way)."""
    clock = time.perf_counter
    started = clock()
    if get_engine().dialect.name == "postgresql" and hooks.prepares_fresh():
        if await _fresh_book_job(upload, actor, timings):
            return
    await update_book(upload, actor=actor)
    booked = clock()
    early: asyncio.Task[None] | None = None
    if get_engine().dialect.name == "postgresql":
        early = asyncio.create_task(analyze(_BOOK_FIRST))
    try:
        await after_upload(upload)
    except BaseException:
        if early is not None:
            early.cancel()
            await asyncio.gather(early, return_exceptions=True)
        raise
    owed = clock()
    if early is None:
        await analyze(BOOK_TABLES)
    else:
        await asyncio.gather(early, analyze(tuple(t for t in BOOK_TABLES if t not in _BOOK_FIRST)))
    if timings is not None:
        timings.update(book=booked - started, owed=owed - booked, analyze=clock() - owed)


async def _fresh_book_job(upload: int | str, actor: str, timings: dict[str, float] | None) -> bool:
    """A fresh book's job with the hooks beside the book (PostgreSQL); False, having written
    nothing, when the book is not fresh (the caller then runs the steps in turn).

    The hooks' transaction (`_hooks_beside`) takes the book's lock, finds the book fresh and
    reserves its new rows' ids (bulk.reserve_fresh); then the book's transaction (update_book with
    those ids: the book accounts; its customers in a transaction of their own beside it, and the
    report's ranking in another) and the hooks' preparation (the accounts owed, inserted from the
    snapshots, with their history rows and events) run two at a time: the customers and the book
    accounts first, then the ranking once the customers are in and the accounts owed once the book
    accounts are (each pair about the same work: four writers at once on two cores, and 4 MB of
    WAL buffers, slowed one another more than they overlapped). The customers commit first, the
    book right after them, the hooks' transaction last: it then runs the hooks that have no
    preparation (promises, strategies) over the committed book, and commits. So readers never see
    a book account without its customer, nor an account owed without its book account; between
    the commits they see the new customers without their book accounts (for a round trip: as the
    API makes customers), then the book without its new accounts owed, as they did between the
    two transactions before (for the whole of the accounts owed' step then). The lock is the
    hooks' transaction's from before the book is written until all have committed: no other job
    comes in between. A job killed before the customers' commit leaves nothing; killed after it,
    it leaves the customers (and the book, once that committed) without what came after, and its
    next attempt finds the book not fresh and runs the steps in turn, which make the rest. If the
    hooks' transaction fails alone, the book commits without it (the unique indexes keep out
    whatever another job might write meanwhile) and the job fails: its next attempt runs the
    steps in turn."""
    clock = time.perf_counter
    started = clock()
    loop = asyncio.get_running_loop()
    planned: asyncio.Future[FreshBook | None] = loop.create_future()
    booked: asyncio.Future[None] = loop.create_future()
    idle: asyncio.Future[None] = loop.create_future()
    written: asyncio.Future[None] = loop.create_future()
    beside = asyncio.create_task(_hooks_beside(upload, planned, booked, idle, written))
    fresh = await said_by(beside, planned)
    if fresh is None:
        await beside
        return False

    async def statistics() -> None:
        await booked
        # The book accounts', the customers' and the ranking's statistics were taken in their own
        # transactions (imports.update_book), unless the book was written the usual way.
        if not fresh.kept:
            await analyze(("debtor_accounts", "customers"))

    early = asyncio.create_task(statistics())
    try:
        # The report's ranking (its own connection) once the customers are inserted (or the hooks'
        # backend is done preparing); the accounts owed once the book accounts are (`written`).
        # `booked` is set at the book's commit: the hooks then finish beside the ranking's end.
        await update_book(upload, actor=actor, fresh=fresh, rank_after=idle, booked=booked, written=written)
        for said in (written, booked):  # nothing written after all (the report's state changed)
            if not said.done():
                said.set_result(None)
        done_book = clock()
        await beside
    except BaseException:
        for task in (beside, early):
            task.cancel()
        await asyncio.gather(beside, early, return_exceptions=True)
        raise
    owed = clock()
    await early
    if timings is not None:
        timings.update(book=done_book - started, owed=owed - done_book, analyze=clock() - owed)
    return True


async def _hooks_beside(upload: int | str, planned: asyncio.Future[FreshBook | None], booked: asyncio.Future[None],
                        idle: asyncio.Future[None], written: asyncio.Future[None]) -> None:
    """The hooks' transaction of `_fresh_book_job`: says through `planned` whether the book is fresh
    (its ids reserved) and, if so, waits for `written` (the book accounts inserted), prepares the
    hooks' part, says through `idle` that this backend's
    work before the book's commit is done (whatever happens: the ranking waits for it), waits for
    `booked` (the book's commit), and runs the hooks (what each prepared left, or the whole hook
    when the book's transaction could not keep the numbering) before it commits."""
    try:
        async with transaction() as s:
            report = await find_report(s, upload)
            if report is None or report.status != "completed":
                planned.set_result(None)
                return
            await service.lock_book(s, report.org_id)
            fresh = await bulk.reserve_fresh(s, report.org_id, report.id)
            planned.set_result(fresh)
            if fresh is None:
                return
            await written  # the book accounts inserted: two writers at a time on two cores
            ahead = await s.begin_nested()
            prepared = await hooks.book_prepared(s, fresh)
            # The accounts owed' statistics while the book is still being written: ANALYZE samples
            # the rows this transaction inserted as live (they commit with them), so that they are
            # not a step after both commits.
            await bulk.analyze_table(s, _HOOKS_TABLE)
            idle.set_result(None)
            await booked
            if fresh.kept:
                await ahead.commit()
                await hooks.book_updated(s, report.org_id, prepared)
            else:  # prepared for nothing (statistics included): the hooks as in turn, over the book
                await ahead.rollback()
                await hooks.book_updated(s, report.org_id)
                await bulk.analyze_table(s, _HOOKS_TABLE)
    finally:
        if not idle.done():
            idle.set_result(None)


@handler(IMPORT_JOB)
async def import_upload(ctx: JobContext) -> None:
    """Import an uploaded age analysis. Idempotent: a finished upload is left as it is, and an
    interrupted attempt's rows are deleted when the next attempt starts."""
    try:
        outcome = await run_import(str(ctx.payload.get("upload_id")), final_attempt=ctx.attempt >= ctx.max_attempts,
                                   actor=f"job:{ctx.job_id}", mapping=ctx.payload.get("mapping"))
    except ImportFailed as exc:
        raise Permanent(exc.message) from exc
    if outcome.status == "completed":
        await analyze(IMPORT_TABLES)


@handler(BOOK_JOB)
async def update_book_from_upload(ctx: JobContext) -> None:
    """Customers and accounts of the book from a completed upload (idempotent upserts)."""
    await book_job(str(ctx.payload.get("upload_id")), actor=f"job:{ctx.job_id}")
