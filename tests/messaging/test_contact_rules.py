from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.messaging.contact_rules import (
    ContactHours,
    cap_allows,
    is_permitted,
    is_public_holiday,
    next_permitted,
)

SAST = ZoneInfo("Africa/Johannesburg")
TZ = "Africa/Johannesburg"


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, tz: str = TZ) -> datetime:
    """A local wall-clock time, returned as the UTC instant the functions take."""
    return datetime(y, mo, d, h, mi, s, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def test_fixture_dates_are_the_weekdays_assumed() -> None:
    days = {"2026-05-05": "Tue", "2026-05-09": "Sat", "2026-05-10": "Sun", "2026-04-25": "Sat",
            "2026-04-27": "Mon", "2026-12-16": "Wed", "2026-04-02": "Thu", "2026-12-24": "Thu",
            "2026-08-10": "Mon"}
    for day, name in days.items():
        assert datetime.fromisoformat(day).strftime("%a") == name


@pytest.mark.parametrize(("at", "permitted"), [
    # Tuesday 2026-05-05: 08:00 to 20:00, end exclusive.
    (local(2026, 5, 5, 7, 59), False),
    (local(2026, 5, 5, 7, 59, 59), False),
    (local(2026, 5, 5, 8, 0), True),
    (local(2026, 5, 5, 12, 0), True),
    (local(2026, 5, 5, 19, 59, 59), True),
    (local(2026, 5, 5, 20, 0), False),
    (local(2026, 5, 5, 23, 30), False),
    # Saturday 2026-05-09: 09:00 to 13:00.
    (local(2026, 5, 9, 8, 59), False),
    (local(2026, 5, 9, 9, 0), True),
    (local(2026, 5, 9, 12, 59), True),
    (local(2026, 5, 9, 13, 0), False),
    (local(2026, 5, 9, 15, 0), False),
    # Sunday: never.
    (local(2026, 5, 10, 10, 0), False),
    (local(2026, 5, 10, 12, 0), False),
    # Public holidays: Freedom Day (a Monday), Day of Reconciliation, an observed Monday.
    (local(2026, 4, 27, 10, 0), False),
    (local(2026, 12, 16, 10, 0), False),
    (local(2026, 8, 10, 10, 0), False),  # Women's Day (9 Aug, a Sunday) observed
    (local(2026, 4, 28, 10, 0), True),
])
def test_is_permitted(at: datetime, permitted: bool) -> None:
    assert is_permitted(at, TZ) is permitted
    assert ContactHours().is_permitted(at) is permitted


def test_local_time_is_the_organisations() -> None:
    # 07:30 UTC is 09:30 in Johannesburg but 08:30 in London (BST) and 03:30 in New York.
    at = datetime(2026, 5, 5, 7, 30, tzinfo=UTC)
    assert is_permitted(at, "Africa/Johannesburg")
    assert is_permitted(at, "Europe/London")
    assert not is_permitted(at, "America/New_York")
    assert is_permitted(at)  # default zone is Johannesburg


def test_holidays_include_observed_mondays() -> None:
    from datetime import date
    assert is_public_holiday(date(2026, 4, 27))
    assert is_public_holiday(date(2026, 8, 10))
    assert is_public_holiday(date(2027, 12, 27))  # Day of Goodwill on a Sunday, observed Monday
    assert not is_public_holiday(date(2026, 4, 28))


@pytest.mark.parametrize(("at", "expected"), [
    # Already permitted: the same instant, to the microsecond.
    (local(2026, 5, 5, 10, 15, 7) + timedelta(microseconds=5), local(2026, 5, 5, 10, 15, 7) + timedelta(microseconds=5)),
    (local(2026, 5, 5, 8, 0), local(2026, 5, 5, 8, 0)),
    # Before opening: the opening.
    (local(2026, 5, 5, 7, 59, 30), local(2026, 5, 5, 8, 0)),
    (local(2026, 5, 5, 0, 0), local(2026, 5, 5, 8, 0)),
    # After closing: the next morning.
    (local(2026, 5, 5, 20, 0), local(2026, 5, 6, 8, 0)),
    # Friday evening: Saturday 09:00.
    (local(2026, 5, 8, 20, 0), local(2026, 5, 9, 9, 0)),
    # Saturday afternoon: Monday 08:00.
    (local(2026, 5, 9, 13, 0), local(2026, 5, 11, 8, 0)),
    # Sunday: Monday 08:00.
    (local(2026, 5, 10, 10, 0), local(2026, 5, 11, 8, 0)),
    # Saturday afternoon before Freedom Day (Monday 27 April): Tuesday 08:00.
    (local(2026, 4, 25, 13, 0), local(2026, 4, 28, 8, 0)),
    # Easter: Good Friday and Family Day are holidays, the Saturday between is an ordinary Saturday.
    (local(2026, 4, 2, 20, 0), local(2026, 4, 4, 9, 0)),
    (local(2026, 4, 4, 13, 0), local(2026, 4, 7, 8, 0)),
    # Christmas: Friday 25 and Saturday 26 (Day of Goodwill) are holidays, then Sunday.
    (local(2026, 12, 24, 20, 0), local(2026, 12, 28, 8, 0)),
    # On a holiday itself.
    (local(2026, 12, 16, 9, 0), local(2026, 12, 17, 8, 0)),
])
def test_next_permitted(at: datetime, expected: datetime) -> None:
    result = next_permitted(at, TZ)
    assert result == expected
    assert result.tzinfo is UTC


def test_next_permitted_across_a_dst_change() -> None:
    # London, Saturday 28 March 2026 14:00 GMT; clocks go forward on Sunday 29th.
    at = datetime(2026, 3, 28, 14, 0, tzinfo=UTC)
    result = next_permitted(at, "Europe/London")
    assert result == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)  # Monday 08:00 BST


def test_naive_datetimes_are_read_as_utc() -> None:
    assert next_permitted(datetime(2026, 5, 5, 4, 0)) == datetime(2026, 5, 5, 6, 0, tzinfo=UTC)
    assert is_permitted(datetime(2026, 5, 5, 6, 0))


def test_disabled_permits_everything() -> None:
    hours = ContactHours(enabled=False)
    sunday = local(2026, 5, 10, 3, 0)
    assert hours.is_permitted(sunday)
    assert hours.next_permitted(sunday) == sunday


def test_custom_hours() -> None:
    hours = ContactHours(weekdays=(time(9, 0), time(17, 0)), saturday=None)
    assert not hours.is_permitted(local(2026, 5, 5, 8, 30))
    assert hours.next_permitted(local(2026, 5, 8, 17, 0)) == local(2026, 5, 11, 9, 0)


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        ContactHours(tz="Mars/Olympus")
    with pytest.raises(ValueError, match="time zone"):
        is_permitted(local(2026, 5, 5, 10), "Nowhere")
    with pytest.raises(ValueError, match="before end"):
        ContactHours(weekdays=(time(20, 0), time(8, 0)))
    never = ContactHours(weekdays=None, saturday=None)
    with pytest.raises(ValueError, match="no permitted contact time"):
        never.next_permitted(local(2026, 5, 5, 10))


INSTANTS = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31),
                        timezones=st.just(UTC))


@settings(max_examples=300)
@given(at=INSTANTS)
def test_next_permitted_is_the_first_permitted_instant(at: datetime) -> None:
    result = next_permitted(at)
    assert result >= at
    assert is_permitted(result)
    if result > at:
        # Nothing permitted in between: just before is still closed, and so is the start.
        assert not is_permitted(at)
        assert not is_permitted(result - timedelta(microseconds=1))
        assert result.astimezone(SAST).time() in (time(8, 0), time(9, 0))


# --- per-customer cap ----------------------------------------------------------------------

NOW = datetime(2026, 5, 5, 10, 0, tzinfo=UTC)


def test_cap_allows() -> None:
    assert cap_allows([], NOW)
    assert not cap_allows([NOW - timedelta(hours=23, minutes=59)], NOW)
    assert cap_allows([NOW - timedelta(hours=24)], NOW)  # exactly a window ago has aged out
    assert cap_allows([NOW - timedelta(days=3)], NOW)
    assert cap_allows([NOW - timedelta(hours=1)], NOW, per_window=2)
    assert not cap_allows([NOW - timedelta(hours=1), NOW - timedelta(hours=2)], NOW, per_window=2)
    assert not cap_allows([NOW + timedelta(minutes=1)], NOW)  # a send from a clock ahead counts
    assert not cap_allows([], NOW, per_window=0)
    assert cap_allows([NOW - timedelta(hours=2)], NOW, window=timedelta(hours=1))
    # Naive timestamps (as SQLite returns them) are UTC.
    assert not cap_allows([datetime(2026, 5, 5, 9, 0)], NOW)
    assert cap_allows(iter([NOW - timedelta(days=2)]), NOW)


def test_cap_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        cap_allows([], NOW, per_window=-1)
    with pytest.raises(ValueError):
        cap_allows([], NOW, window=timedelta(0))
