"""`arrears promises …`: evaluate an organisation's promises to pay now."""

from __future__ import annotations

from typing import Any

import typer

from arrears.cli.common import emit, ensure_schema_and_models, iso_date, run

app = typer.Typer(help="Promises to pay", no_args_is_help=True)


@app.command("check")
def check(org: int = typer.Option(..., "--org", help="organisation id"),
          on: str | None = typer.Option(None, "--date", help="evaluate as of this local day, YYYY-MM-DD "
                                                              "(default: today in the organisation's time zone)"),
          as_json: bool = typer.Option(False, "--json")) -> None:
    """Evaluate the organisation's open promises now (as the daily job does at local midnight):
    kept, broken (with their call tasks) and still open."""
    from arrears.db import transaction
    from arrears.identity import service as identity
    from arrears.promises.evaluate import daily_pass

    day = iso_date(on, "--date")
    ensure_schema_and_models()  # with the events' webhook fan-out wired, as in the server and the worker

    async def go() -> dict[str, Any]:
        async with transaction(readonly=True) as s:
            await identity.get_org(s, org)
        out = await daily_pass(org, today=day, actor="cli")
        return {"org_id": org, "kept": out.kept, "broken": out.broken, "open": out.open, "tasks": out.tasks}

    out = run(go)
    emit(out, as_json, f"organisation {org}: {out['kept']} kept, {out['broken']} broken, {out['open']} open "
                       f"({out['tasks']} call tasks opened)")
