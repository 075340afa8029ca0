"""`arrears import --report-date --partial` (issue 21): the date and the partial flag reach the report,
a date in the future is refused before anything is stored, and a whole-book import settles what
it does not list while a partial one leaves it."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from arrears.db import transaction
from arrears.debtors.models import DebtorAccount, DebtorReport
from tests.faces.age_analysis.helpers import HEADER, write_book
from tests.inprocess_cli import arrears


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return arrears("import", *args)  # in-process (tests/inprocess_cli.py); called in a thread


async def _accounts(org_id: int) -> dict[str, DebtorAccount]:
    async with transaction(readonly=True) as s:
        return {a.account_code: a for a in (await s.scalars(
            select(DebtorAccount).where(DebtorAccount.org_id == org_id))).all()}


async def test_report_date_and_partial_on_the_command_line(env, world, tmp_path: Path) -> None:
    org = await world.org("CLI Org")
    first_day, second_day = date.today() - timedelta(days=10), date.today() - timedelta(days=2)
    both = write_book(tmp_path / "both.csv", [HEADER, ["C1", "One", None, None, 10, 0, 0, 0, 0, 10],
                                              ["C2", "Two", None, None, 20, 0, 0, 0, 0, 20]])
    one = write_book(tmp_path / "one.csv", [HEADER, ["C1", "One", None, None, 15, 0, 0, 0, 0, 15]])

    out = await asyncio.to_thread(_cli, str(both), "--org", str(org.id), "--report-date", first_day.isoformat(),
                                  "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["report_date"] == first_day.isoformat() and result["report_date_source"] == "form"
    assert result["partial"] is False and result["skipped_rows"] == 0 and result["warnings"] == []

    out = await asyncio.to_thread(_cli, str(one), "--org", str(org.id), "--report-date", second_day.isoformat(),
                                  "--partial")
    assert out.returncode == 0, out.stderr
    assert f"report date {second_day.isoformat()} (form); partial" in " ".join(out.stderr.split())
    book = await _accounts(org.id)
    assert book["C1"].total_balance == Decimal("15.00") and book["C2"].total_balance == Decimal("20.00")
    assert book["C2"].settled_at is None  # a partial report leaves it

    future = (date.today() + timedelta(days=3)).isoformat()
    async with transaction(readonly=True) as s:
        before = await s.scalar(select(func.count()).select_from(DebtorReport))
    out = await asyncio.to_thread(_cli, str(one), "--org", str(org.id), "--report-date", future)
    assert out.returncode != 0 and "future" in " ".join(out.stderr.split())
    async with transaction(readonly=True) as s:
        assert await s.scalar(select(func.count()).select_from(DebtorReport)) == before

    out = await asyncio.to_thread(_cli, str(one), "--org", str(org.id), "--report-date", date.today().isoformat())
    assert out.returncode == 0, out.stderr
    book = await _accounts(org.id)
    assert book["C2"].settled_at is not None and book["C2"].total_balance == 0  # a whole book without C2
