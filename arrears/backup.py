"""Back up and restore the embedded SQLite database, online.

`backup(path)` copies the live database through SQLite's backup API: a consistent snapshot taken
page by page while the server and workers keep reading and writing (a plain file copy of a WAL
database can catch a half-written state). `restore(path)` checks that the file is an Arrears
database and copies it into the live database through the same API, so that connections already
open see the restored data; the schema is then brought up to date. PostgreSQL is backed up with
its own tools (pg_dump / pg_restore), see docs/operations.md.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from arrears.config import Settings, get_settings

PAGES_PER_STEP = 1024  # copy in steps so that writers are not held off for the whole copy
REQUIRED_TABLES = {"alembic_version", "organisations", "jobs"}


class BackupError(RuntimeError):
    """The backup or restore cannot be done; the message says why."""


@dataclass(frozen=True)
class Result:
    path: Path
    bytes: int
    tables: int


def sqlite_path(settings: Settings | None = None) -> Path:
    settings = settings or get_settings()
    url = settings.async_database_url
    if not url.startswith("sqlite"):
        raise BackupError("the database is PostgreSQL: back it up with pg_dump and restore it with "
                          "pg_restore (see docs/operations.md, 'Backup and restore')")
    path = url.split(":///", 1)[1]
    if not path or path == ":memory:":
        raise BackupError("the database is in memory; there is nothing to back up")
    return Path(path)


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _check(conn: sqlite3.Connection, what: str) -> int:
    verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
    if verdict != "ok":
        raise BackupError(f"{what} failed SQLite's integrity check: {verdict}")
    tables = _tables(conn)
    missing = REQUIRED_TABLES - tables
    if missing:
        raise BackupError(f"{what} is not an Arrears database (no {', '.join(sorted(missing))} table)")
    return len(tables)


def backup(target: Path, settings: Settings | None = None) -> Result:
    source = sqlite_path(settings)
    if not source.exists():
        raise BackupError(f"there is no database at {source} yet")
    target = target.expanduser().resolve()
    if target == source.resolve():
        raise BackupError("the backup must not overwrite the live database")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(partial)
    try:
        src.backup(dst, pages=PAGES_PER_STEP)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        tables = _check(dst, "the copy")
    finally:
        dst.close()
        src.close()
    partial.chmod(0o600)  # a backup holds everything the database does: private, wherever it is
    os.replace(partial, target)  # a backup file is complete or absent, never half-written
    return Result(target, target.stat().st_size, tables)


def restore(source: Path, settings: Settings | None = None) -> Result:
    target = sqlite_path(settings)
    source = source.expanduser().resolve()
    if not source.is_file():
        raise BackupError(f"no backup file at {source}")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        tables = _check(src, str(source))
        target.parent.mkdir(parents=True, exist_ok=True)
        dst = sqlite3.connect(target, timeout=30)
        try:
            src.backup(dst, pages=PAGES_PER_STEP)
        finally:
            dst.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source} is not a readable SQLite database ({exc})") from exc
    finally:
        src.close()
    return Result(target, target.stat().st_size, tables)
