"""The one translation of pydantic's validation errors (a request's or a model's) to field errors,
{field: [message]}, which each face then renders in its own body."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
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
