"""What the migration tests share: a statement run on an engine of its own (outside the suite's
sessions, committed) and the revision just before one, to step down to and back up from."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from arrears import migrate


def run_sql(url: str, sql: str, params: Mapping[str, object] | None = None, *,
            before: Sequence[str] = ()) -> list[tuple[object, ...]]:
    """The statement's rows (none for one that returns none), after `before` in the same transaction."""

    async def go() -> list[tuple[object, ...]]:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                for statement in before:
                    await conn.execute(text(statement))
                result = await conn.execute(text(sql), dict(params or {}))
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(go())


def previous_revision(revision: str) -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite+aiosqlite:///unused.db"))
    down = script.get_revision(revision).down_revision
    assert isinstance(down, str)
    return down
