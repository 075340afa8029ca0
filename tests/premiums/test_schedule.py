"""Collection dates: month ends, leap years, quarters, years, due-ness."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.premiums.schedule import (
    Frequency,
    ScheduleError,
    collection_date_in_month,
    collection_dates,
    first_collection_date,
    is_due,
    next_collection_date,
    parse_frequency,
)

D = date


@pytest.mark.parametrize(
    ("current", "anchor", "expected"),
    [
        # anchored on the 31st: last day of shorter months, back to the 31st when there is one
        (D(2024, 1, 31), 31, D(2024, 2, 29)),  # leap February
        (D(2024, 2, 29), 31, D(2024, 3, 31)),
        (D(2024, 3, 31), 31, D(2024, 4, 30)),
        (D(2024, 4, 30), 31, D(2024, 5, 31)),
        (D(2024, 8, 31), 31, D(2024, 9, 30)),
        (D(2024, 12, 31), 31, D(2025, 1, 31)),  # year rollover
        (D(2023, 1, 31), 31, D(2023, 2, 28)),  # non-leap February
        (D(2023, 2, 28), 31, D(2023, 3, 31)),
        # anchored on the 30th and 29th
        (D(2024, 1, 30), 30, D(2024, 2, 29)),
        (D(2024, 2, 29), 30, D(2024, 3, 30)),
        (D(2023, 1, 29), 29, D(2023, 2, 28)),
        (D(2023, 2, 28), 29, D(2023, 3, 29)),
        (D(2024, 1, 29), 29, D(2024, 2, 29)),
        # ordinary days never move
        (D(2024, 1, 1), 1, D(2024, 2, 1)),
        (D(2024, 2, 15), 15, D(2024, 3, 15)),
        (D(2024, 12, 28), 28, D(2025, 1, 28)),
    ],
)
def test_monthly(current: date, anchor: int, expected: date) -> None:
    assert next_collection_date(current, "monthly", anchor) == expected


@pytest.mark.parametrize(
    ("current", "anchor", "expected"),
    [
        (D(2023, 11, 30), 31, D(2024, 2, 29)),
        (D(2024, 2, 29), 31, D(2024, 5, 31)),
        (D(2024, 5, 31), 31, D(2024, 8, 31)),
        (D(2024, 8, 31), 31, D(2024, 11, 30)),
        (D(2024, 11, 30), 31, D(2025, 2, 28)),
        (D(2024, 12, 15), 15, D(2025, 3, 15)),
        (D(2025, 10, 1), 1, D(2026, 1, 1)),
    ],
)
def test_quarterly(current: date, anchor: int, expected: date) -> None:
    assert next_collection_date(current, Frequency.QUARTERLY, anchor) == expected


@pytest.mark.parametrize(
    ("current", "anchor", "expected"),
    [
        # anchored on 29 February: 28 February in ordinary years, 29 February again in leap years
        (D(2024, 2, 29), 29, D(2025, 2, 28)),
        (D(2025, 2, 28), 29, D(2026, 2, 28)),
        (D(2027, 2, 28), 29, D(2028, 2, 29)),
        (D(2096, 2, 29), 29, D(2097, 2, 28)),
        (D(2099, 2, 28), 29, D(2100, 2, 28)),  # 2100 is not a leap year
        (D(2023, 8, 31), 31, D(2024, 8, 31)),
        (D(2023, 1, 1), 1, D(2024, 1, 1)),
    ],
)
def test_annually(current: date, anchor: int, expected: date) -> None:
    assert next_collection_date(current, "annually", anchor) == expected


def test_a_year_of_31st_collections_does_not_drift() -> None:
    assert collection_dates(D(2024, 1, 31), "monthly", 31, 13) == [
        D(2024, 1, 31), D(2024, 2, 29), D(2024, 3, 31), D(2024, 4, 30), D(2024, 5, 31), D(2024, 6, 30),
        D(2024, 7, 31), D(2024, 8, 31), D(2024, 9, 30), D(2024, 10, 31), D(2024, 11, 30), D(2024, 12, 31),
        D(2025, 1, 31),
    ]
    assert collection_dates(D(2024, 2, 29), "annually", 29, 5) == [
        D(2024, 2, 29), D(2025, 2, 28), D(2026, 2, 28), D(2027, 2, 28), D(2028, 2, 29),
    ]
    assert collection_dates(D(2024, 1, 1), "monthly", 1, 0) == []


@given(
    start=st.dates(min_value=D(2000, 1, 1), max_value=D(2090, 12, 31)),
    anchor=st.integers(min_value=1, max_value=31),
    frequency=st.sampled_from(list(Frequency)),
)
@settings(database=None, deadline=None)
def test_every_step_lands_on_the_anchor_or_the_month_end(start: date, anchor: int, frequency: Frequency) -> None:
    current = start
    for _ in range(30):
        following = next_collection_date(current, frequency, anchor)
        months = (following.year - current.year) * 12 + following.month - current.month
        assert months == frequency.months
        last_day = (D(following.year + following.month // 12, following.month % 12 + 1, 1) - D.resolution).day
        assert following.day == min(anchor, last_day)
        current = following


@pytest.mark.parametrize(
    ("on_or_after", "anchor", "expected"),
    [
        (D(2024, 1, 10), 15, D(2024, 1, 15)),
        (D(2024, 1, 15), 15, D(2024, 1, 15)),
        (D(2024, 1, 16), 15, D(2024, 2, 15)),
        (D(2024, 2, 10), 31, D(2024, 2, 29)),
        (D(2024, 12, 31), 30, D(2025, 1, 30)),
    ],
)
def test_first_collection_date(on_or_after: date, anchor: int, expected: date) -> None:
    assert first_collection_date(on_or_after, anchor) == expected


def test_collection_date_in_month_clamps() -> None:
    assert collection_date_in_month(2023, 2, 31) == D(2023, 2, 28)
    assert collection_date_in_month(2024, 2, 31) == D(2024, 2, 29)
    assert collection_date_in_month(2024, 6, 31) == D(2024, 6, 30)
    assert collection_date_in_month(2024, 7, 31) == D(2024, 7, 31)


@pytest.mark.parametrize(
    ("next_date", "action_date", "due"),
    [
        (D(2024, 2, 1), D(2024, 2, 1), True),  # on the day
        (D(2024, 1, 31), D(2024, 2, 1), True),  # missed run: catch up
        (D(2024, 2, 2), D(2024, 2, 1), False),  # not yet
        (None, D(2024, 2, 1), False),  # not scheduled
    ],
)
def test_is_due(next_date: date | None, action_date: date, due: bool) -> None:
    assert is_due(next_date, action_date) is due


@pytest.mark.parametrize("anchor", [0, 32, -1, True, 15.0, "15"])
def test_bad_anchor_days(anchor: object) -> None:
    with pytest.raises(ScheduleError, match="anchor day"):
        next_collection_date(D(2024, 1, 1), "monthly", anchor)  # type: ignore[arg-type]


@pytest.mark.parametrize("frequency", ["weekly", "yearly", "", None])
def test_bad_frequencies(frequency: object) -> None:
    with pytest.raises(ScheduleError, match="monthly, quarterly, annually"):
        next_collection_date(D(2024, 1, 1), frequency, 1)  # type: ignore[arg-type]


def test_frequency_parsing_and_lengths() -> None:
    assert parse_frequency(" Monthly ") is Frequency.MONTHLY
    assert [f.value for f in Frequency] == ["monthly", "quarterly", "annually"]
    assert [f.months for f in Frequency] == [1, 3, 12]
    with pytest.raises(ScheduleError):
        collection_dates(D(2024, 1, 1), "monthly", 1, -1)
