"""Reading a payments file (a CSV of payments, a bank statement export, a workbook) into lines.

The header is found by the debtor book's machinery (arrears.debtors.reading: the sheets, the
header search over title lines, header-label matching, amounts) with the payments vocabulary
below, so the usual South African bank exports (FNB, ABSA, Standard Bank, Nedbank, Capitec: a
date, a description or reference, an amount or money in/out columns, a balance; title lines
above the header, totals below) read without set-up. `read_payments` runs in the parse pool's
child process (arrears.payments.importing), like a book file.

A line is a payment when it has a date and money in (an amount above nothing, or a credit);
money out (a negative amount, a debit), blank lines, opening/closing balances and totals are
skipped and counted; a line with money in but no readable date or reference fails with its
reason. A line without an external id gets one derived from its content and the number of
times the same content came before it in the file, so the same file twice adds nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import chain
from typing import Any, ClassVar, NamedTuple

from arrears.debtors.reading.cells import Cell
from arrears.debtors.reading.errors import MISSING_COLUMNS, NO_DATA_ROWS, ReadError
from arrears.debtors.reading.headers import AliasTable, HeaderMatch, find_header, is_blank, line_text
from arrears.debtors.reading.labels import header_key
from arrears.debtors.reading.rows import open_sheets
from arrears.debtors.reading.values import AmountError, account_code, parse_amount, to_text

FIELDS = ("date", "reference", "description", "amount", "credit", "debit", "method", "external_id", "balance")
FIELD_LABELS = {"date": "Date", "reference": "Reference", "description": "Description", "amount": "Amount",
                "credit": "Credit", "debit": "Debit", "method": "Method", "external_id": "External Id",
                "balance": "Balance"}
# Aliases per field, best first (the better alias wins a field two columns claim).
ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("Date", "Paid On", "Payment Date", "Transaction Date", "Trans Date", "Txn Date", "Value Date",
             "Posting Date", "Post Date", "Date Paid", "Receipt Date", "Effective Date"),
    "reference": ("Account", "Account Code", "Account Number", "Account No", "Acc No", "Acc Code", "Acct No",
                  "Loan Account Number", "Loan Number", "Loan No", "Debtor Code", "Customer Code",
                  "Customer Ref", "Customer Reference", "Client Code", "Reference", "Ref", "Payment Reference",
                  "Their Reference", "Beneficiary Reference", "Deposit Reference", "Statement Reference",
                  "Account Reference", "Your Reference"),
    "description": ("Description", "Transaction Description", "Narrative", "Details", "Transaction Details",
                    "Original Description", "Memo", "Particulars", "Remarks", "Transaction"),
    "amount": ("Amount", "Payment Amount", "Amount Paid", "Paid", "Transaction Amount", "Value", "Amount (ZAR)",
               "Amount ZAR", "Amount R"),
    "credit": ("Credit", "Credits", "Money In", "Credit Amount", "Deposit", "Deposits", "Amount In", "In",
               "Cr", "Received"),
    "debit": ("Debit", "Debits", "Money Out", "Debit Amount", "Withdrawal", "Withdrawals", "Amount Out",
              "Out", "Dr"),
    "method": ("Method", "Payment Method", "Payment Type", "Channel", "Transaction Type", "Type"),
    "external_id": ("External Id", "External Reference", "Transaction Id", "Transaction Reference", "Txn Id",
                    "Payment Id", "Receipt No", "Receipt Number", "Bank Reference", "Unique Reference", "Trace Id",
                    "Trace Number"),
    "balance": ("Balance", "Running Balance", "Closing Balance", "Available Balance", "Account Balance"),
}
# Words on a line that is not a payment: totals and balances printed below (or between) the lines.
_NOT_A_PAYMENT = re.compile(r"\b(total|totals|opening|closing|balance brought|brought forward|carried forward|"
                            r"sub-?total|balance b/?f|balance c/?f)\b", re.IGNORECASE)
MAX_AMOUNT = Decimal("999999999999.99")
MAX_ERRORS = 1000
_SEP = "\x1f"  # the unit separator: between the values of one field when the lines cross the pipe  # failed lines kept with their reasons; the count goes on


class PaymentHeaderMatch(HeaderMatch):
    """A candidate header with the payments vocabulary: complete with a date, money in (an
    amount or a credit column) and something to match by (a reference or a description)."""

    __slots__ = ()
    required: ClassVar[tuple[str, ...]] = ("date", "amount", "reference")
    field_labels: ClassVar[Mapping[str, str]] = {**FIELD_LABELS, "amount": "Amount (or Credit)",
                                                 "reference": "Reference (or Description)"}

    @property
    def missing(self) -> list[str]:
        out = []
        if "date" not in self.columns:
            out.append("date")
        if "amount" not in self.columns and "credit" not in self.columns:
            out.append("amount")
        if "reference" not in self.columns and "description" not in self.columns:
            out.append("reference")
        return out


class PaymentAliases(AliasTable):
    """The payments vocabulary for the book's header search; `overrides` (column index → field or
    None) is a caller's mapping, as for the book."""

    def __init__(self, overrides: Mapping[int, str | None] | None = None) -> None:
        self._known = {}
        for target, aliases in ALIASES.items():
            for rank, alias in enumerate(aliases):
                self._known.setdefault(header_key(alias), (target, rank))
        self._extra = {}
        for chosen in (overrides or {}).values():
            if chosen is not None and chosen not in FIELDS:
                raise ValueError(f"unknown field {chosen!r} in the mapping: use one of {', '.join(FIELDS)}")
        self._overrides = dict(overrides or {})

    def _known_label(self, label: str) -> bool:
        key = header_key(label)
        return bool(key) and key in self._known

    def match_labels(self, labels: list[str]) -> HeaderMatch:
        best: dict[str, tuple[int, int]] = {}  # field -> (rank, column)
        reasons: dict[int, str] = {}
        for index, label in enumerate(labels):
            found = self._known.get(header_key(label)) if label else None
            if found is None:
                continue
            target, rank = found
            reasons[index] = f"alias '{label}'"
            if target not in best or rank < best[target][0]:
                if target in best:
                    reasons[best[target][1]] = f"{target} is read from '{label}' instead"
                best[target] = (rank, index)
            else:
                reasons[index] = f"{target} is read from '{labels[best[target][1]]}' instead"
        columns = {t: i for t, (_, i) in sorted(best.items(), key=lambda kv: kv[1][1])}
        match = PaymentHeaderMatch(labels, columns, reasons)
        if self._overrides:
            self._override(match)
        return match


class PaymentLine(NamedTuple):
    """One payment line. A tuple, with the amount and the date as text (checked), because 100,000 of
    them cross the pipe from the parse child: tuples of strings pickle several times faster than
    objects holding Decimals and dates, and the COPY sends text anyway."""

    line: int  # the file's row number
    reference: str  # what to match by: the reference column, else the description
    description: str
    amount: str  # more than 0, two decimals: "1200.50"
    paid_on: str  # ISO date
    method: str | None
    external_id: str
    derived_id: bool  # the external id was made from the line's content


@dataclass(slots=True)
class ParsedPayments:
    sheet: str
    header_row: int
    mapping: dict[str, str]  # field -> header text
    columns: list[dict[str, Any]]  # every header column: index, label, field, reason
    title_lines: list[str]
    lines: list[PaymentLine] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> lines
    failed: list[dict[str, Any]] = field(default_factory=list)  # {line, reason}, at most MAX_ERRORS
    failed_count: int = 0

    # Pickled across the parse child's pipe: the lines as one string per field, not 100,000 tuples
    # (pickle copies a few long strings at memory speed; the parent splits them in C).
    def __getstate__(self) -> dict[str, Any]:
        state = {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "lines"}
        columns = list(zip(*self.lines, strict=True)) if self.lines else [()] * len(PaymentLine._fields)
        packed = []
        for name, values in zip(PaymentLine._fields, columns, strict=True):
            if name == "line":
                packed.append(_SEP.join(map(str, values)))
            elif name == "derived_id":
                packed.append("".join("1" if v else "0" for v in values))
            else:
                packed.append(_SEP.join((v or "").replace(_SEP, " ") for v in values))
        state["packed"] = (len(self.lines), packed)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        count, packed = state.pop("packed")
        for name, value in state.items():
            setattr(self, name, value)
        if not count:
            self.lines = []
            return
        columns: list[Any] = []
        for name, text in zip(PaymentLine._fields, packed, strict=True):
            if name == "line":
                columns.append(map(int, text.split(_SEP)))
            elif name == "derived_id":
                columns.append(ch == "1" for ch in text)
            elif name == "method":
                columns.append(v or None for v in text.split(_SEP))
            else:
                columns.append(text.split(_SEP))
        self.lines = list(map(PaymentLine._make, zip(*columns, strict=True)))

    def fail(self, line: int, reason: str) -> None:
        self.failed_count += 1
        if len(self.failed) < MAX_ERRORS:
            self.failed.append({"line": line, "reason": reason})


# ------------------------------------------------------------------ values

_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                       "dec"), start=1)}
_YMD = re.compile(r"(\d{4})[-/. ](\d{1,2})[-/. ](\d{1,2})(?:[ T].*)?")
_DMY = re.compile(r"(\d{1,2})[-/. ](\d{1,2})[-/. ](\d{4})(?:[ T].*)?")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_WORDS = re.compile(r"(\d{1,2})[ -]([A-Za-z]{3,9})\.?,?[ -](\d{2,4})")


def parse_day(value: Cell | None) -> dt.date | None:
    """A date from a cell: ISO, 2026/11/03, 03/11/2026 (day first, as South African banks write
    it), 20261103, 3 Nov 2026, or a workbook's date; None when it is not one."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = to_text(value)
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    try:
        if m := _YMD.fullmatch(text):
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        if m := _DMY.fullmatch(text):
            return dt.date(int(m[3]), int(m[2]), int(m[1]))
        if m := _COMPACT.fullmatch(text):
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        if (m := _WORDS.fullmatch(text)) and (month := _MONTHS.get(m[2][:3].lower())):
            year = int(m[3]) + (2000 if len(m[3]) == 2 else 0)
            return dt.date(year, month, int(m[1]))
    except ValueError:
        return None
    return None


def derived_external_id(paid_on: dt.date, amount: Decimal, reference: str, description: str, occurrence: int) -> str:
    """A stable id for a line that has none: its content and how many identical lines came before."""
    digest = hashlib.sha256(f"{paid_on.isoformat()}|{amount}|{reference}|{description}|{occurrence}".encode())
    return "line:" + digest.hexdigest()[:40]


# ------------------------------------------------------------------ the file


def _text(cells: list[Cell], index: int | None) -> str:
    """A cell as trimmed text ('' when the line is shorter); text cells, the CSV case, directly."""
    if index is None or index >= len(cells):
        return ""
    value = cells[index]
    return value.strip() if isinstance(value, str) else to_text(value)


def _cell(cells: list[Cell], index: int | None) -> Cell | None:
    return cells[index] if index is not None and index < len(cells) else None


def _reference(cells: list[Cell], index: int | None) -> str:
    value = _cell(cells, index)
    if isinstance(value, str) and "." not in value:  # the usual case, without account_code's checks
        return value.strip()[:255]
    return account_code(value)[:255] if value is not None else ""


def read_payments(path: str, overrides: Mapping[int, str | None] | None = None) -> ParsedPayments:
    """Every line of the file read (runs in the parse child). Raises ReadError for a file without a
    payments header (MISSING_COLUMNS, with the columns found) or without rows."""
    found = find_header(open_sheets(path), PaymentAliases(overrides))
    match = found.match
    cols = match.columns
    parsed = ParsedPayments(found.sheet.name, found.row_number, match.mapping,
                            [{"index": c.index, "label": c.label, "field": c.field, "reason": c.reason}
                             for c in match.column_infos()], found.title_lines)
    i_date, i_ref, i_desc = cols["date"], cols.get("reference"), cols.get("description")
    i_amount, i_credit, i_debit = cols.get("amount"), cols.get("credit"), cols.get("debit")
    i_method, i_ext = cols.get("method"), cols.get("external_id")
    seen: Counter[tuple[Any, ...]] = Counter()
    add = parsed.lines.append
    for number, cells in chain(found.pending, found.rows):
        raw_date = cells[i_date] if i_date < len(cells) else None
        paid_on = parse_day(raw_date)
        if paid_on is None:  # not a payment line: which kind of line is it?
            if is_blank(cells):
                parsed.skipped["blank line"] += 1
            elif _NOT_A_PAYMENT.search(line_text(cells)) or not to_text(raw_date):
                parsed.skipped["totals, balances and other lines without a date"] += 1
            elif [to_text(c) for c in cells] == [to_text(c) for c in match.labels[:len(cells)]]:
                parsed.skipped["repeated header"] += 1
            else:
                parsed.fail(number, f"Not a date: {to_text(raw_date)[:40]!r}.")
            continue
        try:
            if i_amount is not None:
                amount = parse_amount(_cell(cells, i_amount))
                if amount == 0 and i_credit is not None:
                    amount = parse_amount(_cell(cells, i_credit))
            else:
                amount = parse_amount(_cell(cells, i_credit))
            if amount == 0 and i_debit is not None and parse_amount(_cell(cells, i_debit)) != 0:
                parsed.skipped["money out (debits)"] += 1
                continue
        except AmountError:
            parsed.fail(number, "Not an amount: "
                                f"{to_text(_cell(cells, i_amount if i_amount is not None else i_credit))[:40]!r}.")
            continue
        if amount <= 0:
            parsed.skipped["money out (debits)" if amount < 0 else "no amount"] += 1
            continue
        description = _text(cells, i_desc)[:255]
        reference = _reference(cells, i_ref) or description
        if not reference:
            parsed.fail(number, "No reference or description to match the payment by.")
            continue
        if amount > MAX_AMOUNT:
            parsed.fail(number, "The amount is too large.")
            continue
        method = _text(cells, i_method).lower()[:32] or None
        external = _text(cells, i_ext)[:128]
        derived = not external
        if derived:
            key = (paid_on, amount, reference, description)
            seen[key] += 1
            external = derived_external_id(paid_on, amount, reference, description, seen[key])
        add(PaymentLine(number, reference, description, str(amount), paid_on.isoformat(), method, external, derived))
    if not parsed.lines and not parsed.failed_count and not parsed.skipped:
        raise ReadError(NO_DATA_ROWS, "The file has a header but no payment lines under it.")
    return parsed


__all__ = ["MISSING_COLUMNS", "ParsedPayments", "PaymentLine", "ReadError", "read_payments"]
