"""What every command shares: the console, `fail`, `emit`, and the start-up of a command
(`ensure_schema` before its work, `run` around it). A leaf: it imports no command module, so
every command module can import it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

from arrears.config import ConfigError, get_settings
from arrears.errors import DomainError

console = Console(stderr=True)
T = TypeVar("T")


def fail(message: str, code: int = 1) -> NoReturn:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def ensure_schema() -> None:
    """SQLite (embedded) upgrades itself; PostgreSQL must be upgraded on purpose."""
    from arrears import migrate
    from arrears.wiring import wire

    wire()  # every handler and table, on both databases, as in the server and the worker
    settings = get_settings()
    try:
        settings.resolved_secret()
    except ConfigError as exc:
        fail(str(exc), 2)
    if not settings.is_postgres:
        migrate.upgrade()
        return
    if not migrate.is_current():
        fail("the database schema is not the newest one; run `arrears db upgrade` first", 2)


def ensure_schema_and_models() -> None:
    """The schema is current, and every table is known to the ORM: a command that writes across
    domains (a foreign key of one domain's table may name another's)."""
    from arrears.migrate import load_all_models

    ensure_schema()
    load_all_models()


def iso_date(value: str | None, option: str) -> date | None:
    """An option's day as YYYY-MM-DD, or None when it was not given."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option} must be a date as YYYY-MM-DD, got {value!r}")


def run(fn: Callable[[], Awaitable[T]]) -> T:
    from arrears.state import state

    async def main() -> T:
        try:
            return await fn()
        finally:
            # Events this command committed still go out to the WebSockets (the hub's close
            # publishes what is queued); then the clients, the parse pool and the engines.
            await state.close()

    try:
        return asyncio.run(main())
    except DomainError as exc:
        detail = ""
        if exc.field_errors:
            detail = " (" + "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.field_errors.items()) + ")"
        fail(exc.message + detail)


def emit(obj: dict[str, Any], as_json: bool, human: str) -> None:
    if as_json:
        print(json.dumps(obj, default=str))
    else:
        console.print(human)
        print(json.dumps(obj, default=str))
