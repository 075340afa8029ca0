"""Durations as the specs write them in settings: "30s", "5s", "500ms", "2m", "1h".

Go's syntax (the spec's defaults are Go-style): one or more number+unit pairs ("1h30m", "1.5s"),
units us/µs, ms, s, m, h. A bare number is refused, except 0, because "30" could be seconds or
milliseconds and guessing wrong is a silent thousandfold error.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

_UNIT_MICROSECONDS: dict[str, int] = {
    "us": 1,
    "µs": 1,
    "μs": 1,  # Greek mu as well as the micro sign
    "ms": 1_000,
    "s": 1_000_000,
    "m": 60_000_000,
    "h": 3_600_000_000,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(us|µs|μs|ms|s|m|h)")
_EXAMPLES = "e.g. 30s, 500ms, 2m, 1h or 1h30m"


def parse_duration(text: str) -> timedelta:
    """"30s" -> timedelta(seconds=30). Raises ValueError naming the input and the expected form."""
    if not isinstance(text, str):
        raise ValueError(f"duration must be a string such as 30s, not {type(text).__name__}")
    s = text.strip().lower()
    if not s:
        raise ValueError(f"duration is empty: write a number and a unit, {_EXAMPLES}")
    if s.startswith("-"):
        raise ValueError(f"duration {text!r} is negative: durations must be zero or more")
    s = s.removeprefix("+")
    if re.fullmatch(r"0+(\.0*)?", s):
        return timedelta(0)
    pos, micros = 0, Decimal(0)
    while pos < len(s):
        m = _PART.match(s, pos)
        if not m:
            if re.fullmatch(r"\d+(\.\d*)?", s[pos:]):
                raise ValueError(f"duration {text!r} has no unit after {s[pos:]!r}: {_EXAMPLES}")
            raise ValueError(f"duration {text!r} is not understood at {s[pos:]!r}: "
                             f"use units us, ms, s, m, h, {_EXAMPLES}")
        micros += Decimal(m.group(1)) * _UNIT_MICROSECONDS[m.group(2)]
        pos = m.end()
    try:
        return timedelta(microseconds=int(micros))
    except OverflowError:
        raise ValueError(f"duration {text!r} is too long") from None
