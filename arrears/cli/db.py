"""`arrears db …`: the database schema."""

from __future__ import annotations

import typer

from arrears.cli.common import console

app = typer.Typer(help="Database schema", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from arrears import migrate

    migrate.upgrade()
    console.print("database is at the newest schema")
