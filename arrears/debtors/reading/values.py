"""Cell values to text, account codes and money (Decimal, never float)."""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# Spaces Excel and banks put inside numbers: no-break space, narrow no-break space, thin space.
_SPACES = "\u00a0\u202f\u2009\u2007"
_SPACE_TO_ASCII = str.maketrans(dict.fromkeys(_SPACES, " "))
_DASHES = "\u2212\u2013\u2014"  # minus sign, en dash, em dash: all mean "minus" or "nil" in reports
_DASH_TO_ASCII = str.maketrans(dict.fromkeys(_DASHES, "-"))
_BLANKS = frozenset({"", "-", "--", "nil", "n/a", "na"})
_DASHES_ONLY = frozenset({"-", "--"})

# The usual shapes, parsed without further work: 1234 / -1234.56
_CENTS = re.compile(r"-?\d{1,20}(?:\.\d\d)?")
_UNSIGNED = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_FLOAT_ARTIFACT = re.compile(r"\d+\.0")
# Currency and sign markers around the number itself.
_CURRENCY_PREFIX = re.compile(r"^(?:zar|r)\s*", re.IGNORECASE)
_CREDIT_SUFFIX = re.compile(r"\s*(cr|dr)$", re.IGNORECASE)
# Thousands grouping with one consistent separator, then an optional decimal part with the
# other mark: 1,234,567.89 / 1 234,50 / 1.234.567,89 / 1'234.00
_GROUPED = re.compile(r"(\d{1,3}(?P<sep>[ ,.'])\d{3}(?:(?P=sep)\d{3})*)(?:(?P<dec>[.,])(?P<frac>\d+))?")
# Decimal comma with no grouping: 45,5 / 1234,50 (three digits after a comma mean thousands).
_DECIMAL_COMMA = re.compile(r"(\d+),(\d{1,2})")


class AmountError(ValueError):
    """A cell that should hold money but does not."""


def to_text(value: object) -> str:
    """A cell as trimmed text; whole floats lose their '.0' (Excel stores 1001 as 1001.0)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def account_code(value: object) -> str:
    """An account code as text: numeric cells lose '.0', text keeps its leading zeros.

    Text "1001.0" is a float that went through a CSV export (pandas writes them so): also 1001.
    """
    text = " ".join(to_text(value).split())
    return text[:-2] if _FLOAT_ARTIFACT.fullmatch(text) else text


def quantize(value: Decimal) -> Decimal:
    try:
        # Positional rounding, not a context= keyword: twice as fast on the hot path. The thread's
        # precision (28 digits by default) makes an absurdly long number raise, not lose digits.
        result = value.quantize(CENT, ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise AmountError(f"{value} is too large to be an amount") from exc
    return result if result else ZERO  # no "-0.00"


def parse_amount(value: object) -> Decimal:
    """Money from a cell, rounded to cents. Blank and '-' are zero.

    Text may carry R/ZAR, thousands separated by comma, space or no-break space, a decimal
    point or decimal comma, and a negative written -45.00, (45.00), 45.00- or 45.00 CR.
    """
    if isinstance(value, str):  # first: every CSV cell is text
        text = value.strip()
        if _CENTS.fullmatch(text):  # 123 / -123.45: exact already, no rounding needed
            amount = Decimal(text if "." in text else text + ".00")
            return amount if amount else ZERO
        return _parse_amount_text(text)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise AmountError(f"{value!r} is not an amount")
        # str() gives the shortest decimal that round-trips, so 0.1 stays 0.1, not 0.1000000000000000055.
        return quantize(Decimal(str(value)))
    if isinstance(value, bool):
        raise AmountError(f"{to_text(value)!r} is not an amount")
    if isinstance(value, int):
        return quantize(Decimal(value))
    if value is None:
        return ZERO
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise AmountError(f"{value} is not an amount")
        return quantize(value)
    raise AmountError(f"{to_text(value)!r} is not an amount")


def _parse_amount_text(original: str) -> Decimal:
    text = original.translate(_SPACE_TO_ASCII).translate(_DASH_TO_ASCII).strip()
    if text.casefold() in _BLANKS:
        return ZERO
    if _CURRENCY_PREFIX.sub("", text, count=1).strip() in _DASHES_ONLY:
        return ZERO  # Excel's accounting format shows zero as "R -"
    negative = 0  # count the minus markers: two of them is not a number we can trust
    suffix = _CREDIT_SUFFIX.search(text)
    if suffix:
        negative += suffix.group(1).casefold() == "cr"
        text = text[: suffix.start()].rstrip()
    if text.startswith("(") and text.endswith(")"):
        negative += 1
        text = text[1:-1].strip()
    if text.endswith("-"):
        negative += 1
        text = text[:-1].rstrip()
    if text.startswith(("-", "+")):
        negative += text[0] == "-"
        text = text[1:].lstrip()
    currency = _CURRENCY_PREFIX.match(text)
    if currency:
        text = text[currency.end() :].lstrip()
        # The sign may follow the currency, R (45.00)
        if text.startswith("(") and text.endswith(")"):
            negative += 1
            text = text[1:-1].strip()
        elif text.startswith("-"):
            negative += 1
            text = text[1:].lstrip()
    number = _number(text)
    if number is None or negative > 1:
        raise AmountError(f"{original.strip()!r} is not an amount")
    return quantize(-number if negative else number)


def _number(text: str) -> Decimal | None:
    """An unsigned number in any of the accepted groupings, or None."""
    if not text:
        return None
    if _UNSIGNED.fullmatch(text):
        return Decimal(text)
    grouped = _GROUPED.fullmatch(text)
    if grouped:
        sep, dec, frac = grouped.group("sep"), grouped.group("dec"), grouped.group("frac")
        if dec is not None and dec == sep:
            return None  # 1,234,50: a separator cannot also be the decimal mark
        whole = grouped.group(1).replace(sep, "")
        return Decimal(f"{whole}.{frac}" if frac else whole)
    comma = _DECIMAL_COMMA.fullmatch(text)
    if comma:
        return Decimal(f"{comma.group(1)}.{comma.group(2)}")
    return None


def format_amount(value: Decimal) -> str:
    """1234.5 -> '1,234.50', for messages shown to people."""
    return f"{value:,.2f}"
