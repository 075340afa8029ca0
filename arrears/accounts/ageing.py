"""Days past due, as pure functions (no database): a loan's from its level monthly schedule, a
book account's from its report's date and its oldest non-zero bucket."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
# A book account's overdue buckets, oldest first, with the age (in days) each one starts at.
BOOK_BUCKETS = (("d180", 180), ("d150", 150), ("d120", 120), ("d90", 90), ("d60", 60), ("d30", 30))


def add_months(start: date, months: int) -> date:
    """The same day `months` later, or that month's last day when it is shorter (31 Jan + 1 month
    is 28 or 29 Feb; + 2 months is 31 Mar again: always counted from `start`, never chained)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Instalment:
    number: int
    due: date
    amount: Decimal


def level_schedule(principal: Decimal, tenure_months: int, loan_date: date) -> list[Instalment]:
    """`tenure_months` equal monthly instalments of the principal (no interest), the first one a
    month after `loan_date`; the last one takes the rounding so that they sum to the principal."""
    if tenure_months < 1:
        return []
    each = (principal / tenure_months).quantize(CENT, rounding=ROUND_HALF_UP)
    out = [Instalment(i, add_months(loan_date, i), each) for i in range(1, tenure_months)]
    out.append(Instalment(tenure_months, add_months(loan_date, tenure_months), principal - each * (tenure_months - 1)))
    return out


def oldest_unpaid(schedule: list[Instalment], paid: Decimal) -> Instalment | None:
    """The first instalment that `paid` (filling instalments in date order) does not cover."""
    covered = paid
    for item in schedule:
        if covered >= item.amount:
            covered -= item.amount
            continue
        return item
    return None


def loan_days_past_due(principal: Decimal, tenure_months: int, loan_date: date, paid: Decimal,
                       today: date) -> int:
    """Days since the oldest unpaid instalment fell due (0 when none is unpaid or it is not due yet:
    an instalment due today is not yet past due)."""
    item = oldest_unpaid(level_schedule(principal, tenure_months, loan_date), paid)
    if item is None or item.due >= today:
        return 0
    return (today - item.due).days


def book_days_past_due(buckets: Mapping[str, Decimal | None], report_date: date | None, today: date) -> int:
    """The age of the oldest non-zero bucket after current on the report's date, plus the days
    since that date (0 when nothing is overdue)."""
    for name, age in BOOK_BUCKETS:
        value = buckets.get(name)
        if value is not None and value > 0:
            since = (today - report_date).days if report_date is not None and today > report_date else 0
            return age + since
    return 0
