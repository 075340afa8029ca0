from __future__ import annotations

from datetime import timedelta

import pytest

from arrears.durations import parse_duration


@pytest.mark.parametrize(("text", "expected"), [
    ("30s", timedelta(seconds=30)),
    ("5s", timedelta(seconds=5)),
    ("500ms", timedelta(milliseconds=500)),
    ("2m", timedelta(minutes=2)),
    ("1h", timedelta(hours=1)),
    ("1h30m", timedelta(minutes=90)),
    ("1.5s", timedelta(milliseconds=1500)),
    ("250us", timedelta(microseconds=250)),
    ("250µs", timedelta(microseconds=250)),
    (" 2M ", timedelta(minutes=2)),
    ("0", timedelta(0)),
    ("0s", timedelta(0)),
])
def test_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(("text", "fragment"), [
    ("", "empty"),
    ("   ", "empty"),
    ("30", "no unit"),
    ("1h30", "no unit"),
    ("5x", "not understood"),
    ("abc", "not understood"),
    ("s", "not understood"),
    ("1h 30m", "not understood"),
    ("-5s", "negative"),
    ("1d", "not understood"),
])
def test_bad_input_says_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment) as info:
        parse_duration(text)
    assert repr(text) in str(info.value) or fragment == "empty"


def test_non_string() -> None:
    with pytest.raises(ValueError, match="string"):
        parse_duration(30)  # type: ignore[arg-type]
