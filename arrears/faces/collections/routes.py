"""`/api/v1/collections/…`: settings, runs, files, reconciliation, reports. Translation only:
the rules live in `arrears.premiums.debit_orders`."""

from __future__ import annotations

import re
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, field_validator

from arrears.db import utcnow
from arrears.downloads import content_disposition
from arrears.errors import NotFound, ValidationFailed
from arrears.faces import multipart
from arrears.faces.collections.deps import Call, access, pagination, paging
from arrears.faces.openapi import file_response, one_of, pattern, uuid_format
from arrears.paging import PageRequest
from arrears.premiums.debit_orders import authority, reconciliation, reports, service
from arrears.premiums.debit_orders import files as files_svc
from arrears.premiums.debit_orders import settings as settings_svc
from arrears.premiums.debit_orders.settlement import settle
from arrears.premiums.schemas import money

TAG = "Debit orders (/api/v1/collections)"
router = APIRouter(prefix="/api/v1/collections", tags=[TAG])
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _date(value: Any, name: str) -> date:
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValueError(f"{name} must be a YYYY-MM-DD date")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} is not a valid date") from None


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{what} {value} not found") from None


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action_date: date

    @field_validator("action_date", mode="before")
    @classmethod
    def _d(cls, v: Any) -> date:
        return _date(v, "action_date")


class SettleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    as_of: date | None = None

    @field_validator("as_of", mode="before")
    @classmethod
    def _d(cls, v: Any) -> date | None:
        return None if v is None else _date(v, "as_of")


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    collection_reference: str | None = None
    dismiss: bool = False


def _csv(text: str, filename: str) -> Response:
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": content_disposition(filename)})


def _format(value: str) -> str:
    if value not in ("json", "csv"):
        raise ValidationFailed("format must be json or csv", field_errors={"format": ["Use json or csv."]})
    return value


# ---------------------------------------------------------------- settings


@router.get("/settings", summary="The captive's debit-order settings")
async def get_settings(call: Call = access(False)) -> dict[str, Any]:
    row = await settings_svc.get_settings(call.session, call.org_id)
    return {"data": settings_svc.settings_out(row) if row else None}


@router.put("/settings", summary="Set the ACB user, the daily schedule and the auto-success days")
async def put_settings(body: dict[str, Any], call: Call = access(True)) -> dict[str, Any]:
    row = await service.configure(call.session, call.caller, body)
    return {"data": settings_svc.settings_out(row)}


# ---------------------------------------------------------------- runs


@router.post("/runs", summary="Start (or continue) the debit-order run of an action date",
             responses={201: {"description": "A new run"}, 200: {"description": "The run existed"}})
async def start_run(body: RunIn, call: Call = access(True)) -> JSONResponse:
    started = await service.start_run(call.session, call.caller, body.action_date)
    data = await service.run_out(call.session, started.run)
    data["collections_created"] = started.collections_created
    data["files_created"] = [files_svc.file_out(f, started.run) for f in started.files]
    return JSONResponse({"data": data}, status_code=201 if started.created else 200)


@router.get("/runs", summary="The captive's runs, newest action date first")
async def list_runs(call: Call = access(False), pg: PageRequest = Depends(paging)) -> dict[str, Any]:
    runs, total = await service.list_runs(call.session, call.org_id, page=pg.page, limit=pg.size)
    return {"data": [await service.run_out(call.session, r) for r in runs], "pagination": pagination(pg, total)}


@router.get("/runs/{run_id}", summary="One run: its counts, skipped policies and files")
async def get_run(run_id: str, call: Call = access(False)) -> dict[str, Any]:
    run = await service.get_run(call.session, call.org_id, _uuid(run_id, "Debit-order run"))
    return {"data": await service.run_out(call.session, run)}


def _format_query() -> Any:
    return Query("json", json_schema_extra=one_of(("json", "csv"), default="json"))


@router.get("/runs/{run_id}/report", summary="Collected, failed by reason, outstanding: JSON or CSV",
            responses=file_response("text/csv", json=True))
async def run_report(run_id: str, format: str = _format_query(), call: Call = access(False)) -> Any:
    fmt = _format(format)
    run = await service.get_run(call.session, call.org_id, _uuid(run_id, "Debit-order run"))
    report = await reports.run_report(call.session, run)
    if fmt == "csv":
        return _csv(reports.report_csv(report), f"run_{run.action_date:%Y%m%d}_report.csv")
    return {"data": report}


@router.get("/reports/monthly", summary="A month's collections: JSON or CSV",
            responses=file_response("text/csv", json=True))
async def month_report(month: str = Query(..., json_schema_extra=pattern(r"^\d{4}-\d{2}$", "2026-01")),
                       format: str = _format_query(),
                       call: Call = access(False)) -> Any:
    fmt = _format(format)
    report = await reports.month_report(call.session, call.org_id, month)
    if fmt == "csv":
        return _csv(reports.report_csv(report), f"collections_{month}_report.csv")
    return {"data": report}


# ---------------------------------------------------------------- files


@router.get("/files", summary="Stored files: the runs' ACB files and CSVs, and imported answers")
async def list_files(run_id: str | None = Query(None, json_schema_extra=uuid_format()), kind: str | None = Query(None),
                     call: Call = access(False), pg: PageRequest = Depends(paging)) -> dict[str, Any]:
    run_pk = None
    if run_id is not None:
        run_pk = (await service.get_run(call.session, call.org_id, _uuid(run_id, "Debit-order run"))).id
    rows, total = await files_svc.list_files(call.session, call.org_id, run_id=run_pk, kind=kind,
                                             page=pg.page, limit=pg.size)
    return {"data": [files_svc.file_out(f, r) for f, r in rows], "pagination": pagination(pg, total)}


@router.get("/files/{file_id}", summary="One stored file's details")
async def get_file(file_id: str, call: Call = access(False)) -> dict[str, Any]:
    f, run = await files_svc.get_file(call.session, call.org_id, _uuid(file_id, "File"))
    return {"data": files_svc.file_out(f, run)}


@router.get("/files/{file_id}/download", summary="Download a stored file as it was written",
            responses=file_response("text/plain", "text/csv"))
async def download_file(file_id: str, call: Call = access(False)) -> Response:
    f, _ = await files_svc.get_file(call.session, call.org_id, _uuid(file_id, "File"))
    return Response(f.content.encode(), media_type=f"{f.media_type}; charset=utf-8",
                    headers={"Content-Disposition": content_disposition(f.filename),
                             "ETag": f'"{f.sha256}"'})


# ---------------------------------------------------------------- reconciliation


# The answer file: a multipart `file` field, or the raw body (of any other content type).
ANSWER_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": {"type": "string", "format": "binary"}}}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


async def _upload(request: Request) -> tuple[bytes, str]:
    """The answer file: a multipart `file` field, or the raw request body."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        try:
            filename, sink = await multipart.receive_file(request, lambda _: multipart.MemorySink())
        except multipart.UploadProblem as exc:
            if exc.kind == exc.MALFORMED:
                raise ValidationFailed(f"The upload could not be read as multipart/form-data: {exc.message}",
                                       field_errors={"file": [exc.message]}) from None
            raise ValidationFailed("Send the answer file in the multipart field `file`",
                                   field_errors={"file": ["This field is required."]}) from None
        return sink.data, filename or "answer"
    return await request.body(), request.headers.get("x-filename", "answer")


@router.post("/reconciliations", summary="Import the bank's answer: an unpaids file or a CSV",
             responses={201: {"description": "Imported"}, 200: {"description": "The same file again"}},
             openapi_extra=ANSWER_BODY)
async def import_answer(request: Request,
                        format: str | None = Query(None, json_schema_extra=one_of(reconciliation.FORMATS)),
                        call: Call = access(True)) -> JSONResponse:
    authority.may_move_money(call.caller)  # before the upload is read; the service asks again
    content, filename = await _upload(request)
    result = await reconciliation.import_answer(call.session, call.caller, content, filename=filename, fmt=format)
    refs = await reconciliation.collection_refs(call.session, [r.collection_id for r in result.records])
    data = {"file": files_svc.file_out(result.file), "replayed": result.replayed, "counts": result.counts(),
            "records": [reconciliation.record_out(
                r, result.file, refs.get(r.collection_id) if r.collection_id is not None else None)
                for r in result.records]}
    return JSONResponse({"data": data}, status_code=200 if result.replayed else 201)


@router.get("/reconciliation-records", summary="Reconciliation records; `open=true` lists what a person must resolve")
async def list_records(outcome: str | None = Query(None, json_schema_extra=one_of(reconciliation.OUTCOMES)),
                       file_id: str | None = Query(None, json_schema_extra=uuid_format()),
                       open: bool = Query(False), call: Call = access(False),
                       pg: PageRequest = Depends(paging)) -> dict[str, Any]:
    if outcome is not None and outcome not in reconciliation.OUTCOMES:
        raise ValidationFailed(f"outcome must be one of {', '.join(reconciliation.OUTCOMES)}",
                               field_errors={"outcome": ["Unknown outcome."]})
    file_pk = None
    if file_id is not None:
        file_pk = (await files_svc.get_file(call.session, call.org_id, _uuid(file_id, "File")))[0].id
    rows, total = await reconciliation.list_records(call.session, call.org_id, outcome=outcome, file_id=file_pk,
                                                    open_only=open, page=pg.page, limit=pg.size)
    return {"data": rows, "pagination": pagination(pg, total)}


@router.post("/reconciliation-records/{record_id}/resolve", summary="Apply an open record to a collection, or dismiss it")
async def resolve(record_id: str, body: ResolveIn, call: Call = access(True)) -> dict[str, Any]:
    out = await reconciliation.resolve_record(call.session, call.caller, _uuid(record_id, "Reconciliation record"),
                                              collection_reference=body.collection_reference, dismiss=body.dismiss)
    return {"data": out}


@router.post("/settle", summary="Apply the auto-success rule now")
async def settle_now(body: SettleIn, call: Call = access(True)) -> dict[str, Any]:
    moved = await settle(call.session, call.caller, body.as_of or utcnow().date())
    return {"data": {"settled": len(moved), "collections": [c.collection_reference for c in moved],
                     "amount": money(sum((c.amount for c in moved), start=Decimal(0)))}}
