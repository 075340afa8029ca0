"""Collection-date arithmetic for premium policies (pure: no database, no clock).

A policy is collected every 1 (monthly), 3 (quarterly) or 12 (annually) months on its
*anchor day* (1-31): the day of the month the client chose. These are the frequencies of the
premium spec's ``frequency`` enum; it has no weekly frequency, so neither does this module.

Month ends: the collection falls on ``min(anchor_day, last day of the month)``. The anchor day is
kept with the policy, never derived from the previous collection, so a policy anchored on the
31st is collected on 30 April and 28/29 February and returns to the 31st in May and March, and a
policy anchored on 29 February is collected on 28 February in non-leap years and on 29 February
again in the next leap year. Stepping from the anchor (not from the last date) means dates never
drift towards the start of the month.

Business days (weekends, public holidays) are not handled here: the debit-order run decides the
ACB action date for a due collection.
"""

from __future__ import annotations

import calendar
import enum
from datetime import date

from arrears.errors import ValidationFailed
from arrears.premiums.errors import PremiumErrorCode


class ScheduleError(ValidationFailed, ValueError):
    code = PremiumErrorCode.INVALID_SCHEDULE


class Frequency(enum.StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUALLY = "annually"

    @property
    def months(self) -> int:
        return _MONTHS[self]


_MONTHS: dict[Frequency, int] = {Frequency.MONTHLY: 1, Frequency.QUARTERLY: 3, Frequency.ANNUALLY: 12}


def parse_frequency(value: Frequency | str) -> Frequency:
    if isinstance(value, Frequency):
        return value
    if isinstance(value, str):
        try:
            return Frequency(value.strip().lower())
        except ValueError:
            pass
    allowed = ", ".join(f.value for f in Frequency)
    raise ScheduleError(f"invalid frequency {value!r}: expected one of {allowed}")


def _check_anchor(anchor_day: int) -> int:
    if isinstance(anchor_day, bool) or not isinstance(anchor_day, int) or not 1 <= anchor_day <= 31:
        raise ScheduleError(f"anchor day must be an integer from 1 to 31, got {anchor_day!r}")
    return anchor_day


def collection_date_in_month(year: int, month: int, anchor_day: int) -> date:
    """The collection date in (year, month): the anchor day, or the month's last day if shorter."""
    _check_anchor(anchor_day)
    return date(year, month, min(anchor_day, calendar.monthrange(year, month)[1]))


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def next_collection_date(current: date, frequency: Frequency | str, anchor_day: int) -> date:
    """The collection after ``current``: one period later, on the anchor day clamped to month end.

    ``current`` is the collection date just made (or skipped); only its year and month are used,
    the day comes from ``anchor_day``. Examples (anchor 31, monthly): 31 Jan 2024 -> 29 Feb 2024
    -> 31 Mar 2024 -> 30 Apr 2024.
    """
    freq = parse_frequency(frequency)
    _check_anchor(anchor_day)
    year, month = _add_months(current.year, current.month, freq.months)
    return collection_date_in_month(year, month, anchor_day)


def first_collection_date(on_or_after: date, anchor_day: int) -> date:
    """The earliest anchor-day collection date on or after ``on_or_after`` (this month or next)."""
    candidate = collection_date_in_month(on_or_after.year, on_or_after.month, anchor_day)
    if candidate >= on_or_after:
        return candidate
    year, month = _add_months(on_or_after.year, on_or_after.month, 1)
    return collection_date_in_month(year, month, anchor_day)


def collection_dates(first: date, frequency: Frequency | str, anchor_day: int, count: int) -> list[date]:
    """``count`` collection dates starting with ``first`` (which is included as given)."""
    if count < 0:
        raise ScheduleError("count cannot be negative")
    dates: list[date] = []
    current = first
    for _ in range(count):
        dates.append(current)
        current = next_collection_date(current, frequency, anchor_day)
    return dates


def is_due(policy_next_date: date | None, action_date: date) -> bool:
    """A policy is due in a run with ``action_date`` when its next collection date is on or before it.

    Dates before the action date are included so a missed run is caught up by the next one; a
    policy with no next collection date (not scheduled) is never due.
    """
    if policy_next_date is None:
        return False
    return policy_next_date <= action_date
