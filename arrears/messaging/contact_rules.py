"""When a debtor may be contacted, and how often.

Consumer Protection Act regulations (reg. 4): no direct marketing contact on Sundays or public
holidays; Saturdays only 09:00-13:00; other days 08:00-20:00 — all in the organisation's local
time. The end of each window is exclusive: 20:00:00 itself is too late.

Public holidays come from `holidays` (South Africa by default), which includes the Monday
observed when a holiday falls on a Sunday and ad-hoc days such as election days.

Datetimes in and out are UTC. A naive datetime is read as UTC, because that is how the database
hands UTC columns back on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

DEFAULT_TZ = "Africa/Johannesburg"
DEFAULT_COUNTRY = "ZA"
_SEARCH_DAYS = 400  # a little over a year: any sane configuration has a permitted day in it

Window = tuple[time, time]  # [start, end) in local time


def as_utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@lru_cache(maxsize=64)
def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r}: use an IANA name such as {DEFAULT_TZ}") from None


@lru_cache(maxsize=256)
def _holiday_dates(country: str, year: int) -> frozenset[date]:
    # A frozen copy per year: the holidays object grows itself on lookup, which is not thread-safe.
    return frozenset(holidays.country_holidays(country, years=year).keys())


def is_public_holiday(day: date, country: str = DEFAULT_COUNTRY) -> bool:
    return day in _holiday_dates(country, day.year)


@dataclass(frozen=True, slots=True)
class ContactHours:
    """Permitted contact hours for one organisation. enabled=False permits every instant."""

    enabled: bool = True
    tz: str = DEFAULT_TZ
    country: str = DEFAULT_COUNTRY
    weekdays: Window | None = (time(8, 0), time(20, 0))  # Monday to Friday
    saturday: Window | None = (time(9, 0), time(13, 0))
    sunday: Window | None = None
    public_holidays: Window | None = None  # wins over the weekday's window

    def __post_init__(self) -> None:
        _zone(self.tz)  # fail at configuration time, not at the first send
        for name in ("weekdays", "saturday", "sunday", "public_holidays"):
            window = getattr(self, name)
            if window is not None and not window[0] < window[1]:
                raise ValueError(f"contact hours for {name}: start {window[0]} must be before end {window[1]}")

    def window_for(self, day: date) -> Window | None:
        if is_public_holiday(day, self.country):
            return self.public_holidays
        weekday = day.weekday()
        if weekday == 6:
            return self.sunday
        if weekday == 5:
            return self.saturday
        return self.weekdays

    def _bounds(self, day: date, window: Window) -> tuple[datetime, datetime]:
        zone = _zone(self.tz)
        # zoneinfo resolves a local time in a DST gap or overlap by fold=0; fine for day windows.
        start = datetime.combine(day, window[0], tzinfo=zone).astimezone(UTC)
        end = datetime.combine(day, window[1], tzinfo=zone).astimezone(UTC)
        return start, end

    def is_permitted(self, at_utc: datetime) -> bool:
        if not self.enabled:
            return True
        at = as_utc(at_utc)
        day = at.astimezone(_zone(self.tz)).date()
        window = self.window_for(day)
        if window is None:
            return False
        start, end = self._bounds(day, window)
        return start <= at < end

    def next_permitted(self, at_utc: datetime) -> datetime:
        """The first permitted instant at or after at_utc (UTC): at_utc itself when permitted,
        otherwise the opening of the next permitted window."""
        at = as_utc(at_utc)
        if not self.enabled:
            return at
        day = at.astimezone(_zone(self.tz)).date()
        for offset in range(_SEARCH_DAYS):
            current = day + timedelta(days=offset)
            window = self.window_for(current)
            if window is None:
                continue
            start, end = self._bounds(current, window)
            if at < end:
                return max(at, start)
        raise ValueError(f"no permitted contact time within {_SEARCH_DAYS} days of {at.isoformat()}: "
                         "check the contact hours configuration")


def is_permitted(at_utc: datetime, tz: str = DEFAULT_TZ) -> bool:
    """CPA hours with the defaults, in time zone tz."""
    return ContactHours(tz=tz).is_permitted(at_utc)


def next_permitted(at_utc: datetime, tz: str = DEFAULT_TZ) -> datetime:
    """The next permitted instant (UTC) under the CPA defaults in tz; at_utc itself if permitted."""
    return ContactHours(tz=tz).next_permitted(at_utc)


def cap_allows(last_sent_at_list: Iterable[datetime], now: datetime, per_window: int = 1,
               window: timedelta = timedelta(hours=24)) -> bool:
    """True when fewer than per_window messages went to this customer in the window ending now.
    A send stamped after now (clock skew between workers) still counts: better one late message
    than two in a day."""
    if per_window < 0:
        raise ValueError("per_window must be zero or more")
    if window <= timedelta(0):
        raise ValueError("window must be a positive duration")
    since = as_utc(now) - window
    recent = sum(1 for sent in last_sent_at_list if as_utc(sent) > since)
    return recent < per_window
