"""`arrears orgs …`: organisations (tenants) and their settings."""

from __future__ import annotations

import json
from typing import Any

import typer

from arrears.cli.common import console, emit, ensure_schema, fail, run

app = typer.Typer(help="Organisations (tenants)", no_args_is_help=True)


@app.command("create")
def orgs_create(name: str = typer.Option(..., "--name"), kind: str = typer.Option("business", "--kind"),
                as_json: bool = typer.Option(False, "--json")) -> None:
    """Create an organisation."""
    from arrears.db import transaction
    from arrears.identity import service
    from arrears.identity.caller import Caller

    ensure_schema()

    async def go() -> dict[str, Any]:
        async with transaction() as s:
            org = await service.create_org(s, Caller.operator("cli"), name=name, kind=kind)
            return {"id": org.id, "uuid": str(org.uuid), "name": org.name, "kind": org.kind,
                    "status": org.status}

    out = run(go)
    emit(out, as_json, f"created organisation {out['id']} ({out['name']})")


@app.command("set")
def orgs_set(org_id: int, pairs: list[str] = typer.Argument(..., help="key=value …")) -> None:
    """Set organisation settings (secrets are stored encrypted)."""
    from arrears.db import transaction
    from arrears.identity import service
    from arrears.identity.caller import Caller

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
            await service.set_org_settings(s, Caller.system(org.id, "cli"), org, values)
            return service.masked_settings(org)

    out = run(go)
    console.print(f"updated organisation {org_id}: {', '.join(sorted(values))}")
    print(json.dumps(out))


@app.command("show")
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
