"""Accounts to pay into (a loan, a book account from an uploaded report with its report date),
payments files written by the tests, and ins_ keys."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from sqlalchemy import select

from arrears.accounts.models import Account
from arrears.db import transaction
from tests.faces.repaysync.conftest import Tenant
from tests.partners.fixtures import Partner

BOOK_HEADER = ["Account", "Name", "Contact", "Telephone", "Current", "30 Days", "60 Days", "90 Days",
               "120 Days", "Total Balance"]


async def loan_account(t: Tenant, **fields: Any) -> tuple[dict[str, Any], str]:
    loan = await t.loan((await t.customer())["id"], **fields)
    async with transaction() as s:
        account = (await s.scalars(select(Account).where(Account.loan_id == loan["id"]))).one()
    return loan, str(account.id)


async def upload_book(t: Tenant, path: Path, rows: list[list[Any]], report_date: str) -> None:
    """An age analysis uploaded with its report date, and the worker run until it is imported."""
    from arrears.worker import run_until_idle

    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([BOOK_HEADER, *rows])
    r = await t.client.post("/api/uploads", headers=await t.h("manager"),
                            files={"file": (path.name, path.read_bytes())}, data={"report_date": report_date})  # noqa: ASYNC240
    assert r.status_code == 202, r.text
    await run_until_idle()


async def book_account(t: Tenant, code: str) -> str:
    from arrears.debtors.models import DebtorAccount

    async with transaction() as s:
        return str((await s.scalars(select(Account.id).join(DebtorAccount, DebtorAccount.id == Account.debtor_account_id)
                                    .where(Account.org_id == t.org.id, DebtorAccount.account_code == code))).one())


async def key(t: Tenant, scopes: list[str]) -> dict[str, str]:
    p = Partner(t.client, t.world)
    p.org, p.headers = t.org, await t.h("admin")
    c = await p.create_client(scopes=scopes)
    return p.key_headers((await p.create_key(c["id"], scopes=scopes))["key"])


def write_csv(path: Path, rows: list[list[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["" if v is None else v for v in row] for row in rows])
    return path


async def import_file(t: Tenant, path: Path, headers: dict[str, str] | None = None, preview: bool = False,
                      **data: str) -> Any:
    return await t.client.post("/api/v1/payments/import", params={"preview": "true"} if preview else None,
                               headers=headers or await t.h("manager"),
                               files={"file": (path.name, path.read_bytes())}, data=data or None)  # noqa: ASYNC240
