"""The accounts list in overdue order reads the report's ranks (debtor_snapshot_ranks, written by
the book's job after the import) and answers exactly what ranking the accounts themselves gives:
same accounts, same order among ties, same totals, with the balance and overdue filters and on
every page; on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from pathlib import Path

from sqlalchemy import delete, func, select

from arrears.db import transaction
from arrears.debtors import summary
from arrears.debtors.imports import find_report
from arrears.debtors.models import DebtorSnapshotRank
from tests.faces.age_analysis.helpers import HEADER, import_file, write_book

QUERIES = [
    "sort=-overdue_amount", "sort=overdue_amount", "sort=-overdue_amount&min_balance=150",
    "sort=-overdue_amount&overdue_only=true", "sort=overdue_amount&overdue_only=true&min_balance=300",
]


def _book(rows: int) -> list[list]:
    rng = random.Random(rows)
    book: list[list] = [HEADER]
    for i in range(rows):
        # Few distinct amounts: many ties, which file order must break the same way on both paths.
        buckets = [rng.choice([0, 0, 100, 250.5, -40]) for _ in range(5)]
        book.append([f"R{i:03d}", f"Name {i}", "", "0821234567", *buckets, round(sum(buckets), 2)])
    return book


async def _pages(client, headers: dict[str, str], upload: str, query: str) -> list[tuple[int, list[str]]]:
    out = []
    for page in (1, 2, 3, 9):
        r = await client.get(f"/api/uploads/{upload}/accounts?{query}&page={page}&per_page=7", headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        out.append((body["total"], [a["id"] for a in body["accounts"]]))
    return out


async def test_ranked_pages_are_the_accounts_own_order(client, team, stranger, tmp_path: Path):
    h = team.officer.headers
    upload = await import_file(client, h, write_book(tmp_path / "ranked.xlsx", _book(40)))
    async with transaction(readonly=True) as s:
        report = await find_report(s, upload)
        assert report is not None
        ranks = await s.scalar(select(func.count()).select_from(DebtorSnapshotRank)
                               .where(DebtorSnapshotRank.report_id == report.id))
        assert ranks == 40  # the book's job ranked every account
        through_ranks = await summary.top_accounts(s, report.id)
    ranked = {q: await _pages(client, h, upload, q) for q in QUERIES}
    assert all(pages[0][1] for pages in ranked.values())

    async with transaction() as s:  # as before the book's job has run: the accounts ranked by SQL
        await s.execute(delete(DebtorSnapshotRank).where(DebtorSnapshotRank.report_id == report.id))
    for query in QUERIES:
        assert await _pages(client, h, upload, query) == ranked[query], query
    async with transaction(readonly=True) as s:
        assert await summary.top_accounts(s, report.id) == through_ranks

    # Another organisation's admin sees neither the upload nor its ranked accounts.
    r = await client.get(f"/api/uploads/{upload}/accounts?sort=-overdue_amount", headers=stranger.headers)
    assert r.status_code == 404
