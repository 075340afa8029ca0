"""`arrears payments import FILE --org ORG_ID [--preview] [--mapping JSON] [--json]`: a payments CSV
or bank statement export imported (or only previewed) as `POST /api/v1/payments/import` does, with
a progress bar and a summary."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from arrears.cli.common import console, emit, ensure_schema, fail, run

app = typer.Typer(help="Payments: import a CSV or a bank statement export", no_args_is_help=True)
STAGES = {"reading": "Reading the file", "matching": "Matching accounts", "writing": "Writing payments"}


def _money(value: Any) -> str:
    return f"{Decimal(str(value)):,.2f}"


@app.command("import")
def import_command(
    file: Path = typer.Argument(..., help="The payments file: .csv (a bank export too), .xlsx, .xls or .ods"),
    org: int = typer.Option(..., "--org", help="organisation id"),
    preview: bool = typer.Option(False, "--preview", help="only show how the file would be read; store nothing"),
    mapping: str | None = typer.Option(None, "--mapping", help='column mapping, JSON {"0": "date", "3": null}'),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object last"),
) -> None:
    """Import payments into an organisation (the same file twice adds nothing)."""
    from arrears.db import transaction
    from arrears.identity import service as identity
    from arrears.payments import importing

    if not file.is_file():
        fail(f"{file} is not a file")
    chosen: dict[str, Any] | None = None
    if mapping is not None:
        try:
            chosen = json.loads(mapping)
        except ValueError:
            chosen = None
        if not isinstance(chosen, dict):
            fail('--mapping must be a JSON object such as {"0": "date", "3": null}')
    ensure_schema()

    async def go() -> dict[str, Any]:
        async with transaction() as s:
            await identity.get_org(s, org)  # a clear error for an unknown organisation
        if preview:
            async with transaction(readonly=True) as s:
                return await importing.preview(s, None, file, chosen, org_id=org)
        columns = (TextColumn("{task.description:<20}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=False) as bar:
            tasks: dict[str, TaskID] = {}

            def progress(stage: str, done: int, total: int) -> None:
                for other, task in tasks.items():  # an earlier stage is complete
                    if other != stage:
                        full = bar.tasks[task].total or 1
                        bar.update(task, completed=full, total=full)
                if stage in STAGES:
                    if stage not in tasks:
                        tasks[stage] = bar.add_task(STAGES[stage], total=total or None)
                    bar.update(tasks[stage], completed=done, total=total or None)

            async with transaction() as s:
                row = await importing.import_file(s, None, file, file.name, chosen, progress, org_id=org)
                out = {"import_id": str(row.id), "filename": row.filename, "lines": row.total_lines,
                       "recorded": row.recorded, "unmatched": row.unmatched, "duplicates": row.duplicates,
                       "failed": row.failed, "skipped": row.skipped, "errors": row.errors or [],
                       "mapping": row.mapping}
        return out

    result = run(go)
    if preview:
        counts = result["counts"]
        mapped = ", ".join(f"{field} ← '{label}'" for field, label in result["mapping"].items())
        human = (f"{file.name}: header on row {result['headerRow']} ({mapped})\n"
                 f"{counts['payments']} payments: {counts['recorded']} would be recorded "
                 f"({_money(counts['amountRecorded'])}), {counts['unmatched']} unmatched "
                 f"({_money(counts['amountUnmatched'])}), {counts['duplicates']} already imported; "
                 f"{counts['failed']} failed, {counts['skipped']} skipped. Nothing was stored.")
        for line in result["lines"][:10]:
            human += (f"\n  line {line['line']}: {line['paidOn']} {_money(line['amount']):>14} "
                      f"{line['reference'][:40]!r} → {line['outcome']}")
        emit(result, as_json, human)
        return
    human = (f"imported {file.name}: {result['recorded']} payments recorded, {result['unmatched']} unmatched "
             f"(to match by hand), {result['duplicates']} duplicates (already imported), {result['failed']} failed, "
             f"{result['skipped']} lines skipped; import {result['import_id']}")
    for error in result["errors"][:10]:
        human += f"\n  line {error['line']}: {error['reason']}"
    emit(result, as_json, human)
