"""Arrears' own payments endpoints under /api/v1, with the partner face's conventions (errors
{"error": CODE, "message", "details"}, camelCase, UUID ids, lists as {"data", "pagination"},
limit at most 100, the partner rate limit and usage log).

Callers: a user's JWT (by role: arrears.payments.service) or a partner `ins_` key with
`payments:read` / `payments:write` (`*` grants all; a :write scope reads too). Another
organisation's ids are 404. Money is written as JSON numbers, digit for digit.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from arrears.config import get_settings
from arrears.errors import ErrorCode, ValidationFailed
from arrears.faces import multipart
from arrears.faces.accounts_api.payment_shapes import import_out, payment_out
from arrears.faces.deps import SessionDep
from arrears.faces.own_api import ApiCaller, MoneyJSON, list_day, require_scope
from arrears.faces.partner import views
from arrears.faces.partner.routing import partner_router
from arrears.partners.service import PAGES
from arrears.payments import importing
from arrears.payments import service as payments

router = partner_router("/api/v1", "Payments")
READ = ("Scope for `ins_` keys: `payments:read` (or `payments:write`). Users (JWT): any member of the organisation "
        "sees the payments of the accounts they may see, and the unmatched ones.")
WRITE = ("Scope for `ins_` keys: `payments:write`. Users (JWT): admins, managers and collection officers with "
         "write access.")
REVERSE = "Users (JWT): admins and managers with write access only; `ins_` keys may not reverse."


@router.get("/payments", summary="List payments", description=READ)
async def list_payments(session: SessionDep, caller: ApiCaller, status: str | None = None,
                        account_id: str | None = Query(None, alias="accountId"),
                        import_id: str | None = Query(None, alias="importId"),
                        date_from: str | None = Query(None, alias="dateFrom", description="paid on or after"),
                        date_to: str | None = Query(None, alias="dateTo", description="paid on or before"),
                        page: int = Query(1), limit: int = Query(20)) -> MoneyJSON:
    require_scope(caller, "payments:read", "payments:write")
    req = PAGES.check(page, limit)
    f = payments.PaymentFilter(status=status, account_id=account_id, import_id=import_id,
                               date_from=list_day("dateFrom", date_from), date_to=list_day("dateTo", date_to))
    rows, total = await payments.list_payments(session, caller, f, offset=req.offset, limit=req.size)
    return MoneyJSON(views.page([payment_out(p) for p in rows], req.page, req.size, total))


PAYMENT_BODY = ("One payment `{account | reference, amount, paidOn, method?, externalId?, note?}` (201), or "
                "`{\"payments\": [...]}` (up to 1000; 201 with `data`, each item `created` or not).")


@router.post("/payments", status_code=201, summary="Record a payment, or a bulk list",
             description=WRITE + " " + PAYMENT_BODY)
async def record_payments(session: SessionDep, caller: ApiCaller,
                          body: Annotated[Any, Body(description=PAYMENT_BODY)]) -> MoneyJSON:
    require_scope(caller, "payments:write")
    if not isinstance(body, dict):
        raise ValidationFailed("The body must be a JSON object.")
    if "payments" in body:
        if set(body) != {"payments"} or not isinstance(body["payments"], list):
            raise ValidationFailed("Invalid payments: send {\"payments\": [...]}",
                                   field_errors={"payments": ["Must be a list of payments."]})
        done = await payments.record_many(session, caller, body["payments"])
        return MoneyJSON({"data": [payment_out(r.payment) | {"created": r.created} for r in done],
                          "created": sum(1 for r in done if r.created),
                          "existing": sum(1 for r in done if not r.created)}, status_code=201)
    one = await payments.record(session, caller, body)
    return MoneyJSON(payment_out(one.payment) | {"created": one.created}, status_code=201 if one.created else 200)


@router.get("/payments/imports/{import_id}", summary="A payments import and its counts", description=READ)
async def get_import(import_id: str, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    require_scope(caller, "payments:read", "payments:write")
    return MoneyJSON(import_out(await payments.get_import(session, caller, import_id)))


@router.get("/payments/{payment_id}", summary="A payment", description=READ)
async def get_payment(payment_id: str, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    require_scope(caller, "payments:read", "payments:write")
    return MoneyJSON(payment_out(await payments.get_payment(session, caller, payment_id)))


class ReverseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(description="Why (the bank's return reason)")


class MatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accountId: str = Field(description="The account's id (a UUID)")


@router.post("/payments/{payment_id}/reverse", summary="Reverse a payment (it bounced)", description=REVERSE)
async def reverse_payment(payment_id: str, body: ReverseIn, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    require_scope(caller, "payments:write")
    return MoneyJSON(payment_out(await payments.reverse(session, caller, payment_id, body.reason)))


@router.post("/payments/{payment_id}/match", summary="Match an unmatched payment to an account", description=WRITE)
async def match_payment(payment_id: str, body: MatchIn, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    require_scope(caller, "payments:write")
    return MoneyJSON(payment_out(await payments.match(session, caller, payment_id, body.accountId)))


IMPORT_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary"},
                   "mapping": {"type": "string", "description": "JSON {column index: field or null}"}}}}}}}


@router.post("/payments/import", status_code=201, openapi_extra=IMPORT_BODY,
             summary="Import a payments CSV or bank statement export (preview=true: read it, write nothing)",
             description=WRITE)
async def import_payments(request: Request, session: SessionDep, caller: ApiCaller,
                          preview: bool = Query(False, description="true: the preview, nothing written")) -> MoneyJSON:
    require_scope(caller, "payments:write")
    payments.require_recorder(caller)  # before the body is read
    limit = get_settings().upload_max_size

    def too_large() -> Exception:
        return ValidationFailed(f"The file is larger than {limit} bytes.", code=ErrorCode.FILE_TOO_LARGE)

    try:
        filename, sink, fields = await multipart.receive_form(
            request, lambda name: multipart.MemorySink(limit, too_large), fields=("mapping",))
    except multipart.UploadProblem as exc:
        required = {"file": ["Send the file as multipart/form-data in a field named 'file'."]}
        raise ValidationFailed(f"No payments file: {exc.message}", field_errors=required) from None
    mapping = None
    if fields.get("mapping"):
        try:
            mapping = json.loads(fields["mapping"])
        except ValueError:
            mapping = None
        if not isinstance(mapping, dict):
            raise ValidationFailed("Invalid mapping", field_errors={"mapping": ["A JSON object {column: field}."]})
    path = await asyncio.to_thread(_spool, sink.data, Path(filename).suffix)
    try:
        if preview:
            return MoneyJSON(await importing.preview(session, caller, path, mapping), status_code=200)
        row = await importing.import_file(session, caller, path, Path(filename).name, mapping)
        return MoneyJSON(import_out(row), status_code=201)
    finally:
        os.unlink(path)


def _spool(data: bytes, suffix: str) -> str:
    """The upload in a private temporary file: the parse child reads a path."""
    fd, path = tempfile.mkstemp(prefix="payments-", suffix=suffix[:10] if suffix.isascii() else "")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


__all__ = ["router"]
