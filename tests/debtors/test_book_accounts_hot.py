"""Migration 0029: the book accounts' latest report has no index, and on PostgreSQL half of each page
is kept free, so that a month's update of the book's accounts is a heap-only (HOT) update that writes
no index entry. The readers of the old index still find what they found: a month's report updates
its accounts and settles the one it no longer lists (arrears.debtors.book), on both databases."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select, text

from arrears import migrate
from arrears.db import transaction, utcnow
from arrears.debtors import book, bulk, imports
from arrears.debtors.models import DebtorAccount
from tests.faces.age_analysis.conftest import member  # noqa: F401
from tests.faces.age_analysis.helpers import HEADER, import_file, post_file, write_book
from tests.fixtures import cheap_password_hashing  # noqa: F401
from tests.migration_steps import previous_revision, run_sql

REVISION = "0029_book_accounts_hot"
INDEX = "ix_debtor_accounts_org_id_latest_report_id"
COUNT = 300  # some forty full pages of accounts: without room on the page an update moves the row


def _schema(url: str) -> tuple[set[str], list[str]]:
    """debtor_accounts' index names and (PostgreSQL) its storage options."""
    if url.startswith("postgresql"):
        names = run_sql(url, "SELECT indexname FROM pg_indexes WHERE tablename = 'debtor_accounts'")
        options = run_sql(url, "SELECT reloptions FROM pg_class WHERE relname = 'debtor_accounts'")[0][0]
        return {str(n) for (n,) in names}, list(options or [])  # type: ignore[call-overload]
    names = run_sql(url, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'debtor_accounts'")
    return {str(n) for (n,) in names}, []


def test_the_latest_report_index_goes_and_the_pages_keep_room_then_both_come_back(db_url):
    postgres = db_url.startswith("postgresql")
    indexes, options = _schema(db_url)
    assert INDEX not in indexes
    assert "ix_debtor_accounts_customer_id" in indexes
    assert options == (["fillfactor=50"] if postgres else [])
    try:
        command.downgrade(migrate.alembic_config(db_url), previous_revision(REVISION))
        indexes, options = _schema(db_url)
        assert INDEX in indexes
        assert options == []
    finally:
        migrate.upgrade(db_url)
    indexes, options = _schema(db_url)
    assert INDEX not in indexes
    assert options == (["fillfactor=50"] if postgres else [])


@pytest.fixture
async def officer(client, world):
    org = await world.org("Hot Book Org")
    return org, await member(client, world, org.id, "manager")


def _rows(month: int, codes: list[str]) -> list[list[object]]:
    return [HEADER, *([code, f"Customer {code}", None, f"082{n:07d}", n * month, 0, 0, 0, 0, n * month]
                      for n, code in enumerate(codes, 1))]


async def _imported(client: Any, who: Any, path: Path) -> Any:
    """The file uploaded and imported (not yet in the book): its upload's id."""
    r = await post_file(client, who.headers, path)
    assert r.status_code == 202, r.text
    upload = r.json()["upload"]["id"]
    assert (await imports.run_import(upload)).status == "completed"
    return upload


async def _linked(s: Any, upload: Any) -> Any:
    """The upload's report brought into the book in the caller's transaction `s` (as the book's job
    does, without its ranking), so that the caller can read what the update did within it."""
    report = await imports.find_report(s, upload)
    assert report is not None and report.report_date is not None
    await bulk.link_book(s, report.id, report.created_at, utcnow(), report_date=report.report_date, rank=False)
    return report


async def test_a_months_update_of_the_book_writes_no_index_entry_and_settles_the_unlisted(
        client, officer, tmp_path: Path, db_url):
    org, who = officer
    codes = [f"H{n:04d}" for n in range(1, COUNT + 1)]
    await import_file(client, who.headers, write_book(tmp_path / "month1.csv", _rows(1, codes)))
    # The second month lists every account but the last: imported, and its book brought up to date
    # here, in a transaction of the test's, to read what the update did within it.
    upload = await _imported(client, who, write_book(tmp_path / "month2.csv", _rows(2, codes[:-1])))
    async with transaction() as s:
        report = await _linked(s, upload)
        if db_url.startswith("postgresql"):
            updated, hot = (await s.execute(text(
                "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
                "WHERE relname = 'debtor_accounts'"))).one()
            assert (updated, hot) == (COUNT - 1, COUNT - 1)  # every one on its page: no index entry
        assert await book.settle_unlisted(s, report) == 1
        report_id = report.id
    async with transaction(readonly=True) as s:
        accounts = {a.account_code: a for a in await s.scalars(
            select(DebtorAccount).where(DebtorAccount.org_id == org.id))}
    assert len(accounts) == COUNT
    for n, code in enumerate(codes[:-1], 1):
        assert accounts[code].latest_report_id == report_id
        assert accounts[code].total_balance == Decimal(2 * n)
        assert accounts[code].settled_at is None
    last = accounts[codes[-1]]
    assert last.latest_report_id != report_id and last.settled_by_report_id == report_id
    assert last.total_balance == 0 and last.settled_at is not None

    # A third month (every account again, the settled one back): the book follows it as before.
    upload = await _imported(client, who, write_book(tmp_path / "month3.csv", _rows(3, codes)))
    async with transaction() as s:
        report = await _linked(s, upload)
        report_id = report.id
    async with transaction(readonly=True) as s:
        balances = dict((await s.execute(select(DebtorAccount.account_code, DebtorAccount.total_balance).where(
            DebtorAccount.org_id == org.id, DebtorAccount.latest_report_id == report_id,
            DebtorAccount.settled_at.is_(None)))).all())
    assert balances == {code: Decimal(3 * n) for n, code in enumerate(codes, 1)}
