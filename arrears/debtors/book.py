"""One book per organisation, whatever brought the report (a spreadsheet import, a PDF report):
which report is the newest, what a report means for the accounts it does not list, and the
book's figures every page shows.

- "Newest" is by report date (the as-at date), then upload time: an older report stored after a
  newer one never overwrites the newer balances (the book's upsert compares both).
- A whole-book report (the default) settles the accounts it does not list: balances zero, settled,
  kept with their history. An account whose row it printed but could not vouch for (a row error
  naming its code) is not settled. A partial report leaves unlisted accounts as they were.
- The book is the accounts some report listed and none has settled since; medical-aid control
  accounts are left out of its figures (as the pharmacy's statistics).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, Date, and_, bindparam, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.db import UTCDateTime, utcnow
from arrears.debtors.models import DebtorAccount, DebtorReport
from arrears.debtors.report_date import find_report_date
from arrears.errors import ValidationFailed

DEFAULT_TZ = "Africa/Johannesburg"
CENT = Decimal("0.01")
A = DebtorAccount
R = DebtorReport


# ------------------------------------------------------------------ the report's date


def zone_of(org: Any) -> ZoneInfo:
    """The organisation's time zone (its `timezone` setting; Johannesburg when unset or wrong)."""
    from arrears.identity.service import org_setting

    name = org_setting(org, "timezone") if org is not None else None
    try:
        return ZoneInfo(name if isinstance(name, str) and name else DEFAULT_TZ)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TZ)


def local_today(zone: ZoneInfo, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(zone).date()


def parse_report_date(value: str | None, *, today: date) -> date | None:
    """A `report_date` form field (YYYY-MM-DD), or None when not given. Not a date, or a date
    after `today` (the organisation's), is a 400 naming the field."""
    if value is None or not value.strip():
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        problem = "Must be a date written YYYY-MM-DD."
    else:
        if day <= today:
            return day
        problem = f"Must not be after today ({today.isoformat()}): a report cannot be dated in the future."
    raise ValidationFailed(f"report_date: {problem}", field_errors={"report_date": [problem]},
                           details={"report_date": [problem]})


def parse_flag(value: str | None, name: str) -> bool:
    """A true/false form field (absent or empty: false)."""
    lowered = (value or "").strip().lower()
    if lowered in ("", "0", "false", "no", "off"):
        return False
    if lowered in ("1", "true", "yes", "on"):
        return True
    raise ValidationFailed(f"{name} must be true or false", field_errors={name: ["Must be true or false."]},
                           details={name: ["Must be true or false."]})


def date_report(report: DebtorReport, title_lines: Any, zone: ZoneInfo, *, now: datetime | None = None) -> None:
    """Give the report its date unless the upload gave one: from the file's title lines or name,
    else the upload's day in the organisation's time zone."""
    if report.report_date is not None:
        report.report_date_source = report.report_date_source or "form"
        return
    lines = [str(line) for line in (title_lines or [])]
    found = find_report_date(lines, report.original_filename or "", today=local_today(zone, now))
    if found is not None:
        report.report_date, report.report_date_source = found, "file"
    else:
        uploaded = report.created_at or now or utcnow()
        report.report_date, report.report_date_source = uploaded.astimezone(zone).date(), "upload"


def preview_date(given: date | None, title_lines: Any, filename: str, zone: ZoneInfo) -> tuple[date, str]:
    """The date a preview shows: the one given, else as date_report would find it (source beside)."""
    report = DebtorReport(original_filename=filename, report_date=given, report_date_source="form" if given else None)
    date_report(report, title_lines, zone)
    assert report.report_date is not None and report.report_date_source is not None
    return report.report_date, report.report_date_source


def newest_first() -> list[Any]:
    """Reports newest first: by report date, then upload time (undated ones, still waiting for
    their import, last)."""
    return [R.report_date.desc().nulls_last(), R.created_at.desc(), R.id.desc()]


# ------------------------------------------------------------------ what the reader says besides the rows


def skipped_counts(value: Any) -> dict[str, int]:
    """The reader's skipped lines per reason ({"title": 2, "total": 5, …}); anything else: none."""
    if isinstance(value, Mapping):
        return {str(k): int(v) for k, v in value.items() if isinstance(v, int) and v > 0}
    return {}


def total_check(stored: Decimal, printed: Any) -> str | None:
    """Whether the stored accounts add up to the total printed on the report (None: it prints none)."""
    if printed is None:
        return None
    try:
        expected = Decimal(str(printed)).quantize(CENT)
    except ArithmeticError:
        return None
    stored = stored.quantize(CENT)
    if stored == expected:
        return f"The accounts add up to {expected:,.2f}: matches the report's total."
    return (f"The accounts add up to {stored:,.2f} but the report's total is {expected:,.2f} "
            f"(difference {abs(expected - stored):,.2f}).")


def note_reading(report: DebtorReport, result: Any, header: Any = None) -> str:
    """Store the skipped lines and warnings the reader gives (`skipped`, `printed_total`, `warnings`
    on its result or its header), check the total, and return what the progress message adds."""

    def attr(name: str) -> Any:
        for source in (result, header):
            value = getattr(source, name, None) if source is not None else None
            if value is not None:
                return value
        return None

    skipped = skipped_counts(attr("skipped"))
    warnings = [str(w) for w in (attr("warnings") or [])]
    stored = Decimal(str((report.totals or {}).get("total_balance", "0")))
    check = total_check(stored, attr("printed_total"))
    if check is not None:
        # The readers check the total over what they read, each in its own words; the check over
        # what was stored replaces theirs, so that the upload says it once.
        warnings = [w for w in warnings if "report's total" not in w] + [check]
    report.skipped_rows = sum(skipped.values())
    report.skipped_reasons = skipped or None
    report.warnings = warnings or None
    parts = []
    if skipped:
        reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(skipped.items()))
        parts.append(f"{report.skipped_rows} lines skipped ({reasons})")
    if check is not None:
        parts.append(check)
    return "; ".join(parts)


# ------------------------------------------------------------------ one book


def in_book(org_id: int) -> ColumnElement[bool]:
    """The organisation's current accounts: listed by a report, not settled since."""
    return and_(A.org_id == org_id, A.latest_report_id.is_not(None), A.settled_at.is_(None))


# One pass over the organisation's accounts (`latest_report_id` has no index since migration 0029:
# the book's monthly update then writes no index entry; at 200,000 accounts this pass costs a
# twentieth of a second, the index cost the update over a second).
_SETTLE = """
UPDATE debtor_accounts SET current = 0, d30 = 0, d60 = 0, d90 = 0, d120 = 0, d150 = 0, d180 = 0,
    total_balance = 0, overdue_amount = 0, settled_at = :now, settled_by_report_id = :rid, updated_at = :now
WHERE org_id = :org AND settled_at IS NULL AND latest_report_id <> :rid
  AND (latest_report_date IS NULL OR latest_report_date < :day
       OR (latest_report_date = :day AND latest_report_at < :at))
  AND NOT EXISTS (SELECT 1 FROM debtor_snapshots s WHERE s.org_id = :org AND s.account_code = debtor_accounts.account_code
                  AND s.report_id = :rid)
  AND account_code NOT IN (SELECT e.account_code FROM debtor_row_errors e
                           WHERE e.report_id = :rid AND e.account_code IS NOT NULL)
"""


async def settle_unlisted(session: AsyncSession, report: DebtorReport) -> int:
    """After a report's accounts are in the book: settle what the newest whole-book report (this
    one, or a newer one stored first) does not list. A settled account keeps the report its last
    balances came from (latest_report_id/date/at) and notes the one that settled it; an older
    report stored late that lists it again writes it (older than that report's balances), and is
    settled again here by the newer whole-book report. Returns how many this report settled."""
    assert report.report_date is not None
    newest = await session.scalar(
        select(R).where(R.org_id == report.org_id, R.status == "completed", R.partial.is_(False),
                        R.report_date.is_not(None),
                        or_(R.id == report.id, R.report_date > report.report_date,
                            and_(R.report_date == report.report_date, R.created_at > report.created_at)))
        .order_by(*newest_first()).limit(1))
    if newest is None or (newest.id == report.id and report.partial):
        return 0
    statement = text(_SETTLE).bindparams(bindparam("now", type_=UTCDateTime), bindparam("at", type_=UTCDateTime),
                                         bindparam("day", type_=Date))
    result = await session.execute(statement, {"now": utcnow(), "rid": newest.id, "day": newest.report_date,
                                               "at": newest.created_at, "org": report.org_id})
    settled = max(int(getattr(result, "rowcount", 0) or 0), 0)
    return settled if newest.id == report.id else 0


async def copy_second_phones(session: AsyncSession, report_id: int, phones: list[tuple[int, str]]) -> None:
    """Second phone numbers of a report's accounts ((sheet row, number)): onto its snapshots, then
    onto the accounts whose balances it gave."""
    if phones:
        await session.execute(text("UPDATE debtor_snapshots SET telephone2 = :phone "
                                   "WHERE report_id = :rid AND sheet_row = :row"),
                              [{"rid": report_id, "row": row, "phone": phone[:32]} for row, phone in phones])


# Driven from the report's few second numbers (materialised first): planned as a join, a fresh
# book's statistics (none yet for its 200,000 accounts) had PostgreSQL probe the snapshots once
# per account, a second and a half for a report without a single second number.
_ACCOUNT_PHONES = """
WITH p AS MATERIALIZED (
    SELECT s.org_id, s.account_code, s.telephone2 FROM debtor_snapshots s
    WHERE s.report_id = :rid AND s.telephone2 IS NOT NULL)
UPDATE debtor_accounts SET telephone2 = p.telephone2
FROM p
WHERE debtor_accounts.org_id = p.org_id AND debtor_accounts.account_code = p.account_code
  AND debtor_accounts.latest_report_id = :rid
"""


async def link_second_phones(session: AsyncSession, report_id: int) -> None:
    """The accounts a report gave their balances keep its second numbers (an account it did not
    write, because a newer report had, keeps the newer one's)."""
    await session.execute(text(_ACCOUNT_PHONES), {"rid": report_id})


async def reconcile(session: AsyncSession, report: DebtorReport, *, fresh: bool = False) -> int:
    """What follows a report's upsert into the book: second numbers, then unlisted accounts.
    Nothing for a fresh book numbered in advance (`fresh`, arrears.debtors.bulk): its accounts were
    inserted with their second numbers, and the book has no other account to settle."""
    if fresh:
        return 0
    await link_second_phones(session, report.id)
    return await settle_unlisted(session, report)


# ------------------------------------------------------------------ figures


async def figures(session: AsyncSession, org_id: int) -> dict[str, Any]:
    """The book's totals: accounts, balance, overdue and the five AAMA brackets (d120 = 120+)."""
    where = [in_book(org_id), A.is_medical_aid_control.is_(False)]
    money = [func.coalesce(func.sum(c), 0) for c in (A.total_balance, A.overdue_amount, A.current, A.d30, A.d60,
                                                      A.d90, A.d120)]
    row = (await session.execute(select(func.count(A.id), *money,
                                        func.count(A.id).filter(A.overdue_amount > 0)).where(*where))).one()

    def cents(value: Any) -> Decimal:
        return Decimal(str(value)).quantize(CENT)

    return {"total_accounts": int(row[0]), "total_balance": cents(row[1]), "overdue_balance": cents(row[2]),
            "buckets": {k: cents(v) for k, v in zip(("current", "d30", "d60", "d90", "d120"), row[3:8], strict=True)},
            "overdue_accounts": int(row[8])}


__all__ = ["date_report", "figures", "in_book", "local_today", "newest_first", "note_reading", "parse_flag",
           "parse_report_date", "reconcile", "settle_unlisted", "skipped_counts", "total_check", "zone_of"]
