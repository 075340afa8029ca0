"""What the benchmarks share to make and drop their scratch PostgreSQL databases: one statement on
a connection of its own, outside the code under test."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit


def _plain(url: str) -> str:
    """asyncpg's form of a URL given to Arrears (`postgresql+asyncpg://`, `postgres://`)."""
    return url.replace("postgresql+asyncpg://", "postgresql://").replace("postgres://", "postgresql://")


async def pg_execute(url: str, sql: str) -> None:
    """Run one statement on the database the URL names."""
    import asyncpg

    conn = await asyncpg.connect(_plain(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def pg_admin(url: str, sql: str) -> None:
    """Run CREATE/DROP DATABASE from the server's `postgres` database (not from the one it makes)."""
    asyncio.run(pg_execute(urlunsplit(urlsplit(_plain(url))._replace(path="/postgres")), sql))
