"""The letter step's calls into the letters domain (arrears.letters, below this one): whether a
letter template is one the organisation may use (a built-in or its own), one stored letter per
account from the step's template, made with the strategy owner's rights (`letter.created` each),
each noted on its step execution, and one PDF of the letters a step made on a day to print
(`arrears letters print --step`)."""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

import pypdfium2 as pdfium
from sqlalchemy import Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.accounts.models import Account
from arrears.accounts.service import account_scope
from arrears.errors import NotFound, ValidationFailed
from arrears.identity.caller import Caller
from arrears.letters import service as letters
from arrears.letters.models import Letter
from arrears.letters.templates import get_template
from arrears.strategies.models import StrategyStep, StrategyStepExecution


async def template_ok(session: AsyncSession, org_id: int, template_id: uuid.UUID) -> bool:
    """A built-in letter template or one of the organisation's own."""
    try:
        await get_template(session, Caller(kind="user", org_id=org_id), template_id)
    except NotFound:
        return False
    return True


async def make_letters(session: AsyncSession, owner: Caller, account_ids: Sequence[uuid.UUID],
                       template_id: uuid.UUID, today: date) -> list[Any]:
    """The letters (one per account, stored), made with the owner's rights; `letter.created` each."""
    made: list[Any] = []
    ids = list(account_ids)
    for start in range(0, len(ids), letters.MAX_ACCOUNTS):  # the letters domain's bound per call
        made.extend(await letters.create_letters(session, owner, ids[start:start + letters.MAX_ACCOUNTS],
                                                 template_id, source="strategy", today=today))
    return made


async def note_letters(session: AsyncSession, step_id: uuid.UUID, day: date, made: Sequence[Any]) -> None:
    """Each letter's id on the execution that made it (`detail.letterId`): a print run of the step
    finds exactly these letters, whatever else was made for the accounts that day."""
    if not made:
        return
    table = cast(Table, StrategyStepExecution.__table__)
    await session.execute(
        table.update().where(table.c.step_id == step_id, table.c.run_on == day,
                             table.c.account_id == bindparam("account"))
        .values(detail=bindparam("noted")),
        [{"account": letter.account_id, "noted": {"letterId": str(letter.id)}} for letter in made])


@dataclass(frozen=True)
class StepPrint:
    pdf: bytes  # the step's letters of the day, each from a new page, in the accounts' order
    letters: int
    pages: int


def _join(pdfs: Sequence[bytes]) -> tuple[bytes, int]:
    joined = pdfium.PdfDocument.new()
    try:
        for data in pdfs:
            one = pdfium.PdfDocument(data)
            try:
                joined.import_pages(one)
            finally:
                one.close()
        out = io.BytesIO()
        joined.save(out)
        return out.getvalue(), len(joined)
    finally:
        joined.close()


async def step_letters(session: AsyncSession, caller: Caller, step_id: Any, day: date) -> StepPrint:
    """One PDF of the letters a letter step made on `day` (stored when it fired: nothing is made
    again), for the accounts the caller sees. Another organisation's step is a 404; a step that
    is not a letter step, or made no letter that day, a 400 saying so."""
    try:
        key = uuid.UUID(str(step_id).strip())
    except ValueError:
        key = None
    step = None
    if key is not None:
        step = await session.scalar(select(StrategyStep).where(StrategyStep.id == key,
                                                               StrategyStep.org_id == caller.org_id))
    if step is None:
        raise NotFound(f"Strategy step {str(step_id)[:64]} not found.")
    if step.action != "letter":
        raise ValidationFailed(f"Step {step.position} is a {step.action} step, not a letter step.",
                               field_errors={"step": ["Not a letter step."]})
    rows = (await session.execute(
        select(StrategyStepExecution.detail).join(Account, Account.id == StrategyStepExecution.account_id)
        .where(StrategyStepExecution.step_id == step.id, StrategyStepExecution.run_on == day, account_scope(caller))
        .order_by(StrategyStepExecution.position, StrategyStepExecution.id))).scalars().all()
    ids = [uuid.UUID(d["letterId"]) for d in rows if isinstance(d, dict) and d.get("letterId")]
    if not ids:
        raise ValidationFailed(f"Step {step.position} made no letter on {day.isoformat()}.",
                               field_errors={"step": [f"No letter on {day.isoformat()}."]})
    found = {i: pdf for i, pdf in await session.execute(
        select(Letter.id, Letter.pdf).where(Letter.id.in_(ids), Letter.org_id == caller.org_id))}
    pdf, pages = _join([found[i] for i in ids if i in found])
    return StepPrint(pdf, len(found), pages)
