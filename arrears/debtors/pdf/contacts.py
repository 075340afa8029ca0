"""E-mail addresses and telephone numbers, from their own columns or from a line such as
"Email: x@y.co.za   Cell: 082 123 4567" printed under the debtor."""

from __future__ import annotations

import re

# One normaliser for every import format, so a number reads the same from Excel, CSV and PDF.
from arrears.debtors.reading.phones import normalise_phone, sms_reachable

EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.ASCII)
_PHONE_TEXT = r"\+?\(?\d[\d ()/.\-]{6,}\d"
_LABELLED_TEXT = r"\+?\(?\d[\d ()/.\-]*\d"  # after a label, print what is there, valid or not
# Labels people print before numbers; mobile first because reminders go out by SMS.
_LABELLED = re.compile(
    rf"\b(?P<label>cell(?:phone)?|mobile|mob|tel(?:ephone)?|phone|ph|contact|work|home|fax)\b\.?"
    rf"\s*(?:no\.?|number|nr|#)?\s*[:.]?\s*(?P<num>{_LABELLED_TEXT})",
    re.IGNORECASE,
)
_BARE = re.compile(rf"(?<![\w@.]){_PHONE_TEXT}(?![\w@])")
_LABEL_HINT = re.compile(r"\b(?:e-?mail|cell|mobile|mob|tel|phone|ph|contact|fax)\b", re.IGNORECASE)
_MOBILE_LABELS = frozenset({"cell", "cellphone", "mobile", "mob"})


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def find_email(text: str) -> str | None:
    m = EMAIL.search(text)
    return m.group().rstrip(".") if m else None


def find_phone(text: str) -> str | None:
    """The number to text on a contact line: a labelled cell number first, then any other number."""
    best: str | None = None
    for m in _LABELLED.finditer(text):
        label, number = m["label"].lower(), m["num"].strip()
        if label == "fax" or not 4 <= _digits(number) <= 15:
            continue
        if label in _MOBILE_LABELS:
            return number
        best = best or number
    if best:
        return best
    for m in _BARE.finditer(EMAIL.sub(" ", text)):
        if 9 <= _digits(m.group()) <= 12:  # 13 digits is an SA identity number, not a phone
            return m.group().strip()
    return None


# Two numbers in one place: "061 555 0002 / 083 666 0003", "082 123 4567; 011 555 1234".
_SEPARATORS = re.compile(r"\s*(?:/|;|,|&|\|)\s*|\s+or\s+|\s{2,}", re.IGNORECASE)


def find_phones(text: str) -> list[str]:
    """Every number on a contact line or in a phone cell, as printed, in the order printed (fax left out)."""
    found: list[str] = []
    spans: list[tuple[int, int]] = []
    for m in _LABELLED.finditer(text):
        spans.append(m.span())
        if m["label"].lower() != "fax":
            found += _parts(m["num"])
    rest = text
    for start, end in reversed(spans):
        rest = rest[:start] + " " * (end - start) + rest[end:]
    for m in _BARE.finditer(EMAIL.sub(" ", rest)):
        if 9 <= _digits(m.group()) <= 12 or len(_parts(m.group())) > 1:  # 13 digits: an SA identity number
            found += _parts(m.group())
    return found


def _parts(number: str) -> list[str]:
    parts = [p.strip() for p in _SEPARATORS.split(number.strip()) if p.strip()]
    return [p for p in parts if 4 <= _digits(p) <= 15] if len(parts) > 1 else [number.strip()]


def choose_phones(numbers: list[str]) -> tuple[str | None, str | None, str | None]:
    """(phone as printed, its digits when valid, a second number) from a debtor's numbers: the first
    mobile wins (reminders go out by SMS), else the first number; the second is another valid one."""
    read = [(n, *normalise_phone(n)) for n in numbers]
    mobile = next((r for r in read if r[2] and sms_reachable(r[1], True)), None)
    first = mobile or next((r for r in read if r[2]), read[0] if read else None)
    if first is None:
        return None, None, None
    second = next((r for r in read if r[2] and r[1] != first[1]), None)
    return first[0], first[1] if first[2] else None, second[1] if second else None


def looks_like_contact_line(text: str) -> bool:
    return bool(_LABEL_HINT.search(text) or EMAIL.search(text) or find_phone(text))


def phone_normalised(phone: str | None) -> str | None:
    """27821234567-style digits for a valid number; None when it is missing or not a valid number."""
    if not phone:
        return None
    digits, valid = normalise_phone(phone)
    return digits if valid else None
