"""Issue 21: every corpus layout, uploaded through its face, is stored exactly.

Spreadsheets go through `POST /api/uploads` (the AAMA face, a user's JWT) and the import job;
PDFs through the pharmacy upload. Then what was stored is read back: the upload's detail (report
date, skipped lines per reason, warnings and the total check, record counts), the report's
accounts through the API, and the tables themselves (debtor_snapshots, debtor_accounts,
debtor_row_errors): every account's code, name, buckets, total, phone and second phone, and
nothing else. Each test has its own database, so a fresh organisation per layout."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from arrears.db import transaction
from arrears.debtors.book import local_today, zone_of
from arrears.debtors.models import DebtorAccount, DebtorReport, DebtorRowError, DebtorSnapshot
from tests.corpus import pdfs, spreadsheets
from tests.corpus.model import Expected, Layout
from tests.faces.age_analysis.helpers import import_file
from tests.fixtures import cheap_password_hashing  # noqa: F401

FIVE = ("current", "d30", "d60", "d90", "d120")
# What one stored account is compared on: code, name, non-zero buckets, total, phone, second phone.
Stored = tuple[str, str, dict[str, Decimal], Decimal, str | None, str | None]


def _money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _nonzero(buckets: dict[str, Any]) -> dict[str, Decimal]:
    return {name: _money(amount) for name, amount in buckets.items() if _money(amount)}


def _expected(account: Expected) -> Stored:
    return (account.code, account.name, _nonzero(account.buckets), account.total, account.phone, account.phone2)


def _sheet_snapshot(snap: DebtorSnapshot) -> Stored:
    """A spreadsheet's snapshot as the corpus writes its accounts: d120 is 120 days and older, the
    older columns (d150, d180, …) are kept beside it in `extra_buckets`."""
    buckets = {name: getattr(snap, name) for name in FIVE}
    buckets.update({f"d{days}": amount for days, amount in (snap.extra_buckets or {}).items()})
    return snap.account_code, snap.customer_name, _nonzero(buckets), snap.total_balance, snap.telephone, \
        snap.telephone2


def _pdf_row(row: Any) -> Stored:
    """A PDF report's snapshot or account as the corpus writes its debtors: each bucket alone (the
    book's d120 holds d150 and d180 too)."""
    buckets = {"current": row.current, "d30": row.d30, "d60": row.d60, "d90": row.d90,
               "d120": row.d120 - row.d150 - row.d180, "d150": row.d150, "d180": row.d180}
    return row.account_code, row.customer_name, _nonzero(buckets), row.total_balance, row.telephone, row.telephone2


def _book_account(account: DebtorAccount) -> Stored:
    buckets = {name: getattr(account, name) for name in (*FIVE, "d150", "d180")}
    return account.account_code, account.customer_name, _nonzero(buckets), account.total_balance, \
        account.telephone, account.telephone2


def _in_book(account: Expected) -> Stored:
    """A spreadsheet's account as the book keeps it: the five AAMA brackets (the corpus's d120 is
    already 120 days and older) and the 150- and 180-day split beside them."""
    buckets = {name: account.bucket(name) for name in (*FIVE, "d150", "d180")}
    return account.code, account.name, _nonzero(buckets), account.total, account.phone, account.phone2


async def _stored(org_id: int) -> tuple[DebtorReport, list[DebtorSnapshot], list[DebtorAccount], int, int]:
    """The organisation's one report, its snapshots in file order, the book's accounts, and how many
    row errors and snapshots the whole database holds."""
    async with transaction(readonly=True) as s:
        (report,) = (await s.scalars(select(DebtorReport).where(DebtorReport.org_id == org_id))).all()
        snaps = list((await s.scalars(select(DebtorSnapshot).where(DebtorSnapshot.report_id == report.id)
                                      .order_by(DebtorSnapshot.sheet_row))).all())
        accounts = list((await s.scalars(select(DebtorAccount).where(DebtorAccount.org_id == org_id)
                                         .order_by(DebtorAccount.account_code))).all())
        errors = await s.scalar(select(func.count()).select_from(DebtorRowError)) or 0
        all_snaps = await s.scalar(select(func.count()).select_from(DebtorSnapshot)) or 0
    return report, snaps, accounts, errors, all_snaps


def _check_report(layout: Layout, detail: dict[str, Any], report: DebtorReport) -> None:
    """The upload's own figures: skipped lines per reason, the report's date and where it came
    from, the warnings with the total check said once, and both in the progress message."""
    skipped = {reason: count for reason, count in layout.skipped.items() if count}
    assert detail["skipped_reasons"] == skipped
    assert detail["skipped_rows"] == sum(skipped.values())
    today = local_today(zone_of(None))  # no date in the file: the upload's, in Johannesburg
    assert detail["report_date"] == (layout.report_date or today).isoformat()
    assert report.report_date_source == ("file" if layout.report_date else "upload")
    message = report.progress_message or ""
    if skipped:
        assert f"{sum(skipped.values())} lines skipped (" in message, message
    warnings = detail["warnings"]
    assert len(set(warnings)) == len(warnings), warnings
    for text in layout.warnings:
        assert any(text in w for w in warnings), (text, warnings)
    checks = [w for w in warnings if "report's total" in w]
    if layout.printed_total is None:
        assert checks == [], warnings
    else:
        assert len(checks) == 1, warnings  # said once, in one wording
        off = any("difference" in text for text in layout.warnings)
        assert ("difference" in checks[0]) is off and ("matches the report's total" in checks[0]) is not off
        assert checks[0] in message, message


@pytest.mark.parametrize("layout", spreadsheets.LAYOUTS, ids=[item.name for item in spreadsheets.LAYOUTS])
async def test_a_spreadsheet_layout_is_stored_exactly(client: httpx.AsyncClient, world: Any, tmp_path: Path,
                                                      layout: Layout) -> None:
    org = await world.org(f"Corpus {layout.name}")
    headers = await world.login_headers(client, org.id, role="manager")
    upload_id = await import_file(client, headers, layout.build(tmp_path))

    r = await client.get(f"/api/uploads/{upload_id}", headers=headers)
    detail = r.json()
    assert detail["status"] == "completed", detail
    assert detail["records_processed"] == len(layout.accounts) and detail["records_failed"] == 0
    report, snaps, accounts, errors, all_snaps = await _stored(org.id)
    _check_report(layout, detail, report)

    want = [_expected(account) for account in layout.accounts]
    assert [_sheet_snapshot(snap) for snap in snaps] == want
    assert errors == 0 and all_snaps == len(want)
    # The book: each account once, with the report's balances.
    assert [_book_account(a) for a in accounts] == sorted((_in_book(a) for a in layout.accounts), key=lambda a: a[0])
    assert all(a.latest_report_id == report.id and a.settled_at is None for a in accounts)

    # The AAMA's own view of the accounts: the same codes, names, brackets, totals and phones.
    r = await client.get(f"/api/uploads/{upload_id}/accounts", headers=headers, params={"per_page": 100})
    page = r.json()
    assert page["total"] == len(want)
    shown = sorted((a["account_code"], a["customer_name"],
                    _nonzero({n: a[f"amount_{n[1:]}d" if n != "current" else "amount_current"] for n in FIVE}),
                    _money(a["total_balance"]), a["telephone"]) for a in page["accounts"])
    assert shown == sorted((a.code, a.name, _nonzero({n: a.bucket(n) for n in FIVE}), a.total, a.phone)
                           for a in layout.accounts)


@pytest.mark.parametrize("layout", pdfs.LAYOUTS, ids=[item.name for item in pdfs.LAYOUTS])
async def test_a_pdf_layout_is_stored_exactly(client: httpx.AsyncClient, world: Any, tmp_path: Path,
                                              layout: Layout) -> None:
    org = await world.org(f"Corpus {layout.name}", kind="pharmacy")
    headers = await world.login_headers(client, org.id, role="manager")
    path = layout.build(tmp_path)
    r = await client.post(f"/pharmacies/{org.id}/debtors/upload", headers=headers,
                          files={"file": (path.name, path.read_bytes(), "application/pdf")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert "issues" not in body and body["settled"] == 0
    report, snaps, accounts, errors, all_snaps = await _stored(org.id)
    _check_report(layout, body, report)

    want = [_expected(account) for account in layout.accounts]
    assert report.id == body["report_id"] and report.success_rows == len(want) and report.failed_rows == 0
    assert [_pdf_row(snap) for snap in snaps] == want
    assert errors == 0 and all_snaps == len(want)
    assert [_pdf_row(a) for a in accounts] == sorted(want, key=lambda a: a[0])
    assert all(a.latest_report_id == report.id and a.settled_at is None for a in accounts)
    emails = {a.account_code: a.email for a in accounts}
    assert emails == {account.code: account.email for account in layout.accounts}

    # The pharmacy face's debtors: each bucket alone, in the report's order.
    shown = [(d["acc_no"], d["name"], _nonzero({b: d[b] for b in pdfs.BUCKETS}), _money(d["balance"]))
             for d in body["debtors"]]
    assert shown == [w[:4] for w in want]
