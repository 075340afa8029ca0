"""The `arrears` command line (Typer). Create commands print one JSON object last with --json."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import typer
from rich.console import Console

from arrears.config import ConfigError, get_settings
from arrears.errors import DomainError

app = typer.Typer(help="Arrears: collections platform", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
orgs_app = typer.Typer(help="Organisations (tenants)", no_args_is_help=True)
users_app = typer.Typer(help="Users", no_args_is_help=True)
keys_app = typer.Typer(help="API keys", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(orgs_app, name="orgs")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="api-keys")
app.add_typer(__import__("arrears.messaging.cli", fromlist=["app"]).app, name="opt-out")
app.add_typer(__import__("arrears.premiums.debit_orders.cli", fromlist=["app"]).app, name="debit-orders")

console = Console(stderr=True)
T = TypeVar("T")


def fail(message: str, code: int = 1) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def ensure_schema() -> None:
    """SQLite (embedded) upgrades itself; PostgreSQL must be upgraded on purpose."""
    from arrears import migrate

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


def run(fn: Callable[[], Awaitable[T]]) -> T:
    from arrears.db import dispose_engines

    async def main() -> T:
        try:
            return await fn()
        finally:
            hub = sys.modules.get("arrears.realtime.hub")
            if hub is not None:  # events this command committed still go out to the WebSockets
                await hub.hub.drain()
            await dispose_engines()

    try:
        return asyncio.run(main())
    except DomainError as exc:
        detail = ""
        if exc.field_errors:
            detail = " (" + "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.field_errors.items()) + ")"
        fail(exc.message + detail)
        raise  # unreachable


def emit(obj: dict[str, Any], as_json: bool, human: str) -> None:
    if as_json:
        print(json.dumps(obj, default=str))
    else:
        console.print(human)
        print(json.dumps(obj, default=str))


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000,
          no_worker: bool = typer.Option(False, "--no-worker", help="Do not run a worker in-process")) -> None:
    """Serve the API, the UI and (unless --no-worker) a background worker."""
    import uvicorn

    from arrears.app import create_app

    ensure_schema()
    console.print(f"Arrears on http://{host}:{port}  (database: "
                  f"{'PostgreSQL' if get_settings().is_postgres else 'SQLite under ' + str(get_settings().data_dir)})")
    uvicorn.run(create_app(run_worker=not no_worker), host=host, port=port, log_level="warning",
                proxy_headers=False)


@app.command()
def worker(concurrency: int = 4,
           lease_seconds: float = typer.Option(30.0, help="How long a claimed job is held without a "
                                                "heartbeat before another worker may take it")) -> None:
    """Run a background worker until interrupted."""
    import signal

    from arrears.jobs.worker import Worker
    from arrears.ops import configure_logging

    ensure_schema()
    configure_logging(get_settings().arrears_log_level)

    async def main() -> None:
        w = Worker(concurrency=concurrency, lease_seconds=lease_seconds)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, w.stop)
        await w.run()

    run(main)


@app.command("backup")
def backup_cmd(path: str = typer.Argument(..., help="File to write the copy to")) -> None:
    """Online copy of the embedded SQLite database (SQLite's backup API); PostgreSQL: pg_dump."""
    from pathlib import Path

    from arrears import backup

    try:
        result = backup.backup(Path(path))
    except backup.BackupError as exc:
        fail(str(exc))
    console.print(f"backed up to {result.path} ({result.bytes} bytes, {result.tables} tables)")


@app.command("restore")
def restore_cmd(path: str = typer.Argument(..., help="A file written by `arrears backup`"),
                yes: bool = typer.Option(False, "--yes", help="Replace the database without asking")) -> None:
    """Replace the embedded SQLite database with a backup, then bring its schema up to date."""
    from pathlib import Path

    from arrears import backup, migrate

    if not yes and not typer.confirm(f"Replace the database at {backup.sqlite_path()} with {path}?"):
        raise typer.Exit(1)
    try:
        result = backup.restore(Path(path))
    except backup.BackupError as exc:
        fail(str(exc))
    migrate.upgrade()
    console.print(f"restored {result.path} from {path} ({result.tables} tables)")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from arrears import migrate

    migrate.upgrade()
    console.print("database is at the newest schema")


@orgs_app.command("create")
def orgs_create(name: str = typer.Option(..., "--name"), kind: str = typer.Option("business", "--kind"),
                as_json: bool = typer.Option(False, "--json")) -> None:
    """Create an organisation."""
    from arrears.db import transaction
    from arrears.identity import service

    ensure_schema()

    async def go() -> dict[str, Any]:
        async with transaction() as s:
            org = await service.create_org(s, name=name, kind=kind, actor="cli")
            return {"id": org.id, "uuid": str(org.uuid), "name": org.name, "kind": org.kind,
                    "status": org.status}

    out = run(go)
    emit(out, as_json, f"created organisation {out['id']} ({out['name']})")


@orgs_app.command("set")
def orgs_set(org_id: int, pairs: list[str] = typer.Argument(..., help="key=value …")) -> None:
    """Set organisation settings (secrets are stored encrypted)."""
    from arrears.db import transaction
    from arrears.identity import service

    values: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            fail(f"{pair!r} is not key=value")
        k, v = pair.split("=", 1)
        values[k.strip()] = v
    ensure_schema()

    async def go() -> dict[str, Any]:
        async with transaction() as s:
            org = await service.get_org(s, org_id)
            await service.set_org_settings(s, org, values, actor="cli")
            return service.masked_settings(org)

    out = run(go)
    console.print(f"updated organisation {org_id}: {', '.join(sorted(values))}")
    print(json.dumps(out))


@orgs_app.command("show")
def orgs_show(org_id: int) -> None:
    """Show an organisation's settings (secret values masked) and its callback URLs' token."""
    from arrears.db import transaction
    from arrears.identity import service

    ensure_schema()

    async def go() -> dict[str, Any]:
        async with transaction(readonly=True) as s:
            org = await service.get_org(s, org_id)
            return {"id": org.id, "uuid": str(org.uuid), "settings": service.masked_settings(org),
                    "callback_token": org.callback_token}

    print(json.dumps(run(go), indent=2))


@users_app.command("create")
def users_create(username: str = typer.Option(..., "--username"),
                 password: str = typer.Option(..., "--password", prompt=True, hide_input=True),
                 role: str = typer.Option(..., "--role"), email: str | None = typer.Option(None, "--email"),
                 org: int | None = typer.Option(None, "--org", help="organisation id (default: the default one)"),
                 access: str = typer.Option("write", "--access"),
                 as_json: bool = typer.Option(False, "--json")) -> None:
    """Create a user (any role, admin included) in an organisation."""
    from arrears.db import transaction
    from arrears.identity import service

    ensure_schema()

    async def go() -> dict[str, Any]:
        async with transaction() as s:
            org_id = org if org is not None else (await service.default_org(s)).id
            await service.get_org(s, org_id)
            existing = await service.find_user(s, username)
            if existing is not None and existing.primary_org_id != org_id:
                # The same person joining another organisation.
                await service.add_membership(s, existing, org_id, access)
                user = existing
            else:
                user = await service.create_user(s, username=username, password=password, role=role,
                                                 email=email, org_id=org_id, access=access, actor="cli")
            return {"id": user.id, "uuid": str(user.uuid), "username": user.username, "role": user.role,
                    "org_id": org_id, "access": access}

    out = run(go)
    emit(out, as_json, f"created user {out['username']} ({out['role']}) in organisation {out['org_id']}")


@keys_app.command("create")
def keys_create(org: int = typer.Option(..., "--org"), scopes: str = typer.Option("*", "--scopes"),
                name: str | None = typer.Option(None, "--name"),
                expires_at: str | None = typer.Option(None, "--expires-at", help="ISO 8601"),
                kind: str = typer.Option("pct", "--kind", help="pct (premium) or ins (partner)"),
                as_json: bool = typer.Option(False, "--json")) -> None:
    """Create an API key; the key is printed once and never stored in clear."""
    from datetime import UTC

    from arrears.db import transaction
    from arrears.identity import service

    exp = None
    if expires_at:
        try:
            exp = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
        except ValueError:
            fail(f"--expires-at {expires_at!r} is not ISO 8601 (e.g. 2027-01-31T00:00:00Z)")
        assert exp is not None
        exp = exp if exp.tzinfo else exp.replace(tzinfo=UTC)
    ensure_schema()

    async def go() -> dict[str, Any]:
        async with transaction() as s:
            await service.get_org(s, org)
            key, raw = await service.create_api_key(
                s, org_id=org, kind=kind, scopes=[x.strip() for x in scopes.split(",") if x.strip()],
                name=name, expires_at=exp, actor="cli")
            return {"id": str(key.id), "key_id": key.key_id, "key": raw, "scopes": key.scopes,
                    "expires_at": key.expires_at.isoformat() if key.expires_at else None}

    out = run(go)
    emit(out, as_json, "created API key; copy it now, it is not shown again")


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key (by id or key id); it stops working at once."""
    from arrears.db import transaction
    from arrears.identity import service

    ensure_schema()

    async def go() -> None:
        async with transaction() as s:
            await service.revoke_api_key(s, await service.find_api_key(s, key_id), actor="cli")

    run(go)
    console.print(f"revoked {key_id}")


app.command("import")(__import__("arrears.debtors.cli", fromlist=["import_command"]).import_command)


def main() -> None:  # pragma: no cover
    try:
        app()
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}")
        sys.exit(2)
