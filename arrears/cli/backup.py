"""`arrears backup PATH` and `arrears restore PATH`: the embedded SQLite database, copied online
(SQLite's backup API) and put back. PostgreSQL is backed up with pg_dump (docs/operations.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from arrears.cli.common import console, fail


def backup_command(path: str = typer.Argument(..., help="File to write the copy to")) -> None:
    """Online copy of the embedded SQLite database (SQLite's backup API); PostgreSQL: pg_dump."""
    from arrears import backup

    try:
        result = backup.backup(Path(path))
    except backup.BackupError as exc:
        fail(str(exc))
    console.print(f"backed up to {result.path} ({result.bytes} bytes, {result.tables} tables)")


def restore_command(path: str = typer.Argument(..., help="A file written by `arrears backup`"),
                    yes: bool = typer.Option(False, "--yes", help="Replace the database without asking")) -> None:
    """Replace the embedded SQLite database with a backup, then bring its schema up to date."""
    from arrears import backup, migrate

    if not yes and not typer.confirm(f"Replace the database at {backup.sqlite_path()} with {path}?"):
        raise typer.Exit(1)
    try:
        result = backup.restore(Path(path))
    except backup.BackupError as exc:
        fail(str(exc))
    migrate.upgrade()
    console.print(f"restored {result.path} from {path} ({result.tables} tables)")
