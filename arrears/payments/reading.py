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
from collections.abc import Iterator, Mapping
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
MAX_ERRORS = 1000  # failed lines kept with their reasons; the count goes on


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
    """One payment line as read (a preview shows the first few), with the amount and the date as
    checked text."""

    line: int  # the file's row number
    reference: str  # what to match by: the reference column, else the description
    description: str
    amount: str  # more than 0, two decimals: "1200.50"
    paid_on: str  # ISO date
    method: str | None
    external_id: str
    derived_id: bool  # the external id was made from the line's content


# The payment lines as they cross the parse child's pipe and go into the import's staging table:
# one row per line in PostgreSQL's COPY text format (tab-separated, backslash escapes, \N for
# null), in this column order. One bytes object pickles and COPYs at memory speed, where 100,000
# tuples cost more to pickle, unpickle and format again than to read the file.
STAGED = ("line", "reference", "description", "amount", "paid_on", "method", "external_id", "repeated")
SAMPLE_LINES = 20  # the first lines kept whole, for a preview


@dataclass(slots=True)
class ParsedPayments:
    sheet: str
    header_row: int
    mapping: dict[str, str]  # field -> header text
    columns: list[dict[str, Any]]  # every header column: index, label, field, reason
    title_lines: list[str]
    rows: bytes = b""  # the payment lines, STAGED columns, COPY text format
    count: int = 0  # payment lines in `rows`
    sample: list[PaymentLine] = field(default_factory=list)  # the first SAMPLE_LINES of them
    repeated: int = 0  # lines whose external id an earlier line of the file has (duplicates)
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> lines
    failed: list[dict[str, Any]] = field(default_factory=list)  # {line, reason}, at most MAX_ERRORS
    failed_count: int = 0

    def fail(self, line: int, reason: str) -> None:
        self.failed_count += 1
        if len(self.failed) < MAX_ERRORS:
            self.failed.append({"line": line, "reason": reason})

    def staged_rows(self) -> Iterator[tuple[Any, ...]]:
        """`rows` decoded: (line, reference, description, amount, paid_on, method, external_id,
        repeated) with line an int, method None when absent, repeated a bool."""
        for text in self.rows.decode().split("\n")[:-1]:  # not splitlines(): \x0c and the like are data
            v = [unescape(x) for x in text.split("\t")]
            yield int(v[0]), v[1], v[2], v[3], v[4], v[5], v[6], v[7] == "t"


NULL = "\\N"  # COPY text format's null
_SPECIAL = re.compile(r"[\x00\\\t\n\r]")
_ESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}
_ESCAPED = re.compile(r"\\(.)")


def escape(value: str | None) -> str:
    """A value in COPY text format (None is \\N; NUL, which PostgreSQL text cannot hold, dropped)."""
    if value is None:
        return NULL
    if _SPECIAL.search(value) is None:  # nearly always: nothing to escape
        return value
    return (value.replace("\x00", "").replace("\\", "\\\\").replace("\t", "\\t")
            .replace("\n", "\\n").replace("\r", "\\r"))


def unescape(value: str) -> Any:
    if value == NULL:
        return None
    if "\\" not in value:
        return value
    return _ESCAPED.sub(lambda m: _ESCAPES.get(m[1], m[1]), value)


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


def derived_external_id(paid_on: str, amount: str, reference: str, description: str, occurrence: int) -> str:
    """A stable id for a line that has none: its content (the ISO date, the amount with its two
    decimals) and how many identical lines came before."""
    digest = hashlib.sha256(f"{paid_on}|{amount}|{reference}|{description}|{occurrence}".encode())
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


def _reference(value: Cell | None) -> str:
    if isinstance(value, str) and "." not in value:  # the usual case, without account_code's checks
        return value.strip()[:255]
    return account_code(value)[:255] if value is not None else ""


# The shapes nearly every line of a CSV has, taken as they are: an ISO date, and an amount above
# nothing with two decimals and no sign, grouping or leading zero (what str() of the Decimal the
# full parse would make gives back: the same text).
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PLAIN_AMOUNT = re.compile(r"(?:[1-9][0-9]{0,11}|0)\.[0-9]{2}")  # at most MAX_AMOUNT
_ROW_SPECIAL = re.compile(r"[\x00\\\n\r]")


@dataclass(slots=True)
class _Columns:
    date: int
    reference: int | None
    description: int | None
    amount: int | None
    credit: int | None
    debit: int | None
    method: int | None
    external_id: int | None


_Line = tuple[str, str, str, str, str | None, str]  # reference, description, amount, ISO date, method, external id


def _full_line(parsed: ParsedPayments, number: int, cells: list[Cell], c: _Columns, labels: list[str]
               ) -> _Line | None:
    """Any line, every shape read (dates in any accepted form, workbook cells, amounts with
    currency, grouping or signs, money in/out columns): (reference, description, amount, ISO date,
    method, external id), or None when it is not a payment (skipped or failed, counted)."""
    raw_date = cells[c.date] if c.date < len(cells) else None
    paid_on = parse_day(raw_date)
    if paid_on is None:  # not a payment line: which kind of line is it?
        if is_blank(cells):
            parsed.skipped["blank line"] += 1
        elif _NOT_A_PAYMENT.search(line_text(cells)) or not to_text(raw_date):
            parsed.skipped["totals, balances and other lines without a date"] += 1
        elif [to_text(x) for x in cells] == [to_text(x) for x in labels[:len(cells)]]:
            parsed.skipped["repeated header"] += 1
        else:
            parsed.fail(number, f"Not a date: {to_text(raw_date)[:40]!r}.")
        return None
    try:
        if c.amount is not None:
            amount = parse_amount(_cell(cells, c.amount))
            if amount == 0 and c.credit is not None:
                amount = parse_amount(_cell(cells, c.credit))
        else:
            amount = parse_amount(_cell(cells, c.credit))
        if amount == 0 and c.debit is not None and parse_amount(_cell(cells, c.debit)) != 0:
            parsed.skipped["money out (debits)"] += 1
            return None
    except AmountError:
        parsed.fail(number, "Not an amount: "
                            f"{to_text(_cell(cells, c.amount if c.amount is not None else c.credit))[:40]!r}.")
        return None
    if amount <= 0:
        parsed.skipped["money out (debits)" if amount < 0 else "no amount"] += 1
        return None
    description = _text(cells, c.description)[:255]
    reference = _reference(_cell(cells, c.reference)) or description
    if not reference:
        parsed.fail(number, "No reference or description to match the payment by.")
        return None
    if amount > MAX_AMOUNT:
        parsed.fail(number, "The amount is too large.")
        return None
    # str() of the quantized Decimal: two decimals, no exponent ("1200.50"), as the fast path's text.
    return (reference, description, str(amount), paid_on.isoformat(), _text(cells, c.method).lower()[:32] or None,
            _text(cells, c.external_id)[:128])


def read_payments(path: str, overrides: Mapping[int, str | None] | None = None) -> ParsedPayments:
    """Every line of the file read (runs in the parse child), in one pass: a CSV line of the usual
    shape (ISO date, plain amount) is taken as it is, any other line goes through the full reading
    (`_full_line`). Raises ReadError for a file without a payments header (MISSING_COLUMNS, with
    the columns found) or without rows."""
    found = find_header(open_sheets(path), PaymentAliases(overrides))
    match = found.match
    cols = match.columns
    parsed = ParsedPayments(found.sheet.name, found.row_number, match.mapping,
                            [{"index": c.index, "label": c.label, "field": c.field, "reason": c.reason}
                             for c in match.column_infos()], found.title_lines)
    c = _Columns(cols["date"], cols.get("reference"), cols.get("description"), cols.get("amount"),
                 cols.get("credit"), cols.get("debit"), cols.get("method"), cols.get("external_id"))
    i_date, i_ref, i_desc, i_method, i_ext = c.date, c.reference, c.description, c.method, c.external_id
    money_column = c.amount if c.amount is not None else c.credit
    i_money = -1 if money_column is None else money_column
    # The fast path reads text cells only (a CSV's), and lines long enough to hold every column.
    text_cells = found.sheet.delimiter is not None and i_money >= 0
    width = 1 + max(i for i in (i_date, i_ref, i_desc, i_money, i_method, i_ext) if i is not None)
    iso_day, plain_amount, special = _ISO_DAY.fullmatch, _PLAIN_AMOUNT.fullmatch, _ROW_SPECIAL.search
    from_iso = dt.date.fromisoformat
    seen: Counter[tuple[str, str, str, str]] = Counter()  # identical lines without an external id
    ids: set[str] = set()
    out: list[str] = []
    add = out.append
    sample = parsed.sample
    sampling = True  # fewer than SAMPLE_LINES kept yet
    for number, cells in chain(found.pending, found.rows):
        # The usual CSV line, read here without a function call or a tuple per line; any other
        # (or any doubt) goes through the full reading.
        if text_cells and len(cells) >= width:
            texts: list[str] = cells  # type: ignore[assignment]  # a CSV's cells are all text
            day, money = texts[i_date].strip(), texts[i_money].strip()
            fast = iso_day(day) is not None and plain_amount(money) is not None and money != "0.00"
            if fast:
                try:
                    from_iso(day)
                except ValueError:
                    fast = False  # 2025-02-31: the full reading says why
            if fast:
                description = texts[i_desc].strip()[:255] if i_desc is not None else ""
                if i_ref is None:
                    reference = description
                else:
                    cell = texts[i_ref]
                    reference = (cell.strip()[:255] if "." not in cell else _reference(cell)) or description
                fast = reference != ""
            if fast:
                method = (texts[i_method].strip().lower()[:32] or None) if i_method is not None else None
                external = texts[i_ext].strip()[:128] if i_ext is not None else ""
        else:
            fast = False
        if not fast:
            line = _full_line(parsed, number, cells, c, match.labels)
            if line is None:
                continue
            reference, description, money, day, method, external = line
        derived = not external
        if derived:
            key = (day, money, reference, description)
            seen[key] += 1
            external = derived_external_id(day, money, reference, description, seen[key])
        repeated = external in ids
        if repeated:
            parsed.repeated += 1
        else:
            ids.add(external)
        if sampling:
            sample.append(PaymentLine(number, reference, description, money, day, method, external, derived))
            sampling = len(sample) < SAMPLE_LINES
        row = (f"{number}\t{reference}\t{description}\t{money}\t{day}\t{NULL if method is None else method}\t"
               f"{external}\t{'t' if repeated else 'f'}")
        if row.count("\t") != 7 or special(row):  # a value holding a tab, a newline, a backslash: escaped
            row = "\t".join((str(number), *map(escape, (reference, description, money, day, method, external)),
                             "t" if repeated else "f"))
        add(row)
    if not out and not parsed.failed_count and not parsed.skipped:
        raise ReadError(NO_DATA_ROWS, "The file has a header but no payment lines under it.")
    out.append("")
    parsed.rows = "\n".join(out).encode()
    parsed.count = len(out) - 1
    return parsed


__all__ = ["MISSING_COLUMNS", "ParsedPayments", "PaymentLine", "ReadError", "read_payments"]
