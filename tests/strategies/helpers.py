"""Builders for the strategies tests: a book imported through the upload API (its report date then
set to a known day, so days past due are known), templates, strategies through the service or the
API, and runs and previews as of a given day."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from arrears.accounts.models import Account
from arrears.db import session_factory, transaction
from arrears.debtors.models import DebtorAccount
from arrears.identity.caller import Caller
from arrears.identity.service import caller_for_user
from arrears.messaging.models import Message, MessageTemplate
from arrears.strategies import preview as previews
from arrears.strategies import runner, service
from arrears.strategies.models import StrategyRun, StrategyStepExecution
from tests.faces.age_analysis.helpers import HEADER, import_file, write_book
from tests.faces.repaysync.conftest import Tenant

REPORT_DAY = date(2026, 11, 30)


async def book(t: Tenant, tmp_path: Path, rows: list[list[Any]], *, report_day: date = REPORT_DAY,
               name: str = "book") -> dict[str, uuid.UUID]:
    """Import the rows (HEADER's columns) and return {account code: account id}."""
    await import_file(t.client, await t.h("manager"), write_book(tmp_path / f"{name}{t.org.id}.csv", [HEADER, *rows]))
    async with transaction() as s:
        await s.execute(update(DebtorAccount).where(DebtorAccount.org_id == t.org.id)
                        .values(latest_report_date=report_day))
        found = await s.execute(select(DebtorAccount.account_code, Account.id)
                                .join(Account, Account.debtor_account_id == DebtorAccount.id)
                                .where(DebtorAccount.org_id == t.org.id))
        return {code: i for code, i in found}


def row(code: str, name: str, phone: str | None, *, current: Any = 0, d30: Any = 0, d60: Any = 0, d90: Any = 0,
        d120: Any = 0) -> list[Any]:
    total = sum(float(v) for v in (current, d30, d60, d90, d120))
    return [code, name, "Contact", phone, current, d30, d60, d90, d120, total]


async def template(t: Tenant, body: str = "Dear [CustomerName], please pay R[TotalBalance] on [AccountCode].",
                   channel: str = "sms", subject: str | None = None) -> str:
    async with transaction() as s:
        tpl = MessageTemplate(org_id=t.org.id, name=f"{channel}-{uuid.uuid4().hex[:8]}", channel=channel,
                              subject=subject or ("Your account" if channel == "email" else None), body=body)
        s.add(tpl)
        await s.flush()
        return str(tpl.id)


async def caller(t: Tenant, role: str = "manager", access: str = "write") -> Any:
    member = await t.member(role, access=access)
    async with transaction() as s:
        return await caller_for_user(s, member.user.id, t.org.id)


async def strategy(t: Tenant, steps: list[dict[str, Any]], **fields: Any) -> uuid.UUID:
    c = await caller(t)
    async with transaction() as s:
        st = await service.create_strategy(s, c, {"name": f"S{uuid.uuid4().hex[:6]}", "isDefault": True,
                                                  "steps": steps, **fields})
        return st.id


async def run(t: Tenant, day: date, *, dry: bool = False, strategy_id: uuid.UUID | None = None) -> StrategyRun:
    async with session_factory() as s:
        r = await runner.run_now(s, Caller.system(t.org.id, "test"), strategy_id=strategy_id, trigger="manual",
                                 dry_run=dry, checkpoint=s.commit, day=day)
        await s.commit()
        return r


async def preview(t: Tenant, day: date, strategy_id: uuid.UUID | None = None) -> dict[str, Any]:
    async with transaction() as s:
        return await previews.preview_org(s, t.org.id, strategy_id, day=day)


async def executions(t: Tenant) -> list[StrategyStepExecution]:
    async with transaction() as s:
        return list(await s.scalars(select(StrategyStepExecution).where(StrategyStepExecution.org_id == t.org.id)
                                    .order_by(StrategyStepExecution.run_on, StrategyStepExecution.position,
                                              StrategyStepExecution.account_id)))


async def messages(t: Tenant) -> list[Message]:
    async with transaction() as s:
        return list(await s.scalars(select(Message).where(Message.org_id == t.org.id, Message.source == "strategy")
                                    .order_by(Message.id)))


async def count(model: Any, *where: Any) -> int:
    async with transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def sent_counts(org_id: int) -> tuple[int, int, int]:
    """The organisation's step executions, strategy messages and their distinct idempotency keys
    (equal when nothing was sent twice)."""
    async with transaction(readonly=True) as s:
        ex = await s.scalar(select(func.count()).select_from(StrategyStepExecution)
                            .where(StrategyStepExecution.org_id == org_id))
        msgs = await s.scalar(select(func.count()).select_from(Message).where(Message.org_id == org_id,
                                                                               Message.source == "strategy"))
        keys = await s.scalar(select(func.count(func.distinct(Message.idempotency_key)))
                              .where(Message.org_id == org_id, Message.source == "strategy"))
    return int(ex or 0), int(msgs or 0), int(keys or 0)
