"""Job handlers of the debtor book (found by the worker through this module's name)."""

from __future__ import annotations

from sqlalchemy import text

from arrears.db import get_engine
from arrears.debtors.imports import BOOK_JOB, ImportFailed, run_import, update_book
from arrears.debtors.service import IMPORT_JOB
from arrears.jobs.registry import JobContext, Permanent, handler

# The tables each bulk load fills (fixed names: never built from input).
IMPORT_TABLES = ("debtor_snapshots",)
BOOK_TABLES = ("debtor_accounts", "debtor_snapshot_ranks", "customers")


async def analyze(tables: tuple[str, ...]) -> None:
    """Fresh planner statistics right after a bulk load. Without them PostgreSQL plans the book's
    pages for the handful of rows it saw before (93 rows guessed for 200,000) until autovacuum
    gets round to the table. PostgreSQL: `ANALYZE (SKIP_LOCKED)` samples each table, leaving it
    to an ANALYZE or vacuum already running on it. SQLite: `ANALYZE` with a small analysis limit
    (a sample of each index, so it stays cheap on a large book)."""
    engine = get_engine()
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text(f"ANALYZE (SKIP_LOCKED) {', '.join(tables)}"))
        else:
            await conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            for table in tables:
                await conn.exec_driver_sql(f"ANALYZE {table}")


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
    await update_book(str(ctx.payload.get("upload_id")), actor=f"job:{ctx.job_id}")
    await analyze(BOOK_TABLES)
