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

from arrears import validation
from arrears.errors import DomainError

log = logging.getLogger("arrears.errors")


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
    details = p.details if p.details is not None else (p.field_errors or {})
    return {"message": p.message, "code": p.code, "details": details}


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
STATUS_CODES = {400: "VALIDATION_ERROR", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
                405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 413: "FILE_TOO_LARGE",
                415: "UNSUPPORTED_MEDIA_TYPE", 422: "UNPROCESSABLE", 429: "RATE_LIMIT_EXCEEDED",
                500: "INTERNAL_ERROR", 503: "SERVICE_UNAVAILABLE"}


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
        return render(request, Problem(exc.status_code, STATUS_CODES.get(exc.status_code, "ERROR"),
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
        from arrears.faces import unavailable  # an outage met outside a route: 503, not 500

        if unavailable.is_outage(exc):
            return unavailable.response(request, exc)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return render(request, Problem(500, "INTERNAL_ERROR",
                                       "Internal server error; the error was logged"))
