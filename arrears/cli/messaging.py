"""`arrears opt-out …`: record, remove and list opt-outs from the command line."""

from __future__ import annotations

import json
from typing import Any

import typer

from arrears.cli.common import console, emit, ensure_schema, fail, run

app = typer.Typer(help="Opt-outs: customers who asked not to be contacted (per channel)", no_args_is_help=True)


def _target(customer: int | None, recipient: str | None) -> None:
    if (customer is None) == (recipient is None):
        fail("give exactly one of --customer (a customer id) or --recipient (a number or address)")


@app.command("add")
def add(org: int = typer.Option(..., "--org", help="organisation id"),
        customer: int | None = typer.Option(None, "--customer", help="customer id"),
        recipient: str | None = typer.Option(None, "--recipient", help="a number or address with no customer"),
        channel: str = typer.Option("all", "--channel", help="sms, email or all"),
        reason: str | None = typer.Option(None, "--reason"),
        as_json: bool = typer.Option(False, "--json")) -> None:
    """Opt a customer (or a bare number/address) out of a channel."""
    from arrears.db import transaction
    from arrears.identity import service as identity
    from arrears.identity.caller import Caller
    from arrears.messaging import optouts

    _target(customer, recipient)
    ensure_schema()

    async def go() -> dict[str, Any]:
        async with transaction() as s:
            await identity.get_org(s, org)
            rows = await optouts.add(s, Caller.system(org, "cli"), channel=channel, customer_id=customer,
                                     recipient=recipient, source="cli", reason=reason)
            return {"opt_outs": [optouts.describe(r) for r in rows]}

    out = run(go)
    who = f"customer {customer}" if customer is not None else recipient
    emit(json.loads(json.dumps(out, default=str)), as_json, f"opted {who} out of {channel}")


@app.command("remove")
def remove(org: int = typer.Option(..., "--org"), customer: int | None = typer.Option(None, "--customer"),
           recipient: str | None = typer.Option(None, "--recipient"),
           channel: str = typer.Option("all", "--channel", help="sms, email or all")) -> None:
    """Opt back in: remove the opt-outs of a customer (or number/address) on a channel."""
    from arrears.db import transaction
    from arrears.identity import service as identity
    from arrears.identity.caller import Caller
    from arrears.messaging import optouts

    _target(customer, recipient)
    ensure_schema()

    async def go() -> int:
        async with transaction() as s:
            await identity.get_org(s, org)
            return await optouts.remove_for(s, Caller.system(org, "cli"), channel=channel, customer_id=customer,
                                            recipient=recipient)

    count = run(go)
    console.print(f"removed {count} opt-out{'s' if count != 1 else ''}")
    print(json.dumps({"removed": count}))


@app.command("list")
def list_(org: int = typer.Option(..., "--org"), channel: str | None = typer.Option(None, "--channel"),
          customer: int | None = typer.Option(None, "--customer"),
          limit: int = typer.Option(100, "--limit")) -> None:
    """List an organisation's opt-outs, newest first (JSON)."""
    from arrears.db import transaction
    from arrears.messaging import optouts

    ensure_schema()

    async def go() -> dict[str, Any]:
        async with transaction(readonly=True) as s:
            rows, total = await optouts.list_for(s, org, channel=channel, customer_id=customer, limit=limit)
            return {"total": total, "opt_outs": [optouts.describe(r) for r in rows]}

    print(json.dumps(run(go), default=str, indent=2))
