"""JSON for the AAMA face: money (Decimal) written as JSON numbers, digit for digit
(`arrears.faces.exact_json`)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from arrears.faces.exact_json import dumps

__all__ = ["AamaJSONResponse", "dumps"]


class AamaJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")
