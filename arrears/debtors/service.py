"""The rules of the debtor book: reports (uploads), their accounts (snapshots), selection, the
book's accounts and their customers. Services take a session and the caller, flush and never
commit; every query is scoped to the caller's organisation (another's ids are not found).

Who sees which report: its uploader; admins and managers see every report of the organisation.
Changing a report (selection) needs write access as well.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events, paging
from arrears.customers import book_lock
from arrears.db import advisory_lock, utcnow
from arrears.debtors import book, bulk, hooks, summary
from arrears.debtors.models import (
    DebtorAccount,
    DebtorReport,
    DebtorRowError,
    DebtorSnapshot,
    DebtorSnapshotRank,
)
from arrears.debtors.progress import Progress, current_progress
from arrears.debtors.reading import AccountBlock, AccountRow, RowError
from arrears.debtors.storage import StoredFile
from arrears.errors import NotFound, ValidationFailed
from arrears.identity.caller import Caller
from arrears.jobs import queue
from arrears.paging import Page, PageRequest, PageRule

T = TypeVar("T")
IMPORT_JOB = "debtors.import"
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
SELECTION_CHUNK = 500

# Sort keys of the accounts list: the AAMA's field names, and the book's own column names.
SORT_KEYS: dict[str, Any] = {
    "account_code": DebtorSnapshot.account_code,
    "customer_name": DebtorSnapshot.customer_name,
    "contact_person": DebtorSnapshot.contact,
    "telephone": DebtorSnapshot.telephone,
    "amount_current": DebtorSnapshot.current,
    "amount_30d": DebtorSnapshot.d30,
    "amount_60d": DebtorSnapshot.d60,
    "amount_90d": DebtorSnapshot.d90,
    "amount_120d": DebtorSnapshot.d120,
    "current": DebtorSnapshot.current,
    "d30": DebtorSnapshot.d30,
    "d60": DebtorSnapshot.d60,
    "d90": DebtorSnapshot.d90,
    "d120": DebtorSnapshot.d120,
    "total_balance": DebtorSnapshot.total_balance,
    "overdue_amount": DebtorSnapshot.overdue_amount,
    "is_selected": DebtorSnapshot.is_selected,
    "sheet_row": DebtorSnapshot.sheet_row,
    "created_at": DebtorSnapshot.sheet_row,  # every snapshot of a report is created at once
}


# ------------------------------------------------------------------ the book's lock

# Two-key advisory locks (namespace, key), apart from messaging's and the partners'. The book's
# own namespace is arrears.customers.book_lock's: a customer's deletion takes it too.
IMPORT_LOCK = 0x494D5054  # "IMPT", keyed by the report id


async def lock_book(session: AsyncSession, org_id: int) -> None:
    """Hold the organisation's book until this transaction ends. Whatever writes the book from
    a report (the book's job of an import, a PDF stored by the pharmacy face) takes it first:
    two of them at once would insert the same new customers and accounts in different orders and
    deadlock, and the newer report must be the one written last. (A customer's deletion takes it
    as well, before the customer's row: arrears.customers.book_lock.)"""
    await book_lock.lock_book(session, org_id)


async def lock_import(session: AsyncSession, report_id: int) -> None:
    """Hold the report's import until this transaction ends: a second attempt of the same upload
    (a worker whose lease ran out while the first still imported) waits here instead of copying
    the file's rows beside the first attempt's. The caller re-reads the status afterwards."""
    await advisory_lock(session, IMPORT_LOCK, report_id)


# ------------------------------------------------------------------ pages


# The AAMA face's paging (page, per_page: default 20, at most 100), which the web UI's books share.
PAGES = PageRule(DEFAULT_PER_PAGE, MAX_PER_PAGE)


# ------------------------------------------------------------------ reports


def _report_scope(caller: Caller, *, own_only: bool | None = None) -> ColumnElement[bool]:
    """The reports a caller may see: their own, or (admins, managers) the organisation's."""
    condition = DebtorReport.org_id == caller.org_id
    if own_only is None:
        own_only = not caller.is_manager_or_admin
    if own_only:
        condition = and_(condition, DebtorReport.user_id == caller.user_id)
    return condition


def parse_id(value: Any, what: str = "Upload") -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise NotFound(f"{what} not found") from None


def _key(model: Any, value: Any, what: str) -> ColumnElement[bool]:
    """Lookup by the integer id (pharmacy) or the UUID (AAMA) of a report or a snapshot."""
    if isinstance(value, int) and not isinstance(value, bool):
        return model.id == value
    return model.uuid == parse_id(value, what)


def _split_ids(values: Iterable[Any]) -> tuple[list[int], list[uuid.UUID]]:
    """Integer ids and UUIDs among `values`; anything else is dropped. Repeats are dropped too."""
    ints: dict[int, None] = {}
    uuids: dict[uuid.UUID, None] = {}
    for raw in values:
        if isinstance(raw, int) and not isinstance(raw, bool):
            ints[raw] = None
            continue
        try:
            uuids[uuid.UUID(str(raw))] = None
        except (ValueError, TypeError, AttributeError):
            continue
    return list(ints), list(uuids)


async def create_report(session: AsyncSession, caller: Caller | None, stored: StoredFile, *,
                        org_id: int | None = None, user_id: int | None = None,
                        source: str = "spreadsheet", enqueue: bool = True, report_date: date | None = None,
                        partial: bool = False, mapping: dict[int, str | None] | None = None) -> DebtorReport:
    """The report of a stored upload, pending; its import job is enqueued in the same transaction
    (so the job exists exactly when the report does). `report_date` is the date the upload gave
    (checked by book.parse_report_date); without one the import reads it from the file. `mapping`,
    a column mapping the upload checked, travels with the job."""
    if caller is not None:
        caller.require_write()
    org = org_id if org_id is not None else (caller.org_id if caller else stored.org_id)
    report = DebtorReport(
        uuid=stored.upload_id, org_id=org, user_id=user_id if user_id is not None else (
            caller.user_id if caller else None),
        source=source, filename=stored.filename, original_filename=stored.original_filename,
        file_size=stored.size, mime_type=stored.mime_type, file_format=stored.file_format,
        status="pending", stage="starting", total_rows=0, processed_rows=0, success_rows=0,
        failed_rows=0, progress=0.0, progress_message="Waiting to be processed", attempts=0,
        report_date=report_date, report_date_source="form" if report_date else None, partial=partial)
    session.add(report)
    await session.flush()
    if enqueue:
        payload: dict[str, Any] = {"upload_id": str(report.uuid)}
        if mapping is not None:
            payload["mapping"] = {str(k): v for k, v in sorted(mapping.items())}
        await queue.enqueue(session, IMPORT_JOB, payload, org_id=org,
                            max_attempts=3, dedupe_key=f"import:{report.uuid}")
    return report


def default_scope(caller: Caller) -> str:
    """Whose uploads a caller's lists show unless they ask: the organisation's for admins and
    managers, their own for everyone else."""
    return "organisation" if caller.is_manager_or_admin else "own"


async def list_reports(session: AsyncSession, caller: Caller, *, page: int = 1,
                       per_page: int = DEFAULT_PER_PAGE, scope: str | None = "own") -> Page[DebtorReport]:
    """The uploads in `scope` (own or organisation; None: the caller's `default_scope`), newest
    first."""
    req = PAGES.check(page, per_page)
    if scope is None:
        scope = default_scope(caller)
    if scope not in ("own", "organisation", "organization"):
        raise ValidationFailed("scope must be own or organisation", field_errors={"scope": ["Unknown scope."]})
    organisation = scope != "own"
    if organisation and not caller.is_manager_or_admin:
        from arrears.errors import Forbidden

        raise Forbidden("Only admins and managers may list the organisation's uploads")
    query = (select(DebtorReport).where(_report_scope(caller, own_only=not organisation))
             .order_by(DebtorReport.created_at.desc(), DebtorReport.id.desc()))
    return await paging.fetch(session, query, req)


async def completed_reports(session: AsyncSession, caller: Caller, limit: int) -> list[DebtorReport]:
    """The caller's `limit` newest completed reports, in their `default_scope`: by report date,
    then upload time (book.newest_first)."""
    query = (select(DebtorReport)
             .where(_report_scope(caller, own_only=default_scope(caller) == "own"),
                    DebtorReport.status == "completed")
             .order_by(*book.newest_first()).limit(limit))
    return list((await session.scalars(query)).all())


async def get_report(session: AsyncSession, caller: Caller, report_id: Any, *,
                     own_only: bool | None = None) -> DebtorReport:
    """A report the caller may see, by integer id (pharmacy), UUID (AAMA), or already loaded."""
    if isinstance(report_id, DebtorReport):
        if report_id.org_id != caller.org_id:
            raise NotFound("Upload not found")
        return report_id
    report = await session.scalar(select(DebtorReport).where(_key(DebtorReport, report_id, "Upload"),
                                                             _report_scope(caller, own_only=own_only)))
    if report is None:
        raise NotFound("Upload not found")
    return report


async def report_progress(session: AsyncSession, caller: Caller, report_id: Any) -> Progress:
    return current_progress(await get_report(session, caller, report_id))


# ------------------------------------------------------------------ accounts of a report (snapshots)


def _like(term: str) -> str:
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _decimal(value: Any, field: str) -> Decimal:
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed(f"{field} must be a number", field_errors={field: ["Must be a number."]},
                               details={field: ["Must be a number."]}) from None
    if not amount.is_finite():
        raise ValidationFailed(f"{field} must be a number", field_errors={field: ["Must be a number."]},
                               details={field: ["Must be a number."]})
    return amount


def _sort(sort: str | None) -> list[Any]:
    if not sort:
        return [DebtorSnapshot.sheet_row]
    out = []
    for part in sort.split(","):
        key = part.strip()
        descending = key.startswith("-")
        key = key.lstrip("-+")
        column = SORT_KEYS.get(key)
        if column is None:
            message = f"Unknown sort field {key!r}; use one of {', '.join(sorted(SORT_KEYS))}"
            raise ValidationFailed(message, field_errors={"sort": [message]}, details={"sort": [message]})
        out.append(column.desc() if descending else column.asc())
    return [*out, DebtorSnapshot.sheet_row]


async def list_snapshots(session: AsyncSession, caller: Caller, report_id: Any, *, page: int = 1,
                         per_page: int = DEFAULT_PER_PAGE, search: str | None = None,
                         min_balance: Any = None, overdue_only: bool = False,
                         is_selected: bool | None = None, sort: str | None = None
                         ) -> Page[DebtorSnapshot]:
    req = PAGES.check(page, per_page)
    report = await get_report(session, caller, report_id)
    s = DebtorSnapshot
    order = _sort(sort)
    minimum = None if min_balance in (None, "") else _decimal(min_balance, "min_balance")
    searching = bool(search and search.strip())
    if (sort or "").strip() in _RANKED_SORTS and not searching and is_selected is None:
        ranked = await _ranked_page(session, report.id, req, minimum, overdue_only,
                                    descending=(sort or "").strip().startswith("-"))
        if ranked is not None:
            return ranked
    query = select(s).where(s.report_id == report.id)
    if searching:
        pattern = _like((search or "").strip())
        query = query.where(or_(*[func.lower(c).like(pattern, escape="\\")
                                  for c in (s.account_code, s.customer_name, s.contact, s.telephone)]))
    if minimum is not None:
        query = query.where(s.total_balance >= minimum)
    if overdue_only:
        query = query.where(s.overdue_amount > 0)
    if is_selected is not None:
        query = query.where(s.is_selected if is_selected else ~s.is_selected)
    return await paging.fetch(session, query.order_by(*order), req)


_RANKED_SORTS = ("overdue_amount", "-overdue_amount", "+overdue_amount")


async def _ranked_page(session: AsyncSession, report_id: int, req: PageRequest, minimum: Decimal | None,
                       overdue_only: bool, *, descending: bool) -> Page[DebtorSnapshot] | None:
    """A page of the accounts in overdue order read through the report's ranks (None when the
    book's job has not ranked the report yet): the ranks hold the overdue amount and the balance,
    so the pager counts the balance and overdue filters there, without reading the accounts."""
    if not await summary.is_ranked(session, report_id):
        return None
    r = DebtorSnapshotRank
    conditions = [r.report_id == report_id]
    if minimum is not None:
        conditions.append(r.total_balance >= minimum)
    if overdue_only:
        conditions.append(r.overdue_amount > 0)
    total = await session.scalar(select(func.count()).select_from(r).where(*conditions)) or 0
    amount = r.overdue_amount.desc() if descending else r.overdue_amount.asc()
    ids = list((await session.scalars(select(r.snapshot_id).where(*conditions).order_by(amount, r.sheet_row)
                                      .offset(req.offset).limit(req.size))).all())
    found = {row.id: row for row in (await session.scalars(select(DebtorSnapshot).where(
        DebtorSnapshot.id.in_(ids), DebtorSnapshot.report_id == report_id))).all()}
    return Page([found[i] for i in ids if i in found], int(total), req.page, req.size)


async def set_selection(session: AsyncSession, caller: Caller, report_id: Any, account_ids: Iterable[Any],
                        is_selected: bool) -> int:
    """Select or unselect accounts of one report; ids of other reports (or nonsense) are ignored
    and not counted. Returns how many of the report's accounts the request named."""
    caller.require_write()
    report = await get_report(session, caller, report_id)
    # One selection of a report at a time: two requests naming the same accounts in different
    # orders (chunk by chunk) would otherwise deadlock.
    await session.execute(select(DebtorReport.id).where(DebtorReport.id == report.id)
                          .with_for_update(key_share=True))
    ints, uuids = _split_ids(account_ids)
    updated = 0
    now = utcnow()
    for column, ids in ((DebtorSnapshot.id, ints), (DebtorSnapshot.uuid, uuids)):
        for i in range(0, len(ids), SELECTION_CHUNK):
            chunk = ids[i:i + SELECTION_CHUNK]
            result = await session.execute(
                update(DebtorSnapshot)
                .where(DebtorSnapshot.report_id == report.id, column.in_(chunk))
                .values(is_selected=is_selected, updated_at=now)
                .execution_options(synchronize_session=False))
            updated += int(getattr(result, "rowcount", 0) or 0)
    return updated


async def get_snapshot(session: AsyncSession, caller: Caller, snapshot_id: Any) -> DebtorSnapshot:
    """One account of a report the caller may see."""
    row = await session.scalar(
        select(DebtorSnapshot).join(DebtorReport, DebtorReport.id == DebtorSnapshot.report_id)
        .where(_key(DebtorSnapshot, snapshot_id, "Account"), DebtorSnapshot.org_id == caller.org_id,
               _report_scope(caller)))
    if row is None:
        raise NotFound("Account not found")
    return row


async def get_snapshots(session: AsyncSession, caller: Caller, snapshot_ids: Iterable[Any], *,
                        report_id: Any = None) -> list[DebtorSnapshot]:
    """The accounts (of reports the caller may see) among the given ids, in file order; unknown
    and foreign ids are left out. Messaging resolves its `account_ids` with this."""
    ints, uuids = _split_ids(snapshot_ids)
    report = await get_report(session, caller, report_id) if report_id is not None else None
    out: list[DebtorSnapshot] = []
    for column, ids in ((DebtorSnapshot.id, ints), (DebtorSnapshot.uuid, uuids)):
        for i in range(0, len(ids), SELECTION_CHUNK):
            query = (select(DebtorSnapshot).join(DebtorReport, DebtorReport.id == DebtorSnapshot.report_id)
                     .where(column.in_(ids[i:i + SELECTION_CHUNK]),
                            DebtorSnapshot.org_id == caller.org_id, _report_scope(caller)))
            if report is not None:
                query = query.where(DebtorSnapshot.report_id == report.id)
            out.extend((await session.scalars(query)).all())
    unique = {row.id: row for row in out}
    return sorted(unique.values(), key=lambda r: (r.report_id, r.sheet_row))


@dataclass
class BookEntry:
    """An account of a report with its place in the book: the account (latest balances) and the
    customer it belongs to (None only if the customer was deleted)."""

    snapshot: DebtorSnapshot
    account: DebtorAccount | None
    customer: Any  # arrears.customers.models.Customer | None


async def snapshot_with_book(session: AsyncSession, caller: Caller, snapshot_id: Any) -> BookEntry:
    from arrears.customers.models import Customer

    snapshot = await get_snapshot(session, caller, snapshot_id)
    row = (await session.execute(
        select(DebtorAccount, Customer).outerjoin(Customer, Customer.id == DebtorAccount.customer_id)
        .where(DebtorAccount.org_id == snapshot.org_id,
               DebtorAccount.account_code == snapshot.account_code))).first()
    return BookEntry(snapshot, row[0] if row else None, row[1] if row else None)


async def get_account(session: AsyncSession, caller: Caller, account_code: str) -> DebtorAccount:
    """The organisation's account with this code (latest balances, customer_id)."""
    account = await session.scalar(select(DebtorAccount).where(DebtorAccount.org_id == caller.org_id,
                                                               DebtorAccount.account_code == account_code))
    if account is None:
        raise NotFound("Account not found")
    return account


async def accounts_of_customer(session: AsyncSession, caller: Caller, customer_id: int) -> list[DebtorAccount]:
    return list((await session.scalars(
        select(DebtorAccount).where(DebtorAccount.org_id == caller.org_id,
                                    DebtorAccount.customer_id == customer_id)
        .order_by(DebtorAccount.account_code))).all())


async def account_history(session: AsyncSession, caller: Caller, account_code: str
                          ) -> list[tuple[DebtorReport, DebtorSnapshot]]:
    """Every completed report's snapshot of one account, oldest first (all the organisation's
    reports: the book is shared)."""
    rows = await session.execute(
        select(DebtorReport, DebtorSnapshot).join(DebtorSnapshot, DebtorSnapshot.report_id == DebtorReport.id)
        .where(DebtorSnapshot.org_id == caller.org_id, DebtorSnapshot.account_code == account_code,
               DebtorReport.status == "completed")
        .order_by(DebtorReport.created_at))
    return [(r[0], r[1]) for r in rows.all()]


# ------------------------------------------------------------------ row errors


async def list_row_errors(session: AsyncSession, caller: Caller, report_id: Any, *, page: int = 1,
                          per_page: int = DEFAULT_PER_PAGE) -> Page[DebtorRowError]:
    req = PAGES.check(page, per_page)
    report = await get_report(session, caller, report_id)
    query = (select(DebtorRowError).where(DebtorRowError.report_id == report.id)
             .order_by(DebtorRowError.sheet_row, DebtorRowError.id))
    return await paging.fetch(session, query, req)


async def iter_row_errors(session: AsyncSession, report: DebtorReport, chunk: int = 2000
                          ) -> AsyncIterator[list[DebtorRowError]]:
    """Every row error of a report (already checked visible), in file order, a chunk at a time."""
    last = (-1, -1)
    while True:
        rows = list((await session.scalars(
            select(DebtorRowError).where(
                DebtorRowError.report_id == report.id,
                or_(DebtorRowError.sheet_row > last[0],
                    and_(DebtorRowError.sheet_row == last[0], DebtorRowError.id > last[1])))
            .order_by(DebtorRowError.sheet_row, DebtorRowError.id).limit(chunk))).all())
        if not rows:
            return
        yield rows
        last = (rows[-1].sheet_row, rows[-1].id)


# ------------------------------------------------------------------ storing a parsed report (PDF faces)


async def store_report(session: AsyncSession, caller: Caller, report: DebtorReport,
                       rows: Iterable[AccountRow | RowError], *, batch_rows: int = 5000) -> DebtorReport:
    """Store already-parsed rows as the accounts of `report` in the caller's transaction (the
    pharmacy face reads a PDF synchronously): snapshots, row errors, customers and accounts, the
    report's totals, and `upload.completed` (its actor the caller's). Account codes must be unique
    within the rows (a repeat becomes a DUPLICATE_ACCOUNT row error). Write access in the report's
    organisation (another organisation's report is not found)."""
    from arrears.debtors.reading import DUPLICATE_ACCOUNT

    caller.require_write()
    if report.org_id != caller.org_id:
        raise NotFound("Upload not found")
    actor = caller.actor
    await lock_book(session, report.org_id)
    now = utcnow()
    if report.created_at is None:
        report.created_at = now
    if report.uuid is None:
        report.uuid = uuid.uuid4()
    session.add(report)
    await session.flush()
    await bulk.delete_report_rows(session, report.id)
    encoder = bulk.SnapshotEncoder(report.org_id, report.id, now, bulk.is_postgres(session))
    seen: dict[str, int] = {}
    failed = 0
    figures = summary.TotalsAccumulator()
    pending: list[AccountRow] = []
    errors: list[RowError] = []
    second_phones: list[tuple[int, str]] = []

    async def flush() -> None:
        nonlocal failed
        batch = encoder.encode(AccountBlock.of_rows(pending, errors))
        failed += len(batch.errors)
        await bulk.store_batch(session, batch)
        await bulk.store_row_errors(session, report.id, batch.errors)
        if batch.block is not None:
            figures.add(batch.block.cents, batch.overdue, batch.block.sheet_rows)
        pending.clear()
        errors.clear()

    for item in rows:
        if isinstance(item, AccountRow):
            problem = encoder.check(item)
            if problem is None and item.account in seen:
                problem = RowError(item.sheet_row, None, item.account,
                                   f"Account code '{item.account}' appears more than once (first on row "
                                   f"{seen[item.account]}).", DUPLICATE_ACCOUNT, item.account)
            if problem is not None:
                errors.append(problem)
            else:
                seen[item.account] = item.sheet_row
                pending.append(item)
                if phone2 := getattr(item, "phone2", None):
                    second_phones.append((item.sheet_row, phone2))
        else:
            errors.append(item)
        if len(pending) + len(errors) >= batch_rows:
            await flush()
    await flush()
    totals = figures.figures()
    accounts = figures.accounts
    await book.copy_second_phones(session, report.id, second_phones)
    if report.report_date is None:
        report.report_date, report.report_date_source = report.created_at.date(), "upload"
    created = await bulk.link_book(session, report.id, report.created_at, now, report_date=report.report_date)
    report.status = "completed"  # the newest whole-book report is looked up among completed ones
    await session.flush()
    settled = await book.reconcile(session, report)
    await hooks.book_updated(session, report.org_id)  # the accounts owed (arrears.accounts), after settling
    report.status = report.stage = "completed"
    report.totals = totals
    report.total_rows = report.processed_rows = accounts + failed
    report.success_rows, report.failed_rows = accounts, failed
    report.progress = 1.0
    report.progress_message = f"Import completed: {accounts} accounts imported, {failed} rows failed"
    report.processing_started_at = report.processing_started_at or now
    report.processing_completed_at = report.progress_updated_at = utcnow()
    await session.flush()
    await events.record(session, org_id=report.org_id, type="upload.completed", actor=actor,
                        subject_type="upload", subject_id=report.uuid,
                        data={"upload_id": str(report.uuid), "report_id": report.id, "status": "completed",
                              "source": report.source,
                              "records_processed": accounts, "records_failed": failed,
                              "total_balance": totals["total_balance"],
                              "overdue_balance": totals["overdue_balance"], "customers_created": created,
                              "settled": settled})
    return report


def new_report(org_id: int, *, user_id: int | None, source: str, filename: str, original_filename: str,
               file_size: int = 0, mime_type: str | None = None, file_format: str | None = None,
               created_at: datetime | None = None, report_date: date | None = None,
               report_date_source: str | None = None, partial: bool = False) -> DebtorReport:
    """A report row for store_report (not yet added to a session)."""
    return DebtorReport(
        report_date=report_date, report_date_source=report_date_source, partial=partial,
        uuid=uuid.uuid4(), org_id=org_id, user_id=user_id, source=source, filename=filename,
        original_filename=original_filename, file_size=file_size, mime_type=mime_type,
        file_format=file_format, status="processing", stage="saving", total_rows=0, processed_rows=0,
        success_rows=0, failed_rows=0, progress=0.0, attempts=1, created_at=created_at or utcnow())


def snapshot_buckets(snapshot: DebtorSnapshot | DebtorAccount) -> dict[str, Decimal]:
    """The five AAMA brackets of an account (d120 = 120 days and older)."""
    return {b.key: getattr(snapshot, b.key) for b in summary.BUCKETS}


__all__ = [
    "IMPORT_JOB", "PAGES", "BookEntry", "Page", "account_history", "accounts_of_customer",
    "create_report", "get_account", "get_report", "get_snapshot", "get_snapshots", "iter_row_errors",
    "list_reports", "list_row_errors", "list_snapshots", "lock_book", "lock_import", "new_report",
    "report_progress",
    "set_selection", "snapshot_buckets", "snapshot_with_book", "store_report",
]
