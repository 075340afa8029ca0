"""A book of two reports, payments and promises whose figures are worked out by hand, shared by the
figures' API and web tests. Its months are the three before this one (M1, M2, M3: e.g. September,
October and November when the tests run in December), so that the default period (the last 12
months) always holds them.

Report 1 (R1, M1's last day): K1 1000 (current 200, 30 days 800), K2 500 (current), K3 300 (60 days).
Report 2 (R2, M2's last day, whole book): K1 400 (current 100, 30 days 300), K2 700 (current); K3
is not listed, so settled (zero).
Payments (recorded): K1 100 on R1 (the earlier report's date: already in report 1), K1 150 on M2's
15th and 100 on R2 (between the reports, the later date included), K2 50 on M2's 20th (between,
but K2's balance rose). Not counted: a reversed 999 on K1, an unmatched 77.
Collected, M2: payments 300; the book's falls 600 (K1) + 300 (K3) = 900, of which K1's 250 paid
between the reports explains 250 → book 650; collected 950. M1: payments 100.
CEI (report 1 → 2): (1800 + 800 − 1100) / (1800 + 800 − 800) × 100 = 83.33.
Promises: agent A on K1 — M2 kept (250, paid 250), M2 broken (100, paid 40), M3 open (60);
agent B on K2 — M2 kept (50, paid 50), M2 cancelled (500).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from arrears.accounts.models import Account
from arrears.customers.models import Customer
from arrears.db import transaction
from arrears.debtors.models import DebtorAccount
from arrears.payments.models import Payment
from arrears.promises.models import Promise
from tests.faces.age_analysis.helpers import HEADER, write_book
from tests.faces.repaysync.conftest import Tenant


def _month_start(back: int) -> date:
    index = date.today().year * 12 + date.today().month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


M1_START, M2_START, M3_START = _month_start(3), _month_start(2), _month_start(1)
M3_END = _month_start(0) - timedelta(days=1)
R1, R2 = (M2_START - timedelta(days=1)).isoformat(), (M3_START - timedelta(days=1)).isoformat()
M1, M2, M3 = (d.isoformat()[:7] for d in (M1_START, M2_START, M3_START))


def on(month_start: date, day: int) -> str:
    return month_start.replace(day=day).isoformat()


REPORT_1 = [["K1", "Kappa", "Kim", "082 123 4567", 200, 800, 0, 0, 0, 1000],
            ["K2", "Lambda", None, "0831234567", 500, 0, 0, 0, 0, 500],
            ["K3", "Mu", None, "0821112222", 0, 0, 300, 0, 0, 300]]
REPORT_2 = [["K1", "Kappa", "Kim", "082 123 4567", 100, 300, 0, 0, 0, 400],
            ["K2", "Lambda", None, "0831234567", 700, 0, 0, 0, 0, 700]]


@dataclass
class Book:
    t: Tenant
    reports: list[str] = field(default_factory=list)  # the uploads' ids (UUIDs), oldest first
    accounts: dict[str, uuid.UUID] = field(default_factory=dict)  # account code → account id
    agents: dict[str, Any] = field(default_factory=dict)  # "A", "B" → the agents (users)


async def upload(t: Tenant, tmp_path: Path, rows: list[list[Any]], report_date: str, name: str) -> str:
    from arrears.worker import run_until_idle

    path = write_book(tmp_path / name, [HEADER, *rows])
    r = await t.client.post("/api/uploads", headers=await t.h("manager"),
                            files={"file": (path.name, path.read_bytes())}, data={"report_date": report_date})
    assert r.status_code == 202, r.text
    await run_until_idle()
    return str(r.json()["upload"]["id"])


async def make_book(t: Tenant, tmp_path: Path, *, promises: bool = True) -> Book:
    b = Book(t)
    b.reports.append(await upload(t, tmp_path, REPORT_1, R1, f"r1-{t.org.id}.csv"))
    b.reports.append(await upload(t, tmp_path, REPORT_2, R2, f"r2-{t.org.id}.csv"))
    async with transaction() as s:
        rows = await s.execute(select(DebtorAccount.account_code, Account.id)
                               .join(Account, Account.debtor_account_id == DebtorAccount.id)
                               .where(Account.org_id == t.org.id))
        b.accounts = {code: key for code, key in rows.all()}
        assert sorted(b.accounts) == ["K1", "K2", "K3"]
        org, k1, k2 = t.org.id, b.accounts["K1"], b.accounts["K2"]

        def pay(account: uuid.UUID | None, amount: str, day: str, status: str = "recorded") -> Payment:
            return Payment(org_id=org, account_id=account, amount=Decimal(amount), paid_on=date.fromisoformat(day),
                           status=status, source="api", created_by="test", external_id=uuid.uuid4().hex)

        s.add_all([pay(k1, "100.00", R1), pay(k1, "150.00", on(M2_START, 15)), pay(k1, "100.00", R2),
                   pay(k2, "50.00", on(M2_START, 20)), pay(k1, "999.00", on(M2_START, 10), "reversed"),
                   pay(None, "77.00", on(M2_START, 12), "unmatched")])
    if promises:
        b.agents = {"A": (await t.member("calling_agent", "A")).user, "B": (await t.member("calling_agent", "B")).user}
        async with transaction() as s:
            def promise(agent: Any, account: uuid.UUID, made: str, status: str, amount: str, paid: str) -> Promise:
                return Promise(org_id=org, account_id=account, agent_id=agent.id, amount=Decimal(amount),
                               made_on=date.fromisoformat(made), due_date=date.fromisoformat(made), status=status,
                               paid_amount=Decimal(paid), created_by=f"user:{agent.id}")

            a, bb = b.agents["A"], b.agents["B"]
            s.add_all([promise(a, k1, on(M2_START, 1), "kept", "250.00", "250.00"),
                       promise(a, k1, on(M2_START, 2), "broken", "100.00", "40.00"),
                       promise(a, k1, on(M3_START, 3), "open", "60.00", "0.00"),
                       promise(bb, k2, on(M2_START, 5), "kept", "50.00", "50.00"),
                       promise(bb, k2, on(M2_START, 6), "cancelled", "500.00", "0.00")])
    return b


async def assign_k1_to(b: Book, officer_id: int) -> None:
    """K1's customer is the collection officer's (who then sees K1 only)."""
    async with transaction() as s:
        customer_id = await s.scalar(select(Account.customer_id).where(Account.id == b.accounts["K1"]))
        await s.execute(update(Customer).where(Customer.id == customer_id)
                        .values(assigned_collection_officer_id=officer_id))
