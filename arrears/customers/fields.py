"""Checking and normalising the values of customers, loans and interactions (RepaySync's field
messages), shared by the entities' services and their CSV uploads. No rules about who may do what."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.db import utcnow
from arrears.errors import ValidationFailed

MAX_ID = 2**31 - 1  # ids beyond an INTEGER column are not found, never a database error
EARLIEST_DATE = date(1900, 1, 1)
CENT = Decimal("0.01")
BATCH = 1000

REQUIRED = "This field is required."
NOT_NULL = "This field may not be null."
NOT_BLANK = "This field may not be blank."

_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?Z?)?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

FieldErrors = dict[str, list[str]]


def today_utc() -> date:
    return utcnow().date()


def invalid_pk(value: Any) -> str:
    return f'Invalid pk "{value}" - object does not exist.'


# ------------------------------------------------------------------ value parsing


def parse_date(value: Any) -> date:
    """A date from a date or an ISO string (YYYY-MM-DD; YYYY/MM/DD and a midnight time are
    accepted from spreadsheets); ValueError otherwise."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        m = _DATE.match(value.strip())
        if m:
            try:
                return date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                pass
    raise ValueError("Date has wrong format. Use one of these formats instead: YYYY-MM-DD.")


def clean_text(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            raise ValueError("Not a valid string.")
        value = str(value)
    value = " ".join(value.split())  # one line: tabs, newlines and runs of spaces become one space
    if _CONTROL.search(value):
        raise ValueError("Remove the control characters from this field.")
    if len(value) > limit:
        raise ValueError(f"Ensure this field has no more than {limit} characters.")
    return value or None


def clean_decimal(value: Any, *, low: Decimal, high: Decimal, low_inclusive: bool) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValueError("A valid number is required.")
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation as exc:
        raise ValueError("A valid number is required.") from exc
    if not number.is_finite():
        raise ValueError("A valid number is required.")
    if number != number.quantize(CENT, rounding="ROUND_DOWN"):
        raise ValueError("Ensure that there are no more than 2 decimal places.")
    if number < low or (number == low and not low_inclusive):
        op = "greater than or equal to" if low_inclusive else "greater than"
        raise ValueError(f"Ensure this value is {op} {low}.")
    if number > high:
        raise ValueError(f"Ensure this value is less than or equal to {high}.")
    return number.quantize(CENT)


def clean_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("A valid integer is required.")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("+").isdigit():
        return int(value.strip())
    raise ValueError("A valid integer is required.")


def money(value: Decimal) -> str:
    """"50000.00": money and rates as RepaySync writes them."""
    return format(Decimal(value).quantize(CENT), "f")


def valid_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


async def flush_unique(session: AsyncSession, field: str, message: str) -> None:
    """Flush; a unique-constraint race with another request becomes a field error."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ValidationFailed(message, field_errors={field: [message]}) from exc
