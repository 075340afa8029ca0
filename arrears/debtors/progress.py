"""Progress of an import, written in its own small committed writes while the import's own
transaction is still open, so that any process can read it.

On PostgreSQL each write is a short transaction of its own on the report row (the import's
transaction does not touch that row until it commits). On SQLite the import's transaction holds
the database's only write lock until it commits, so progress goes to a small JSON file per
report under the data directory instead (written then renamed: a reader never sees half of it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import update

from arrears.config import get_settings
from arrears.db import get_engine, isoz, utcnow
from arrears.debtors.models import DebtorReport

log = logging.getLogger("arrears.debtors.progress")

# How the fraction is shared between the stages: rows read and stored, then the book's upkeep.
PARSING_SHARE = 0.95


@dataclass
class Progress:
    """The spec's progress object (GET /api/uploads/{id}/progress) plus the report's status."""

    upload_id: str
    status: str
    stage: str
    total_rows: int
    processed_rows: int
    success_rows: int
    failed_rows: int
    progress: float
    message: str
    start_time: str | None
    update_time: str | None

    @property
    def is_complete(self) -> bool:
        return self.stage in ("completed", "failed")

    @property
    def has_error(self) -> bool:
        return self.stage == "failed"

    def as_spec(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("status")
        out["is_complete"] = self.is_complete
        out["has_error"] = self.has_error
        return out


def progress_of(report: DebtorReport) -> Progress:
    """The progress as the report row holds it (PostgreSQL, or any finished import)."""
    return Progress(
        upload_id=str(report.uuid), status=report.status, stage=report.stage,
        total_rows=report.total_rows, processed_rows=report.processed_rows,
        success_rows=report.success_rows, failed_rows=report.failed_rows,
        progress=round(float(report.progress or 0.0), 4),
        message=report.progress_message or "", start_time=isoz(report.processing_started_at),
        update_time=isoz(report.progress_updated_at or report.updated_at),
    )


def _progress_dir() -> Path:
    return get_settings().data_dir / "progress"


def _progress_file(report_id: uuid.UUID | str) -> Path:
    return _progress_dir() / f"{report_id}.json"


def uses_side_file() -> bool:
    return not get_settings().is_postgres


def current_progress(report: DebtorReport) -> Progress:
    """Progress of a report for readers in any process: the side file while an import runs on
    SQLite, the report row otherwise."""
    if report.status == "processing" and uses_side_file():
        try:
            data = json.loads(_progress_file(report.uuid).read_text())
            return Progress(**data)
        except (OSError, ValueError, TypeError):
            pass
    return progress_of(report)


def clear_side_file(report_id: uuid.UUID | str) -> None:
    with contextlib.suppress(OSError):
        _progress_file(report_id).unlink()


def format_message(stage: str, processed: int, total: int, success: int, failed: int) -> str:
    if stage == "starting":
        return "Starting import..."
    if stage == "parsing":
        if total:
            pct = min(100, int(processed * 100 / total))
            return f"Parsing file... ({processed}/{total} rows, {pct}%)"
        return f"Parsing file... ({processed} rows)"
    if stage == "saving":
        return f"Saving accounts to the debtor book... ({success} accounts)"
    if stage == "completed":
        return f"Import completed: {success} accounts imported, {failed} rows failed"
    return "Import failed"


class ProgressTracker:
    """Counts kept by the import (from any thread), written out at most every `interval` seconds,
    and at least once a second while the import runs (update_time moves even when a long step
    reports nothing new)."""

    def __init__(self, report_id: int, upload_id: uuid.UUID, started_at: datetime, *, interval: float = 0.5,
                 listener: Callable[[Progress], None] | None = None) -> None:
        self.report_id = report_id
        self.upload_id = upload_id
        self.started_at = started_at
        self.interval = interval
        self.listener = listener
        self.stage = "starting"
        self.total_rows = 0
        self.processed_rows = 0
        self.success_rows = 0
        self.failed_rows = 0
        self.message: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_written: tuple[Any, ...] | None = None
        self._last_write_at = 0.0
        self._side_file = uses_side_file()

    # ------------------------------------------------------------------ the current state

    def fraction(self) -> float:
        if self.stage == "completed":
            return 1.0
        if self.stage == "starting":
            return 0.0
        if self.stage == "parsing":
            if not self.total_rows:
                return 0.0
            return min(self.processed_rows / self.total_rows, 1.0) * PARSING_SHARE
        if self.stage == "saving":
            return PARSING_SHARE
        return 0.0

    def snapshot(self) -> Progress:
        total = max(self.total_rows, self.processed_rows)
        message = self.message or format_message(self.stage, self.processed_rows, total,
                                                 self.success_rows, self.failed_rows)
        return Progress(
            upload_id=str(self.upload_id), status="processing", stage=self.stage, total_rows=total,
            processed_rows=self.processed_rows, success_rows=self.success_rows,
            failed_rows=self.failed_rows, progress=round(self.fraction(), 4), message=message,
            start_time=isoz(self.started_at), update_time=isoz(utcnow()),
        )

    def set_stage(self, stage: str, message: str | None = None) -> None:
        self.stage = stage
        self.message = message

    # ------------------------------------------------------------------ writing it out

    async def start(self) -> None:
        await self.flush(force=True)
        self._task = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.flush()

    async def flush(self, *, force: bool = False) -> None:
        state = self.snapshot()
        key = (state.stage, state.total_rows, state.processed_rows, state.success_rows,
               state.failed_rows, state.message)
        now = time.monotonic()
        if not force and key == self._last_written and now - self._last_write_at < 0.9:
            return
        if self.listener is not None:
            self.listener(state)
        try:
            await self._write(state)
        except Exception:  # progress is a courtesy: it must never sink the import
            log.warning("could not write progress of report %s", self.report_id, exc_info=True)
            return
        self._last_written = key
        self._last_write_at = now

    async def _write(self, state: Progress) -> None:
        if self._side_file:
            await asyncio.to_thread(_write_side_file, state)
            return
        async with get_engine().begin() as conn:
            await conn.execute(
                update(DebtorReport)
                .where(DebtorReport.id == self.report_id, DebtorReport.status == "processing")
                .values(stage=state.stage, total_rows=state.total_rows,
                        processed_rows=state.processed_rows, success_rows=state.success_rows,
                        failed_rows=state.failed_rows, progress=state.progress,
                        progress_message=state.message, progress_updated_at=utcnow()))


def _write_side_file(state: Progress) -> None:
    path = _progress_file(state.upload_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(state)))
    os.replace(tmp, path)
