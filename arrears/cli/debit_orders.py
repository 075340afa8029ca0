"""`arrears debit-orders …`: configure a captive, run debit orders, import the bank's answer,
apply the auto-success rule, export a file or a report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from arrears.cli.common import console, emit, ensure_schema_and_models, fail, iso_date, run

app = typer.Typer(help="Debit-order runs, bank files and reconciliation", no_args_is_help=True)


@app.command("configure")
def configure(org: int = typer.Option(..., "--org", help="organisation (cell captive) id"),
              user_code: str | None = typer.Option(None, "--user-code"),
              abbreviated_name: str | None = typer.Option(None, "--abbreviated-name"),
              nominated_branch: str | None = typer.Option(None, "--branch"),
              nominated_account: str | None = typer.Option(None, "--account"),
              generation_number: int | None = typer.Option(None, "--generation"),
              schedule: bool | None = typer.Option(None, "--schedule/--no-schedule",
                                                   help="run daily in the worker"),
              lead_days: int | None = typer.Option(None, "--lead-days"),
              auto_success_days: int | None = typer.Option(None, "--auto-success-days"),
              as_json: bool = typer.Option(False, "--json")) -> None:
    """Set the captive's ACB user, schedule and auto-success days (only the options given)."""
    from arrears.db import transaction
    from arrears.identity import service as identity
    from arrears.identity.caller import Caller
    from arrears.premiums.debit_orders import service
    from arrears.premiums.debit_orders.settings import settings_out

    values: dict[str, Any] = {k: v for k, v in {
        "user_code": user_code, "abbreviated_name": abbreviated_name, "nominated_branch": nominated_branch,
        "nominated_account": nominated_account, "generation_number": generation_number,
        "schedule_enabled": schedule, "lead_days": lead_days, "auto_success_days": auto_success_days,
    }.items() if v is not None}
    ensure_schema_and_models()

    async def go() -> dict[str, Any]:
        async with transaction() as s:
            await identity.get_org(s, org)
            return settings_out(await service.configure(s, Caller.system(org, "cli"), values))

    out = run(go)
    emit(out, as_json, f"debit orders of organisation {org} configured")


@app.command("run")
def run_cmd(org: int = typer.Option(..., "--org", help="organisation (cell captive) id"),
            on: str = typer.Option(..., "--date", help="action date, YYYY-MM-DD"),
            batch_size: int = typer.Option(500, "--batch-size", min=1),
            as_json: bool = typer.Option(False, "--json")) -> None:
    """Run the debit orders due on the action date: collections, the ACB file and the CSV.
    Safe to repeat: a repeated or interrupted run continues and creates nothing twice."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from arrears.db import transaction
    from arrears.identity import service as identity
    from arrears.identity.caller import Caller
    from arrears.premiums.debit_orders.service import execute_run
    from arrears.premiums.debit_orders.settings import require_settings

    action_date = iso_date(on, "--date")
    assert action_date is not None
    ensure_schema_and_models()

    async def go() -> dict[str, Any]:
        async with transaction(readonly=True) as s:
            await identity.get_org(s, org)
            await require_settings(s, org)  # a captive without settings is told so before any bar
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=False) as bar:
            tasks = {"collect": bar.add_task("policies", total=None), "files": bar.add_task("files", total=None)}

            def progress(stage: str, done: int, total: int) -> None:
                bar.update(tasks[stage], completed=done, total=total)

            outcome = await execute_run(Caller.system(org, "cli"), action_date, batch_size=batch_size,
                                        progress=progress)
        return {"run_id": str(outcome.run_id), "new_run": outcome.created_run,
                "collections_created": outcome.collections_created, "skipped": outcome.skipped,
                "files": [str(f) for f in outcome.files]}

    out = run(go)
    emit(out, as_json, f"run {out['run_id']} for {action_date}: {out['collections_created']} collections "
                       f"created, {len(out['skipped'])} skipped, {len(out['files'])} files written")


@app.command("reconcile")
def reconcile(file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
              org: int = typer.Option(..., "--org"),
              fmt: str | None = typer.Option(None, "--format", help="unpaids or csv (default: detected)"),
              as_json: bool = typer.Option(False, "--json")) -> None:
    """Import the bank's answer (an ACB unpaids file or a CSV) and apply it."""
    from arrears.db import transaction
    from arrears.identity import service as identity
    from arrears.identity.caller import Caller
    from arrears.premiums.debit_orders.reconciliation import import_answer

    ensure_schema_and_models()
    content = file.read_bytes()

    async def go() -> dict[str, Any]:
        async with transaction() as s:
            await identity.get_org(s, org)
            res = await import_answer(s, Caller.system(org, "cli"), content, filename=file.name, fmt=fmt)
            return {"file_id": str(res.file.uuid), "replayed": res.replayed, "counts": res.counts()}

    out = run(go)
    counts = ", ".join(f"{v} {k}" for k, v in out["counts"].items() if v)
    emit(out, as_json, f"{file.name}: {counts or 'no lines'}" + (" (already imported)" if out["replayed"] else ""))


@app.command("settle")
def settle_cmd(org: int = typer.Option(..., "--org"),
               as_of: str | None = typer.Option(None, "--date", help="as of this date (default today)"),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """Mark successful the debits still submitted auto_success_days after their action date."""
    from arrears.db import transaction, utcnow
    from arrears.identity.caller import Caller
    from arrears.premiums.debit_orders.settlement import settle

    day = iso_date(as_of, "--date")
    ensure_schema_and_models()

    async def go() -> dict[str, Any]:
        async with transaction() as s:
            moved = await settle(s, Caller.system(org, "cli"), day or utcnow().date())
            return {"settled": [c.collection_reference for c in moved]}

    out = run(go)
    emit(out, as_json, f"{len(out['settled'])} collections marked successful")


@app.command("report")
def report(org: int = typer.Option(..., "--org"),
           month: str | None = typer.Option(None, "--month", help="YYYY-MM"),
           run_id: str | None = typer.Option(None, "--run", help="a run id"),
           csv_out: bool = typer.Option(False, "--csv", help="CSV instead of JSON")) -> None:
    """Print the report of a run or of a month."""
    import uuid

    from arrears.db import transaction
    from arrears.premiums.debit_orders import reports
    from arrears.premiums.debit_orders.service import get_run

    if (month is None) == (run_id is None):
        fail("give exactly one of --month or --run")
    ensure_schema_and_models()

    async def go() -> dict[str, Any]:
        async with transaction(readonly=True) as s:
            if month is not None:
                return await reports.month_report(s, org, month)
            try:
                rid = uuid.UUID(run_id or "")
            except ValueError:
                fail(f"no run {run_id}")
            return await reports.run_report(s, await get_run(s, org, rid))

    out = run(go)
    print(reports.report_csv(out) if csv_out else json.dumps(out), end="" if csv_out else "\n")


@app.command("export")
def export(file_id: str, org: int = typer.Option(..., "--org"),
           output: Path = typer.Option(..., "--output", "-o", dir_okay=False)) -> None:
    """Write a stored file (an ACB file, a CSV, an imported answer) to disk."""
    import uuid

    from arrears.db import transaction
    from arrears.premiums.debit_orders.files import get_file

    try:
        fid = uuid.UUID(file_id)
    except ValueError:
        fail(f"no file {file_id}")
    ensure_schema_and_models()

    async def go() -> str:
        async with transaction(readonly=True) as s:
            f, _ = await get_file(s, org, fid)
            return f.content

    content = run(go)
    output.write_bytes(content.encode())
    console.print(f"wrote {output}")
