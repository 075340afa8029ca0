"""Bank answers as CSV: one row per collection with ``reference, amount, status, reason``.

Some banks and bureaux give results as a spreadsheet export rather than an unpaids file. Rules:

* The first row is the header. Column names are matched case-insensitively after trimming;
  ``reference`` and ``status`` are required, ``amount`` and ``reason`` optional; other columns are
  ignored. The delimiter is ``,``, ``;``, tab or ``|`` (taken from the header row). A UTF-8 BOM is
  fine; bytes that are not UTF-8 are read as Windows-1252 (arrears.csvfiles, as every CSV import).
* ``status``: ``successful``/``success``/``paid``/``processed``/``ok`` mean successful;
  ``failed``/``unpaid``/``rejected``/``returned``/``fail``/``unsuccessful`` mean failed (case-insensitive).
* ``amount``: a decimal with at most 2 places; an ``R`` prefix, spaces and thousands commas
  (``R 1,500.00``) are accepted, a decimal comma is not. Empty means "not given" (None).
* ``reason``: free text. A leading 1-2 digit unpaid code (``12``, ``12 Account closed``,
  ``12 - Account closed``) or a known reason text (``Account closed``) gives ``reason_code``.

Each bad row becomes a :class:`RowError` (with its line number) and the other rows are still
returned, so the caller can report every row; a missing required column raises AcbFormatError.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from arrears import csvfiles
from arrears.premiums.acb.envelope import CENT
from arrears.premiums.acb.errors import AcbFormatError
from arrears.premiums.unpaid_codes import lookup_unpaid_reason, match_unpaid_reason

SUCCESSFUL = "successful"
FAILED = "failed"

_STATUS = {
    **dict.fromkeys(("successful", "success", "paid", "processed", "ok"), SUCCESSFUL),
    **dict.fromkeys(("failed", "fail", "unpaid", "rejected", "returned", "unsuccessful"), FAILED),
}
_REQUIRED = ("reference", "status")
_OPTIONAL = ("amount", "reason")
_COLUMNS = frozenset(_REQUIRED + _OPTIONAL)
_LEADING_CODE = re.compile(r"^\s*(\d{1,2})(?:\s*[-:.]?\s+|\s*[-:.]\s*|$)(.*)$", re.DOTALL)
_AMOUNT = re.compile(r"^\d+(\.\d{1,2})?$")


@dataclass(frozen=True, slots=True)
class BankAnswer:
    line: int
    reference: str
    status: str
    amount: Decimal | None
    reason: str | None
    reason_code: str | None


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str


@dataclass(frozen=True, slots=True)
class CsvAnswers:
    answers: list[BankAnswer] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def parse_amount(text: str) -> Decimal | None:
    """``"R 1,500.00"`` -> Decimal("1500.00"); ``""`` -> None; anything else raises ValueError."""
    cleaned = text.strip()
    if not cleaned:
        return None
    if cleaned[:1] in ("R", "r"):
        cleaned = cleaned[1:]
    cleaned = cleaned.replace(" ", "").replace("\u00a0", "")
    if "," in cleaned:
        whole, _, fraction = cleaned.partition(".")
        groups = whole.split(",")
        if not groups[0] or len(groups[0]) > 3 or any(len(g) != 3 for g in groups[1:]):
            raise ValueError(f"invalid amount {text!r}")
        cleaned = "".join(groups) + ("." + fraction if fraction or "." in cleaned else "")
    if not _AMOUNT.match(cleaned):
        raise ValueError(f"invalid amount {text!r}")
    try:
        return Decimal(cleaned).quantize(CENT)
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        raise ValueError(f"invalid amount {text!r}") from None


def reason_code_for(reason: str) -> str | None:
    """The unpaid code a reason column gives, if any (see the module docstring)."""
    match = _LEADING_CODE.match(reason)
    if match:
        return lookup_unpaid_reason(match.group(1)).code
    found = match_unpaid_reason(reason)
    return found.code if found else None


def parse_answers_csv(data: str | bytes) -> CsvAnswers:
    text = csvfiles.decode(data)
    delimiter = csvfiles.pick_delimiter(text.split("\n", 1)[0], lambda c: c.strip().lower() in _COLUMNS)
    reader = csvfiles.records(text, delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise AcbFormatError("the CSV file is empty") from None
    except csv.Error as exc:
        raise AcbFormatError(f"unreadable CSV header: {exc}", line=1) from None
    columns = {name.strip().lower(): index for index, name in reversed(list(enumerate(header)))}
    missing = [name for name in _REQUIRED if name not in columns]
    if missing:
        raise AcbFormatError(f"missing column(s): {', '.join(missing)}; the header must name "
                             f"{', '.join(_REQUIRED + _OPTIONAL)}", line=1)

    result = CsvAnswers()
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            result.errors.append(RowError(reader.line_num, f"unreadable row: {exc}"))
            continue
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue

        def cell(name: str, row: list[str] = row) -> str:
            index = columns.get(name)
            return row[index].strip() if index is not None and index < len(row) else ""

        reference = cell("reference")
        if not reference:
            result.errors.append(RowError(line, "reference is empty"))
            continue
        status = _STATUS.get(cell("status").lower())
        if status is None:
            result.errors.append(RowError(line, f"{reference}: unknown status {cell('status')!r}"))
            continue
        try:
            amount = parse_amount(cell("amount"))
        except ValueError as exc:
            result.errors.append(RowError(line, f"{reference}: {exc}"))
            continue
        reason = cell("reason") or None
        result.answers.append(BankAnswer(
            line=line,
            reference=reference,
            status=status,
            amount=amount,
            reason=reason,
            reason_code=reason_code_for(reason) if reason else None,
        ))
    return result
