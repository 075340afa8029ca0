"""Money, account codes and cell text."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arrears.debtors.reading import AmountError, account_code, parse_amount
from arrears.debtors.reading.values import to_text

D = Decimal


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # blanks and dashes are zero
        (None, "0.00"),
        ("", "0.00"),
        ("   ", "0.00"),
        ("-", "0.00"),
        ("\u2013", "0.00"),  # an en dash, as word processors write it
        ("R -", "0.00"),  # Excel's accounting format for zero
        ("R  -  ", "0.00"),
        # plain numbers
        ("0", "0.00"),
        ("45", "45.00"),
        ("45.5", "45.50"),
        ("45.005", "45.01"),  # half up, not banker's rounding
        ("45.004", "45.00"),
        (".5", "0.50"),
        ("+12.30", "12.30"),
        # currency
        ("R45.00", "45.00"),
        ("R 45.00", "45.00"),
        ("r45", "45.00"),
        ("ZAR 1,234.56", "1234.56"),
        ("zar1234.56", "1234.56"),
        # thousands: comma, space, no-break space, narrow no-break space, apostrophe
        ("1,234.56", "1234.56"),
        ("1,234,567.89", "1234567.89"),
        ("1 234.56", "1234.56"),
        ("1\u00a0234\u00a0567.00", "1234567.00"),
        ("R\u00a01\u202f234.50", "1234.50"),
        ("1'234.50", "1234.50"),
        ("1,234", "1234.00"),  # three digits after a comma: thousands
        # decimal comma (space or dot thousands)
        ("45,50", "45.50"),
        ("45,5", "45.50"),
        ("1 234,56", "1234.56"),
        ("1.234.567,89", "1234567.89"),
        # negatives
        ("-45.00", "-45.00"),
        ("(45.00)", "-45.00"),
        ("45.00-", "-45.00"),
        ("R-45.00", "-45.00"),
        ("-R45.00", "-45.00"),
        ("R (1,234.50)", "-1234.50"),
        ("(R1,234.50)", "-1234.50"),
        ("1 234.50-", "-1234.50"),
        ("\u22121 234.50", "-1234.50"),  # the minus sign character
        ("45.00 CR", "-45.00"),
        ("45.00cr", "-45.00"),
        ("45.00 DR", "45.00"),
        ("-0.00", "0.00"),
        # numeric cells from calamine
        (0, "0.00"),
        (1234, "1234.00"),
        (-17, "-17.00"),
        (1234.5, "1234.50"),
        (0.1, "0.10"),
        (1234.567, "1234.57"),
        (1e15, "1000000000000000.00"),
        (-0.0, "0.00"),
        (D("12.345"), "12.35"),
    ],
)
def test_amount_shapes(raw: object, expected: str) -> None:
    amount = parse_amount(raw)
    assert type(amount) is Decimal
    assert amount == D(expected)
    assert str(amount) == expected  # always two places, never "-0.00"


@pytest.mark.parametrize(
    "raw",
    [
        "abc",
        "12..5",
        "1,23,456",  # misgrouped
        "1,234,50",  # the separator cannot also be the decimal mark
        "12 34",
        "--45",
        "(-45)",  # two minus markers
        "(45)-",
        "45 USD",
        "R",
        "1.2.3",
        "1e5",
        "nan",
        float("nan"),
        float("inf"),
        True,
        dt.date(2025, 1, 31),
        dt.datetime(2025, 1, 31, 10, 0),
        "9" * 40,  # beyond Decimal's precision
    ],
)
def test_unreadable_amounts_raise(raw: object) -> None:
    with pytest.raises(AmountError) as caught:
        parse_amount(raw)
    assert "is not an amount" in str(caught.value) or "too large" in str(caught.value)


# Hypothesis: any amount, written the ways reports write money, reads back to itself.

amounts = st.decimals(min_value=D("-999999999999.99"), max_value=D("999999999999.99"), places=2)


def _group(whole: str, separator: str) -> str:
    head = len(whole) % 3 or 3
    groups = [whole[:head]] + [whole[i : i + 3] for i in range(head, len(whole), 3)]
    return separator.join(groups)


@st.composite
def written_amounts(draw: st.DrawFn) -> tuple[Decimal, str]:
    value = draw(amounts)
    whole, cents = f"{abs(value):.2f}".split(".")
    separator, decimal_mark = draw(
        st.sampled_from(
            [(",", "."), (" ", "."), ("\u00a0", "."), ("\u202f", "."), ("", "."), (" ", ","), (".", ",")]
        )
    )
    number = _group(whole, separator) + decimal_mark + cents
    currency = draw(st.sampled_from(["", "R", "R ", "ZAR ", "R\u00a0"]))
    if value < 0:
        style = draw(st.sampled_from(["minus", "parentheses", "trailing", "currency-minus", "cr"]))
        text = {
            "minus": f"-{currency}{number}",
            "parentheses": f"({currency}{number})",
            "trailing": f"{currency}{number}-",
            "currency-minus": f"{currency}-{number}",
            "cr": f"{currency}{number} CR",
        }[style]
    else:
        text = currency + number
    padding = draw(st.sampled_from(["", " ", "  ", "\u00a0"]))
    return value, padding + text + padding


@given(written_amounts())
def test_written_amounts_round_trip(case: tuple[Decimal, str]) -> None:
    value, text = case
    assert parse_amount(text) == value


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12))
def test_any_decimal_is_quantised_to_cents(value: Decimal) -> None:
    amount = parse_amount(value)
    assert amount.as_tuple().exponent == -2
    assert abs(amount - value) <= D("0.005")


@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False))
def test_float_cells_go_through_their_shortest_text(value: float) -> None:
    assert parse_amount(value) == D(repr(value)).quantize(D("0.01"), rounding="ROUND_HALF_UP")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1001.0, "1001"),
        (1001, "1001"),
        ("1001.0", "1001"),  # a float that went through a CSV export
        ("0042", "0042"),
        ("  AB  12 ", "AB 12"),
        ("12.10", "12.10"),
        (1e11, "100000000000"),
        (12.5, "12.5"),
        (None, ""),
        ("", ""),
    ],
)
def test_account_codes(raw: object, expected: str) -> None:
    assert account_code(raw) == expected


def test_to_text() -> None:
    assert to_text(None) == ""
    assert to_text("  x ") == "x"
    assert to_text(30.0) == "30"
    assert to_text(30.25) == "30.25"
    assert to_text(True) == "TRUE"
    assert to_text(dt.date(2025, 1, 31)) == "2025-01-31"
