"""Importing a spreadsheet age analysis into the debtor book: all or nothing, with progress.

The file is read by the reading layer in the parse pool's child process (arrears.sandbox: hard
memory, CPU and wall-time limits), a block of rows at a time, sent back to a thread here, while the event
loop stores what it produced (batches of encoded snapshot rows), so that the database works while
the next rows are parsed. The report's figures are gathered from the batches as they are stored.
The whole import is one transaction: a failure (or a killed worker) leaves no accounts. An
attempt starts by deleting whatever an earlier attempt of the same report left, so a retried job
ends with exactly the file's accounts, once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import numpy  # noqa: F401 - the reading layer's money checks use it: loaded with the worker, not by its first import
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events
from arrears.config import get_settings
from arrears.db import advisory_lock, transaction, utcnow
from arrears.debtors import book, bulk, profiles, service, summary
from arrears.debtors.aliases import ALIASES_SETTING, ImportFailed, org_aliases
from arrears.debtors.errors import DebtorErrorCode
from arrears.debtors.gcpause import collector_paused
from arrears.debtors.hooks import FreshBook
from arrears.debtors.models import DebtorReport
from arrears.debtors.preview import run_saved_mapping
from arrears.debtors.progress import Progress, ProgressTracker, clear_side_file
from arrears.debtors.reading import ReadError, RowError
from arrears.debtors.reading.isolated import IsolatedReader, open_isolated
from arrears.errors import ErrorCode
from arrears.identity import service as identity
from arrears.jobs import queue

log = logging.getLogger("arrears.debtors.imports")

# Rows per batch: the `limits` section's ARREARS_IMPORT_BATCH_ROWS (default 5000).
BATCH_ROWS_ENV = "ARREARS_IMPORT_BATCH_ROWS"
QUEUE_BATCHES = 3
# Tests only: seconds to wait after each batch, to make an import slow enough to kill mid-way.
THROTTLE_ENV = "ARREARS_IMPORT_THROTTLE"
BOOK_JOB = "debtors.update_book"
RANK_LOCK = 0x52414E4B  # "RANK", keyed by the report id: two attempts of a book job rank one at a time


@dataclass
class ImportOutcome:
    upload_id: uuid.UUID  # the report's UUID
    status: str  # completed | failed
    accounts: int
    failed_rows: int
    total_balance: Decimal
    overdue_balance: Decimal
    message: str
    error_code: str | None = None


async def find_report(session: Any, upload: int | uuid.UUID | str) -> DebtorReport | None:
    """A report by its integer id or its UUID (no caller: jobs and the CLI)."""
    from sqlalchemy import select

    if isinstance(upload, int):
        return await session.get(DebtorReport, upload)
    try:
        key = upload if isinstance(upload, uuid.UUID) else uuid.UUID(str(upload))
    except ValueError:
        return None
    return await session.scalar(select(DebtorReport).where(DebtorReport.uuid == key))


def report_path(report: DebtorReport) -> Path:
    return get_settings().uploads_path / str(report.org_id) / report.filename


def _count_lines(path: Path) -> int:
    lines = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            lines += chunk.count(b"\n")
    return lines


# ------------------------------------------------------------------ the job


async def run_import(upload: int | uuid.UUID | str, *, final_attempt: bool = True,
                     listener: Callable[[Progress], None] | None = None,
                     actor: str = "system", progress_interval: float = 0.5,
                     mapping: Mapping[Any, str | None] | None = None) -> ImportOutcome:
    """Import the report's file (idempotent: a finished report is returned as it is). `upload` is
    the report's integer id or its UUID. `mapping` (column index -> field or None, checked by the
    upload) is laid over the file's header; without one the organisation's saved profile for the
    header's signature is, when there is one."""
    started = utcnow()
    async with transaction() as s:
        report = await find_report(s, upload)
        if report is None:
            raise ImportFailed(ErrorCode.NOT_FOUND, f"Upload {upload} does not exist")
        if report.status in ("completed", "failed"):
            return _outcome_of(report)
        org = await identity.get_org(s, report.org_id)
        raw_aliases = identity.org_setting(org, ALIASES_SETTING)
        zone = book.zone_of(org)
        saved = await profiles.for_org(s, report.org_id) if mapping is None else None
        report.status = "processing"
        report.stage = "starting"
        report.attempts = (report.attempts or 0) + 1
        report.processing_started_at = started
        report.progress_updated_at = started
        report.total_rows = report.processed_rows = report.success_rows = report.failed_rows = 0
        report.progress = 0.0
        report.progress_message = "Starting import..."
        report.error_message = report.error_code = None
        report.error_details = None
        org_id, created_at = report.org_id, report.created_at
        report_id, upload_id = report.id, report.uuid
        path = report_path(report)
        user_id = report.user_id
    clear_side_file(upload_id)
    tracker = ProgressTracker(report_id, upload_id, started, interval=progress_interval, listener=listener)
    await tracker.start()
    try:
        aliases = org_aliases(raw_aliases)
        if not path.exists():
            raise ImportFailed(DebtorErrorCode.FILE_MISSING, "The uploaded file is no longer available; upload it again.")
        columns = {int(k): v for k, v in mapping.items()} if mapping is not None else None
        said: list[str] = []
        if columns is None and saved:  # the saved profile of this header, looked up before the reader opens
            columns, said = await asyncio.to_thread(run_saved_mapping, path, aliases, saved)
        outcome = await _import(report_id, upload_id, org_id, user_id, created_at, path, aliases, tracker, actor,
                                zone, columns, said)
    except (ImportFailed, ReadError) as exc:
        await tracker.stop()
        return await _fail(report_id, org_id, exc.code, exc.message, getattr(exc, "details", None),
                           tracker, actor, listener)
    except BaseException as exc:
        await tracker.stop()
        if final_attempt and isinstance(exc, Exception):
            reason = f"The import failed unexpectedly ({type(exc).__name__}: {exc})."
            await _fail(report_id, org_id, DebtorErrorCode.IMPORT_ERROR, reason[:2000], None, tracker, actor, listener)
        else:
            tracker.set_stage(tracker.stage, "The import was interrupted; it will be retried.")
            await tracker.flush(force=True)
        raise
    await tracker.stop()
    clear_side_file(upload_id)
    if listener is not None:
        async with transaction(readonly=True) as s:
            report = await s.get(DebtorReport, report_id)
            assert report is not None
            from arrears.debtors.progress import progress_of

            listener(progress_of(report))
    return outcome


async def _import(report_id: int, upload_id: uuid.UUID, org_id: int, user_id: int | None, created_at: Any, path: Path,
                  aliases: dict[str, list[str]] | None, tracker: ProgressTracker, actor: str,
                  zone: ZoneInfo, mapping: dict[int, str | None] | None = None,
                  said: list[str] | None = None) -> ImportOutcome:
    throttle = get_settings().limits.import_throttle
    loop = asyncio.get_running_loop()
    async with transaction() as s:
        postgres = bulk.is_postgres(s)
        await service.lock_import(s, report_id)
        done = await s.get(DebtorReport, report_id)
        if done is not None and done.status in ("completed", "failed"):
            return _outcome_of(done)  # another attempt finished it while this one waited
        await bulk.delete_report_rows(s, report_id)  # what an interrupted attempt left
        # On SQLite this transaction holds the write lock the worker's heartbeat needs: the
        # lease is renewed in here instead (a no-op elsewhere and outside a worker).
        await queue.renew_lease(s)

        def on_rows_read(count: int) -> None:
            tracker.processed_rows = count

        clock = {"begin": time.perf_counter()}
        # Parsed in the parse pool's child (hard memory, CPU and time limits): a file that kills
        # its parser raises ReadError here or from the blocks, and the report fails for good.
        batch_rows = get_settings().limits.import_batch_rows
        reader = await asyncio.to_thread(open_isolated, path, aliases, on_rows_read, 1000, batch_rows, mapping)
        clock["opened"] = time.perf_counter()
        try:
            await queue.renew_lease(s)
            header = reader.header
            estimate = header.rows_estimate
            if estimate is None:
                estimate = max(await asyncio.to_thread(_count_lines, path) - header.header_row, 0)
            tracker.total_rows = estimate
            tracker.set_stage("parsing")
            await tracker.flush(force=True)

            now = utcnow()
            encoder = bulk.SnapshotEncoder(org_id, report_id, now, postgres, older=bool(header.extra_buckets))
            batches: asyncio.Queue[bulk.Batch | BaseException | None] = asyncio.Queue()
            slots = threading.Semaphore(QUEUE_BATCHES)
            stop = threading.Event()

            def hand_over(item: bulk.Batch | BaseException | None) -> None:
                loop.call_soon_threadsafe(batches.put_nowait, item)

            def produce() -> None:
                try:
                    with collector_paused():
                        for batch in _batches(reader, encoder, tracker, stop):
                            while not slots.acquire(timeout=0.5):
                                if stop.is_set():
                                    return
                            hand_over(batch)
                    hand_over(None)
                except BaseException as exc:  # noqa: BLE001 - handed to the event loop
                    hand_over(exc)

            producer = threading.Thread(target=produce, name=f"import-{upload_id}", daemon=True)
            producer.start()
            clock["start"] = time.perf_counter()
            accounts = 0
            failed = 0
            figures = summary.TotalsAccumulator()
            errors: list[RowError] = []
            second_phones: list[tuple[int, str]] = []

            async def delivered() -> AsyncIterator[bulk.Batch]:
                nonlocal accounts, failed
                while True:
                    item = await batches.get()
                    if item is None:
                        return
                    if isinstance(item, BaseException):
                        raise item
                    slots.release()
                    accounts += item.rows
                    failed += len(item.errors)
                    if item.block is not None:
                        figures.add(item.block.cents, item.overdue, item.block.sheet_rows)
                        second_phones.extend(_second_phones(item.block))
                    yield item
                    if throttle:  # on the job's clock: a test's own, when its worker has one
                        await queue.job_clock().sleep(throttle)

            async def payloads() -> AsyncIterator[bytes]:
                async for batch in delivered():
                    errors.extend(batch.errors)
                    if batch.rows:
                        yield batch.payload

            try:
                if postgres:
                    # One COPY for the whole file: the server takes rows as they come.
                    await bulk.copy_stream(s, encoder.columns, payloads())
                    for start in range(0, len(errors), batch_rows):
                        await bulk.store_row_errors(s, report_id, errors[start:start + batch_rows])
                else:
                    async for batch in delivered():
                        await bulk.store_batch(s, batch)
                        await bulk.store_row_errors(s, report_id, batch.errors)
                        await queue.renew_lease(s)
            finally:
                stop.set()
                await asyncio.to_thread(producer.join)
        finally:
            reader.close()

        await book.copy_second_phones(s, report_id, second_phones)
        clock["rows"] = time.perf_counter()
        tracker.total_rows = tracker.processed_rows = accounts + failed
        tracker.set_stage("saving")
        await tracker.flush(force=True)
        await queue.renew_lease(s)
        totals = figures.figures()
        clock["summary"] = time.perf_counter()
        finished = utcnow()
        report = await s.get(DebtorReport, report_id)
        assert report is not None
        report.status = "completed"
        report.stage = "completed"
        report.file_format = header.file_format.value
        report.header = {
            "sheet": header.sheet_name, "header_row": header.header_row,
            "found_headers": header.found_headers, "mapping": header.mapping,
            "extra_buckets": {str(k): v for k, v in header.extra_buckets.items()},
            "unmapped_headers": header.unmapped_headers,
            "delimiter": header.delimiter, "encoding": header.encoding,
        }
        if mapping is not None:
            report.header["column_mapping"] = {str(k): v for k, v in sorted(mapping.items())}
        report.totals = totals
        report.total_rows = report.processed_rows = accounts + failed
        report.success_rows = accounts
        report.failed_rows = failed
        report.progress = 1.0
        book.date_report(report, getattr(reader, "title_lines", None) or getattr(header, "title_lines", None), zone)
        reading = book.note_reading(report, reader, header)
        if said:  # what the saved profile's lookup said (one that no longer fits)
            report.warnings = [*said, *(report.warnings or [])]
        report.progress_message = f"Import completed: {accounts} accounts imported, {failed} rows failed" + (
            f"; {reading}" if reading else "")
        report.processing_completed_at = finished
        report.progress_updated_at = finished
        overdue = Decimal(totals["overdue_balance"])
        await queue.renew_lease(s, force=True)  # committed with the import: no other worker takes it
        # The book (customers, accounts' latest balances) follows from the committed snapshots.
        await queue.enqueue(s, BOOK_JOB, {"upload_id": str(upload_id)}, org_id=org_id,
                            dedupe_key=f"book:{upload_id}")
        await events.record(
            s, org_id=org_id, type="upload.completed", actor=actor, subject_type="upload",
            subject_id=upload_id,
            data={"upload_id": str(upload_id), "report_id": report_id, "user_id": user_id, "status": "completed",
                  "records_processed": accounts, "records_failed": failed,
                  "total_balance": totals["total_balance"], "overdue_balance": totals["overdue_balance"]})
    clock["commit"] = time.perf_counter()
    log.info("imported upload %s: %d accounts, %d failed rows; file opened in %.2f s, rows read and stored "
             "in %.2f s, summary %.2f s, commit %.2f s", upload_id, accounts, failed,
             clock["opened"] - clock["begin"], clock["rows"] - clock["start"], clock["summary"] - clock["rows"],
             clock["commit"] - clock["summary"])
    return ImportOutcome(upload_id, "completed", accounts, failed, Decimal(totals["total_balance"]), overdue,
                         report.progress_message)


def _second_phones(block: Any) -> list[tuple[int, str]]:
    """(sheet row, second number) of a block's accounts that have one (the reader's `phone2`
    column, when it gives one)."""
    phones = getattr(block, "phone2", None)
    if not phones or not any(phones):
        return []
    return [(row, phone) for row, phone in zip(block.sheet_rows, phones, strict=False) if phone]


def _batches(reader: IsolatedReader, encoder: bulk.SnapshotEncoder, tracker: ProgressTracker,
             stop: threading.Event) -> Iterable[bulk.Batch]:
    """Runs in the reader thread: blocks of rows in, encoded batches out; counts for the progress."""
    success = failed = 0
    for block in reader.blocks():
        batch = encoder.encode(block)
        success += batch.rows
        failed += len(batch.errors)
        tracker.success_rows, tracker.failed_rows = success, failed
        yield batch
        if stop.is_set():
            return


async def update_book(upload: int | uuid.UUID | str, *, actor: str = "system", fresh: FreshBook | None = None,
                      rank_after: asyncio.Future[None] | None = None, booked: asyncio.Future[None] | None = None,
                      written: asyncio.Future[None] | None = None) -> int:
    """Customers and accounts from a completed report's snapshots (idempotent); returns how many
    customers were created. On PostgreSQL the report's ranking (which reads its snapshots only)
    is written meanwhile on a second connection, in a transaction of its own: the server works on
    both at once. Settling the accounts a whole-book report does not list (arrears.debtors.book)
    is in the main transaction, after the accounts' upsert. `booked`, when given, is set once the
    main transaction has committed (the ranking may still be at work).

    `fresh`: a fresh book numbered in advance by the book's job (arrears.debtors.jobs), whose
    hooks' transaction holds the book's lock for this one (it commits after this one does). Its
    customers are inserted on a connection of their own too (`_customers_apart`), beside its book
    accounts (no foreign key between them; each numbered from its snapshot), with their event and
    their statistics, and committed just before the book's transaction, which waits for that
    commit: readers never see a book account without its customer. A job killed between the two
    commits leaves the customers without their book accounts; its next attempt finds the book not
    fresh and writes the book accounts in turn, for the customers there. The ranking starts once
    either the hooks' transaction's own writes are done (`rank_after`) or the customers are
    inserted, and `written` is set once the book accounts are (the hooks' transaction then inserts
    the accounts owed): two writers at a time on two cores (four at once slowed one another). Each
    of the three takes its table's statistics in its transaction (ANALYZE counts the transaction's
    own rows as live): none is left after the commits."""
    ranking: asyncio.Task[None] | None = None
    customers: asyncio.Task[None] | None = None
    loop = asyncio.get_running_loop()
    written = written or loop.create_future()  # a fresh book's accounts inserted
    inserted: asyncio.Future[int | None] = loop.create_future()  # a fresh book's customers
    try:
        async with transaction() as s:
            report = await find_report(s, upload)
            if report is None or report.status != "completed":
                return 0
            apart = bulk.is_postgres(s)
            if apart:
                after: list[asyncio.Future[Any]] = [f for f in (rank_after, inserted if fresh is not None else None)
                                                    if f is not None]
                ranking = asyncio.create_task(_rank_apart(report.id, after, analyze=fresh is not None))
            # Two workers on two uploads of the organisation (or on the same one) take turns.
            if fresh is None:
                await service.lock_book(s, report.org_id)
            if report.report_date is None:  # imported before reports had dates
                book.date_report(report, None, book.zone_of(await identity.get_org(s, report.org_id)))
            assert report.report_date is not None
            now = utcnow()
            go: asyncio.Future[None] = loop.create_future()
            count: Callable[[], Awaitable[int | None]] | None = None
            if fresh is not None:
                task = customers = asyncio.create_task(_customers_apart(report, fresh, now, actor, inserted, go))

                async def count() -> int | None:
                    written.set_result(None)
                    # The book accounts' statistics while the customers are still being inserted
                    # (rolled back with the savepoint when those fail on a code taken).
                    await bulk.analyze_table(s, "debtor_accounts")
                    return await said_by(task, inserted)

            created = await bulk.link_book(s, report.id, report.created_at, now, report_date=report.report_date,
                                           rank=not apart, fresh=fresh, customers=count)
            await book.reconcile(s, report, fresh=fresh is not None and fresh.kept)
            if created and (fresh is None or not fresh.kept):  # a fresh book's: with its customers
                await _customers_created(s, report, created, actor)
            if customers is not None:
                go.set_result(None)  # the customers commit first
                await customers
    except BaseException:
        for pending in (ranking, customers):
            if pending is not None:
                pending.cancel()
                await asyncio.gather(pending, return_exceptions=True)
        raise
    if booked is not None:
        booked.set_result(None)
    if ranking is not None:
        await ranking
    return created


async def _customers_created(session: AsyncSession, report: DebtorReport, created: int, actor: str) -> None:
    await events.record(session, org_id=report.org_id, type="customer.bulk_created", actor=actor,
                        subject_type="upload", subject_id=report.uuid,
                        data={"records_created": created, "source": "debtor_import", "upload_id": str(report.uuid)})


_Said = TypeVar("_Said")


async def said_by(task: asyncio.Task[None], value: asyncio.Future[_Said]) -> _Said:
    """What `task` says through `value` (before it ends), or its failure when it fails before saying it."""
    either: list[asyncio.Future[Any]] = [value, task]
    await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    if not value.done():
        await task  # failed before it could say: raises
    return value.result()


async def _customers_apart(report: DebtorReport, fresh: FreshBook, now: datetime, actor: str,
                           inserted: asyncio.Future[int | None], go: asyncio.Future[None]) -> None:
    """A fresh book's customers in a transaction of their own (update_book): inserted with their
    reserved ids, their event, their statistics (ANALYZE samples this transaction's rows as live);
    says through `inserted` how many (None: a code was taken, nothing to commit), then waits for
    `go` (the book's transaction ready to commit) and commits. Cancelled, it rolls back."""
    async with transaction() as s:
        created = await bulk.insert_fresh_customers(s, report.id, now, fresh)
        if created is None:
            inserted.set_result(None)
            return
        if created:
            await _customers_created(s, report, created, actor)
        await bulk.analyze_table(s, "customers")
        inserted.set_result(created)
        await go


async def _rank_apart(report_id: int, after: list[asyncio.Future[Any]], *, analyze: bool = False) -> None:
    """The report's ranking in a transaction of its own, once one of `after` is done (if any);
    `analyze`: with its table's statistics (ANALYZE counts this transaction's rows as live)."""
    if after:
        await asyncio.wait(after, return_when=asyncio.FIRST_COMPLETED)
    async with transaction() as s:
        await advisory_lock(s, RANK_LOCK, report_id)
        await bulk.rank_report(s, report_id)
        if analyze:
            await bulk.analyze_table(s, "debtor_snapshot_ranks")


async def _fail(report_id: int, org_id: int, code: str, message: str, details: Any,
                tracker: ProgressTracker, actor: str, listener: Callable[[Progress], None] | None
                ) -> ImportOutcome:
    """Mark the report failed (its own transaction: the import's was rolled back)."""
    now = utcnow()
    async with transaction() as s:
        await s.execute(update(DebtorReport).where(DebtorReport.id == report_id).values(
            status="failed", stage="failed", error_code=code, error_message=message,
            error_details=details or None, progress_message=message, processing_completed_at=now,
            progress_updated_at=now, total_rows=tracker.total_rows,
            processed_rows=tracker.processed_rows, success_rows=0,
            failed_rows=tracker.failed_rows, progress=tracker.fraction(), updated_at=now))
        report = await s.get(DebtorReport, report_id)
        assert report is not None
        await events.record(s, org_id=org_id, type="upload.failed", actor=actor, subject_type="upload",
                            subject_id=report.uuid,
                            data={"upload_id": str(report.uuid), "report_id": report_id, "status": "failed",
                                  "code": code, "message": message})
        outcome = _outcome_of(report)
    clear_side_file(report.uuid)
    if listener is not None:
        from arrears.debtors.progress import progress_of

        listener(progress_of(report))
    return outcome


def _outcome_of(report: DebtorReport) -> ImportOutcome:
    totals = report.totals or {}
    return ImportOutcome(
        report.uuid, report.status, report.success_rows if report.status == "completed" else 0,
        report.failed_rows, Decimal(totals.get("total_balance", "0")),
        Decimal(totals.get("overdue_balance", "0")),
        report.error_message or report.progress_message or "", report.error_code)

