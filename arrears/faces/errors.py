"""Every face renders errors in its own spec's body, chosen by path prefix, so a client of one
face never sees another face's error shape — including 401/404/405/500 raised outside any route
and validation errors (400, never FastAPI's default 422 list)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import InvalidOperation
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from arrears import outages, validation
from arrears.errors import DomainError, ErrorCode

log = logging.getLogger("arrears.errors")
outage_log = logging.getLogger("arrears.outages")


@dataclass(frozen=True)
class Problem:
    status: int
    code: str
    message: str
    details: Any = None
    field_errors: dict[str, list[str]] | None = None
    headers: dict[str, str] | None = None


class ProblemException(StarletteHTTPException):
    """A problem raised where only an HTTPException passes (e.g. from a body being read inside
    FastAPI's body parser), rendered as the problem it carries."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.status, problem.message, problem.headers)
        self.problem = problem


Renderer = Callable[[Problem], dict[str, Any]]


def _repaysync(p: Problem) -> dict[str, Any]:
    if p.field_errors:
        return {"errors": p.field_errors}
    return {"error": p.message}


def _aama(p: Problem) -> dict[str, Any]:
    """The spec's `details` is a string ("Additional error details if available"): a readable
    summary goes there, and each structured detail under a named key of its own (`field_errors`,
    `problems`, `unknown_account_ids`, …), so that a strictly typed client decodes every error."""
    named, summary = _aama_details(p)
    return {"message": p.message, "code": p.code, "details": summary} | named


AAMA_KEYS = {"message", "code", "details"}
# Lists of ids or names that are details of their own, not a field's messages.
NAMED_LISTS = {"unknown_account_ids", "upload_ids", "missing", "found_headers"}


def _is_field_errors(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and not set(value) & NAMED_LISTS and all(
        isinstance(v, list) and all(isinstance(m, str) for m in v) for v in value.values())


def _brief(value: Any) -> str:
    if isinstance(value, list | tuple):
        shown = ", ".join(str(v) for v in value[:5])
        return shown + (f" and {len(value) - 5} more" if len(value) > 5 else "")
    return str(value)


def _aama_details(p: Problem) -> tuple[dict[str, Any], str]:
    named: dict[str, Any] = {}
    parts: list[str] = []
    fields = p.field_errors
    details = p.details
    if isinstance(details, str):
        parts.append(details)
    elif _is_field_errors(details):
        fields = fields or details
    elif isinstance(details, list):
        named["problems"] = details
        parts += [str(d["message"]) for d in details if isinstance(d, dict) and d.get("message")]
    elif isinstance(details, dict):
        for key, value in details.items():
            named[key if key not in AAMA_KEYS else f"detail_{key}"] = value
            parts.append(f"{key}: {_brief(value)}")
    elif details is not None:
        parts.append(str(details))
    if fields:
        named["field_errors"] = fields
        parts[:0] = [f"{field}: {' '.join(messages)}" for field, messages in fields.items()]
    return named, "; ".join(parts)


def _pharmacy(p: Problem) -> dict[str, Any]:
    return {"detail": p.message}


def _premium(p: Problem) -> dict[str, Any]:
    return {"error": {"message": p.message, "code": p.code}}


def _partner(p: Problem) -> dict[str, Any]:
    details = p.details if p.details is not None else (p.field_errors or None)
    return {"error": p.code, "message": p.message, "details": details}


# Longest prefix first. A prefix matches the path exactly or followed by "/".
FACES: list[tuple[str, str, Renderer]] = [
    ("/api/v1/collections", "collections", _premium),  # debit orders: the premium face's body
    ("/api/v1", "partner", _partner),
    ("/api/webhooks", "premium", _premium),
    ("/ws", "premium", _premium),
    ("/api/uploads", "aama", _aama),
    ("/api/messaging", "aama", _aama),
    ("/pharmacies", "pharmacy", _pharmacy),
    ("/api/auth", "repaysync", _repaysync),
    ("/api/users", "repaysync", _repaysync),
    ("/api/customers", "repaysync", _repaysync),
    ("/api/loans", "repaysync", _repaysync),
    ("/api/interactions", "repaysync", _repaysync),
    ("/api/logs", "repaysync", _repaysync),
]

# HTTP status → the code word faces with codes use when nothing more specific was raised.
STATUS_CODES: dict[int, str] = {
    400: ErrorCode.VALIDATION_ERROR, 401: ErrorCode.UNAUTHORIZED, 403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED, 409: ErrorCode.CONFLICT,
    413: ErrorCode.FILE_TOO_LARGE, 415: ErrorCode.UNSUPPORTED_MEDIA_TYPE, 422: ErrorCode.UNPROCESSABLE,
    429: ErrorCode.RATE_LIMIT_EXCEEDED, 500: ErrorCode.INTERNAL_ERROR, 503: ErrorCode.SERVICE_UNAVAILABLE}


def face_of(path: str) -> str | None:
    for prefix, name, _ in FACES:
        if path == prefix or path.startswith(prefix + "/"):
            return name
    return None


def _renderer(path: str) -> Renderer:
    for prefix, _, fn in FACES:
        if path == prefix or path.startswith(prefix + "/"):
            return fn
    return _pharmacy  # {"detail": …}: the operations endpoints and anything unknown


# Per-face overrides of a domain error's code, e.g. the premium face's key codes.
CODE_MAPS: dict[str, Callable[[Problem], Problem]] = {}


def render(request: Request, p: Problem) -> JSONResponse:
    face = face_of(request.url.path)
    if face in CODE_MAPS:
        p = CODE_MAPS[face](p)
    body = _renderer(request.url.path)(p)
    return JSONResponse(body, status_code=p.status, headers=p.headers)


def validation_problem(exc: RequestValidationError) -> Problem:
    err = validation.validation_failed(exc)
    return Problem(400, err.code, err.message, field_errors=err.field_errors)


def _input_out_of_range(exc: DBAPIError) -> bool:
    """A value the database cannot hold: a DataError, or asyncpg refusing to encode an argument
    (an integer past int32/int64), which SQLAlchemy reports as a plain DBAPIError."""
    if isinstance(exc, DataError):
        return True
    cause = getattr(exc.orig, "__cause__", None)
    return isinstance(cause, (OverflowError, ValueError)) or (
        type(cause).__name__ == "DataError" or "invalid input for query argument" in str(exc.orig))


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return render(request, Problem(exc.status, exc.code, exc.message, exc.details,
                                       exc.field_errors, exc.headers))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return render(request, validation_problem(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc, ProblemException):
            return render(request, exc.problem)
        message = exc.detail if isinstance(exc.detail, str) else "Request failed"
        if exc.status_code == 404 and exc.detail == "Not Found":
            message = f"Not found: {request.method} {request.url.path}"
        if exc.status_code == 405:
            message = f"Method {request.method} is not allowed on {request.url.path}"
        return render(request, Problem(exc.status_code, STATUS_CODES.get(exc.status_code, ErrorCode.ERROR),
                                       message, headers=getattr(exc, "headers", None)))

    # Input the request carried that Python or the database cannot hold: the client's error, in the
    # face's body, never a 500 (issue 19): JSON nested past the parser's recursion, an integer past
    # 64 bits (SQLite raises OverflowError; PostgreSQL a DataError, as it does for a too-long value).
    @app.exception_handler(RecursionError)
    async def _too_deep(request: Request, exc: RecursionError) -> JSONResponse:
        return render(request, Problem(400, "VALIDATION_ERROR", "The request body is nested too deeply"))

    @app.exception_handler(InvalidOperation)  # a Decimal too large for its quantum (found by the fuzzer)
    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: ArithmeticError) -> JSONResponse:
        return render(request, Problem(400, "VALIDATION_ERROR",
                                       "A number in the request is out of range (at most 64 bits)"))

    @app.exception_handler(DBAPIError)
    async def _data(request: Request, exc: DBAPIError) -> JSONResponse:
        if not _input_out_of_range(exc):
            return await _crash(request, exc)
        log.info("refused input the database cannot hold on %s %s: %s", request.method,
                 request.url.path, type(exc.orig).__name__)
        return render(request, Problem(400, "VALIDATION_ERROR",
                                       "A value in the request is out of range or too long"))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        if is_outage(exc):  # an outage met outside a route: 503, not 500
            return outage_response(request, exc)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return render(request, Problem(500, ErrorCode.INTERNAL_ERROR,
                                       "Internal server error; the error was logged"))


# ------------------------------------------------------------------ outages (arrears.faces.unavailable)


def is_outage(exc: BaseException) -> bool:
    return outages.db_unavailable(exc) or outages.redis_unavailable(exc)


def outage_response(request: Request, exc: BaseException) -> JSONResponse:
    """503 with Retry-After in the face's body: the database (or Redis, where it has no fallback)
    cannot be reached. The client's retry gets the one answer once it is back."""
    what = "database" if outages.db_unavailable(exc) else "redis"
    outages.DB_UNAVAILABLE.labels("server" if what == "database" else "server-redis").inc()
    outage_log.info("503 on %s %s: %s unavailable (%s)", request.method, request.url.path, what,
                    type(exc).__name__)
    problem = Problem(
        503, ErrorCode.SERVICE_UNAVAILABLE,
        f"The service is briefly unavailable ({what} unreachable); retry in "
        f"{outages.DB_RETRY_AFTER} seconds", headers={"Retry-After": str(outages.DB_RETRY_AFTER)})
    return render(request, problem)
