"""The one translation of pydantic's validation errors (a request's or a model's) to field errors,
{field: [message]}, which each face then renders in its own body; and the one reading of the
plain values the domains' services take from a body (an amount of money, a date, a note or
reason): each raises ValueError with the field's message, which the caller files under its own
field name."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from arrears.errors import ErrorCode, ValidationFailed

# Where FastAPI says a value came from; not part of the field's name.
SOURCES = frozenset({"body", "query", "path", "header", "form", "cookie"})
REQUIRED = "This field is required."


def field_name(loc: Iterable[Any], *, top_level: bool = False) -> str:
    """`items.0.amount` for a request's nested values; with `top_level` (a form's model, validated
    directly), only the first name, so the error sits beside the form's field."""
    if top_level:
        names = [str(x) for x in loc if not isinstance(x, int)]
        return names[0] if names else "__all__"
    return ".".join(str(x) for x in loc if x not in SOURCES) or "non_field_errors"


def message(err: Mapping[str, Any], *, blank_is_missing: bool = False) -> str:
    kind = err.get("type")
    if kind == "missing" or (blank_is_missing and kind == "string_too_short"):
        return REQUIRED
    msg = str(err.get("msg", "Invalid value"))
    return msg.removeprefix("Value error, ")


def field_errors(errors: Iterable[Mapping[str, Any]], *, prefix: str = "", top_level: bool = False,
                 blank_is_missing: bool = False) -> dict[str, list[str]]:
    """pydantic's `exc.errors()` → {field: [message]}, in the order pydantic gave them."""
    out: dict[str, list[str]] = {}
    for err in errors:
        name = prefix + field_name(err.get("loc", ()), top_level=top_level)
        out.setdefault(name, []).append(message(err, blank_is_missing=blank_is_missing))
    return out


def summary(fields: Mapping[str, list[str]]) -> str:
    return "Invalid request: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())


def validation_failed(exc: Any, *, prefix: str = "", code: str = ErrorCode.VALIDATION_ERROR,
                      headers: dict[str, str] | None = None) -> ValidationFailed:
    """A RequestValidationError or a pydantic ValidationError as the domain's 400."""
    errors = exc.errors()
    broken = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if broken is not None:
        # A body that is not JSON is one plain message, never a field keyed by a character offset.
        return ValidationFailed(not_json_message(broken), code=code, headers=headers)
    fields = field_errors(errors, prefix=prefix)
    return ValidationFailed(summary(fields), code=code, field_errors=fields, headers=headers)


def not_json_message(err: Mapping[str, Any]) -> str:
    """`Request body is not valid JSON: Expecting value (at character 1)`."""
    reason = str((err.get("ctx") or {}).get("error") or "JSON decode error")
    loc = [x for x in err.get("loc", ()) if isinstance(x, int)]
    where = f" (at character {loc[0] + 1})" if loc else ""
    return f"Request body is not valid JSON: {reason}{where}"


def parse_json_body(raw: bytes) -> Any:
    """A body read by hand (routes that take raw bytes), parsed with the same plain 400 as FastAPI's."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"Request body is not valid JSON: {exc.msg} (at character {exc.pos + 1})") from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValidationFailed("Request body is not valid JSON: it is not UTF-8 text or nests too deeply") from None


# ------------------------------------------------------------------ a body's plain values

MAX_AMOUNT = Decimal("999999999999.99")  # the money columns' Numeric(14, 2)
CENT = Decimal("0.01")
NOT_A_DATE = "Not a valid date (YYYY-MM-DD)."


def clean_amount(raw: Any) -> Decimal:
    """A positive amount of money (a number, or text such as "1250.50") with at most two
    decimals, up to MAX_AMOUNT, in cents; a float is read as written (0.1 is 0.10)."""
    if raw is None or isinstance(raw, bool) or (isinstance(raw, str) and not raw.strip()):
        raise ValueError("An amount is required.")
    if isinstance(raw, float):
        raw = repr(raw)
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValueError("Not a valid amount.") from None
    if not value.is_finite() or value <= 0 or value > MAX_AMOUNT or value != value.quantize(CENT):
        raise ValueError(f"Must be more than 0 and at most {MAX_AMOUNT}, with at most two decimals.")
    return value.quantize(CENT)


def clean_date(raw: Any) -> date:
    """A calendar day: a date, or ISO text (YYYY-MM-DD); a datetime's day."""
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise ValueError("A date (YYYY-MM-DD) is required.")
    if not isinstance(raw, str):
        raise ValueError(NOT_A_DATE)
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError(NOT_A_DATE) from None


def clean_text(raw: Any, limit: int, *, required: str | None = None) -> str | None:
    """Free text (a note, a reason), stripped, at most `limit` characters; None when absent or
    blank — unless `required`, the message that it is missing."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise ValueError(required)
        return None
    if not isinstance(raw, str):
        raise ValueError("Not a valid string.")
    text = raw.strip()
    if len(text) > limit:
        raise ValueError(f"Ensure this field has no more than {limit} characters.")
    return text
