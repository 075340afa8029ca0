"""Job handlers of the debtor book (found by the worker through this module's name)."""

from __future__ import annotations

from arrears.debtors.imports import BOOK_JOB, ImportFailed, run_import, update_book
from arrears.debtors.service import IMPORT_JOB
from arrears.jobs.registry import JobContext, Permanent, handler


@handler(IMPORT_JOB)
async def import_upload(ctx: JobContext) -> None:
    """Import an uploaded age analysis. Idempotent: a finished upload is left as it is, and an
    interrupted attempt's rows are deleted when the next attempt starts."""
    try:
        await run_import(str(ctx.payload.get("upload_id")), final_attempt=ctx.attempt >= ctx.max_attempts,
                         actor=f"job:{ctx.job_id}")
    except ImportFailed as exc:
        raise Permanent(exc.message) from exc


@handler(BOOK_JOB)
async def update_book_from_upload(ctx: JobContext) -> None:
    """Customers and accounts of the book from a completed upload (idempotent upserts)."""
    await update_book(str(ctx.payload.get("upload_id")), actor=f"job:{ctx.job_id}")
