"""Builders for the promises tests: accounts (a loan's, a book's), promises through the API,
payment rows written straight into `payments` (as the payments service will), and evaluation
as of a given local day."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from arrears.accounts.models import Account
from arrears.db import transaction
from arrears.identity.caller import Caller
from arrears.payments import hooks as payment_hooks
from arrears.payments.models import Payment
from arrears.promises.calendar import org_today
from arrears.promises.evaluate import Outcome, evaluate
from arrears.promises.models import Promise, PromiseInstalment
from tests.faces.age_analysis.helpers import HEADER, import_file, write_book
from tests.faces.repaysync.conftest import Tenant


async def loan_account(t: Tenant, role: str = "admin") -> tuple[dict[str, Any], str]:
    loan = await t.loan((await t.customer(role=role))["id"], role=role)
    async with transaction() as s:
        account = (await s.scalars(select(Account).where(Account.loan_id == loan["id"]))).one()
    return loan, str(account.id)


async def book_account(t: Tenant, tmp_path: Path, rows: list[list[Any]], name: str = "book") -> str:
    await import_file(t.client, await t.h("manager"), write_book(tmp_path / f"{name}{t.org.id}.csv", [HEADER, *rows]))
    async with transaction() as s:
        return str((await s.scalars(select(Account.id).where(Account.org_id == t.org.id, Account.kind == "book")
                                    .order_by(Account.created_at))).first())


async def today(t: Tenant) -> date:
    async with transaction() as s:
        return await org_today(s, t.org.id)


async def promise(t: Tenant, account_id: str, plan: list[tuple[str, date]] | None = None, *, role: str = "admin",
                  **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"accountId": account_id} | extra
    if plan is not None and len(plan) == 1:
        body |= {"amount": plan[0][0], "date": plan[0][1].isoformat()}
    elif plan is not None:
        body["instalments"] = [{"amount": a, "date": d.isoformat()} for a, d in plan]
    r = await t.client.post("/api/v1/promises", json=body, headers=await t.h(role))
    assert r.status_code == 201, r.text
    return r.json()


async def pay(t: Tenant, account_id: str, amount: str, on: date, *, notify: bool = True) -> uuid.UUID:
    """A recorded payment row (the payments service's job once it lands), then the payments hook."""
    async with transaction() as s:
        row = Payment(org_id=t.org.id, account_id=uuid.UUID(account_id), amount=Decimal(amount), paid_on=on,
                      status="recorded", source="api", created_by="test")
        s.add(row)
        await s.flush()
        if notify:
            await payment_hooks.notify(s, t.org.id, [uuid.UUID(account_id)])
        return row.id


async def reverse(t: Tenant, payment_id: uuid.UUID, account_id: str) -> None:
    async with transaction() as s:
        await s.execute(update(Payment).where(Payment.id == payment_id).values(status="reversed"))
        await payment_hooks.notify(s, t.org.id, [uuid.UUID(account_id)])


async def run(t: Tenant, on: date) -> Outcome:
    async with transaction() as s:
        return await evaluate(s, Caller.system(t.org.id), today=on)


async def state(promise_id: str) -> tuple[Promise, list[PromiseInstalment]]:
    async with transaction() as s:
        p = await s.get(Promise, uuid.UUID(promise_id))
        assert p is not None
        rows = list(await s.scalars(select(PromiseInstalment).where(PromiseInstalment.promise_id == p.id)
                                    .order_by(PromiseInstalment.number)))
        return p, rows


def days(n: int) -> timedelta:
    return timedelta(days=n)
