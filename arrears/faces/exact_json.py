"""JSON with money (Decimal) written as JSON numbers, digit for digit.

Pydantic and the json module would write a Decimal as a string or go through float; here each
Decimal becomes a unique marker string first and is then replaced by its own digits, so no cent
is ever rounded away whatever the size of the amount. Faces whose specs show amounts as numbers
(AAMA, pharmacy) render with it.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any


def _isoformat(value: date) -> str:
    return value.isoformat()  # a datetime's own method: date.isoformat would drop the time


def dumps(content: Any, *, when: Callable[[date], str] = _isoformat) -> str:
    """`when` writes dates and datetimes (a face may want UTC with `Z`)."""
    numbers: list[str] = []
    nonce = secrets.token_hex(6)

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            if not value.is_finite():
                return None
            numbers.append(format(value, "f"))
            return f"\x00{nonce}:{len(numbers) - 1}\x00"
        if isinstance(value, date):
            return when(value)
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return str(value)

    text = json.dumps(content, default=default, ensure_ascii=False, separators=(",", ":"))
    if not numbers:
        return text
    pattern = re.compile(r'"\\u0000' + nonce + r':(\d+)\\u0000"')
    return pattern.sub(lambda m: numbers[int(m.group(1))], text)
