"""A run's bank files: the ACB debit-order file and a CSV of the same collections, stored in
`debit_order_files`, and the move of those collections from pending to submitted.

Generating is idempotent: only the run's items that are in no file yet and still pending go into
a new file, so generating again after a file went out writes nothing (or, when policies were added
to the run since, a second file with the next generation number whose sequence numbers run on).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from arrears import events
from arrears.db import isoz, utcnow
from arrears.downloads import SafeCsvWriter
from arrears.errors import NotFound
from arrears.identity.caller import Caller
from arrears.identity.sealed import reveal
from arrears.premiums import service as premiums
from arrears.premiums.acb import DebitItem, build_debit_file
from arrears.premiums.debit_orders.models import DebitOrderFile, DebitOrderItem, DebitOrderRun
from arrears.premiums.debit_orders.runs import RunNotFound
from arrears.premiums.debit_orders.settings import require_settings, user_info
from arrears.premiums.errors import PremiumErrorCode
from arrears.premiums.models import Collection, Policy
from arrears.premiums.schemas import mask, money

CSV_COLUMNS = ("sequence_number", "collection_reference", "policy_number", "client_name", "mandate_reference",
               "bank_branch_code", "bank_account_number", "bank_account_type", "amount", "action_date",
               "collection_date", "status")


class FileNotFound(NotFound):
    code = PremiumErrorCode.FILE_NOT_FOUND


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def new_file(org_id: int, run_id: int | None, kind: str, filename: str, media_type: str, content: str, *,
             record_count: int, total: Decimal, generation_number: int | None = None,
             created_by: str = "system") -> DebitOrderFile:
    return DebitOrderFile(org_id=org_id, run_id=run_id, kind=kind, filename=filename, media_type=media_type,
                          content=content, sha256=_digest(content), size=len(content.encode()),
                          record_count=record_count, total_amount=total, generation_number=generation_number,
                          created_by=created_by, created_at=utcnow())


def _csv(rows: Sequence[tuple[DebitOrderItem, Collection, Policy]], status: str) -> str:
    out = io.StringIO()
    w = SafeCsvWriter(out)  # names and references come from people: no formulas
    w.writerow(CSV_COLUMNS)
    for item, col, pol in rows:
        w.writerow([item.sequence_number, col.collection_reference, pol.policy_number, pol.client_name,
                    item.reference, pol.bank_branch_code, mask(pol.bank_account_number), pol.bank_account_type,
                    f"{item.amount:.2f}", item.action_date.isoformat(), col.collection_date.isoformat(), status])
    return out.getvalue()


async def generate_files(session: AsyncSession, run: DebitOrderRun, caller: Caller, *,
                         today: date | None = None) -> list[DebitOrderFile]:
    """Write the ACB file and the CSV for the run's pending items not yet in a file, move their
    collections to submitted (one `collection.updated` each, by `caller`: the run's) and return the
    two stored files."""
    caller.require_write()
    if run.org_id != caller.org_id:
        raise RunNotFound(f"Debit-order run {run.uuid} not found")
    # The captive's settings row is locked before the items are read: a concurrent generation of
    # the same run waits here, then reads the items that one has put in its file (READ COMMITTED
    # takes a new snapshot per statement) and writes nothing twice.
    settings = await require_settings(session, run.org_id, for_update=True)
    rows = list((await session.execute(
        select(DebitOrderItem, Collection, Policy)
        .join(Collection, Collection.id == DebitOrderItem.collection_id)
        .join(Policy, Policy.id == DebitOrderItem.policy_id)
        .where(DebitOrderItem.run_id == run.id, DebitOrderItem.file_id.is_(None),
               Collection.status == "pending")
        .order_by(DebitOrderItem.id))).all())
    if not rows:
        return []
    last_seq = await session.scalar(select(func.max(DebitOrderItem.sequence_number))
                                    .where(DebitOrderItem.run_id == run.id))
    # Each earlier file of the run used its items' numbers and one more for its contra record.
    first_seq = (last_seq + 2) if last_seq else 1
    # The ACB action date may not precede the creation date; a run for a past date (a catch-up or
    # a test) is created "on" its action date.
    creation = min(today or utcnow().date(), run.action_date)
    info = user_info(settings)
    items = [DebitItem(reference=item.reference, homing_branch=pol.bank_branch_code or "",
                       homing_account_number=reveal(pol.bank_account_number) or "",
                       account_type=pol.bank_account_type, amount=item.amount,
                       homing_account_name=pol.bank_account_holder or pol.client_name)
             for item, _, pol in rows]
    text = build_debit_file(info, run.action_date, items, creation_date=creation, first_sequence_number=first_seq)
    total = sum((item.amount for item, _, _ in rows), Decimal("0"))
    generation = settings.generation_number
    stem = f"{settings.user_code}_{run.action_date:%Y%m%d}_G{generation:04d}"
    acb = new_file(run.org_id, run.id, "acb", f"ACB_{stem}.txt", "text/plain", text,
                   record_count=len(rows), total=total, generation_number=generation, created_by=caller.actor)
    session.add(acb)
    await session.flush()
    for offset, (item, _, _) in enumerate(rows):
        item.sequence_number = first_seq + offset
        item.file_id = acb.id
    table = new_file(run.org_id, run.id, "csv", f"DEBITS_{stem}.csv", "text/csv", _csv(rows, "submitted"),
                     record_count=len(rows), total=total, generation_number=generation, created_by=caller.actor)
    session.add(table)
    settings.generation_number = generation + 1 if generation < 9999 else 1
    await premiums.transition_collections(session, caller, [c for _, c, _ in rows], "submitted")
    run.status = "submitted"
    run.updated_at = utcnow()
    await session.flush()
    await events.record(session, org_id=run.org_id, type="debit_order_file.created", actor=caller.actor,
                        subject_type="debit_order_file", subject_id=acb.uuid,
                        after={"run_id": str(run.uuid), "generation_number": generation,
                               "records": len(rows), "total_amount": str(total)},
                        data={"file": file_out(acb, run), "csv": file_out(table, run)})
    return [acb, table]


def file_out(f: DebitOrderFile, run: DebitOrderRun | None = None) -> dict[str, Any]:
    return {"id": str(f.uuid), "kind": f.kind, "filename": f.filename, "media_type": f.media_type,
            "size": f.size, "sha256": f.sha256, "record_count": f.record_count,
            "total_amount": money(f.total_amount), "generation_number": f.generation_number,
            "run_id": str(run.uuid) if run is not None else None,
            "created_by": f.created_by, "created_at": isoz(f.created_at)}


async def list_files(session: AsyncSession, org_id: int, *, run_id: int | None = None, kind: str | None = None,
                     page: int = 1, limit: int = 50) -> tuple[list[tuple[DebitOrderFile, DebitOrderRun | None]], int]:
    conds = [DebitOrderFile.org_id == org_id]
    if run_id is not None:
        conds.append(DebitOrderFile.run_id == run_id)
    if kind is not None:
        conds.append(DebitOrderFile.kind == kind)
    total = int(await session.scalar(select(func.count()).select_from(DebitOrderFile).where(*conds)) or 0)
    rows = (await session.execute(
        select(DebitOrderFile, DebitOrderRun).outerjoin(DebitOrderRun, DebitOrderRun.id == DebitOrderFile.run_id)
        .options(defer(DebitOrderFile.content, raiseload=True))  # a list never needs the files' text
        .where(*conds).order_by(DebitOrderFile.created_at.desc(), DebitOrderFile.id.desc())
        .offset((page - 1) * limit).limit(limit))).all()
    return list(rows), total


async def get_file(session: AsyncSession, org_id: int, file_uuid: Any) -> tuple[DebitOrderFile, DebitOrderRun | None]:
    row = (await session.execute(
        select(DebitOrderFile, DebitOrderRun).outerjoin(DebitOrderRun, DebitOrderRun.id == DebitOrderFile.run_id)
        .where(DebitOrderFile.org_id == org_id, DebitOrderFile.uuid == file_uuid))).first()
    if row is None:
        raise FileNotFound(f"File {file_uuid} not found")
    return row[0], row[1]
