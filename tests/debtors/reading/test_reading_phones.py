"""Telephone normalisation: the fast path must agree with phonenumbers wherever it answers."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from arrears.debtors.reading import normalise_phone
from arrears.debtors.reading.phones import _slow_path


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # the usual SA shapes
        ("0821234567", ("27821234567", True)),
        ("082 123 4567", ("27821234567", True)),
        ("082-123-4567", ("27821234567", True)),
        ("(082) 123-4567", ("27821234567", True)),
        ("082.123.4567", ("27821234567", True)),
        ("082/123/4567", ("27821234567", True)),
        ("082\u00a0123\u00a04567", ("27821234567", True)),
        ("27821234567", ("27821234567", True)),
        ("+27821234567", ("27821234567", True)),
        ("+27 82 123 4567", ("27821234567", True)),
        ("+27 (0)82 123 4567", ("27821234567", True)),
        ("0027 82 123 4567", ("27821234567", True)),
        ("  0117654321 ", ("27117654321", True)),  # Johannesburg landline
        ("021 555 1234", ("27215551234", True)),  # Cape Town landline
        # numeric cells
        (821234567, ("27821234567", True)),
        (821234567.0, ("27821234567", True)),
        (27821234567, ("27821234567", True)),
        # other countries keep their country code
        ("+44 20 7946 0958", ("442079460958", True)),
        ("+1 212 555 0123", ("12125550123", True)),
        ("+263 77 123 4567", ("263771234567", True)),
        # the slow path: words, extensions, two numbers in one cell
        ("Cell: 082 123 4567", ("27821234567", True)),
        ("082 123 4567 ext 12", ("27821234567", True)),
        ("082 123 4567 / 011 765 4321", ("27821234567", True)),
        ("n/a / 011 765 4321", ("27117654321", True)),
        ("0821234567; 0831234567", ("27821234567", True)),
        ("082 123 4567 or 083 123 4567", ("27821234567", True)),
        # invalid: digits as written, valid False
        ("0821", ("0821", False)),
        ("12", ("12", False)),
        ("0000000000", ("0000000000", False)),
        ("082123456789", ("082123456789", False)),  # too long
        ("0551234567", ("0551234567", False)),  # 055: no such SA range
        ("+27 55 123 4567", ("27551234567", False)),
        # blank
        (None, (None, False)),
        ("", (None, False)),
        ("   ", (None, False)),
        ("n/a", (None, False)),
        ("TBA", (None, False)),
    ],
)
def test_phone_shapes(raw: object, expected: tuple[str | None, bool]) -> None:
    assert normalise_phone(raw) == expected


def test_a_south_african_number_has_nine_national_digits() -> None:
    for raw in ("0821234567", "+27 82 123 4567", 821234567.0):
        digits, valid = normalise_phone(raw)
        assert valid and digits is not None
        assert digits.startswith("27") and len(digits) == 11


@st.composite
def sa_shaped(draw: st.DrawFn) -> str:
    national = draw(st.text("0123456789", min_size=9, max_size=9))
    a, b, c = national[:2], national[2:5], national[5:]
    template = draw(
        st.sampled_from(
            [
                "0{n}",
                "27{n}",
                "+27{n}",
                "{n}",
                "0027{n}",
                "+27 (0){n}",
                "0{a} {b} {c}",
                "(0{a}) {b}-{c}",
                "+27 {a} {b} {c}",
            ]
        )
    )
    return template.format(n=national, a=a, b=b, c=c)


@given(sa_shaped())
def test_fast_path_agrees_with_phonenumbers(raw: str) -> None:
    # _slow_path is phonenumbers alone; the fast path may only ever give the same answer faster.
    assert normalise_phone(raw) == _slow_path(raw)


@given(sa_shaped())
def test_valid_means_phonenumbers_says_valid(raw: str) -> None:
    digits, valid = normalise_phone(raw)
    if valid:
        assert digits is not None
        number = phonenumbers.parse("+" + digits)
        assert phonenumbers.is_valid_number(number)
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == "+" + digits
