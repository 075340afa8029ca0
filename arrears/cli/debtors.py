"""`arrears import FILE --org ORG_ID [--user USERNAME] [--json]`: the upload's import, run in this
process with a progress bar per stage, then the book brought up to date (the debtors domain's
import, through its service, as the upload endpoints run it)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from arrears.cli.common import console, emit, ensure_schema, fail, run

STAGE_LABELS = {"parsing": "Reading and storing rows", "saving": "Summarising", "book": "Updating the book"}


class StageBars:
    """One Rich progress bar per stage, fed by the import's progress reports."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def _task(self, stage: str, total: float | None) -> TaskID:
        if stage not in self.tasks:
            for other, task in self.tasks.items():
                if other != stage:
                    done = self.progress.tasks[task].total or self.progress.tasks[task].completed or 1
                    self.progress.update(task, completed=done, total=done)
            self.tasks[stage] = self.progress.add_task(STAGE_LABELS.get(stage, stage), total=total)
        return self.tasks[stage]

    def __call__(self, state: Any) -> None:
        if state.stage == "parsing":
            task = self._task("parsing", state.total_rows or None)
            self.progress.update(task, completed=state.processed_rows, total=state.total_rows or None)
        elif state.stage == "saving":
            self._task("saving", 1)
        elif state.stage in ("completed", "failed"):
            for task in self.tasks.values():
                if state.stage == "completed":
                    total = self.progress.tasks[task].total or 1
                    self.progress.update(task, completed=total, total=total)

    def book(self, done: bool) -> None:
        task = self._task("book", 1)
        if done:
            self.progress.update(task, completed=1)


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def import_command(
    file: Path = typer.Argument(..., help="The age analysis: .xlsx, .xls, .xlsb, .ods or .csv"),
    org: int = typer.Option(..., "--org", help="organisation id"),
    user: str | None = typer.Option(None, "--user", help="username the upload belongs to"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object last"),
    report_date: str | None = typer.Option(None, "--report-date",
                                           help="the date the report's balances stand at (YYYY-MM-DD); "
                                                "read from the file when not given"),
    partial: bool = typer.Option(False, "--partial",
                                 help="the file lists only some accounts: leave the others as they are"),
    preview: bool = typer.Option(False, "--preview", help="only show how the file would be read; store nothing"),
    mapping: str | None = typer.Option(None, "--mapping", help='column mapping, JSON {"3": "telephone", "2": null}'),
) -> None:
    """Import an age analysis into an organisation's debtor book (as an upload would)."""
    from arrears.db import transaction
    from arrears.debtors import book, service, storage
    from arrears.debtors import preview as previews
    from arrears.debtors.imports import find_report, run_import, update_book
    from arrears.debtors.jobs import after_upload
    from arrears.errors import DomainError
    from arrears.identity import service as identity

    if not file.is_file():
        fail(f"{file} is not a file")
    ensure_schema()
    if preview:
        show_preview(file, org, mapping, as_json)
        return
    columns = (TextColumn("{task.description:<26}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())

    async def go() -> dict[str, Any]:
        async with transaction() as s:
            found_org = await identity.get_org(s, org)
            try:
                as_at = book.parse_report_date(report_date, today=book.local_today(book.zone_of(found_org)))
            except DomainError as exc:
                fail(exc.message)
            user_id = None
            if user is not None:
                found = await identity.find_user(s, user)
                if found is None:
                    fail(f"no user named {user!r}")
                if not await identity.is_member(s, found, org):
                    fail(f"user {user!r} does not belong to organisation {org}")
                user_id = found.id
        checked = None
        if mapping is not None:  # checked against the header before anything is stored
            async with transaction(readonly=True) as s:
                setting = await previews.setting_of(s, org)
            checked = await previews.preview_path(file, setting, mapping, read_rows=False)
        try:
            stored = storage.store_local_file(org, file)
        except DomainError as exc:
            fail(f"{file.name}: {exc.message}")
        async with transaction() as s:
            report = await service.create_report(s, None, stored, org_id=org, user_id=user_id,
                                                 enqueue=False, report_date=as_at, partial=partial)
        with Progress(*columns, console=console, transient=False) as bar:
            bars = StageBars(bar)
            outcome = await run_import(report.id, listener=bars, actor="cli", progress_interval=0.2,
                                       mapping=checked.mapping if checked else None)
            created = 0
            if outcome.status == "completed":
                bars.book(False)
                created = await update_book(report.id, actor="cli")
                await after_upload(report.id)
                bars.book(True)
        async with transaction(readonly=True) as s:
            done = await find_report(s, report.id)
        return {"upload_id": str(report.uuid), "status": outcome.status, "accounts": outcome.accounts,
                "report_date": done.report_date.isoformat() if done and done.report_date else None,
                "report_date_source": done.report_date_source if done else None, "partial": partial,
                "skipped_rows": done.skipped_rows if done else 0,
                "skipped_reasons": (done.skipped_reasons or {}) if done else {},
                "warnings": (done.warnings or []) if done else [],
                "failed_rows": outcome.failed_rows, "total_balance": str(outcome.total_balance),
                "overdue_balance": str(outcome.overdue_balance), "customers_created": created,
                "message": outcome.message, "error_code": outcome.error_code}

    result = run(go)
    if result["status"] != "completed":
        if as_json:
            print(json.dumps(result))
        fail(f"the import failed: {result['message']}")
    human = (f"imported {result['accounts']} accounts from {file.name} ({result['failed_rows']} rows failed); "
             f"total balance {_money(Decimal(result['total_balance']))}, overdue "
             f"{_money(Decimal(result['overdue_balance']))}; report date {result['report_date']} "
             f"({result['report_date_source']}){'; partial' if partial else ''}; upload {result['upload_id']}")
    if result["skipped_rows"]:
        human += f"\n{result['skipped_rows']} lines skipped: " + ", ".join(
            f"{n} {reason}" for reason, n in sorted(result["skipped_reasons"].items()))
    for warning in result["warnings"]:
        human += f"\nwarning: {warning}"
    emit(result, as_json, human)


def show_preview(file: Path, org: int, mapping: str | None, as_json: bool) -> None:
    """`arrears import FILE --preview`: what POST /api/uploads/preview answers, as tables."""
    from rich.table import Table

    from arrears.db import transaction
    from arrears.debtors import preview as previews
    from arrears.identity import service as identity

    async def go() -> previews.Preview:
        async with transaction(readonly=True) as s:
            await identity.get_org(s, org)
            setting = await previews.setting_of(s, org)
        return await previews.preview_path(file, setting, mapping)

    result = run(go)
    body = previews.as_dict(result)
    if as_json:
        print(json.dumps(body, default=str))
        return
    out = console
    rows = ", ".join(str(r) for r in result.header_rows)
    out.print(f"[bold]{file.name}[/bold]: sheet '{result.sheet_name}', header on row {rows} "
              f"({result.file_format})" + (f"; {previews.SAVED_NOTE}" if result.using_saved_mapping else ""))
    for line in result.title_lines:
        out.print(f"  title: {line}")
    table = Table(title="Columns")
    for name in ("#", "Heading", "Field", "Why"):
        table.add_column(name)
    for c in result.columns:
        table.add_row(str(c.index), c.label, c.field or "(ignored)", c.reason)
    out.print(table)
    skipped = ", ".join(f"{reason} {count}" for reason, count in sorted(result.skipped.items())) or "none"
    out.print(f"{result.account_count} accounts, {result.failed_count} failed rows, "
              f"{result.skipped_rows} lines skipped ({skipped})")
    accounts = Table(title=f"First {len(result.accounts)} accounts")
    for name in ("Row", "Account", "Name", "Telephone", "Current", "30", "60", "90", "120+", "Total"):
        accounts.add_column(name, justify="right" if name in ("Row", "Current", "30", "60", "90", "120+", "Total")
                            else "left")
    for a in result.accounts:
        accounts.add_row(str(a.sheet_row), a.account, a.name, a.telephone_raw,
                         *(_money(v) for v in (a.current, a.d30, a.d60, a.d90, a.d120, a.total_balance)))
    out.print(accounts)
    for e in result.failed:
        out.print(f"  row {e.sheet_row}: {e.reason}")
    for warning in result.warnings:
        out.print(f"[yellow]warning:[/yellow] {warning}")
    out.print(f"Total check: {result.total_check['message']}")
