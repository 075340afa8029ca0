"""`arrears promises …`: evaluate an organisation's promises to pay now."""

from __future__ import annotations

from typing import Any

import typer

from arrears.cli.common import emit, ensure_schema, fail, run

app = typer.Typer(help="Promises to pay", no_args_is_help=True)


@app.command("check")
def check(org: int = typer.Option(..., "--org", help="organisation id"),
          on: str | None = typer.Option(None, "--date", help="evaluate as of this local day, YYYY-MM-DD "
                                                              "(default: today in the organisation's time zone)"),
          as_json: bool = typer.Option(False, "--json")) -> None:
    """Evaluate the organisation's open promises now (as the daily job does at local midnight):
    kept, broken (with their call tasks) and still open."""
    from datetime import date

    from arrears.db import transaction
    from arrears.identity import service as identity
    from arrears.identity.caller import Caller
    from arrears.migrate import load_all_models
    from arrears.promises.evaluate import evaluate
    from arrears.wiring import wire

    day = None
    if on is not None:
        try:
            day = date.fromisoformat(on)
        except ValueError:
            fail(f"--date must be a date as YYYY-MM-DD, got {on!r}")
    ensure_schema()
    load_all_models()
    wire()  # the events' webhook fan-out, as in the server and the worker

    async def go() -> dict[str, Any]:
        async with transaction() as s:
            await identity.get_org(s, org)
            out = await evaluate(s, Caller.system(org, "cli"), today=day)
        return {"org_id": org, "kept": out.kept, "broken": out.broken, "open": out.open, "tasks": out.tasks}

    out = run(go)
    emit(out, as_json, f"organisation {org}: {out['kept']} kept, {out['broken']} broken, {out['open']} open "
                       f"({out['tasks']} call tasks opened)")
