"""The placeholders of letter templates: the messaging placeholders ([CustomerName],
[AccountCode], [TotalBalance], …) plus those only a letter has — the ageing table, the reply-by
date, the letter's date, the organisation's name and the days past due.

A template is checked when it is saved: an unknown placeholder (anything else in square
brackets) is a 400 naming it, with the likely meant one. Filling is one regex pass per paragraph,
and a value is never read again, so a customer called "[TotalBalance]" prints as written.
`[AgeingTable]` stands on a line of its own: the table is a block of the letter, not text.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from arrears.errors import ValidationFailed
from arrears.messaging.errors import MessagingErrorCode
from arrears.messaging.templates import PLACEHOLDERS as MESSAGE_PLACEHOLDERS

AGEING_TABLE = "AgeingTable"
LETTER_PLACEHOLDERS: dict[str, str] = {
    AGEING_TABLE: "The ageing table (book accounts: current, 30, 60, 90, 120+ days; loans: principal, "
                  "paid, balance, days past due) — on a line of its own",
    "ReplyByDate": "The date by which the customer must reply or pay",
    "LetterDate": "The letter's date",
    "OrganisationName": "Your organisation's name, as on the letterhead",
    "DaysPastDue": "Days past due",
}
PLACEHOLDERS: dict[str, str] = MESSAGE_PLACEHOLDERS | LETTER_PLACEHOLDERS
MAX_BODY = 20_000
MAX_SUBJECT = 255

_KNOWN_RE = re.compile(r"\[(" + "|".join(re.escape(n) for n in PLACEHOLDERS if n != AGEING_TABLE) + r")\]")
_BRACKET_RE = re.compile(r"\[\s*([A-Za-z0-9][A-Za-z0-9 _.+-]{0,39}?)\s*\]")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_TABLE_LINE = f"[{AGEING_TABLE}]"


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_BY_NORM = {_norm(n): n for n in PLACEHOLDERS}


def _suggest(name: str) -> str | None:
    norm = _norm(name)
    if norm in _BY_NORM:
        return _BY_NORM[norm]
    close = difflib.get_close_matches(norm, list(_BY_NORM), n=1, cutoff=0.6)
    return _BY_NORM[close[0]] if close else None


def problems(subject: str, body: str) -> dict[str, list[str]]:
    """What is wrong with a template's subject and body, by field (empty: nothing)."""
    out: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        out.setdefault(field, []).append(message)

    for field, text, limit in (("subject", subject, MAX_SUBJECT), ("body", body, MAX_BODY)):
        if not isinstance(text, str) or not text.strip():
            add(field, "This field is required.")
            continue
        if len(text) > limit:
            add(field, f"Ensure this field has no more than {limit:,} characters.")
        seen: set[str] = set()
        for m in _BRACKET_RE.finditer(text):
            written, inner = m.group(0), m.group(1)
            if written[1:-1] in PLACEHOLDERS or written in seen:
                continue
            seen.add(written)
            meant = _suggest(inner)
            add(field, f"Unknown placeholder {written}: " + (f"did you mean [{meant}]?" if meant else
                "remove it or use one of " + ", ".join(f"[{n}]" for n in PLACEHOLDERS) + "."))
    if isinstance(subject, str) and _TABLE_LINE in subject:
        add("subject", f"{_TABLE_LINE} belongs in the body, on a line of its own.")
    if isinstance(body, str):
        for line in body.splitlines():
            if _TABLE_LINE in line and line.strip() != _TABLE_LINE:
                add("body", f"{_TABLE_LINE} must stand on a line of its own.")
                break
    return out


def check(subject: str, body: str) -> None:
    """`problems`, raised as a 400 (INVALID_TEMPLATE) with the field errors."""
    found = problems(subject, body)
    if found:
        raise ValidationFailed("Invalid letter template: " + "; ".join(m for ms in found.values() for m in ms),
                               code=MessagingErrorCode.INVALID_TEMPLATE, field_errors=found)


@dataclass(frozen=True, slots=True)
class TableMark:
    """Where the ageing table goes among a letter's paragraphs."""


TABLE = TableMark()
Block = str | TableMark


def blocks(body: str) -> list[Block]:
    """The body as paragraphs (blank lines separate them; single newlines stay line breaks), with
    the ageing table's line as its own block. Worked out once per template, before any value is
    filled in."""
    out: list[Block] = []
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    for para in _PARAGRAPH_BREAK.split(text):
        lines: list[str] = []
        for line in para.split("\n"):
            if line.strip() == _TABLE_LINE:
                if any(x.strip() for x in lines):
                    out.append("\n".join(lines).strip("\n"))
                lines = []
                out.append(TABLE)
            else:
                lines.append(line)
        if any(x.strip() for x in lines):
            out.append("\n".join(lines).strip("\n"))
    return out


def fill(text: str, values: Mapping[str, str]) -> str:
    """Each known placeholder replaced by its value, once (a function replacement: values are
    never parsed as regex escapes)."""
    return _KNOWN_RE.sub(lambda m: values.get(m.group(1), m.group(0)), text)
