"""/pharmacies/{pharmacy_id}/debtors… — upload a PDF report, list and count debtors, download
them as CSV or PDF, send e-mail and SMS reminders, read a debtor's communications.

Query values arrive as strings and are checked by the domain, so a bad one is a 400 with a
`detail` string (never FastAPI's 422 list). Routes that must not hold a write transaction (the
upload while PDFium reads the file, the sends while providers answer) resolve the caller in a
short read-only transaction and write in their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from arrears import validation
from arrears.db import transaction, utcnow
from arrears.debtors import book
from arrears.debtors.storage import too_large_error
from arrears.downloads import content_disposition
from arrears.errors import ValidationFailed
from arrears.faces import multipart
from arrears.faces.deps import SessionDep, UserDep, current_caller, user_caller
from arrears.faces.openapi import boolean, comma_list, file_response, integer, number
from arrears.faces.pharmacy import params
from arrears.faces.pharmacy.json import PharmacyJSONResponse
from arrears.identity.caller import Caller
from arrears.identity.service import get_org
from arrears.pharmacy import communications as comms
from arrears.pharmacy import debtors, reminders, upload
from arrears.pharmacy.access import for_pharmacy

router = APIRouter(tags=["Pharmacy: debtors"], default_response_class=PharmacyJSONResponse)

BASE = "/pharmacies/{pharmacy_id:int}/debtors"
MULTIPART_OVERHEAD = 64 * 1024

UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"},
        "report_date": {"type": "string", "format": "date"},
        "partial": {"type": "boolean", "default": False},
        "mapping": {"type": "string", "description": 'JSON {"column index": "field" or null}: the answer\'s '
                    "`columns` indexes (the report's header, left to right from 0); fields account, "
                    "account_name, name, telephone, email, current, d30 ... d180, total_balance."}}}}}}}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": schema}}}}}


IDS = {"type": "array", "items": {"type": "integer"}}
BUCKETS = {"type": "array", "items": {"type": "string", "enum": list(debtors.SELECTABLE)}}
SEND_BODY = _json_body({"debtor_ids": IDS, "ageing_buckets": BUCKETS,
                        # Beyond the spec (docs/contracts.md): managers and admins may message a
                        # disputed, handed-over or written-off account.
                        "override_account_status": {"type": "boolean", "default": False}})
# Both downloads read the same selection (ids, or filters when no ids are sent).
EXPORT_BODY = _json_body({"debtor_ids": IDS, "min_balance": {"type": "number", "minimum": 0},
                          "ageing_buckets": BUCKETS, "exclude_medical_aid": {"type": "boolean", "default": True}})
CSV_BODY = PDF_BODY = EXPORT_BODY
# Query values the face reads itself (arrears.faces.pharmacy.params answers 400 on anything else).
# (A function each: FastAPI needs one Query object per parameter.)


def _flag() -> Any:
    return Query(None, json_schema_extra=boolean())


def _page() -> Any:
    return Query(None, json_schema_extra=integer(minimum=1, default=1))


def _per_page() -> Any:
    return Query(None, json_schema_extra=integer(minimum=1, maximum=debtors.PAGES.maximum,
                                                 default=debtors.PAGES.default))


async def _acting(request: Request, pharmacy_id: int, *, write: bool) -> Caller:
    """The caller for this pharmacy, resolved in a short read-only transaction."""
    async with transaction(readonly=True) as session:
        caller = await user_caller(await current_caller(request, session))
    return for_pharmacy(caller, pharmacy_id, write=write)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    body = validation.parse_json_body(raw)
    if not isinstance(body, dict):
        raise ValidationFailed("The request body must be a JSON object")
    return body


# ------------------------------------------------------------------ upload


async def _read_file(request: Request, limit: int) -> tuple[str, bytes, dict[str, str]]:
    try:
        filename, sink, fields = await multipart.receive_form(
            request, lambda _: multipart.MemorySink(limit, lambda: too_large_error(limit)))
    except multipart.UploadProblem as exc:
        if exc.kind == exc.NOT_MULTIPART:
            raise ValidationFailed("No file provided: send the PDF as multipart/form-data in the `file` "
                                   "field") from None
        if exc.kind == exc.NO_FILE:
            raise ValidationFailed("No file provided: send the PDF in the `file` field") from None
        raise ValidationFailed(f"The upload could not be read as multipart/form-data: {exc.message}") from None
    return filename or "report.pdf", sink.data, fields


@router.post(BASE + "/upload", openapi_extra=UPLOAD_BODY)
async def upload_report(pharmacy_id: int, request: Request) -> Any:
    caller = await _acting(request, pharmacy_id, write=True)
    from arrears.config import get_settings

    limit = get_settings().upload_max_size
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
        raise too_large_error(limit)
    filename, data, fields = await _read_file(request, limit)
    async with transaction(readonly=True) as session:
        org = await get_org(session, caller.org_id)
    # Checked before the file is read: a wrong field stores nothing.
    report_date = book.parse_report_date(fields.get("report_date"), today=book.local_today(book.zone_of(org)))
    partial = book.parse_flag(fields.get("partial"), "partial")
    mapping = upload.parse_pdf_mapping(fields.get("mapping"))
    # PDFium reads in C without the GIL's help for Python: a thread keeps the loop answering.
    extraction = await asyncio.to_thread(upload.read_pdf, data, org, mapping)
    async with transaction() as session:
        stored = await upload.store_upload(session, caller, filename=filename, size=len(data),
                                           extraction=extraction, report_date=report_date, partial=partial)
    accounts, outstanding = stored.totals
    report = stored.report
    body: dict[str, Any] = {"report_id": report.id, "total_accounts": accounts,
                            "total_outstanding": outstanding, "debtors": stored.debtors,
                            "report_date": report.report_date.isoformat() if report.report_date else None,
                            "partial": report.partial, "skipped_rows": report.skipped_rows or 0,
                            "skipped_reasons": report.skipped_reasons or {}, "warnings": report.warnings or [],
                            "columns": extraction.columns}
    if stored.issues:
        body["issues"] = [upload.issue_view(i) for i in stored.issues]
    body["settled"] = stored.settled
    return PharmacyJSONResponse(body)


# ------------------------------------------------------------------ list and statistics


@router.get(BASE)
async def list_debtors(pharmacy_id: int, caller: UserDep, session: SessionDep,
                       min_balance: str | None = Query(None, json_schema_extra=number(minimum=0, maximum=999999999999.99)),
                       ageing_buckets: str | None = Query(None, json_schema_extra=comma_list(debtors.SELECTABLE)),
                       has_email: str | None = _flag(), has_phone: str | None = _flag(), search: str | None = None,
                       exclude_medical_aid: str | None = _flag(), page: str | None = _page(),
                       per_page: str | None = _per_page()) -> Any:
    acting = for_pharmacy(caller, pharmacy_id)
    f = params.debtor_filter(min_balance=min_balance, ageing_buckets=ageing_buckets, has_email=has_email,
                             has_phone=has_phone, search=search, exclude_medical_aid=exclude_medical_aid)
    req = params.page_request(page, per_page)
    result = await debtors.list_debtors(session, acting, f, page=req.page, per_page=req.size)
    return PharmacyJSONResponse({"total": result.total, "page": result.page, "per_page": result.size,
                                 "pages": result.pages,
                                 "debtors": [debtors.debtor_view(a) for a in result.items]})


@router.get(BASE + "/statistics")
async def statistics(pharmacy_id: int, caller: UserDep, session: SessionDep,
                     exclude_medical_aid: str | None = _flag()) -> Any:
    acting = for_pharmacy(caller, pharmacy_id)
    exclude = params.parse_bool(exclude_medical_aid, "exclude_medical_aid")
    return PharmacyJSONResponse(await debtors.statistics(session, acting, exclude_medical_aid=exclude is not False))


# ------------------------------------------------------------------ reminders


async def _send(request: Request, pharmacy_id: int, channel: str) -> Any:
    caller = await _acting(request, pharmacy_id, write=True)
    body = await _body(request)
    ids = params.parse_ids(body.get("debtor_ids"), required=True) or ()
    buckets = params.parse_buckets(body.get("ageing_buckets"))
    override = params.parse_bool(body.get("override_account_status"), "override_account_status") or False
    async with transaction(readonly=True) as session:
        plan = await reminders.plan(session, caller, channel, ids, buckets)
    key = request.headers.get("idempotency-key")
    return PharmacyJSONResponse(await reminders.send(caller, plan, idempotency_key=key[:100] if key else None,
                                                     override_status=override))


@router.post(BASE + "/send-email", openapi_extra=SEND_BODY)
async def send_email(pharmacy_id: int, request: Request) -> Any:
    return await _send(request, pharmacy_id, "email")


@router.post(BASE + "/send-sms", openapi_extra=SEND_BODY)
async def send_sms(pharmacy_id: int, request: Request) -> Any:
    return await _send(request, pharmacy_id, "sms")


# ------------------------------------------------------------------ downloads


async def _export(request: Request, pharmacy_id: int) -> tuple[Caller, debtors.DebtorFilter, list[dict[str, Any]]]:
    caller = await _acting(request, pharmacy_id, write=False)
    body = await _body(request)
    f = params.debtor_filter(debtor_ids=body.get("debtor_ids"), min_balance=body.get("min_balance"),
                             ageing_buckets=body.get("ageing_buckets"),
                             exclude_medical_aid=body.get("exclude_medical_aid"))
    async with transaction(readonly=True) as session:
        rows = await debtors.export_rows(session, caller, f)
    return caller, f, rows


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": content_disposition(name, quoted=False)}


@router.post(BASE + "/download-csv", openapi_extra=CSV_BODY, responses=file_response("text/csv"))
async def download_csv(pharmacy_id: int, request: Request) -> Any:
    from arrears.pharmacy import exports

    _, f, rows = await _export(request, pharmacy_id)
    chunks: Iterator[bytes] = exports.debtors_csv(rows, f.ageing_buckets or debtors.BUCKETS)

    async def stream() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    return StreamingResponse(stream(), media_type="text/csv; charset=utf-8",
                             headers=_attachment(f"debtors_{pharmacy_id}.csv"))


@router.post(BASE + "/download-pdf", openapi_extra=PDF_BODY, responses=file_response("application/pdf"))
async def download_pdf(pharmacy_id: int, request: Request) -> Any:
    from arrears.pharmacy import exports

    caller, f, rows = await _export(request, pharmacy_id)
    async with transaction(readonly=True) as session:
        org = await get_org(session, caller.org_id)
    data = await asyncio.to_thread(exports.debtors_pdf, rows, pharmacy_name=org.name, generated_at=utcnow(),
                                   buckets=f.ageing_buckets or debtors.BUCKETS, totals=debtors.totals_of(rows))
    return Response(data, media_type="application/pdf", headers=_attachment(f"debtors_{pharmacy_id}.pdf"))


# ------------------------------------------------------------------ communications


@router.get(BASE + "/{debtor_id:int}/communications")
async def communications(pharmacy_id: int, debtor_id: int, caller: UserDep, session: SessionDep) -> Any:
    acting = for_pharmacy(caller, pharmacy_id)
    return PharmacyJSONResponse(await comms.communications(session, acting, debtor_id))
