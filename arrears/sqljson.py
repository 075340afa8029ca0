"""JSON objects built by the database, on PostgreSQL and SQLite alike, with values written as
`arrears.events` writes them (Decimals to the cent, dates and UUIDs as strings): for events and
snapshots that a set-based pass writes with INSERT … SELECT."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, cast, func, literal_column
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
