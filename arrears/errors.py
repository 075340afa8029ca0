"""The domain error: a stable code, an HTTP status and a message. Each face renders it its own way."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "ERROR"
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
    code = "NOT_FOUND"
    status = 404


class Unauthorized(DomainError):
    code = "UNAUTHORIZED"
    status = 401


class Forbidden(DomainError):
    code = "FORBIDDEN"
    status = 403


class Conflict(DomainError):
    code = "CONFLICT"
    status = 409


class ValidationFailed(DomainError):
    code = "VALIDATION_ERROR"
    status = 400


class RateLimited(DomainError):
    code = "RATE_LIMIT_EXCEEDED"
    status = 429

    def __init__(self, message: str, *, retry_after: int, **kw: Any) -> None:
        headers = {"Retry-After": str(retry_after)} | (kw.pop("headers", None) or {})
        super().__init__(message, headers=headers, **kw)
        self.retry_after = retry_after
