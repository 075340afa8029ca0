"""Recognise the header row of an age analysis and map its columns to our fields.

Matching ignores case, spaces, punctuation and accents ("ACC. NO." is "Acc No"). Ageing
columns are also recognised by their day count ("Days 30", "31-60", "120+", "Over 150").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from arrears.debtors.reading.errors import MISSING_COLUMNS, NO_DATA_ROWS, ReadError
from arrears.debtors.reading.labels import (
    MAX_BUCKET_DAYS,
    DayLabel,
    bucket_days,
    day_label,
    header_key,
    is_group_label,
    resolve_days,
)
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
        "Reference", "Ref", "Customer Ref", "Partner Ref", "Internal Reference", "Cust No", "Cust Code",
        "Cust Acc", "Cust Account", "Customer Acc", "Debtor Acc No", "Patient No", "File No",
    ),
    "name": (
        "Name", "Customer Name", "Customer", "Client Name", "Client", "Company", "Company Name",
        "Debtor Name", "Account Name", "Account Holder", "Business Name", "Trading Name",
        "Patient Name", "Patient", "Full Name", "Description", "Partner", "Partner Name",
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


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    """One column of the header: its 0-based index, its label as read (two header rows joined),
    the field it fills (None: not read) and why, in words for the preview."""

    index: int
    label: str
    field: str | None
    reason: str


@dataclass(slots=True)
class HeaderMatch:
    """What one candidate header row (or pair of rows) maps to."""

    labels: list[str]  # every cell of the row as text, "" for blank ones
    columns: dict[str, int] = field(default_factory=dict)  # field -> column index
    reasons: dict[int, str] = field(default_factory=dict)  # column index -> why it maps (or not)
    bucket_like: set[int] = field(default_factory=set)  # columns that name an ageing bucket
    overridden: bool = False  # a caller's mapping decided some columns
    # The fields a complete header needs and their names in messages: another importer (payments)
    # reuses the header search with its own vocabulary by overriding these.
    required: ClassVar[tuple[str, ...]] = REQUIRED_FIELDS
    field_labels: ClassVar[Mapping[str, str]] = FIELD_LABELS

    @property
    def found_headers(self) -> list[str]:
        return [label for label in self.labels if label]

    @property
    def missing(self) -> list[str]:
        return [f for f in self.required if f not in self.columns]

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

    def column_infos(self) -> list[ColumnInfo]:
        fields = {index: target for target, index in self.columns.items()}
        return [ColumnInfo(i, label, fields.get(i), self.reasons.get(i) or "not a column we read")
                for i, label in enumerate(self.labels) if label or i in fields]

    def unread_buckets(self) -> list[str]:
        """Labels of columns that look like ageing buckets but fill no field."""
        used = set(self.columns.values())
        return [self.labels[i] for i in sorted(self.bucket_like) if i not in used]


class AliasTable:
    """Our aliases plus an organisation's own (canonical field -> list of header texts), and a
    caller's mapping (column index -> field or None) that overrides both."""

    def __init__(self, extra_aliases: Mapping[str, Iterable[str]] | None = None,
                 overrides: Mapping[int, str | None] | None = None) -> None:
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
        self._overrides = dict(overrides or {})
        for chosen in self._overrides.values():
            if chosen is not None:
                _validate_target(chosen)

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

    def _known_label(self, label: str) -> bool:
        key = header_key(label)
        return bool(key) and (key in self._extra or key in self._known or day_label(label) is not None)

    def match_row(self, cells: list[Cell]) -> HeaderMatch:
        return self.match_labels([to_text(cell) for cell in cells])

    def match_two(self, upper: list[Cell], lower: list[Cell]) -> HeaderMatch | None:
        """The header written over two rows (labels split, or a group label such as 'Ageing (days)'
        over the bucket labels), or None when `lower` does not continue `upper`: every cell of each
        row must take part in a label we know."""
        tops = [to_text(cell) for cell in upper]
        bottoms = [to_text(cell) for cell in lower]
        width = max(len(tops), len(bottoms))
        tops += [""] * (width - len(tops))
        bottoms += [""] * (width - len(bottoms))
        if not any(bottoms) or not any(tops):
            return None
        labels: list[str] = []
        continued = False  # the lower row completes at least one label we know
        for top, bottom in zip(tops, bottoms, strict=True):
            both = f"{top} {bottom}" if top and bottom else top or bottom
            if not both:
                labels.append("")
            elif self._known_label(both):
                labels.append(both)
                continued = continued or bool(bottom)
            elif bottom and self._known_label(bottom) and (not top or is_group_label(top)):
                labels.append(bottom)  # 'Ageing (days)' over 'Current': the group label names no column
                continued = True
            elif top and not bottom and is_group_label(top):
                labels.append("")
            elif top and not self._known_label(top) and not self._known_label(bottom) and not _numeric(bottom):
                labels.append(both)  # a column we do not read ('E-mail' over 'Address')
            else:
                return None  # a data row under the header ('Account' over 'MOK001'), a title over it
        if not continued:
            return None
        return self.match_labels(labels)

    def match_labels(self, labels: list[str]) -> HeaderMatch:
        known: dict[int, tuple[str, int, str]] = {}  # column -> (field, rank, why)
        days: dict[int, DayLabel] = {}
        for index, label in enumerate(labels):
            if not label:
                continue
            key = header_key(label)
            if not key:
                continue
            found = self._extra.get(key)
            if found:
                known[index] = (*found, f"your alias '{label}'")
                continue
            found = self._known.get(key)
            if found:
                known[index] = (*found, f"alias '{label}'")
                continue
            spec = day_label(label)
            if spec is not None:
                days[index] = spec
        bucket_like = set(days) | {i for i, (target, _, _) in known.items() if target in _BUCKETS}
        if days:
            past_due = any(s.end is not None and s.start == 1 for s in days.values())
            month_shift = any(s.months and s.under for s in days.values()) and any(
                t == "current" for t, _, _ in known.values())
            last = 0
            for index, spec in sorted(days.items(), key=lambda item: item[1].start is None):
                start, why = resolve_days(spec, past_due, month_shift, last)
                if start is None or start > MAX_BUCKET_DAYS:
                    known.setdefault(index, ("", _GENERIC_BUCKET_RANK, why))
                    continue
                last = max(last, start)
                target = bucket_field(start)
                if is_extra_bucket(target):
                    why += f", kept as {target} and added into d120"
                known[index] = (target, _GENERIC_BUCKET_RANK, why)
        best: dict[str, tuple[int, int]] = {}  # field -> (rank, column)
        reasons: dict[int, str] = {}
        for index, (target, rank, why) in known.items():
            reasons[index] = why
            if not target:
                continue
            if target not in best or rank < best[target][0]:
                if target in best:
                    reasons[best[target][1]] = f"{target} is read from '{labels[index]}' instead"
                best[target] = (rank, index)
            else:
                reasons[index] = f"{target} is read from '{labels[best[target][1]]}' instead"
        if "name" not in best:  # "Debtor" beside "Acc No": the debtor's name
            debtor = next((i for i, label in enumerate(labels) if header_key(label) in ("debtor", "debtors")
                           and i not in {column for _, column in best.values()}), None)
            if debtor is not None:
                best["name"] = (_GENERIC_BUCKET_RANK, debtor)
                reasons[debtor] = f"'{labels[debtor]}' beside another account column: the debtor's name"
        if "name" not in best and "contact" in best:  # Xero's "Contact" is the customer
            best["name"] = best.pop("contact")
            reasons[best["name"][1]] += " (no name column: the contact is the customer's name)"
        columns = {target: index for target, (_, index) in sorted(best.items(), key=lambda kv: kv[1][1])}
        match = HeaderMatch(labels, columns, reasons, bucket_like)
        if self._overrides:
            self._override(match)
        return match

    def _override(self, match: HeaderMatch) -> None:
        width = len(match.labels)
        if any(index >= width or not match.labels[index] for index, t in self._overrides.items() if t):
            match.columns = {}  # the mapping names a column this row has no label in: not its header
            return
        for index, target in self._overrides.items():
            match.columns = {t: i for t, i in match.columns.items() if i != index and t != target}
            if target is not None:
                match.columns[target] = index
                match.reasons[index] = "your mapping"
            else:
                match.reasons[index] = "ignored by your mapping"
        match.columns = dict(sorted(match.columns.items(), key=lambda kv: kv[1]))
        match.overridden = True


_BUCKETS = frozenset({"current", "d30", "d60", "d90", "d120"})
@dataclass(slots=True)
class FoundHeader:
    sheet: Sheet
    row_number: int  # the last header row: data follows it
    match: HeaderMatch
    rows: Iterator[NumberedRow]  # the rows below the header, not yet read
    header_rows: list[int] = field(default_factory=list)  # every header row (one or two)
    header_cells: list[list[str]] = field(default_factory=list)  # their labels, for repeated headers
    title_lines: list[str] = field(default_factory=list)  # the text of each non-blank line above
    pending: list[NumberedRow] = field(default_factory=list)  # rows read after the header already


def _numeric(text: str) -> bool:
    return any(ch.isdigit() for ch in text)


def is_blank(cells: list[Cell]) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def line_text(cells: list[Cell]) -> str:
    return "  ".join(text for text in map(to_text, cells) if text)


def find_header(sheets: Iterable[Sheet], aliases: AliasTable, scan_rows: int = SCAN_ROWS) -> FoundHeader:
    """The first sheet, in order, with a complete header within its first `scan_rows` rows: one
    row, or two (labels split over two rows, a group label above the bucket labels).

    Raises MISSING_COLUMNS naming what the best candidate row lacks and what it holds, or
    NO_DATA_ROWS when no sheet has any row at all.
    """
    best: tuple[int, str, int, HeaderMatch] | None = None  # (fields recognised, sheet, row, match)
    for sheet in sheets:
        scanned = non_blank = 0
        above: list[NumberedRow] = []  # non-blank rows above the header
        waiting: tuple[int, list[Cell], HeaderMatch] | None = None  # a complete row: is the next its second?
        for number, cells in sheet.rows:
            scanned += 1
            if waiting is not None:
                w_number, w_cells, w_match = waiting
                two = None if is_blank(cells) else aliases.match_two(w_cells, cells)
                if two is not None and two.complete:
                    return _found(sheet, [(w_number, w_cells), (number, cells)], two, above, [])
                return _found(sheet, [(w_number, w_cells)], w_match, above, [(number, cells)])
            if is_blank(cells):
                if scanned > scan_rows * 20:
                    break  # a sheet of blank rows: give up on it
                continue
            non_blank += 1
            match = aliases.match_row(cells)
            previous = above[-1] if above and above[-1][0] == number - 1 else None
            if previous is not None:
                two = aliases.match_two(previous[1], cells)
                if two is not None and two.complete:
                    return _found(sheet, [above.pop(), (number, cells)], two, above, [])
            if match.complete:
                waiting = (number, cells, match)
                continue
            if not sheet.alternative and (best is None or len(match.columns) > best[0]):
                best = (len(match.columns), sheet.name, number, match)
            above.append((number, cells))
            if non_blank >= scan_rows:
                break
        if waiting is not None:
            return _found(sheet, [waiting[:2]], waiting[2], above, [])
        _close(sheet.rows)
    if best is None:
        raise ReadError(
            NO_DATA_ROWS, "The file has no rows: it needs a header row and at least one data row."
        )
    _, sheet_name, row_number, match = best
    raise missing_columns_error(match, sheet_name, row_number)


def _found(sheet: Sheet, header: list[tuple[int, list[Cell]]], match: HeaderMatch, above: list[NumberedRow],
           pending: list[NumberedRow]) -> FoundHeader:
    # The rows read so far are all at or above the header (or in `pending`): the rest is data.
    return FoundHeader(sheet, header[-1][0], match, sheet.rows, [n for n, _ in header],
                       [[to_text(c) for c in cells] for _, cells in header],
                       [line_text(cells) for _, cells in above], pending)


def missing_columns_error(match: HeaderMatch, sheet_name: str, row_number: int) -> ReadError:
    missing = [match.field_labels[f] for f in match.missing]
    found = match.found_headers
    found_text = ", ".join(f"'{h}'" for h in found) if found else "none"
    message = (
        f"The file is missing required columns: {', '.join(missing)}. "
        f"Headers found (sheet '{sheet_name}', row {row_number}): {found_text}. "
        f"Required columns are {', '.join(match.field_labels[f] for f in match.required)}; rename the "
        "columns, or add their names as aliases in the organisation settings."
    )
    # Every column of that row with its real index, so that a preview can list them and a mapping rescue the file.
    columns = [{"index": c.index, "label": c.label, "field": c.field, "reason": c.reason} for c in match.column_infos()]
    details = {"missing": missing, "found_headers": found, "sheet": sheet_name, "row": row_number,
               "columns": columns}
    return ReadError(MISSING_COLUMNS, message, details)


def _close(rows: Iterator[NumberedRow]) -> None:
    close = getattr(rows, "close", None)
    if close is not None:
        close()  # release the file a rejected candidate holds open
