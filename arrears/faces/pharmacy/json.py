"""JSON for the pharmacy face: money (Decimal) written as JSON numbers digit for digit (never
through float, `arrears.faces.exact_json`), times as ISO 8601 in UTC with `Z`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi.responses import JSONResponse

from arrears.db import isoz
from arrears.faces.exact_json import dumps as exact_dumps


def _when(value: date) -> str:
    return isoz(value) if isinstance(value, datetime) else value.isoformat()


def dumps(content: Any) -> str:
    return exact_dumps(content, when=_when)


class PharmacyJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")
