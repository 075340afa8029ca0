"""The one translation of pydantic's validation errors (a request's or a model's) to field errors,
{field: [message]}, which each face then renders in its own body."""

from __future__ import annotations

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
    fields = field_errors(exc.errors(), prefix=prefix)
    return ValidationFailed(summary(fields), code=code, field_errors=fields, headers=headers)
