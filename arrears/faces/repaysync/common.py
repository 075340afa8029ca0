"""Pieces the RepaySync routers share: request field types, the upload reader, field-name
translation between the spec (`customer`, `loan`) and the domain (`customer_id`, `loan_id`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BaseModel, BeforeValidator, WithJsonSchema

from arrears.config import get_settings
from arrears.customers.fields import money, parse_date
from arrears.customers.schemas import ImportResult
from arrears.db import isoz, transaction
from arrears.errors import DomainError, ErrorCode, ValidationFailed
from arrears.faces import multipart
from arrears.faces.deps import current_caller, user_caller


def _date_in(value: Any) -> Any:
    if value is None or isinstance(value, date):
        return value
    return parse_date(value)  # ValueError → 400 {"errors": {field: ["Date has wrong format. …"]}}


def _text_in(value: Any) -> Any:
    # Numbers typed into text fields (a pincode, a phone) are taken as their digits.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


DateIn = Annotated[date, BeforeValidator(_date_in)]
TextIn = Annotated[str, BeforeValidator(_text_in)]

# Fields the domain checks itself: the body takes any JSON value there, so that one 400 names every
# bad field at once (the domain collects them all) instead of stopping at the first type error.
# The OpenAPI schema still says what to send.
_NULLABLE = {"type": "null"}
AnyText = Annotated[Any, WithJsonSchema({"anyOf": [{"type": "string"}, _NULLABLE]})]
AnyEmail = Annotated[Any, WithJsonSchema({"anyOf": [{"type": "string", "format": "email"}, _NULLABLE]})]
AnyDate = Annotated[Any, WithJsonSchema({"anyOf": [{"type": "string", "format": "date"}, _NULLABLE]})]
AnyId = Annotated[Any, WithJsonSchema({"anyOf": [{"type": "integer"}, _NULLABLE]})]


class Deleted(BaseModel):
    """What a DELETE answers (200)."""

    id: int
    deleted: bool = True


class RowErrorOut(BaseModel):
    line: int
    message: str
    errors: dict[str, list[str]]


class BulkResult(BaseModel):
    records_created: int
    errors: list[RowErrorOut]


def bulk_result(result: ImportResult, rename: Mapping[str, str] | None = None) -> BulkResult:
    rename = rename or {}
    out = []
    for e in result.errors:
        fields = {rename.get(k, k): v for k, v in e.errors.items()}
        message = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
        out.append(RowErrorOut(line=e.line, message=message, errors=fields))
    return BulkResult(records_created=result.records_created, errors=out)


@contextmanager
def spec_fields(rename: Mapping[str, str]) -> Iterator[None]:
    """Field errors under the spec's names ({"customer": […]}, not {"customer_id": […]})."""
    try:
        yield
    except ValidationFailed as exc:
        if exc.field_errors:
            renamed: dict[str, list[str]] = {}
            for key, messages in exc.field_errors.items():
                renamed.setdefault(rename.get(key, key), []).extend(messages)
            exc.field_errors = renamed
        raise


def plain(value: Any) -> Any:
    """JSON values as RepaySync writes them: money as "50000.00", dates ISO, times with Z."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return money(value)
    if isinstance(value, datetime):
        return isoz(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


UPLOAD_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary",
                                    "description": "The CSV file (UTF-8 or Windows-1252)"}},
        }}},
    },
}

_MULTIPART_SLACK = 64 * 1024  # boundaries and part headers around the file


def _too_large(limit: int) -> DomainError:
    size = f"{limit / (1024 * 1024):g} MB" if limit >= 1024 * 1024 else f"{limit} bytes"
    return DomainError(f"The file is larger than the upload limit of {size}.", code=ErrorCode.FILE_TOO_LARGE,
                       status=413)


async def read_upload(request: Request) -> bytes:
    """The bytes of the multipart field `file`; 400 "No file provided." without one, 413 over
    UPLOAD_MAX_SIZE (50 MB by default) — refused from Content-Length before reading when it can."""
    limit = get_settings().upload_max_size
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + _MULTIPART_SLACK:
        raise _too_large(limit)
    try:
        filename, sink = await multipart.receive_file(
            request, lambda _: multipart.MemorySink(limit, lambda: _too_large(limit)))
    except multipart.UploadProblem as exc:
        if exc.kind == exc.MALFORMED:
            raise ValidationFailed(exc.message) from None
        raise ValidationFailed("No file provided.") from None
    if not filename and not sink.size:  # a form's empty file input
        raise ValidationFailed("No file provided.")
    return sink.data


@dataclass
class Upload:
    """The uploaded file, read before the request's transaction begins (on SQLite a writer holds
    the database lock from its first query, and a 50 MB upload can take a while to arrive). A
    problem is kept and raised by `content()`, after the caller has been authenticated."""

    data: bytes | None
    problem: DomainError | None = None

    def content(self) -> bytes:
        if self.problem is not None:
            raise self.problem
        assert self.data is not None
        return self.data


async def _upload(request: Request) -> Upload:
    # The caller first, in a short read: a stranger's body is never read (issue 19).
    async with transaction(readonly=True) as reading:
        await user_caller(await current_caller(request, reading))
    try:
        return Upload(await read_upload(request))
    except DomainError as exc:
        return Upload(None, exc)


# Declare it before the caller in a route's parameters: dependencies resolve in that order.
UploadDep = Annotated[Upload, Depends(_upload)]
