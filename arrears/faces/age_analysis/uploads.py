"""AAMA: /api/uploads… — upload an age analysis, follow its import, read its accounts and summary,
select accounts. Beyond the spec: a report's row errors (JSON or CSV) and the comparison of two
reports. The face only translates: the rules live in arrears.debtors."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from arrears import validation
from arrears.db import isoz, transaction
from arrears.debtors import book, preview, service, summary
from arrears.debtors import compare as compare_service
from arrears.debtors.models import DebtorReport, DebtorRowError, DebtorSnapshot
from arrears.debtors.storage import StoredFile, UploadSink, remove_stored, too_large_error
from arrears.downloads import SafeCsvWriter, content_disposition
from arrears.errors import ValidationFailed
from arrears.faces import multipart
from arrears.faces.age_analysis.json import AamaJSONResponse
from arrears.faces.deps import SessionDep, UserDep, current_caller, user_caller
from arrears.faces.openapi import boolean, comma_list, file_response, integer, number, one_of
from arrears.identity import service as identity
from arrears.paging import Page

router = APIRouter(tags=["AAMA: uploads and accounts"], default_response_class=AamaJSONResponse)

MULTIPART_OVERHEAD = 64 * 1024
SCOPES = ("own", "organisation", "organization")  # headers and boundaries around the file in a multipart body

FORM_FIELDS = ("report_date", "partial", "mapping")  # the text fields read beside the file
_MAPPING_FIELD = {"type": "string", "description": 'Beyond the spec: JSON {"column index": "field" or null} '
                  "laid over the header's own mapping (see POST /api/uploads/preview); on an upload it is "
                  "saved as the organisation's import profile for this header"}
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary"},
                           "report_date": {"type": "string", "format": "date",
                                           "description": "the date the report's balances stand at; "
                                                          "read from the file when not given"},
                           "partial": {"type": "boolean", "default": False,
                                       "description": "the report lists only some accounts: the "
                                                      "others are left as they are"},
                           "mapping": _MAPPING_FIELD}}}},
    }
}
PREVIEW_BODY = UPLOAD_BODY


# ------------------------------------------------------------------ shapes


def _page() -> Any:
    """The query's page, read by the paging rule (400 on anything else); one Query per parameter."""
    return Query(None, json_schema_extra=integer(minimum=1, default=1))


def _per_page() -> Any:
    return Query(None, json_schema_extra=integer(minimum=1, maximum=service.PAGES.maximum,
                                                 default=service.PAGES.default))


def _user_uuid(report: DebtorReport, users: dict[int, str]) -> str | None:
    return users.get(report.user_id) if report.user_id is not None else None


def upload_brief(report: DebtorReport) -> dict[str, Any]:
    return {"id": str(report.uuid), "filename": report.filename,
            "original_filename": report.original_filename, "status": report.status,
            "records_processed": report.success_rows, "records_failed": report.failed_rows,
            "created_at": isoz(report.created_at),
            "processing_completed_at": isoz(report.processing_completed_at)}


def upload_detail(report: DebtorReport, user_uuid: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(report.uuid), "user_id": user_uuid, "filename": report.filename,
        "original_filename": report.original_filename, "file_size": report.file_size,
        "mime_type": report.mime_type, "status": report.status,
        "processing_started_at": isoz(report.processing_started_at),
        "processing_completed_at": isoz(report.processing_completed_at),
        "records_processed": report.success_rows, "records_failed": report.failed_rows,
        "created_at": isoz(report.created_at), "updated_at": isoz(report.updated_at),
        "report_date": report.report_date.isoformat() if report.report_date else None,
        "partial": bool(report.partial), "skipped_rows": report.skipped_rows or 0,
        "skipped_reasons": report.skipped_reasons or {}, "warnings": report.warnings or [],
    }
    if report.status == "failed":
        out["error_message"] = report.error_message
        out["error_code"] = report.error_code
        if report.error_details:
            out["error_details"] = report.error_details
    return out


def account_out(row: DebtorSnapshot, upload_id: str) -> dict[str, Any]:
    return {
        "id": str(row.uuid), "upload_id": upload_id, "account_code": row.account_code,
        "customer_name": row.customer_name, "contact_person": row.contact, "telephone": row.telephone,
        "amount_current": row.current, "amount_30d": row.d30, "amount_60d": row.d60,
        "amount_90d": row.d90, "amount_120d": row.d120, "total_balance": row.total_balance,
        "overdue_amount": row.overdue_amount, "phone_valid": row.phone_valid,
        "is_selected": row.is_selected, "sheet_row": row.sheet_row,
        "created_at": isoz(row.created_at), "updated_at": isoz(row.updated_at),
    }


def row_error_out(row: DebtorRowError) -> dict[str, Any]:
    return {"row": row.sheet_row, "column": row.column, "value": row.value, "reason": row.reason,
            "code": row.code, "account_code": row.account_code}


def _paged(name: str, page: Page[Any], items: list[Any]) -> dict[str, Any]:
    return {name: items, "total": page.total, "page": page.page, "per_page": page.size,
            "total_pages": page.pages, "has_more": page.has_more}


async def _user_uuids(session: SessionDep, reports: list[DebtorReport]) -> dict[int, str]:
    return await identity.user_uuids(session, (r.user_id for r in reports if r.user_id is not None))


def _flag(value: str | None, name: str) -> bool | None:
    if value is None or value == "":
        return None
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValidationFailed(f"{name} must be true or false", field_errors={name: ["Must be true or false."]},
                           details={name: ["Must be true or false."]})


def _int(value: str | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValidationFailed(f"{name} must be an integer", field_errors={name: ["Must be an integer."]},
                               details={name: ["Must be an integer."]}) from None


# ------------------------------------------------------------------ upload


async def _receive_file(request: Request, sink_for: Any) -> tuple[StoredFile, dict[str, str]]:
    """Stream the multipart body: the `file` part goes to disk chunk by chunk as it arrives; the
    text fields beside it (FORM_FIELDS) come back as they are."""
    required = {"file": ["This field is required."]}
    try:
        _, sink, fields = await multipart.receive_form(request, sink_for, fields=FORM_FIELDS)
    except multipart.UploadProblem as exc:
        if exc.kind == exc.NOT_MULTIPART:
            raise ValidationFailed("Send the file as multipart/form-data in a field named 'file'",
                                   field_errors=required, details=required) from None
        if exc.kind == exc.NO_FILE:
            raise ValidationFailed("No file was sent: use a multipart field named 'file'",
                                   field_errors=required, details=required) from None
        raise ValidationFailed(f"The upload could not be read as multipart/form-data: {exc.message}") from None
    return await asyncio.to_thread(sink.finish), fields  # measures an .xls/.xlsb's sheets: not on the loop


@router.post("/api/uploads", status_code=202, openapi_extra=UPLOAD_BODY)
async def upload(request: Request) -> Any:
    # No request-long transaction here: the body may take minutes to arrive, and a transaction
    # held open meanwhile would pin a connection (and, on SQLite, the only write lock). The
    # caller is resolved in a short read, the file streamed to disk, then the upload and its
    # job are written in one short transaction.
    async with transaction(readonly=True) as reading:
        caller = await user_caller(await current_caller(request, reading))
    caller.require_write()
    limit = service_limit()
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
        raise too_large_error(limit)
    stored, fields = await _receive_file(request, lambda name: UploadSink(caller.org_id, name, max_size=limit))
    try:
        checked = await _checked_mapping(caller, stored, fields.get("mapping"))
        async with transaction() as session:
            zone = book.zone_of(await identity.get_org(session, caller.org_id))
            report_date = book.parse_report_date(fields.get("report_date"), today=book.local_today(zone))
            partial = book.parse_flag(fields.get("partial"), "partial")
            if checked is not None:  # a confirmed mapping becomes the organisation's profile
                await preview.remember(session, caller, checked, stored.original_filename)
            report = await service.create_report(session, caller, stored, report_date=report_date,
                                                 partial=partial, mapping=checked.mapping if checked else None)
    except BaseException:
        remove_stored(stored)
        raise
    return AamaJSONResponse({
        "message": "File uploaded successfully. Processing started.",
        "upload": {"id": str(report.uuid), "filename": report.filename,
                   "original_filename": report.original_filename, "status": report.status,
                   "created_at": isoz(report.created_at)},
    }, status_code=202)


async def _checked_mapping(caller: Any, stored: StoredFile, text: str | None) -> preview.Preview | None:
    """The `mapping` form field checked against the file's header (read in the parse child, no
    rows): None without one; a 400 naming each problem."""
    if text is None or not text.strip():
        return None
    async with transaction(readonly=True) as reading:
        setting = await preview.setting_of(reading, caller.org_id)
    return await preview.preview_path(stored.path, setting, text, read_rows=False)


@router.post("/api/uploads/preview", openapi_extra=PREVIEW_BODY)
async def preview_upload(request: Request) -> Any:
    """Beyond the spec: the file read as the import would read it, nothing stored (the file is
    removed once read). Answers what the import would take, and why."""
    async with transaction(readonly=True) as reading:
        caller = await user_caller(await current_caller(request, reading))
        setting = await preview.setting_of(reading, caller.org_id)
    limit = service_limit()
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
        raise too_large_error(limit)
    stored, fields = await _receive_file(request, lambda name: UploadSink(caller.org_id, name, max_size=limit))
    try:
        async with transaction(readonly=True) as reading:
            zone = book.zone_of(await identity.get_org(reading, caller.org_id))
        given = book.parse_report_date(fields.get("report_date"), today=book.local_today(zone))
        partial = book.parse_flag(fields.get("partial"), "partial")
        result = await preview.preview_path(stored.path, setting, fields.get("mapping"))
    finally:
        remove_stored(stored)
    body = preview.as_dict(result)
    as_at, source = book.preview_date(given, result.title_lines, stored.original_filename, zone)
    body |= {"report_date": as_at.isoformat(), "report_date_source": source, "partial": partial}
    note = f" ({preview.SAVED_NOTE})" if result.using_saved_mapping else ""
    return AamaJSONResponse({"message": f"Preview of {stored.original_filename}: {result.account_count} accounts, "
                                        f"{result.failed_count} failed rows, {result.skipped_rows} lines skipped{note}.",
                             "filename": stored.original_filename, "preview": body})


def service_limit() -> int:
    from arrears.config import get_settings

    return get_settings().upload_max_size


# ------------------------------------------------------------------ reading


@router.get("/api/uploads")
async def list_uploads(caller: UserDep, session: SessionDep, page: str | None = _page(),
                       per_page: str | None = _per_page(),
                       scope: str = Query("own", json_schema_extra=one_of(SCOPES, default="own"))) -> Any:
    req = service.PAGES.check(page, per_page)
    result = await service.list_reports(session, caller, page=req.page, per_page=req.size, scope=scope)
    return AamaJSONResponse(_paged("uploads", result, [upload_brief(r) for r in result.items]))


@router.get("/api/uploads/{upload_id}")
async def get_upload(upload_id: str, caller: UserDep, session: SessionDep) -> Any:
    report = await service.get_report(session, caller, upload_id)
    users = await _user_uuids(session, [report])
    return AamaJSONResponse(upload_detail(report, _user_uuid(report, users)))


@router.get("/api/uploads/{upload_id}/progress")
async def get_progress(upload_id: str, caller: UserDep, session: SessionDep) -> Any:
    progress = await service.report_progress(session, caller, upload_id)
    return AamaJSONResponse(progress.as_spec())


@router.get("/api/uploads/{upload_id}/accounts")
async def list_accounts(upload_id: str, caller: UserDep, session: SessionDep, page: str | None = _page(),
                        per_page: str | None = _per_page(), search: str | None = None,
                        min_balance: str | None = Query(None, json_schema_extra=number()),
                        overdue_only: str | None = Query(None, json_schema_extra=boolean()),
                        is_selected: str | None = Query(None, json_schema_extra=boolean()),
                        sort: str | None = Query(None, json_schema_extra=comma_list(service.SORT_KEYS, signed=True))
                        ) -> Any:
    report = await service.get_report(session, caller, upload_id)
    req = service.PAGES.check(page, per_page)
    result = await service.list_snapshots(
        session, caller, report, page=req.page, per_page=req.size, search=search,
        min_balance=min_balance, overdue_only=bool(_flag(overdue_only, "overdue_only")),
        is_selected=_flag(is_selected, "is_selected"), sort=sort)
    return AamaJSONResponse(_paged("accounts", result, [account_out(r, str(report.uuid)) for r in result.items]))


@router.get("/api/uploads/{upload_id}/summary")
async def get_summary(upload_id: str, caller: UserDep, session: SessionDep) -> Any:
    report = await service.get_report(session, caller, upload_id)
    return AamaJSONResponse(await summary.report_summary(session, report))


@router.put("/api/uploads/{upload_id}/selection")
async def put_selection(upload_id: str, request: Request, caller: UserDep, session: SessionDep) -> Any:
    caller.require_write()
    body = validation.parse_json_body(await request.body())
    problems: dict[str, list[str]] = {}
    ids = body.get("account_ids") if isinstance(body, dict) else None
    selected = body.get("is_selected") if isinstance(body, dict) else None
    if not isinstance(ids, list):
        problems["account_ids"] = ["A list of account ids is required."]
    if not isinstance(selected, bool):
        problems["is_selected"] = ["Must be true or false."]
    if problems:
        raise ValidationFailed("Invalid request: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in problems.items()),
                               field_errors=problems, details=problems)
    assert isinstance(ids, list) and isinstance(selected, bool)
    count = await service.set_selection(session, caller, upload_id, ids, selected)
    return AamaJSONResponse({"message": f"Updated selection for {count} accounts", "updated_count": count})


# ------------------------------------------------------------------ beyond the spec


@router.get("/api/uploads/{upload_id}/errors", responses=file_response("text/csv", json=True))
async def list_errors(upload_id: str, caller: UserDep, session: SessionDep, page: str | None = _page(),
                      per_page: str | None = _per_page(),
                      format: str = Query("json", json_schema_extra=one_of(("json", "csv"), default="json"))) -> Any:
    if format not in ("json", "csv"):
        raise ValidationFailed("format must be json or csv", details={"format": ["Must be json or csv."]})
    if format == "csv":
        report = await service.get_report(session, caller, upload_id)

        async def lines() -> AsyncIterator[bytes]:
            buffer = io.StringIO()
            writer = SafeCsvWriter(buffer)
            writer.writerow(["row", "column", "value", "reason", "code", "account_code"])
            yield ("\ufeff" + buffer.getvalue()).encode()
            # Its own read-only transaction: the request's ends before the body is sent.
            async with transaction(readonly=True) as reading:
                async for chunk in service.iter_row_errors(reading, report):
                    buffer.seek(0)
                    buffer.truncate()
                    for e in chunk:
                        writer.writerow([e.sheet_row, e.column, e.value, e.reason, e.code, e.account_code])
                    yield buffer.getvalue().encode()

        name = f"upload-{report.uuid}-errors.csv"
        return StreamingResponse(lines(), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": content_disposition(name)})
    req = service.PAGES.check(page, per_page)
    result = await service.list_row_errors(session, caller, upload_id, page=req.page, per_page=req.size)
    return AamaJSONResponse(_paged("errors", result, [row_error_out(r) for r in result.items]))


@router.get("/api/uploads/{upload_id}/compare/{other_id}")
async def compare(upload_id: str, other_id: str, caller: UserDep, session: SessionDep,
                  limit: str | None = Query(None, json_schema_extra=integer(
                      minimum=1, maximum=compare_service.MAX_LIMIT, default=compare_service.DEFAULT_LIMIT))) -> Any:
    return AamaJSONResponse(await compare_service.compare_reports(
        session, caller, upload_id, other_id, limit=_int(limit, "limit", compare_service.DEFAULT_LIMIT)))
