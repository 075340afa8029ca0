"""What the faces and the CLI call: start a run in one transaction, list and show runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from arrears.db import isoz
from arrears.premiums.debit_orders.files import file_out, generate_files
from arrears.premiums.debit_orders.models import DebitOrderFile, DebitOrderItem, DebitOrderRun
from arrears.premiums.debit_orders.runs import collect, get_run, open_run
from arrears.premiums.schemas import money


@dataclass
class Started:
    run: DebitOrderRun
    created: bool
    collections_created: int
    files: list[DebitOrderFile] = field(default_factory=list)


async def start_run(session: AsyncSession, org_id: int, action_date: date, *, started_by: str,
                    today: date | None = None) -> Started:
    """Open (or continue) the run, collect every due policy and write the files, all in the
    caller's transaction: the request commits all of it or nothing."""
    run, created = await open_run(session, org_id, action_date, started_by)
    res = await collect(session, run)
    files = await generate_files(session, run, today=today)
    return Started(run, created, res.created, files)


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


__all__ = ["Started", "get_run", "list_runs", "run_out", "start_run"]
