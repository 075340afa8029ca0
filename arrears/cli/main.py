"""The `arrears` application: every command group in one place, and the entry point that turns a
configuration error into a clear message and exit code 2 (the installed script and `python -m
arrears` both come here)."""

from __future__ import annotations

import sys

import typer

from arrears.cli import (
    api_keys,
    backup,
    db,
    debit_orders,
    debtors,
    letters,
    messaging,
    orgs,
    payments,
    promises,
    server,
    strategies,
    users,
)
from arrears.cli.common import console
from arrears.config import ConfigError

app = typer.Typer(help="Arrears: collections platform", no_args_is_help=True, add_completion=False)
app.add_typer(db.app, name="db")
app.add_typer(orgs.app, name="orgs")
app.add_typer(users.app, name="users")
app.add_typer(api_keys.app, name="api-keys")
app.add_typer(messaging.app, name="opt-out")
app.add_typer(debit_orders.app, name="debit-orders")
app.add_typer(payments.app, name="payments")
app.add_typer(promises.app, name="promises")
app.add_typer(strategies.app, name="strategies")
app.add_typer(letters.app, name="letters")
app.command("serve")(server.serve)
app.command("worker")(server.worker)
app.command("import")(debtors.import_command)
app.command("backup")(backup.backup_command)
app.command("restore")(backup.restore_command)


def main() -> None:
    try:
        app()
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}")
        sys.exit(2)
