"""The domain error: a stable code, an HTTP status and a message. Each face renders it its own way.

Codes are members of one `StrEnum` per domain (`ErrorCode` here for the generic ones, and
`arrears/<domain>/errors.py` for each domain's own), never string literals: a StrEnum member is the
str it names, so every body renders the same text.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """The generic codes: one per HTTP failure a face reports when nothing more specific was raised."""

    ERROR = "ERROR"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    CONFLICT = "CONFLICT"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    UNPROCESSABLE = "UNPROCESSABLE"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    CSRF_FAILED = "CSRF_FAILED"


class DomainError(Exception):
    code: str = ErrorCode.ERROR
    status = 400

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 details: Any = None, field_errors: dict[str, list[str]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details
        # Per-field messages, for faces that show them ({"errors": {field: [msg]}}).
        self.field_errors = field_errors
        self.headers = headers


class NotFound(DomainError):
    code: str = ErrorCode.NOT_FOUND
    status = 404


class Unauthorized(DomainError):
    code: str = ErrorCode.UNAUTHORIZED
    status = 401


class Forbidden(DomainError):
    code: str = ErrorCode.FORBIDDEN
    status = 403


class Conflict(DomainError):
    code: str = ErrorCode.CONFLICT
    status = 409


class ValidationFailed(DomainError):
    code: str = ErrorCode.VALIDATION_ERROR
    status = 400


class RateLimited(DomainError):
    code: str = ErrorCode.RATE_LIMIT_EXCEEDED
    status = 429

    def __init__(self, message: str, *, retry_after: int, **kw: Any) -> None:
        headers = {"Retry-After": str(retry_after)} | (kw.pop("headers", None) or {})
        super().__init__(message, headers=headers, **kw)
        self.retry_after = retry_after
