"""What the faces, the CLI and the worker call: configure a captive, start a run in one
transaction or drive a whole run in batches, list and show runs.

The run's orchestration lives here, above its parts: `runs` opens a run and collects the due
policies, `files` writes the bank files; neither imports the other."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from arrears.db import isoz, transaction, utcnow
from arrears.identity.caller import Caller
from arrears.premiums.debit_orders.daily import schedule_daily
from arrears.premiums.debit_orders.files import file_out, generate_files
from arrears.premiums.debit_orders.models import (
    DebitOrderFile,
    DebitOrderItem,
    DebitOrderRun,
    DebitOrderSettings,
)
from arrears.premiums.debit_orders.runs import BATCH_SIZE, collect, count_due, get_run, open_run, run_actor
from arrears.premiums.debit_orders.settings import update_settings
from arrears.premiums.schemas import money


async def configure(session: AsyncSession, caller: Caller, values: dict[str, Any]) -> DebitOrderSettings:
    """Change the caller's captive's settings (only the keys given); turning the schedule on queues
    the daily run from today. Who may: `authority.may_change_settings`."""
    change = await update_settings(session, caller, values)
    if change.schedule_turned_on:
        await schedule_daily(session, caller, utcnow().date())
    return change.settings


@dataclass
class Started:
    run: DebitOrderRun
    created: bool
    collections_created: int
    files: list[DebitOrderFile] = field(default_factory=list)


async def start_run(session: AsyncSession, caller: Caller, action_date: date, *,
                    today: date | None = None) -> Started:
    """Open (or continue) the caller's captive's run, collect every due policy and write the files,
    all in the caller's transaction: the request commits all of it or nothing. Who may:
    `authority.may_move_money`."""
    run, created = await open_run(session, caller, action_date)
    res = await collect(session, run)
    files = await generate_files(session, run, run_actor(run), today=today)
    return Started(run, created, res.created, files)


ProgressFn = Callable[[str, int, int], None]


@dataclass
class RunOutcome:
    run_id: Any
    created_run: bool
    collections_created: int
    skipped: list[dict[str, Any]]
    files: list[Any]


async def execute_run(caller: Caller, action_date: date, *, batch_size: int = BATCH_SIZE,
                      today: date | None = None, progress: ProgressFn | None = None) -> RunOutcome:
    """A whole run of the caller's captive in its own transactions: open it (authorised there),
    collect in batches, write the files.

    Each batch commits on its own, so dying between (or inside) batches loses at most the batch
    in flight, and calling this again picks up where it stopped."""
    async with transaction() as s:
        run, created = await open_run(s, caller, action_date)
        run_id, run_uuid = run.id, run.uuid
        total = await count_due(s, run)
    if progress:
        progress("collect", 0, total)
    after, done, made = 0, 0, 0
    skipped: list[dict[str, Any]] = []
    while True:
        async with transaction() as s:
            current = await s.get(DebitOrderRun, run_id)
            assert current is not None
            res = await collect(s, current, after_id=after, limit=batch_size)
            skipped = list(current.skipped or [])
        if res.last_policy_id is None:
            break
        after = res.last_policy_id
        done += res.processed
        made += res.created
        if progress:
            progress("collect", done, total)
    async with transaction() as s:
        current = await s.get(DebitOrderRun, run_id)
        assert current is not None
        files = await generate_files(s, current, run_actor(current), today=today)
        file_ids = [f.uuid for f in files]
    if progress:
        progress("files", len(file_ids), len(file_ids))
    return RunOutcome(run_uuid, created, made, skipped, file_ids)


async def run_out(session: AsyncSession, run: DebitOrderRun) -> dict[str, Any]:
    count, total = (await session.execute(
        select(func.count(DebitOrderItem.id), func.coalesce(func.sum(DebitOrderItem.amount), 0))
        .where(DebitOrderItem.run_id == run.id))).one()
    files = (await session.scalars(select(DebitOrderFile).options(defer(DebitOrderFile.content, raiseload=True))
                                   .where(DebitOrderFile.run_id == run.id)
                                   .order_by(DebitOrderFile.id))).all()
    return {"id": str(run.uuid), "action_date": run.action_date.isoformat(), "status": run.status,
            "started_by": run.started_by, "collections": int(count), "total_amount": money(Decimal(total)),
            "skipped": list(run.skipped or []), "files": [file_out(f, run) for f in files],
            "created_at": isoz(run.created_at), "updated_at": isoz(run.updated_at)}


async def list_runs(session: AsyncSession, org_id: int, *, page: int, limit: int
                    ) -> tuple[list[DebitOrderRun], int]:
    total = int(await session.scalar(select(func.count()).select_from(DebitOrderRun)
                                     .where(DebitOrderRun.org_id == org_id)) or 0)
    runs = (await session.scalars(select(DebitOrderRun).where(DebitOrderRun.org_id == org_id)
                                  .order_by(DebitOrderRun.action_date.desc(), DebitOrderRun.id.desc())
                                  .offset((page - 1) * limit).limit(limit))).all()
    return list(runs), total


__all__ = ["RunOutcome", "Started", "configure", "execute_run", "get_run", "list_runs",
           "run_out", "start_run"]
