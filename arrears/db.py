"""Engine, sessions, the declarative base, and the migrations runner (one code path, two engines)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload

from sqlalchemy import DateTime, MetaData, String, TypeDecorator, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from arrears.config import Settings, get_settings

SQLITE_BUSY_MS = 30000  # how long a SQLite writer queues for the database's lock

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both engines (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Arrears stores UTC-aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The table option that makes SQLite's integer ids never go back (AUTOINCREMENT): without it, deleting
# the newest row frees its id for the next insert. PostgreSQL's sequences never go back already.
NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


class GUID(TypeDecorator[uuid.UUID]):
    """UUIDs as native uuid on PostgreSQL and 36-character text on SQLite."""

    impl = String(36)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import UUID

            return dialect.type_descriptor(UUID(as_uuid=True))
        return dialect.type_descriptor(String(36))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
        return value if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> uuid.UUID | None:
        if value is None:
            return None
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def pg_array(values: Any) -> str:
    """A PostgreSQL array literal of values that print without quoting (UUIDs, Decimals, ints);
    None as NULL. Passed as text and cast by the server (`$1::text::uuid[]`): asyncpg's encoding
    of a list checks every element against abstract base classes, a few microseconds a value,
    which a statement over thousands of rows pays per row."""
    return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"


def pg_text_array(values: Any) -> str:
    """pg_array for strings: each quoted, backslashes and quotes escaped."""
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def isoz(value: datetime) -> str: ...


@overload
def isoz(value: None) -> None: ...


@overload
def isoz(value: datetime | None) -> str | None: ...


def isoz(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, as every face writes timestamps."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            Path(path).touch(mode=0o600, exist_ok=True)  # the database is private from its creation
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # We issue BEGIN ourselves (below), so the driver must not.
            dbapi_conn.isolation_level = None
            # WAL lets readers (progress polls) see committed rows while a writer works;
            # foreign keys are off by default in SQLite.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Writers take the write lock at BEGIN so they queue (busy_timeout) instead of failing
            # when two deferred transactions both try to upgrade; read-only work stays deferred
            # so that it never waits behind a long import.
            if conn.get_execution_options().get("readonly"):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def get_engine(settings: Settings | None = None) -> AsyncEngine:
    from arrears.state import state

    return state.engine((settings or get_settings()).async_database_url, make_engine)


def session_factory(*, readonly: bool = False, engine: AsyncEngine | None = None) -> AsyncSession:
    engine = engine or get_engine()
    bind = engine.execution_options(readonly=True) if readonly else engine
    return AsyncSession(bind=bind, expire_on_commit=False, autoflush=True)


@asynccontextmanager
async def transaction(*, readonly: bool = False, engine: AsyncEngine | None = None
                      ) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits when the block ends, rolls back when it raises."""
    async with session_factory(readonly=readonly, engine=engine) as session, session.begin():
        yield session


def dialect_insert(session: AsyncSession, model: Any) -> Any:
    """`INSERT` for the session's database, with its `ON CONFLICT` clauses (PostgreSQL and SQLite
    spell them alike, but each dialect has its own construct)."""
    from sqlalchemy.dialects import postgresql, sqlite

    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


async def advisory_lock(session: AsyncSession, namespace: int, key: int | str) -> None:
    """Hold (namespace, key) until this transaction ends: concurrent transactions asking for the
    same pair take turns, for check-then-write rules that no unique index states.

    PostgreSQL: a two-key transaction advisory lock (both 32-bit; a text key is hashed, and a rare
    collision only makes two unrelated transactions wait). SQLite: every writer holds the
    database's write lock from BEGIN IMMEDIATE, which the session issues on its first statement;
    the connection is taken here so that the lock is held from now on as well."""
    if session.get_bind().dialect.name != "postgresql":
        await session.connection()
        return
    if isinstance(key, str):
        key = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "big", signed=True)
    await session.execute(text("SELECT pg_advisory_xact_lock(:namespace, :key)"),
                          {"namespace": namespace, "key": key})


async def dispose_engines() -> None:
    from arrears.state import state

    await state.dispose_engines()


# A random (version 4) UUID made by the database, for set-based INSERT … SELECT: PostgreSQL's own
# function, and on SQLite the same 36-character text that GUID stores.
SQLITE_UUID_SQL = ("lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2)"
                   " || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2)"
                   " || '-' || hex(randomblob(6)))")


def new_uuid_sql(session: AsyncSession) -> str:
    return "gen_random_uuid()" if session.get_bind().dialect.name == "postgresql" else SQLITE_UUID_SQL
