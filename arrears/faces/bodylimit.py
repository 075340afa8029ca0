"""Request bodies are bounded before they are read: a declared Content-Length past the route's
limit is refused before a byte is read, and a streamed (chunked) body is refused as soon as its
count passes the limit — so a 500 MB body costs no more memory than one chunk.

The limit of a request (ARREARS_* settings in `config.LimitsSettings`, UPLOAD_MAX_SIZE):
- multipart bodies, and the collections face's raw answer file: UPLOAD_MAX_SIZE plus room for
  the form around the file, answered with the status each face gives an oversized upload;
- id selections (AAMA `PUT /api/uploads/{id}/selection`, the pharmacy downloads and sends):
  ARREARS_SELECTION_MAX_BYTES (16 MiB);
- every other body: ARREARS_JSON_MAX_BYTES (1 MiB), 413.
Each refusal is rendered in the face's own error body (arrears.faces.errors).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arrears.config import get_settings
from arrears.faces import errors

CLOSE = {"Connection": "close"}  # the rest of the body is never read: the connection cannot be reused
UPLOAD_SLACK = 1024 * 1024  # boundaries, part headers and small fields around the file

SELECTION_ROUTES = re.compile(
    r"^/api/uploads/[^/]+/selection$"
    r"|^/pharmacies/\d+/debtors/(download-csv|download-pdf|send-email|send-sms)$")
RAW_UPLOAD_ROUTES = re.compile(r"^/api/v1/collections/reconciliations$")

# The status and code each face already gives a file over UPLOAD_MAX_SIZE.
UPLOAD_STATUS = {"aama": 400, "pharmacy": 400}


@dataclass(frozen=True)
class Limit:
    size: int
    upload: bool  # an uploaded file: the face's upload status, FILE_TOO_LARGE


class BodyTooLarge(errors.ProblemException):
    """Raised from `receive()` when a streamed body passes its limit: the route that was reading
    it stops there, and the face renders it. An HTTPException, so that FastAPI's body reader
    passes it on rather than calling it a parse error."""


def limit_for(scope: Scope) -> Limit:
    path: str = scope.get("path", "")
    limits = get_settings().limits
    content_type = _header(scope, b"content-type").lower()
    if content_type.startswith("multipart/form-data") or RAW_UPLOAD_ROUTES.match(path):
        return Limit(get_settings().upload_max_size + UPLOAD_SLACK, True)
    if SELECTION_ROUTES.match(path):
        return Limit(limits.arrears_selection_max_bytes, False)
    return Limit(limits.arrears_json_max_bytes, False)


def too_large(path: str, limit: Limit) -> BodyTooLarge:
    if limit.upload:
        size = get_settings().upload_max_size
        status = UPLOAD_STATUS.get(errors.face_of(path) or "", 413)
        return BodyTooLarge(errors.Problem(
            status, "FILE_TOO_LARGE", f"The file is larger than the upload limit of {_human(size)}.",
            details={"max_size": size}, headers=CLOSE))
    return BodyTooLarge(errors.Problem(
        413, "PAYLOAD_TOO_LARGE", f"The request body is larger than this endpoint's limit of "
        f"{_human(limit.size)}.", details={"max_size": limit.size}, headers=CLOSE))


def _human(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB" if size >= 1024 * 1024 else f"{size} bytes"


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers") or ():
        if key == name:
            return str(value.decode("latin-1"))
    return ""


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope)
        declared = _header(scope, b"content-length").strip()
        if declared and (not declared.isdigit() or int(declared) > limit.size):
            problem = (too_large(scope["path"], limit).problem if declared.isdigit() else
                       errors.Problem(400, "VALIDATION_ERROR", "Content-Length is not a number",
                                      headers=CLOSE))
            response = errors.render(Request(scope), problem)
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.size:
                    raise too_large(scope["path"], limit)
            return message

        await self.app(scope, counted, send)
