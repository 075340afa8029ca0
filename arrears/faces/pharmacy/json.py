"""JSON for the pharmacy face: money (Decimal) written as JSON numbers digit for digit (never
through float), times as ISO 8601 in UTC with `Z`.

Each Decimal becomes a unique marker string first and is then replaced by its own digits (as the
AAMA face does), so no cent is rounded away whatever the size of the amount.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi.responses import JSONResponse

from arrears.db import isoz


def dumps(content: Any) -> str:
    numbers: list[str] = []
    nonce = secrets.token_hex(6)

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            if not value.is_finite():
                return None
            numbers.append(format(value, "f"))
            return f"\x00{nonce}:{len(numbers) - 1}\x00"
        if isinstance(value, datetime):
            return isoz(value)
        return str(value)

    text = json.dumps(content, default=default, ensure_ascii=False, separators=(",", ":"))
    if not numbers:
        return text
    pattern = re.compile(r'"\\u0000' + nonce + r':(\d+)\\u0000"')
    return pattern.sub(lambda m: numbers[int(m.group(1))], text)


class PharmacyJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")
