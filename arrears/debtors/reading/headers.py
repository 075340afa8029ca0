"""Recognise the header row of an age analysis and map its columns to our fields.

Matching ignores case, spaces, punctuation and accents ("ACC. NO." is "Acc No"). Ageing
columns are also recognised by their day count ("Days 30", "31-60", "120+", "Over 150").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from arrears.debtors.reading.errors import MISSING_COLUMNS, NO_DATA_ROWS, ReadError
from arrears.debtors.reading.rows import Cell, NumberedRow, Sheet
from arrears.debtors.reading.values import to_text

REQUIRED_FIELDS: tuple[str, ...] = ("account", "name", "telephone", "total_balance")
BUCKET_FIELDS: dict[int, str] = {0: "current", 30: "d30", 60: "d60", 90: "d90", 120: "d120"}
CANONICAL_FIELDS: tuple[str, ...] = (
    "account", "name", "telephone", "contact", "current", "d30", "d60", "d90", "d120", "total_balance",
)  # fmt: skip
FIELD_LABELS: dict[str, str] = {
    "account": "Account",
    "name": "Name",
    "telephone": "Telephone",
    "contact": "Contact",
    "current": "Current",
    "d30": "30 Days",
    "d60": "60 Days",
    "d90": "90 Days",
    "d120": "120 Days",
    "total_balance": "Total Balance",
}
MAX_BUCKET_DAYS = 720
SCAN_ROWS = 30  # non-blank rows searched per sheet: title lines sit above the header

# Aliases per field, best first: when two columns claim one field, the better alias wins.
# Ageing columns need few aliases here, bucket_days() reads their day counts.
ALIASES: dict[str, tuple[str, ...]] = {
    "account": (
        "Account", "Account Code", "Account Number", "Account No", "Acc Code", "Acc No", "Acc Number",
        "Acc", "Acct", "Acct No", "Acct Code", "Acct Number", "Account ID", "Account Ref", "Account Num",
        "Debtor Code", "Debtor No", "Debtor Number", "Debtor Account", "Debtor Acc", "Debtor",
        "Customer Code", "Customer No", "Customer Number", "Customer Account", "Customer ID",
        "Client Code", "Client No", "Client Number", "Client Account", "Client ID", "Code",
    ),
    "name": (
        "Name", "Customer Name", "Customer", "Client Name", "Client", "Company", "Company Name",
        "Debtor Name", "Account Name", "Account Holder", "Business Name", "Trading Name",
        "Patient Name", "Patient", "Full Name", "Description",
    ),
    "contact": (
        "Contact", "Contact Person", "Contact Name", "Rep", "Account Manager", "Sales Rep",
        "Representative", "Attention", "Attn",
    ),
    "telephone": (
        "Telephone", "Phone", "Mobile", "Cell", "Contact Number", "Cell No", "Cell Number",
        "Cellphone", "Cell Phone", "Cellphone No", "Cellphone Number", "Mobile No", "Mobile Number",
        "Mobile Phone", "Phone No", "Phone Number", "Tel", "Tel No", "Tel Number", "Telephone No",
        "Telephone Number", "Contact No", "Contact Tel", "Contact Phone", "Contact Cell",
        "Contact Details", "SMS Number", "Cell Tel", "Tel Cell", "WhatsApp",
    ),
    "current": ("Current", "Current Balance", "Current Amount", "Current Month", "Curr", "Cur", "Not Due"),
    "d30": ("30 Days", "Days 30"),
    "d60": ("60 Days", "Days 60"),
    "d90": ("90 Days", "Days 90"),
    "d120": ("120 Days", "120+", "Over 120", "120 Plus", "Days 120"),
    "total_balance": (
        "Total Balance", "Total", "Balance", "Amount", "Outstanding", "Balance Due", "Total Due",
        "Total Outstanding", "Outstanding Balance", "Amount Due", "Amount Owing", "Balance Owing",
        "Total Owing", "Total Amount", "Account Balance", "Closing Balance", "Totals", "Total Bal", "Bal",
    ),
}  # fmt: skip

_GENERIC_BUCKET_RANK = 10_000  # a column named only by its day count loses to any explicit alias
_ORG_ALIAS_RANK = -1  # an organisation's own aliases beat ours
_TOKENS = re.compile(r"[a-z]+|\d+")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_BUCKET_NOISE = frozenset(
    "days day d dys dy plus over older than and or more aged age above overdue od past due gt "
    "balance bal amount amt".split()
)
_MONTH_WORDS = frozenset({"month", "months", "mth", "mths", "mnth", "m"})


def _fold(text: str) -> str:
    """Lower case without accents: 'Télephone' -> 'telephone'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def header_key(text: str) -> str:
    """The form headers are compared in: 'Acc. No.' -> 'accno'."""
    if text.isascii():  # the common case, and 10x cheaper than Unicode folding
        return _NON_ALNUM.sub("", text.lower())
    return _NON_ALNUM.sub("", _fold(text))


def bucket_days(text: str) -> int | None:
    """The first day of the ageing bucket a header names, or None when it names none.

    '30 Days', 'Days 30', '30', '31-60', '30-59 Days' -> 30; '0-30' -> 0; '120+', 'Over 120',
    '121+' -> 120; '2 Months' -> 60. Buckets are 30 days wide and start at most at 720.
    """
    numbers: list[int] = []
    months = False
    for token in _TOKENS.findall(_fold(text)):
        if token.isdigit():
            numbers.append(int(token))
        elif token in _MONTH_WORDS:
            months = True
        elif token not in _BUCKET_NOISE:
            return None
    if months:
        numbers = [n * 30 for n in numbers]
    if len(numbers) == 1:
        start = numbers[0]
    elif len(numbers) == 2:
        start, end = numbers
    else:
        return None
    if start % 30 == 1:
        start -= 1  # "31-60", "121+": the bucket that starts at 30, at 120
    if start % 30 or start > MAX_BUCKET_DAYS:
        return None
    if len(numbers) == 2 and end - start not in (29, 30):
        return None  # "0-60" spans two buckets
    return start


def bucket_field(days: int) -> str:
    """The field a bucket fills: 'current', 'd30' ... 'd120', and 'd150' ... 'd720' beyond."""
    return BUCKET_FIELDS.get(days, f"d{days}")


def is_extra_bucket(target: str) -> bool:
    return target not in CANONICAL_FIELDS


def _validate_target(target: str) -> str:
    if target in CANONICAL_FIELDS:
        return target
    match = re.fullmatch(r"d(\d+)", target)
    if match and 120 < int(match.group(1)) <= MAX_BUCKET_DAYS and int(match.group(1)) % 30 == 0:
        return target
    raise ValueError(
        f"unknown column {target!r} in extra aliases: use one of {', '.join(CANONICAL_FIELDS)} "
        f"or d150 ... d{MAX_BUCKET_DAYS}"
    )


@dataclass(slots=True)
class HeaderMatch:
    """What one candidate header row maps to."""

    labels: list[str]  # every cell of the row as text, "" for blank ones
    columns: dict[str, int] = field(default_factory=dict)  # field -> column index

    @property
    def found_headers(self) -> list[str]:
        return [label for label in self.labels if label]

    @property
    def missing(self) -> list[str]:
        return [f for f in REQUIRED_FIELDS if f not in self.columns]

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def extra_buckets(self) -> dict[int, int]:
        """Columns of buckets older than 120 days: days -> column index, oldest last."""
        return dict(sorted((int(t[1:]), i) for t, i in self.columns.items() if is_extra_bucket(t)))

    @property
    def mapping(self) -> dict[str, str]:
        """Field -> header text as the file writes it."""
        return {target: self.labels[index] for target, index in self.columns.items()}

    @property
    def unmapped_headers(self) -> list[str]:
        used = set(self.columns.values())
        return [label for i, label in enumerate(self.labels) if label and i not in used]


class AliasTable:
    """Our aliases plus an organisation's own (canonical field -> list of header texts)."""

    def __init__(self, extra_aliases: Mapping[str, Iterable[str]] | None = None) -> None:
        self._known: dict[str, tuple[str, int]] = {}
        for target, aliases in ALIASES.items():
            for rank, alias in enumerate(aliases):
                self._known.setdefault(header_key(alias), (target, rank))
        self._extra: dict[str, tuple[str, int]] = {}
        for target, names in (extra_aliases or {}).items():
            _validate_target(target)
            for alias in [names] if isinstance(names, str) else names:  # a single alias given bare
                key = header_key(alias)
                if key:
                    self._extra[key] = (target, _ORG_ALIAS_RANK)

    def classify(self, header: str) -> tuple[str, int] | None:
        """(field, rank) for a header text, or None when it is not one of ours."""
        key = header_key(header)
        if not key:
            return None
        found = self._extra.get(key) or self._known.get(key)
        if found:
            return found
        days = bucket_days(header)
        if days is None:
            return None
        return bucket_field(days), _GENERIC_BUCKET_RANK

    def match_row(self, cells: list[Cell]) -> HeaderMatch:
        labels = [to_text(cell) for cell in cells]
        best: dict[str, tuple[int, int]] = {}  # field -> (rank, column)
        for index, label in enumerate(labels):
            found = self.classify(label) if label else None
            if found is None:
                continue
            target, rank = found
            if target not in best or rank < best[target][0]:
                best[target] = (rank, index)
        columns = {target: index for target, (_, index) in sorted(best.items(), key=lambda kv: kv[1][1])}
        return HeaderMatch(labels, columns)


@dataclass(slots=True)
class FoundHeader:
    sheet: Sheet
    row_number: int
    match: HeaderMatch
    rows: Iterator[NumberedRow]  # the rows below the header, not yet read


def is_blank(cells: list[Cell]) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def find_header(sheets: Iterable[Sheet], aliases: AliasTable, scan_rows: int = SCAN_ROWS) -> FoundHeader:
    """The first sheet, in order, with a complete header within its first `scan_rows` rows.

    Raises MISSING_COLUMNS naming what the best candidate row lacks and what it holds, or
    NO_DATA_ROWS when no sheet has any row at all.
    """
    best: tuple[int, str, int, HeaderMatch] | None = None  # (fields recognised, sheet, row, match)
    for sheet in sheets:
        scanned = non_blank = 0
        for number, cells in sheet.rows:
            scanned += 1
            if is_blank(cells):
                if scanned > scan_rows * 20:
                    break  # a sheet of blank rows: give up on it
                continue
            non_blank += 1
            match = aliases.match_row(cells)
            if match.complete:
                # The rows read so far are all at or above the header: the rest is data.
                return FoundHeader(sheet, number, match, sheet.rows)
            if not sheet.alternative and (best is None or len(match.columns) > best[0]):
                best = (len(match.columns), sheet.name, number, match)
            if non_blank >= scan_rows:
                break
        _close(sheet.rows)
    if best is None:
        raise ReadError(
            NO_DATA_ROWS, "The file has no rows: it needs a header row and at least one data row."
        )
    _, sheet_name, row_number, match = best
    raise missing_columns_error(match, sheet_name, row_number)


def missing_columns_error(match: HeaderMatch, sheet_name: str, row_number: int) -> ReadError:
    missing = [FIELD_LABELS[f] for f in match.missing]
    found = match.found_headers
    found_text = ", ".join(f"'{h}'" for h in found) if found else "none"
    message = (
        f"The file is missing required columns: {', '.join(missing)}. "
        f"Headers found (sheet '{sheet_name}', row {row_number}): {found_text}. "
        f"Required columns are {', '.join(FIELD_LABELS[f] for f in REQUIRED_FIELDS)}; rename the "
        "columns, or add their names as aliases in the organisation settings."
    )
    details = {"missing": missing, "found_headers": found, "sheet": sheet_name, "row": row_number}
    return ReadError(MISSING_COLUMNS, message, details)


def _close(rows: Iterator[NumberedRow]) -> None:
    close = getattr(rows, "close", None)
    if close is not None:
        close()  # release the file a rejected candidate holds open
