"""Amounts as printed in age analysis reports, to Decimal.

Only tokens with cents count as amounts (1,234.56 / 1 234,56 / -45.00 / (45.00) / 45.00- /
45.00 CR / R1 234.00): age analyses always print cents, and requiring them keeps account
numbers, phone numbers, dates and page numbers from ever being read as money.
"""

from __future__ import annotations

import re
from decimal import Decimal

ZERO = Decimal("0.00")

_AMOUNT = re.compile(
    r"(?P<open>\()?(?P<sign>[-\u2212\u2013])?(?:R\s?)?(?P<sign2>-)?"
    r"(?P<int>\d{1,3}(?:[ ,.\u00a0\u202f']\d{3})+|\d+)(?P<dec>[.,]\d{2})"
    r"(?P<close>\))?(?P<trail>-|\s?CR|\s?DR)?",
    re.IGNORECASE,
)
# Printed in place of a zero amount.
_NIL = frozenset({"-", "\u2013", "\u2014", "0", "nil", "--"})
_NOT_DIGIT = re.compile(r"\D")

# Pieces of one amount that the PDF separates with a space: "12 345.67", "R 45.00", "45.00 CR".
_HEAD = re.compile(r"[-(]?R?\s?\d{1,3}(?: \d{3})*|[-(]?R", re.IGNORECASE)
_GROUP = re.compile(r"\d{3}(?:[.,]\d{2})?\)?-?")


def parse_amount(text: str) -> Decimal | None:
    """The amount a token prints, or None when it is not an amount."""
    m = _AMOUNT.fullmatch(text)
    if m is None:
        return ZERO if text.lower() in _NIL else None
    if bool(m["open"]) != bool(m["close"]):
        return None
    value = Decimal(_NOT_DIGIT.sub("", m["int"]) + "." + m["dec"][1:])
    trail = (m["trail"] or "").strip().upper()
    if m["open"] or m["sign"] or m["sign2"] or trail in ("-", "CR"):
        value = -value
    return value


def is_nil(text: str) -> bool:
    return text.lower() in _NIL


def joins(left: str, right: str) -> bool:
    """True when `right` continues the amount started by `left` (space thousands, currency, CR/DR)."""
    if right.upper() in ("CR", "DR"):
        return _AMOUNT.fullmatch(left) is not None
    return _HEAD.fullmatch(left) is not None and (
        _GROUP.fullmatch(right) is not None or (left[-1] in "Rr" and right[:1].isdigit())
    )
