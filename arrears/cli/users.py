"""`arrears users …`: users of any role, admin included."""

from __future__ import annotations

from typing import Any

import typer

from arrears.cli.common import emit, ensure_schema, run

app = typer.Typer(help="Users", no_args_is_help=True)


@app.command("create")
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
            user = await service.enrol_user(s, username=username, password=password, role=role, email=email,
                                            org_id=org_id, access=access, actor="cli")
            return {"id": user.id, "uuid": str(user.uuid), "username": user.username, "role": user.role,
                    "org_id": org_id, "access": access}

    out = run(go)
    emit(out, as_json, f"created user {out['username']} ({out['role']}) in organisation {out['org_id']}")
