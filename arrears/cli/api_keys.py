"""`arrears api-keys …`: create (printed once) and revoke API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer

from arrears.cli.common import console, emit, ensure_schema, fail, run

app = typer.Typer(help="API keys", no_args_is_help=True)


@app.command("create")
def keys_create(org: int = typer.Option(..., "--org"), scopes: str = typer.Option("*", "--scopes"),
                name: str | None = typer.Option(None, "--name"),
                expires_at: str | None = typer.Option(None, "--expires-at", help="ISO 8601"),
                kind: str = typer.Option("pct", "--kind", help="pct (premium) or ins (partner)"),
                as_json: bool = typer.Option(False, "--json")) -> None:
    """Create an API key; the key is printed once and never stored in clear."""
    from datetime import UTC

    from arrears.db import transaction
    from arrears.identity import service
    from arrears.identity.caller import Caller

    exp = None
    if expires_at:
        try:
            exp = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
        except ValueError:
            fail(f"--expires-at {expires_at!r} is not ISO 8601 (e.g. 2027-01-31T00:00:00Z)")
        exp = exp if exp.tzinfo else exp.replace(tzinfo=UTC)
    ensure_schema()

    async def go() -> dict[str, Any]:
        async with transaction() as s:
            await service.get_org(s, org)
            key, raw = await service.create_api_key(
                s, Caller.system(org, "cli"), kind=kind, scopes=[x.strip() for x in scopes.split(",") if x.strip()],
                name=name, expires_at=exp)
            return {"id": str(key.id), "key_id": key.key_id, "key": raw, "scopes": key.scopes,
                    "expires_at": key.expires_at.isoformat() if key.expires_at else None}

    out = run(go)
    emit(out, as_json, "created API key; copy it now, it is not shown again")


@app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key (by id or key id); it stops working at once."""
    from arrears.db import transaction
    from arrears.identity import service
    from arrears.identity.caller import Caller

    ensure_schema()

    async def go() -> None:
        async with transaction() as s:
            key = await service.find_api_key(s, key_id)
            await service.revoke_api_key(s, Caller.system(key.org_id, "cli"), key)

    run(go)
    console.print(f"revoked {key_id}")
