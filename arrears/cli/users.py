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
    from arrears.identity.caller import Caller

    ensure_schema()

    async def go() -> dict[str, Any]:
        async with transaction() as s:
            org_id = org if org is not None else (await service.default_org(s)).id
            user = await service.enrol_user(s, Caller.system(org_id, "cli"), username=username,
                                            password=password, role=role, email=email, access=access)
            return {"id": user.id, "uuid": str(user.uuid), "username": user.username, "role": user.role,
                    "org_id": org_id, "access": access}

    out = run(go)
    emit(out, as_json, f"created user {out['username']} ({out['role']}) in organisation {out['org_id']}")


@app.command("waiting")
def users_waiting(as_json: bool = typer.Option(False, "--json")) -> None:
    """Self-registered users waiting to be accepted into the default organisation."""
    from sqlalchemy import select

    from arrears.db import isoz, transaction
    from arrears.identity.models import User

    ensure_schema()

    async def go() -> list[dict[str, Any]]:
        async with transaction() as s:
            rows = await s.scalars(select(User).where(User.waiting_since.is_not(None)).order_by(User.id))
            return [{"id": u.id, "username": u.username, "email": u.email,
                     "requested_role": u.requested_role, "registered_at": isoz(u.waiting_since)}
                    for u in rows]

    out = run(go)
    emit({"waiting": out}, as_json,
         "\n".join(f"{u['id']}\t{u['username']}\t{u['requested_role']}\t{u['registered_at']}"
                   for u in out) or "no one is waiting")


@app.command("approve")
def users_approve(username: str = typer.Argument(..., help="the waiting user's username"),
                  role: str = typer.Option(..., "--role", help="the role they get (their request is only shown)"),
                  access: str = typer.Option(..., "--access", help="read or write"),
                  as_json: bool = typer.Option(False, "--json")) -> None:
    """Accept a waiting (self-registered) user into the default organisation."""
    from arrears.db import transaction
    from arrears.errors import NotFound
    from arrears.identity import service

    ensure_schema()

    async def go() -> dict[str, Any]:
        async with transaction() as s:
            user = await service.find_user(s, username)
            if user is None:
                raise NotFound(f"No waiting user {username!r}")
            user = await service.approve(s, None, user.id, role=role, access=access)
            return {"id": user.id, "username": user.username, "role": user.role,
                    "requested_role": user.requested_role, "org_id": user.primary_org_id,
                    "access": access}

    out = run(go)
    emit(out, as_json, f"accepted {out['username']} as {out['role']} ({out['access']}) "
                       f"in organisation {out['org_id']}")
