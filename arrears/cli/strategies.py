"""`arrears strategies …`: run an organisation's collection strategies now."""

from __future__ import annotations

from typing import Any

import typer

from arrears.cli.common import console, emit, ensure_schema_and_models, iso_date, run

app = typer.Typer(help="Collection strategies", no_args_is_help=True)


@app.command("run")
def run_command(org: int = typer.Option(..., "--org", help="organisation id"),
                dry_run: bool = typer.Option(False, "--dry-run", help="say what the run would do, per step, "
                                             "and do nothing (recorded as a dry run)"),
                on: str | None = typer.Option(None, "--date", help="the local day to run as, YYYY-MM-DD "
                                                                   "(default: today in the organisation's time zone)"),
                as_json: bool = typer.Option(False, "--json")) -> None:
    """Run every strategy of the organisation now, as the daily job does: each account gets each
    step at most once a day (a repeated or interrupted run does nothing twice). Each chunk of each
    step is committed as it goes."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from arrears.db import transaction
    from arrears.identity import service as identity
    from arrears.identity.caller import Caller
    from arrears.strategies import jobs, runner

    day = iso_date(on, "--date")
    ensure_schema_and_models()  # with the events' webhook fan-out wired, as in the server and the worker

    async def go() -> dict[str, Any]:
        async with transaction() as s:
            await identity.get_org(s, org)
            run_id = (await runner.start_run(s, Caller.system(org, "cli"), strategy_id=None, trigger="manual",
                                             dry_run=dry_run, status="queued", day=day)).id
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=as_json, disable=as_json) as bar:
            tasks: dict[str, Any] = {}

            def progress(label: str, done: int, total: int) -> None:
                if label not in tasks:
                    tasks[label] = bar.add_task(label, total=total)
                bar.update(tasks[label], completed=done)

            done = await jobs.run_existing(run_id, progress=progress)
        return {"org_id": org, "run_id": str(done.id), "day": done.run_on.isoformat(), "dry_run": done.dry_run,
                "accounts": done.accounts, "messages": done.messages, "letters": done.letters, "tasks": done.tasks,
                "handed_over": done.handed_over, "excluded": done.excluded, "counts": done.counts}

    out = run(go)
    lines = [f"{'dry run' if out['dry_run'] else 'run'} {out['run_id']} for {out['day']}: {out['accounts']} "
             f"step(s) fired, {out['messages']} messages, {out['letters']} letters, {out['tasks']} tasks, "
             f"{out['handed_over']} handed over, {out['excluded']} left out"]
    for st in (out["counts"] or {}).get("strategies", []):
        for step in st["steps"]:
            why = ", ".join(f"{k} {v}" for k, v in step["excluded"].items())
            lines.append(f"  {st['name']} step {step['position']} ({step['action']}): {step['accounts']} accounts"
                         + (f"; left out: {why}" if why else ""))
    emit(out, as_json, "\n".join(lines))
