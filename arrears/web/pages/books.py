"""Debtor books: upload (drag and drop or file picker), live import progress, failed rows with a
CSV download, accounts with search/filters/sorting/paging and selection, the summary with its
bucket chart and top accounts, and two uploads compared. The debtors service does the work; the
import runs as a job, so no page waits for it."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse

from arrears.config import get_settings
from arrears.db import transaction
from arrears.debtors import book
from arrears.debtors import compare as compare_service
from arrears.debtors import dashboard as book_figures
from arrears.debtors import preview as preview_service
from arrears.debtors import service as debtors
from arrears.debtors import summary as summaries
from arrears.debtors.errors import DebtorErrorCode
from arrears.debtors.mapping import FIELDS, field_label
from arrears.debtors.models import DebtorReport
from arrears.debtors.pdf import PdfReadError
from arrears.debtors.pdf.mapping import FIELDS as PDF_FIELDS
from arrears.debtors.pdf.mapping import field_label as pdf_field_label
from arrears.debtors.storage import (
    PendingPdfSink,
    PendingSink,
    claim_pending,
    pending_path,
    remove_path,
    remove_stored,
    sweep_pending,
)
from arrears.downloads import SafeCsvWriter, content_disposition
from arrears.errors import DomainError, ErrorCode, NotFound, ValidationFailed
from arrears.faces import multipart
from arrears.pharmacy import upload as pdf_upload
from arrears.web import charts
from arrears.web.context import CSRF_FIELD, Ctx, CtxDep, check_streamed_csrf
from arrears.web.forms import FormState, many, text
from arrears.web.paging import Page, page_params
from arrears.web.render import is_htmx, key_of, local_dt, money, page, redirect, render_html, svg

router = APIRouter(prefix="/books")

ACCOUNT_SORTS = {"account_code": "Account", "customer_name": "Customer", "current": "Current", "d30": "30 days",
                 "d60": "60 days", "d90": "90 days", "d120": "120+ days", "total_balance": "Balance",
                 "overdue_amount": "Overdue"}
SELECT_ALL_PAGE = debtors.MAX_PER_PAGE
FIELD_CHOICES = [(f, field_label(f)) for f in FIELDS]
DATE_FIELDS = ("report_date", "partial")  # the upload form's fields beside the file, carried through the preview
PDF_PREVIEW_ROWS = 20  # debtors a PDF report's preview lists
PDF_FIELD_CHOICES = [(f, pdf_field_label(f)) for f in PDF_FIELDS]


def as_page(p: debtors.Page[Any]) -> Page[Any]:
    return p


# ------------------------------------------------------------------ list and upload


async def _books_page(ctx: Ctx, form: FormState, status: int = 200) -> Response:
    pg, per = page_params(ctx.request, default=20)
    reports = await debtors.list_reports(ctx.db, ctx.caller, page=pg, per_page=per, scope=None)
    completed = await _completed(ctx, 20)
    return page(ctx, "books/index.html", status=status, reports=as_page(reports), form=form,
                completed=completed, max_mb=get_settings().upload_max_size // (1024 * 1024))


async def _completed(ctx: Ctx, n: int) -> list[DebtorReport]:
    """The newest completed reports: by report date, then upload time."""
    return await debtors.completed_reports(ctx.db, ctx.caller, n)


@router.get("")
async def books(ctx: CtxDep) -> Response:
    return await _books_page(ctx, FormState())


class _BookSink:
    """Where the book form's file goes: to disk, aside until its preview is confirmed; its first
    bytes decide whether it waits as a PDF report or as a spreadsheet."""

    def __init__(self, org_id: int, filename: str, limit: int) -> None:
        self.org_id, self.filename, self.limit = org_id, filename, limit
        self.head = b""
        self.inner: PendingSink | None = None

    def _open(self, pdf: bool) -> None:
        kind = PendingPdfSink if pdf else PendingSink
        self.inner = kind(self.org_id, self.filename, max_size=self.limit)
        head, self.head = self.head, b""
        self.inner.write(head)

    def write(self, chunk: bytes) -> None:
        if self.inner is None:
            self.head += chunk
            if len(self.head) < 5:
                return
            self._open(self.head.startswith(b"%PDF"))
        else:
            self.inner.write(chunk)

    def settle(self) -> None:
        """The part ended: decide now for a file shorter than its sniff."""
        if self.inner is None:
            self._open(self.head.startswith(b"%PDF") or (not self.head and self.filename.lower().endswith(".pdf")))

    @property
    def is_pdf(self) -> bool:
        return isinstance(self.inner, PendingPdfSink)

    def discard(self) -> None:
        if self.inner is not None:
            self.inner.discard()


@router.post("")
async def upload(ctx: CtxDep) -> Response:
    """The book form: the file is kept aside and previewed first — a spreadsheet's columns, what
    they fill and its first accounts; a PDF report's date, skipped lines, total check and first
    debtors — and imported (or, for a PDF, stored) when the preview is confirmed."""
    ctx.require_write()
    limit = get_settings().upload_max_size
    state = FormState()
    try:
        filename, sink, fields = await multipart.receive_form(
            ctx.request, lambda name: _BookSink(ctx.org.id, name, limit), fields=(CSRF_FIELD, *DATE_FIELDS))
    except multipart.UploadProblem as exc:
        # Nothing was kept; a whole form without a file still answers only with its token.
        if exc.kind == exc.NO_FILE:
            check_streamed_csrf(ctx.request, exc.values.get(CSRF_FIELD))
        state.add("file", "Choose a spreadsheet or PDF report to upload (or drop it on the box)."
                  if exc.kind != exc.MALFORMED else f"The upload could not be read: {exc.message}")
        return await _books_page(ctx, state, 400)
    except DomainError as exc:  # past the size limit: refused, nothing kept
        state.add("file", exc.message)
        return await _books_page(ctx, state, 413 if exc.code == ErrorCode.FILE_TOO_LARGE else 400)
    try:
        check_streamed_csrf(ctx.request, fields.get(CSRF_FIELD))
    except BaseException:
        sink.discard()
        raise
    sink.settle()
    state = FormState({name: fields.get(name, "") for name in DATE_FIELDS})
    if not filename:
        sink.discard()
        state.add("file", "Choose a spreadsheet or PDF report to upload (or drop it on the box).")
        return await _books_page(ctx, state, 400)
    try:
        report_date, partial = _dating(ctx, state)
    except ValidationFailed as exc:
        sink.discard()
        return await _books_page(ctx, state.error(exc), 400)
    assert isinstance(sink.inner, PendingSink)
    try:
        stored = await asyncio.to_thread(sink.inner.finish)  # measures an .xls/.xlsb's sheets: not on the loop
    except DomainError as exc:
        state.add("file", exc.message)
        return await _books_page(ctx, state, 400)
    await asyncio.to_thread(sweep_pending, ctx.org.id)
    if sink.is_pdf:
        return await _pdf_preview_page(ctx, stored.upload_id, stored.path, stored.original_filename, state)
    return await _preview_page(ctx, stored.upload_id, stored.path, stored.original_filename, None, state)


def _dating(ctx: Ctx, state: FormState) -> tuple[date | None, bool]:
    """The form's report date (not in the future, in the organisation's zone) and partial flag."""
    report_date = book.parse_report_date(state.get("report_date"), today=book.local_today(book.zone_of(ctx.org)))
    return report_date, book.parse_flag(state.get("partial"), "partial")


async def _preview_page(ctx: Ctx, pending: Any, path: Any, filename: str, mapping: str | None,
                        form: FormState | None = None, status: int = 200) -> Response:
    """The preview of a waiting upload, with a field to choose per column; its confirmation imports it."""
    setting = await preview_service.setting_of(ctx.db, ctx.org.id)
    state = form or FormState()
    try:
        result = await preview_service.preview_path(path, setting, mapping)
    except ValidationFailed as exc:
        if mapping is not None and exc.code == DebtorErrorCode.INVALID_MAPPING:
            # Show the file as its header (or profile) reads it, with what was wrong beside it.
            state.error(exc)
            result = await preview_service.preview_path(path, setting, None)
            status = 400
        else:
            remove_path(path)
            state.add("file", exc.message)
            return await _books_page(ctx, state, 400)
    chosen = {str(k): v for k, v in json.loads(mapping).items()} if mapping and status == 400 else {}
    return page(ctx, "books/preview.html", status=status, preview=result, pending=str(pending), filename=filename,
                fields=FIELD_CHOICES, chosen=chosen, form=state, saved_note=preview_service.SAVED_NOTE,
                dating={name: state.get(name) for name in DATE_FIELDS},
                found_date=book.preview_date(None, result.title_lines, filename, book.zone_of(ctx.org)))


@router.post("/confirm")
async def confirm(ctx: CtxDep) -> Response:
    """The preview confirmed: its mapping saved as the organisation's profile for this header, and
    the upload imported with it (in the background, as every import)."""
    ctx.require_write()
    form = await ctx.form()
    pending, filename = text(form, "pending"), text(form, "filename") or "upload"
    state = FormState.of(form, *DATE_FIELDS)
    mapping = {key[4:]: (value or None) for key, value in form.items()
               if key.startswith("col_") and isinstance(value, str)}
    mapping_text = json.dumps(mapping)
    path = pending_path(ctx.org.id, pending)
    if path is None:
        ctx.flash("That upload is no longer waiting to be imported: upload the file again.", "error")
        return redirect(ctx.request, "/app/books")
    setting = await preview_service.setting_of(ctx.db, ctx.org.id)
    try:
        checked = await preview_service.preview_path(path, setting, mapping_text, read_rows=False)
    except ValidationFailed as exc:
        if exc.code != DebtorErrorCode.INVALID_MAPPING:
            raise
        return await _preview_page(ctx, pending, path, filename, mapping_text, state)
    try:
        report_date, partial = _dating(ctx, state)
    except ValidationFailed as exc:
        return await _preview_page(ctx, pending, path, filename, mapping_text, state.error(exc), 400)
    stored = claim_pending(ctx.org.id, pending, filename)
    if stored is None:
        ctx.flash("That upload is no longer waiting to be imported: upload the file again.", "error")
        return redirect(ctx.request, "/app/books")
    try:
        await preview_service.remember(ctx.db, ctx.caller, checked, stored.original_filename)
        report = await debtors.create_report(ctx.db, ctx.caller, stored, report_date=report_date, partial=partial,
                                             mapping=checked.mapping)
    except BaseException:
        remove_stored(stored)
        raise
    return redirect(ctx.request, f"/app/books/{key_of(report)}",
                    flash=f"{report.original_filename} uploaded with your column choices (saved for files with "
                          "the same columns). The import runs in the background.")


async def _pdf_preview_page(ctx: Ctx, pending: Any, path: Any, filename: str, state: FormState,
                            status: int = 200, mapping: dict[int, str | None] | None = None) -> Response:
    """A waiting PDF report as the pharmacy upload's reader reads it (nothing stored): its date,
    its columns (each one's field can be changed), the lines skipped, the total check, the first
    debtors and the rows it would not vouch for."""
    try:
        data = await asyncio.to_thread(path.read_bytes)
        # PDFium works in C, in the parse pool; a thread keeps the server answering meanwhile.
        try:
            extraction = await asyncio.to_thread(pdf_upload.read_pdf, data, ctx.org, mapping)
        except ValidationFailed as exc:
            if mapping is None or exc.code != DebtorErrorCode.INVALID_MAPPING:
                raise
            # Show the report as its header reads it, with what was wrong beside it.
            state.error(exc)
            status, mapping = 400, None
            extraction = await asyncio.to_thread(pdf_upload.read_pdf, data, ctx.org)
        pdf_upload.check_storable(extraction)
    except (PdfReadError, ValidationFailed) as exc:
        remove_path(path)
        state.add("file", exc.message)
        return await _books_page(ctx, state, 400)
    return page(ctx, "books/preview_pdf.html", status=status, extraction=extraction, pending=str(pending),
                filename=filename, first=extraction.debtors[:PDF_PREVIEW_ROWS], form=state,
                fields=PDF_FIELD_CHOICES,
                skipped=book.skipped_counts(extraction.skipped), dating={name: state.get(name) for name in DATE_FIELDS},
                found_date=book.preview_date(None, extraction.title_lines, filename, book.zone_of(ctx.org)))


def _waiting_pdf(ctx: Ctx, pending: str) -> Any:
    """The organisation's PDF report waiting for its preview's confirmation; 404 otherwise (another
    organisation's, already confirmed or cancelled)."""
    path = pending_path(ctx.org.id, pending)
    if path is None or path.suffix != ".pdf":
        raise NotFound("That PDF report is no longer waiting to be stored: upload it again.")
    return path


@router.post("/pdf/confirm")
async def confirm_pdf(ctx: CtxDep) -> Response:
    """A PDF report's preview confirmed: stored by the same path as a direct upload, at most once."""
    ctx.require_write()
    form = await ctx.form()
    pending, filename = text(form, "pending"), text(form, "filename") or "report.pdf"
    state = FormState.of(form, *DATE_FIELDS)
    path = _waiting_pdf(ctx, pending)
    # The columns' fields as chosen; only those changed from what the header says are a mapping.
    mapping = {int(key[4:]): (value or None) for key, value in form.items()
               if key.startswith("col_") and key[4:].isdigit() and isinstance(value, str)
               and (value or None) != (text(form, f"read_{key[4:]}") or None)} or None
    try:
        report_date, partial = _dating(ctx, state)
    except ValidationFailed as exc:
        return await _pdf_preview_page(ctx, pending, path, filename, state.error(exc), 400, mapping)
    if mapping is not None:  # checked while the file still waits: a wrong choice shows the preview again
        data = await asyncio.to_thread(path.read_bytes)
        try:
            await asyncio.to_thread(pdf_upload.read_pdf, data, ctx.org, mapping)
        except ValidationFailed as exc:
            if exc.code != DebtorErrorCode.INVALID_MAPPING:
                raise
            return await _pdf_preview_page(ctx, pending, path, filename, state, 400, mapping)
    stored = claim_pending(ctx.org.id, pending, filename)  # moved out of the waiting folder: once only
    if stored is None:
        raise NotFound("That PDF report is no longer waiting to be stored: upload it again.")
    try:
        data = await asyncio.to_thread(stored.path.read_bytes)
    finally:
        remove_stored(stored)  # a PDF report is stored as its rows, never kept as a file
    return await _upload_pdf(ctx, stored.original_filename, data, len(data), state, report_date, partial, mapping)


@router.post("/pdf/cancel")
async def cancel_pdf(ctx: CtxDep) -> Response:
    """A PDF report's preview cancelled: the waiting file is removed, nothing was stored."""
    ctx.require_write()
    form = await ctx.form()
    path = _waiting_pdf(ctx, text(form, "pending"))
    remove_path(path)
    return redirect(ctx.request, "/app/books",
                    flash=f"{text(form, 'filename') or 'The report'} was not stored.")


async def _upload_pdf(ctx: Ctx, filename: str, data: bytes, size: int, state: FormState, report_date: date | None,
                      partial: bool, mapping: dict[int, str | None] | None = None) -> Response:
    """A Debtors Age Analysis PDF: read and stored at once, all or nothing, by the same service
    as the pharmacy API's upload (so the same file gives the same book whichever way it came)."""
    try:
        # PDFium works in C; a thread keeps the server answering other requests meanwhile.
        extraction = await asyncio.to_thread(pdf_upload.read_pdf, data, ctx.org, mapping)
        stored = await pdf_upload.store_upload(ctx.db, ctx.caller, filename=filename or "report.pdf",
                                               size=size, extraction=extraction, report_date=report_date,
                                               partial=partial)
    except (PdfReadError, ValidationFailed) as exc:
        state.add("file", exc.message)
        return await _books_page(ctx, state, 400)
    report = stored.report
    note = f"{report.success_rows} accounts read from {report.original_filename}."
    if report.failed_rows:
        rows = "1 row needs" if report.failed_rows == 1 else f"{report.failed_rows} rows need"
        note += f" {rows} checking: see Failed rows."
    return redirect(ctx.request, f"/app/books/{key_of(report)}", flash=note)


# ------------------------------------------------------------------ compare


@router.get("/compare")
async def compare(ctx: CtxDep) -> Response:
    p = ctx.request.query_params
    a, b = p.get("upload", ""), p.get("other", "")
    completed = await _completed(ctx, 50)
    result = None
    state = FormState({"upload": a, "other": b})
    if a and b:
        if a == b:
            state.add("other", "Choose two different uploads.")
        else:
            result = await compare_service.compare_reports(ctx.db, ctx.caller, a, b, limit=25)
    options = [(str(key_of(r)), f"{r.original_filename} · {local_dt(r.created_at, ctx.tz)}") for r in completed]
    return page(ctx, "books/compare.html", completed=completed, options=options, result=result, form=state)


# ------------------------------------------------------------------ one upload


async def _report_context(ctx: Ctx, report: DebtorReport) -> dict[str, Any]:
    progress = await debtors.report_progress(ctx.db, ctx.caller, report.id)
    return {"report": report, "progress": progress}


def bucket_chart(summary: dict[str, Any], report_id: Any, currency: str, *, selected: bool = False) -> str:
    data = []
    for bucket, b in zip(summaries.BUCKETS, summary["age_analysis"]["buckets"], strict=True):
        amount = b["selected_amount"] if selected else b["total_amount"]
        data.append(charts.Datum(b["name"], amount, f"/app/books/{report_id}/accounts?sort=-{bucket.key}",
                                 money(amount, currency)))
    return charts.bar_chart(data, title="Balance by age bucket", css_class="chart-bars-ageing")


@router.get("/{report_id}")
async def report_page(ctx: CtxDep, report_id: str) -> Response:
    report = await debtors.get_report(ctx.db, ctx.caller, report_id)
    context = await _report_context(ctx, report)
    if report.status == "completed":
        summary = await summaries.report_summary(ctx.db, report)
        context |= {"summary": summary, "chart": svg(bucket_chart(summary, key_of(report), ctx.currency))}
    return page(ctx, "books/report.html", tab="summary", **context)


@router.get("/{report_id}/progress")
async def report_progress(ctx: CtxDep, report_id: str) -> Response:
    report = await debtors.get_report(ctx.db, ctx.caller, report_id)
    context = await _report_context(ctx, report)
    headers = {"HX-Refresh": "true"} if context["progress"].is_complete and is_htmx(ctx.request) else None
    return render_html(ctx.request, "books/_progress.html", context, ctx=ctx, headers=headers)


# ------------------------------------------------------------------ accounts and selection


def _filters(ctx: Ctx) -> dict[str, Any]:
    p = ctx.request.query_params
    sort = p.get("sort", "")
    if sort.lstrip("-") not in ACCOUNT_SORTS:
        sort = ""
    selected = p.get("selected", "")
    return {"search": p.get("search", "").strip(), "min_balance": p.get("min_balance", "").strip(),
            "overdue_only": p.get("overdue_only") in ("1", "true", "on"),
            "selected": selected if selected in ("yes", "no") else "", "sort": sort}


async def _accounts(ctx: Ctx, report: DebtorReport, f: dict[str, Any], pg: int, per: int) -> debtors.Page[Any]:
    return await debtors.list_snapshots(
        ctx.db, ctx.caller, report.id, page=pg, per_page=per, search=f["search"] or None,
        min_balance=f["min_balance"] or None, overdue_only=f["overdue_only"],
        is_selected={"yes": True, "no": False}.get(f["selected"]), sort=f["sort"] or None)


async def _selection(ctx: Ctx, report: DebtorReport) -> dict[str, Any]:
    return await book_figures.selection_totals(ctx.db, report)


@router.get("/{report_id}/accounts")
async def accounts(ctx: CtxDep, report_id: str) -> Response:
    report = await debtors.get_report(ctx.db, ctx.caller, report_id)
    f = _filters(ctx)
    pg, per = page_params(ctx.request, default=25, maximum=debtors.MAX_PER_PAGE)
    state = FormState()
    try:
        rows = as_page(await _accounts(ctx, report, f, pg, per))
    except ValidationFailed as exc:
        state.error(exc)
        rows = as_page(await _accounts(ctx, report, f | {"min_balance": ""}, pg, per))
    context: dict[str, Any] = {"report": report, "rows": rows, "f": f, "sorts": ACCOUNT_SORTS, "form": state,
               "selection": await _selection(ctx, report), "tab": "accounts"}
    if is_htmx(ctx.request) and ctx.request.headers.get("hx-target") == "account-table":
        return render_html(ctx.request, "books/_accounts_table.html", context, ctx=ctx)
    return page(ctx, "books/accounts.html", **context)


@router.post("/{report_id}/selection")
async def select(ctx: CtxDep, report_id: str) -> Response:
    """Tick or untick accounts: `ids` (every checkbox on the page) and `selected` (the ticked ones);
    with `one` (htmx, one checkbox changed), only that account changes."""
    report = await debtors.get_report(ctx.db, ctx.caller, report_id)
    form = await ctx.form()
    shown = set(many(form, "ids"))
    ticked = set(many(form, "selected")) & shown
    one = text(form, "one")
    if one:
        await debtors.set_selection(ctx.db, ctx.caller, report.id, [one], one in set(many(form, "selected")))
        return await _selection_response(ctx, report, back=text(form, "back"))
    if ticked:
        await debtors.set_selection(ctx.db, ctx.caller, report.id, sorted(ticked), True)
    if shown - ticked:
        await debtors.set_selection(ctx.db, ctx.caller, report.id, sorted(shown - ticked), False)
    if not shown:
        ctx.require_write()
    return await _selection_response(ctx, report, back=text(form, "back"))


@router.post("/{report_id}/selection/matching")
async def select_matching(ctx: CtxDep, report_id: str) -> Response:
    """Select (or unselect) every account that matches the list's current filter."""
    report = await debtors.get_report(ctx.db, ctx.caller, report_id)
    ctx.require_write()
    form = await ctx.form()
    value = text(form, "action") != "unselect"
    f = {"search": text(form, "search"), "min_balance": text(form, "min_balance"),
         "overdue_only": text(form, "overdue_only") in ("1", "true", "on"), "selected": "", "sort": ""}
    ids: list[str] = []
    pg = 1
    while True:
        chunk = await _accounts(ctx, report, f, pg, SELECT_ALL_PAGE)
        ids.extend(str(key_of(r)) for r in chunk.items if r.is_selected != value)
        if not chunk.has_more:
            break
        pg += 1
    changed = await debtors.set_selection(ctx.db, ctx.caller, report.id, ids, value) if ids else 0
    verb = "selected" if value else "unselected"
    ctx.flash(f"{changed} more account{'s' if changed != 1 else ''} {verb}.")
    return await _selection_response(ctx, report, back=text(form, "back"), refresh=True)


async def _selection_response(ctx: Ctx, report: DebtorReport, *, back: str, refresh: bool = False) -> Response:
    if is_htmx(ctx.request) and not refresh:
        return render_html(ctx.request, "books/_selection.html",
                           {"report": report, "selection": await _selection(ctx, report)}, ctx=ctx)
    url = back if back.startswith(f"/app/books/{key_of(report)}/accounts") else f"/app/books/{key_of(report)}/accounts"
    return redirect(ctx.request, url)


# ------------------------------------------------------------------ failed rows


@router.get("/{report_id}/errors")
async def row_errors(ctx: CtxDep, report_id: str) -> Response:
    report = await debtors.get_report(ctx.db, ctx.caller, report_id)
    pg, per = page_params(ctx.request, default=50, maximum=debtors.MAX_PER_PAGE)
    rows = as_page(await debtors.list_row_errors(ctx.db, ctx.caller, report.id, page=pg, per_page=per))
    return page(ctx, "books/errors.html", report=report, rows=rows, tab="errors",
                progress=await debtors.report_progress(ctx.db, ctx.caller, report.id))


@router.get("/{report_id}/errors.csv")
async def row_errors_csv(ctx: CtxDep, report_id: str) -> Response:
    report = await debtors.get_report(ctx.db, ctx.caller, report_id)

    async def lines() -> AsyncIterator[bytes]:
        buffer = io.StringIO()
        writer = SafeCsvWriter(buffer)
        writer.writerow(["row", "column", "value", "reason", "code", "account_code"])
        yield ("\ufeff" + buffer.getvalue()).encode()
        async with transaction(readonly=True) as reading:  # the request's transaction ends first
            async for chunk in debtors.iter_row_errors(reading, report):
                buffer.seek(0)
                buffer.truncate()
                for e in chunk:
                    writer.writerow([e.sheet_row, e.column, e.value, e.reason, e.code, e.account_code])
                yield buffer.getvalue().encode()

    name = f"failed-rows-{key_of(report)}.csv"
    return StreamingResponse(lines(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": content_disposition(name)})


def trend_chart(reports: list[tuple[DebtorReport, dict[str, Any]]], currency: str) -> str:
    data = [charts.Datum(r.report_date.strftime("%d %b") if r.report_date else local_dt(r.created_at, "UTC", "%d %b"),
                         t["total_balance"], f"/app/books/{key_of(r)}",
                         money(t["total_balance"], currency)) for r, t in reports]
    return charts.line_chart(data, title="Total balance across the last uploads")


async def book_overview(ctx: Ctx) -> dict[str, Any] | None:
    """The book's figures (the same accounts the pharmacy page lists, whichever reports brought
    them), the newest report (by report date) and the trend over the last ones (for the home page)."""
    completed = await _completed(ctx, 8)
    if not completed:
        return None
    latest = completed[0]
    summary = await summaries.report_summary(ctx.db, latest)
    trend = [(r, await summaries.report_totals(ctx.db, r)) for r in reversed(completed)]
    return {"report": latest, "summary": summary, "trend": trend, "book": await book.figures(ctx.db, ctx.org.id),
            "bucket_chart": bucket_chart(summary, key_of(latest), ctx.currency),
            "trend_chart": trend_chart(trend, ctx.currency) if len(trend) > 1 else None,
            "zero": Decimal("0")}
