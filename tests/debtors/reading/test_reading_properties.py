"""Property tests (issue 21): every way people write an amount reads back as that amount, and
every way they type a South African number reads as its international digits."""

from __future__ import annotations

from decimal import Decimal

import phonenumbers
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from arrears.debtors.reading.phones import read_phone_pair, read_phones_with_second
from arrears.debtors.reading.values import parse_amount

money = st.integers(min_value=-(10**11), max_value=10**11).map(lambda cents: Decimal(cents).scaleb(-2))


def _grouped(amount: Decimal, sep: str, dec: str) -> str:
    whole, frac = divmod(abs(amount) * 100, 100)
    return f"{int(whole):,}".replace(",", sep) + f"{dec}{int(frac):02d}"


def _forms(amount: Decimal) -> list[str]:
    negative = amount < 0
    space_comma = _grouped(amount, " ", ",")
    comma_point = _grouped(amount, ",", ".")
    space_point = _grouped(amount, " ", ".")
    plain_comma = f"{abs(amount):.2f}".replace(".", ",")
    if not negative:
        return [f"R {space_comma}", f"R{comma_point}", space_point, comma_point, plain_comma, f"{amount:.2f}",
                f"R {space_point}", f"ZAR {comma_point}"]
    return [f"-R {space_comma}", f"(R{comma_point})", f"{space_point}-", f"({comma_point})", f"-{plain_comma}",
            f"{amount:.2f}", f"{comma_point} CR", f"R -{space_point}"]


@settings(max_examples=300, deadline=None)
@given(money)
def test_every_written_form_of_an_amount_reads_back(amount: Decimal) -> None:
    for text in _forms(amount):
        assert parse_amount(text) == amount, text


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False), st.integers(min_value=1, max_value=4))
def test_float_noise_rounds_to_the_cents_the_sheet_shows(value: float, ulps: int) -> None:
    import math

    cents = Decimal(repr(round(value, 2)))
    noisy = float(cents)
    for _ in range(ulps):
        noisy = math.nextafter(noisy, math.inf)
    assert parse_amount(noisy) == cents.quantize(Decimal("0.01"))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["", "-", " - ", "R -", "--"]))
def test_blank_and_dash_are_zero(text: str) -> None:
    assert parse_amount(text) == 0


@st.composite
def sa_mobile(draw: st.DrawFn) -> str:
    national = draw(st.sampled_from("678")) + draw(st.text("0123456789", min_size=8, max_size=8))
    number = phonenumbers.parse("0" + national, "ZA")
    assume(phonenumbers.is_valid_number(number)
           and phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE)
    return national


def _typed(national: str) -> list[object]:
    a, b, c = national[:2], national[2:5], national[5:]
    return [f"0{national}", national, int(national), float(national), f"0{a}-{b}-{c}", f"+27 (0){a} {b} {c}",
            f"0027 {a} {b} {c}", f"27 {a} {b} {c}", f"+27{national}", f"(0{a}) {b} {c}", f" 0{a} {b} {c} "]


@settings(max_examples=150, deadline=None)
@given(sa_mobile())
def test_every_typed_form_of_a_mobile_number_reads_the_same(national: str) -> None:
    for typed in _typed(national):
        _, digits, valid, second = read_phone_pair(typed)
        assert (digits, valid, second) == ("27" + national, True, None), typed


@settings(max_examples=150, deadline=None)
@given(sa_mobile(), st.sampled_from([" / ", "; ", ", ", " or ", " & "]), st.booleans())
def test_two_numbers_in_a_cell_the_first_mobile_wins(national: str, separator: str, landline_first: bool) -> None:
    landline = "011 555 1234"
    mobile = f"0{national[:2]} {national[2:5]} {national[5:]}"
    cell = f"{landline}{separator}{mobile}" if landline_first else f"{mobile}{separator}{landline}"
    expected = ("27" + national, True, "27115551234")
    assert read_phone_pair(cell)[1:] == expected
    digits, valid, _, second = read_phones_with_second([cell, "0821234567"])  # the column path agrees
    assert (digits[0], valid[0], second[0]) == expected
    assert (digits[1], second[1]) == ("27821234567", None)
