"""JSON objects built by the database, on PostgreSQL and SQLite alike, with values written as
`arrears.events` writes them (Decimals to the cent, dates and UUIDs as strings): for events and
snapshots that a set-based pass writes with INSERT … SELECT."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, String, cast, func, literal_column
from sqlalchemy.ext.asyncio import AsyncSession


def _pg(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def obj(session: AsyncSession, **fields: Any) -> Any:
    """{"key": value, …} as a JSON object expression."""
    args: list[Any] = []
    for key, value in fields.items():
        args.extend((literal_column(f"'{key}'"), value))  # keys are code's names, written inline
    return func.json_build_object(*args) if _pg(session) else func.json_object(*args)


def money(session: AsyncSession, column: Any) -> Any:
    """A Numeric(…, 2) as text to the cent: "100.00"."""
    return cast(column, String) if _pg(session) else func.printf("%.2f", column)


def text(session: AsyncSession, column: Any) -> Any:
    """A UUID, a date or an integer as text."""
    return cast(column, String)


# ------------------------------------------------------------------ plain objects, for bulk events
#
# PostgreSQL 15's json_build_object looks up how to write each argument's type on every call: for
# the events of a pass (tens of thousands of rows, several objects each) it cost more than
# inserting the rows (issue 22: 30,000 `promise.kept`/`promise.broken` payloads, 0.32 s built by
# json_build_object, 0.10 s as one text cast to JSON). `plain` builds the object's text instead:
# the keys and constant values written once per statement by Python, the row's values put
# between them. Only values that need no escaping may go in that way — `Word` (UUIDs, dates,
# money as text, the code's own status words) and `Number`; anything else is a constant.


class Word:
    """A text expression (`text`, `money`, a status column) whose characters need no escaping in
    JSON: a UUID, a date, a decimal, a status the code wrote. NULL becomes null."""

    def __init__(self, expr: Any) -> None:
        self.expr = expr


class Number:
    """An integer or decimal value written as a JSON number. NULL becomes null."""

    def __init__(self, expr: Any) -> None:
        self.expr = expr


def plain(session: AsyncSession, **fields: Any) -> Any:
    """{"key": value, …} as JSON, each value a `Word`, a `Number`, another `plain` object or a
    constant (str, int, Decimal, None: written by Python). On SQLite, `obj` of the same values."""
    if not _pg(session):
        return obj(session, **{k: _sqlite_value(v) for k, v in fields.items()})
    return cast(func.concat(*_parts(fields)), JSON)


def _sqlite_value(value: Any) -> Any:
    from sqlalchemy import literal

    if isinstance(value, (Word, Number)):
        return value.expr
    if isinstance(value, _Plain):
        return func.json(value.sqlite)
    return literal(value)


class _Plain:
    def __init__(self, parts: list[Any], sqlite: Any) -> None:
        self.parts, self.sqlite = parts, sqlite


def nested(session: AsyncSession, **fields: Any) -> Any:
    """A `plain` object to put inside another `plain` one (its text, not a JSON value)."""
    if not _pg(session):
        return _Plain([], obj(session, **{k: _sqlite_value(v) for k, v in fields.items()}))
    return _Plain(_parts(fields), None)


def _parts(fields: dict[str, Any]) -> list[Any]:
    import json
    from decimal import Decimal

    from sqlalchemy import literal

    parts: list[Any] = []
    text_so_far = "{"
    for i, (key, value) in enumerate(fields.items()):
        text_so_far += ("" if i == 0 else ", ") + json.dumps(key) + ": "
        if isinstance(value, (Word, Number, _Plain)):
            parts.append(literal(text_so_far))
            text_so_far = ""
            if isinstance(value, Word):
                quoted = literal('"').op("||")(value.expr).op("||")(literal('"'))
                parts.append(func.coalesce(quoted, literal("null")))
            elif isinstance(value, Number):
                parts.append(func.coalesce(cast(value.expr, String), literal("null")))
            else:
                parts.extend(value.parts)
        else:
            text_so_far += json.dumps(str(value) if isinstance(value, Decimal) else value)
    parts.append(literal(text_so_far + "}"))
    return parts
