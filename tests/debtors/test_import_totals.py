"""The figures an import gathers while it stores its rows (TotalsAccumulator) are the figures SQL
computes from the stored rows (compute_totals), on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from arrears.db import transaction
from arrears.debtors import summary
from arrears.debtors.imports import find_report
from arrears.debtors.models import DebtorSnapshot
from arrears.debtors.summary import TotalsAccumulator
from tests.faces.age_analysis.conftest import member  # noqa: F401
from tests.faces.age_analysis.helpers import HEADER, import_file, write_book
from tests.fixtures import cheap_password_hashing  # noqa: F401


@pytest.fixture
async def officer(client, world):
    org = await world.org("Totals Org")
    return org, await member(client, world, org.id, "manager")


def _book(rows: int, seed: int, older: bool) -> list[list]:
    rng = random.Random(seed)
    header = [*HEADER[:9], "150 Days", "180+", HEADER[9]] if older else list(HEADER)
    book: list[list] = [header]
    for i in range(rows):
        buckets = [rng.choice([0, 0, round(rng.uniform(-500, 3000), 2), rng.randrange(1, 9) * 100.0])
                   for _ in range(7 if older else 5)]
        total = round(sum(buckets), 2)
        book.append([f"T{i:04d}", f"Name {i}", "", "0821234567", *buckets, total])
    book.append([None, "Grand Total", None, None, *([None] * (7 if older else 5)), 1.0])
    book.append(["T0000", "Again", None, None, *([0] * (7 if older else 5)), 0])  # a duplicate: not counted
    return book


async def _both(upload_id: str) -> tuple[dict, dict]:
    async with transaction(readonly=True) as s:
        report = await find_report(s, upload_id)
        assert report is not None and report.status == "completed", report and report.error_message
        return report.totals, await summary.compute_totals(s, report.id)


@pytest.mark.parametrize(("rows", "older"), [(1, False), (2, False), (257, False), (120, True)])
async def test_the_import_keeps_the_figures_sql_computes(client, officer, tmp_path: Path, rows: int, older: bool):
    org, who = officer
    upload = await import_file(client, who.headers, write_book(tmp_path / "book.xlsx", _book(rows, rows, older)))
    kept, computed = await _both(upload)
    top_rows = kept.pop("top_rows")
    assert kept == computed
    assert kept["accounts"] == rows
    # The top accounts the import picked are the ones SQL ranks (ties broken the same way).
    async with transaction(readonly=True) as s:
        report = await find_report(s, upload)
        assert report is not None
        ranked = await summary.top_accounts(s, report.id)
        assert await summary.top_accounts(s, report.id, top_rows=top_rows) == ranked
        assert len(top_rows) == len(ranked) == min(10, kept["overdue_accounts"])
    async with transaction(readonly=True) as s:  # each stored overdue amount, from its buckets
        report = await find_report(s, upload)
        stored = (await s.scalars(select(DebtorSnapshot).where(DebtorSnapshot.report_id == report.id))).all()
    assert len(stored) == rows
    for snap in stored:
        assert snap.overdue_amount == max(snap.d30 + snap.d60 + snap.d90 + snap.d120, Decimal("0"))
        assert abs(snap.total_balance - (snap.current + snap.d30 + snap.d60 + snap.d90 + snap.d120)) <= Decimal("0.01")


def test_an_empty_accumulator() -> None:
    figures = TotalsAccumulator().figures()
    assert figures["accounts"] == 0 and figures["median_balance"] == "0.00"
    assert figures["smallest_balance"] == figures["largest_balance"] == "0.00"


def test_the_median_of_an_even_count_is_rounded_half_up() -> None:
    totals = TotalsAccumulator()
    totals.add([[0, 0]] * 5 + [[101, 100]], [0, 0], [2, 3])
    assert totals.figures()["median_balance"] == "1.01"  # (1.00 + 1.01) / 2 = 1.005 -> 1.01
    assert Decimal(totals.figures()["total_balance"]) == Decimal("2.01")


def test_large_amounts_are_summed_exactly() -> None:
    totals = TotalsAccumulator()
    totals.add([[0] * 3] * 5 + [[99999999999999, 1, 12345678901234]], [0] * 3, [2, 3, 4])
    assert totals.figures()["total_balance"] == "1123456789012.34"
