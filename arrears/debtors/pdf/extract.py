"""extract_debtors: a Debtors Age Analysis PDF to debtors, and the rows it would not vouch for.

Each line of a page is one of: the table header (the first one, or a repeat: `repeated_header`),
an account row, the lines under an account that carry its contacts or the rest of its name, or a
line that is not an account, skipped and counted by why: `title` (above the page's table: the
report's title, practice address block, "Page 2 of 3"), `heading` (a group: medical aid, area,
rep), `total` (group, page and grand totals, labelled or figures only), `footer` ("Printed by",
page numbers, anything below the page's last row) and `summary` (a table after the list).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path

from arrears.debtors.pdf import contacts
from arrears.debtors.pdf import mapping as column_mapping
from arrears.debtors.pdf.errors import NO_DEBTOR_TABLE, NO_TEXT, PdfReadError
from arrears.debtors.pdf.header import (
    ACC,
    ACC_NAME,
    BALANCE,
    EMAIL,
    NAME,
    OTHER,
    PHONE,
    Column,
    continues_header,
    parse_header,
)
from arrears.debtors.pdf.medical import MedicalAidMatcher
from arrears.debtors.pdf.model import (
    BUCKETS_DO_NOT_ADD_UP,
    DUPLICATE_ACCOUNT,
    NO_ACCOUNT_NUMBER,
    UNREADABLE_AMOUNT,
    PdfDebtor,
    PdfExtraction,
    PdfRowIssue,
)
from arrears.debtors.pdf.reader import Line, PdfWords, group_lines
from arrears.debtors.pdf.rows import Cells, TableLayout

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# Subtotal and total lines: "Page Total", "Sub-total", "GRAND TOTAL", "Totals:".
_TOTAL = re.compile(r"\b(?:sub-?)?totals?\b|\bgrand\b", re.IGNORECASE)
# The report's own total (a line labelled only "Total" counts when no account follows it).
_GRAND = re.compile(r"\bgrand\b|\breport\s+total|\btotal\s+(?:debtors|outstanding|owing)\b|^\s*totals?\s*:?\s*$",
                    re.IGNORECASE)
_PAGE_TOTAL = re.compile(r"\bpage\s*totals?\b|\btotals?\s+(?:for\s+)?(?:this\s+)?page\b", re.IGNORECASE)
_FOOTER = re.compile(r"\bprinted\s+(?:by|on|at)\b|\bprint(?:ed)?\s*date\b|\brun\s+(?:date|by|on)\b|\bpage\s*:?\s*\d"
                     r"|\bcontinued\b|\bend\s+of\s+report\b|\bconfidential\b|\buser\s*:|\bgenerated\s+(?:by|on)\b",
                     re.IGNORECASE)
_SUMMARY = re.compile(r"\bsummary\b|\brecap\b|\banalysis\s+by\b", re.IGNORECASE)
# A contact line belongs to the debtor above it when it starts within this many line heights.
_CONTACT_REACH = 3.0
# A wrapped name's next line starts where the name did, give or take this many points.
_NAME_ALIGN = 2.0
# Lines under a newly found header used to learn where its amount columns end.
_SAMPLE_LINES = 40


def extract_debtors(data: bytes | bytearray | memoryview | str | os.PathLike[str],
                    extra_medical_aid_names: Iterable[str] = (),
                    mapping: Mapping[int, str | None] | None = None) -> PdfExtraction:
    """Read every debtor row of a Debtors Age Analysis PDF (bytes or a path).

    Raises PdfReadError (NOT_A_PDF, ENCRYPTED_PDF, BROKEN_PDF, NO_TEXT, NO_DEBTOR_TABLE) when the
    file as a whole cannot be used. Rows that were read but cannot be trusted (buckets that do not
    add up to the balance, no account number, an unreadable amount, an account printed twice) are
    in `issues`, each with the row as read, and not in `debtors`: the caller decides. Lines that are
    not accounts are counted in `skipped`; the report's printed total is checked in `warnings`.
    `mapping` ({column index: field or None}, arrears.debtors.pdf.mapping) corrects what the header
    says its columns hold; one that does not fit the first header is left aside, its problems in
    `mapping_problems`.
    """
    blob = Path(data).read_bytes() if isinstance(data, str | os.PathLike) else bytes(data)
    is_medical_aid = MedicalAidMatcher(extra_medical_aid_names)
    table = _TableReader(is_medical_aid, mapping)
    with PdfWords(blob) as pdf:
        pages = pdf.pages
        for page_no, words in enumerate(pdf, start=1):
            if words:
                table.read_page(page_no, group_lines(words))
    if not table.saw_text:
        raise PdfReadError(NO_TEXT)
    if table.layout is None:
        raise PdfReadError(NO_DEBTOR_TABLE)
    return table.result(pages)


class _TableReader:
    def __init__(self, is_medical_aid: MedicalAidMatcher, mapping: Mapping[int, str | None] | None = None) -> None:
        self.is_medical_aid = is_medical_aid
        self.mapping = dict(mapping) if mapping else None
        self.columns: list[dict[str, object]] = []  # the first header's, as described
        self.mapping_problems: list[dict[str, object]] = []
        self.layout: TableLayout | None = None
        self.saw_text = False
        self.debtors: list[PdfDebtor] = []
        self.issues: list[PdfRowIssue] = []
        self.rows: list[PdfDebtor] = []  # every row read, kept or not: contacts and flags apply to all
        self.phones: dict[int, list[str]] = {}  # id(row) -> the numbers printed for it, in order
        self.seen: dict[str, int] = {}  # account -> page of its first row
        self.buckets: tuple[str, ...] = ()
        self.skipped: dict[str, int] = {}
        self.title_lines: list[str] = []
        self.headers = 0
        self.in_summary = False
        self.after_total = False  # the last table line was a total: a summary may follow
        self.grand: Decimal | None = None  # the last grand-total line, unless an account follows it
        self.page_totals: list[Decimal] = []
        self._layouts: dict[tuple[tuple[str, float, float], ...], TableLayout] = {}
        self._key_now: tuple[tuple[str, float, float], ...] = ()

    def _skip(self, reason: str, count: int = 1) -> None:
        if count:
            self.skipped[reason] = self.skipped.get(reason, 0) + count

    def read_page(self, page_no: int, lines: list[Line]) -> None:
        self.saw_text = True
        last: PdfDebtor | None = None  # contact lines attach to the row above, on the same page
        last_bottom = 0.0
        name_x0: float | None = None  # where the last row's name starts
        in_table = False  # a header or an amount row seen on this page
        pending = 0  # lines that are not accounts, not yet known to be a heading or a footer
        header: Line | None = None  # the header, while the line under it may be its second row
        for n, line in enumerate(lines):
            cells = self.layout.split(line) if self.layout is not None else None
            if cells is not None and cells.is_amount_row:  # a header has no amounts: no need to test
                in_table = True
                if self.in_summary:
                    self._skip("summary")
                    continue
                self._skip("heading", pending)
                pending = 0
                last = self._row(page_no, cells)
                last_bottom, name_x0 = line.bottom, cells.name_x0
                continue
            columns = parse_header(line)
            if columns is not None:
                columns = self._mapped(columns)
            if columns is not None and self.in_summary and self._key(columns) != self._key_now:
                columns = None  # a summary table's own header; the list's header again ends the summary
            if columns is not None:
                self.in_summary = False
                in_table = True
                self._skip("heading", pending)
                pending = 0
                # Every page may repeat (and re-position) the header: always use the latest.
                self.layout = self._layout(columns, lines[n + 1: n + 1 + _SAMPLE_LINES])
                self.buckets = self.buckets or self.layout.buckets
                self.headers += 1
                if self.headers > 1:
                    self._skip("repeated_header")
                last, header = None, line
                continue
            if header is not None and continues_header(line, header):
                header = None
                continue  # the header's second row is part of the header
            header = None
            text = line.text
            if not in_table:
                self._skip("title")
                if self.headers == 0:
                    self.title_lines.append(text)
            elif self.in_summary:
                self._skip("summary")
            elif _FOOTER.search(text):
                self._skip("footer")
            elif self.after_total and _SUMMARY.search(text):
                self.in_summary = True
                self._skip("summary")
            elif last is not None and last_bottom - line.top < _CONTACT_REACH * line.height and (
                    self._contact(last, text) or self._name_continues(last, line, name_x0)):
                last_bottom = line.bottom
            else:
                last = None
                pending += 1
        self._skip("footer", pending)  # below the page's last row: page numbers, notes, disclaimers

    def _mapped(self, columns: list[Column]) -> list[Column]:
        """The header's columns with the mapping laid over them, once it is checked on the first."""
        if not self.columns:
            if self.mapping is not None:
                self.mapping_problems = column_mapping.check(columns, self.mapping)
                if self.mapping_problems:
                    self.mapping = None  # a mapping that does not fit is not half applied
            self.columns = column_mapping.describe(columns, self.mapping)
        return column_mapping.apply(columns, self.mapping) if self.mapping else columns

    @staticmethod
    def _key(columns: list[Column]) -> tuple[tuple[str, float, float], ...]:
        return tuple((c.kind, round(c.x0, 1), round(c.x1, 1)) for c in columns)

    def _layout(self, columns: list[Column], sample: list[Line]) -> TableLayout:
        key = self._key_now = self._key(columns)
        layout = self._layouts.get(key)
        if layout is None:  # the same header on every page: learn its columns once
            layout = self._layouts[key] = TableLayout(columns, sample)
        return layout

    def _name_continues(self, debtor: PdfDebtor, line: Line, name_x0: float | None) -> bool:
        """A line under the row that starts where its name started and stays left of the figures:
        the rest of a wrapped name."""
        layout = self.layout
        if name_x0 is None or layout is None or abs(line.words[0].x0 - name_x0) > _NAME_ALIGN:
            return False
        if ":" in line.text or line.words[-1].x1 >= layout.text_right(name_x0) or self.is_medical_aid(line.text):
            return False  # a label, text in the next column, or a scheme's heading indented like a name
        debtor.name = f"{debtor.name} {line.text}"
        return True

    def _row(self, page_no: int, cells: Cells) -> PdfDebtor | None:
        layout = self.layout
        assert layout is not None
        acc, name = cells.get(ACC), cells.get(NAME)
        if ACC_NAME in cells.text:  # "100234  DOE J MR" under one label
            acc, _, name = cells.get(ACC_NAME).partition(" ")
        elif not name and NAME not in layout.has and " " in acc:  # ... under an "Account" label alone
            acc, _, name = acc.partition(" ")
        label = f"{acc} {name} {cells.get(OTHER)}"
        if (_TOTAL.search(label) and (not acc or _TOTAL.search(acc))) or (not acc and not name):
            self._total(label, cells)
            return None  # a subtotal or total line (labelled, or figures without a label), not a debtor
        if not acc and name:
            first, _, rest = name.partition(" ")
            if rest and any(ch.isdigit() for ch in first):  # no account column: "AC1001 John Smith"
                acc, name = first, rest
        amounts = cells.amounts
        debtor = PdfDebtor(acc_no=acc, name=name, page=page_no)
        for bucket, value in amounts.items():
            if bucket != BALANCE:
                setattr(debtor, bucket, value)  # buckets the report does not print stay 0
        total = debtor.bucket_total()
        debtor.balance = amounts.get(BALANCE, total) if BALANCE in layout.has else total
        if EMAIL in cells.text:
            debtor.email = contacts.find_email(cells.get(EMAIL)) or None
        if PHONE in cells.text:
            self.phones[id(debtor)] = contacts.find_phones(cells.get(PHONE)) or [cells.get(PHONE)]
        if debtor.email is None and (other := cells.get(OTHER)):
            debtor.email = contacts.find_email(other)
        self.rows.append(debtor)
        self.grand = None  # a total with accounts after it closed a group, not the report
        self.after_total = False

        label = f"Account {acc or '(none)'} ({name}) on page {page_no}"
        if not acc:
            return self._issue(NO_ACCOUNT_NUMBER, f"{label} has figures but no account number.", debtor)
        if cells.unreadable:
            unreadable = ", ".join(repr(text) for text in cells.unreadable)
            return self._issue(UNREADABLE_AMOUNT, f"{label}: {unreadable} under an amount column is not an "
                                                  "amount.", debtor)
        tolerance = CENT * max(1, len(layout.buckets))
        if abs(total - debtor.balance) > tolerance:
            return self._issue(BUCKETS_DO_NOT_ADD_UP,
                               f"{label}: the ageing buckets add up to {total:,.2f} but the balance printed is "
                               f"{debtor.balance:,.2f} (a difference of {debtor.balance - total:,.2f}).", debtor)
        if acc in self.seen:
            return self._issue(DUPLICATE_ACCOUNT, f"{label} is printed again; the first row (page "
                                                  f"{self.seen[acc]}) is the one in the debtors.", debtor)
        self.seen[acc] = page_no
        self.debtors.append(debtor)
        return debtor

    def _total(self, label: str, cells: Cells) -> None:
        self._skip("total")
        self.after_total = True
        layout = self.layout
        assert layout is not None
        amounts = cells.amounts
        value = amounts[BALANCE] if BALANCE in amounts else sum(
            (v for k, v in amounts.items() if k != BALANCE), ZERO)
        label = label.strip()
        if _PAGE_TOTAL.search(label):
            self.page_totals.append(value)
        elif _GRAND.search(label) or not label:
            self.grand = value  # figures alone after the last account are the report's total too

    def _issue(self, code: str, message: str, debtor: PdfDebtor) -> PdfDebtor:
        self.issues.append(PdfRowIssue(code=code, message=message, page=debtor.page, acc_no=debtor.acc_no,
                                       name=debtor.name, debtor=debtor))
        return debtor

    def _contact(self, debtor: PdfDebtor, text: str) -> bool:
        if not contacts.looks_like_contact_line(text):
            return False
        if debtor.email is None:
            debtor.email = contacts.find_email(text)
        self.phones.setdefault(id(debtor), []).extend(contacts.find_phones(text))
        return True

    def _check_total(self) -> tuple[Decimal | None, list[str]]:
        printed = self.grand
        if printed is None and self.page_totals:
            printed = sum(self.page_totals, ZERO)
        if printed is None:
            return None, []
        total = sum((d.balance for d in self.debtors), ZERO)
        if total == printed:
            return printed, [f"The {len(self.debtors):,} debtors add up to {total:,.2f}: "
                             "matches the report's total."]
        return printed, [f"The debtors add up to {total:,.2f} but the report's total is {printed:,.2f} "
                         f"(difference {printed - total:,.2f})."]

    def result(self, pages: int) -> PdfExtraction:
        for debtor in self.rows:
            debtor.phone, debtor.phone_normalised, debtor.phone2 = contacts.choose_phones(
                self.phones.get(id(debtor), []))
            debtor.is_medical_aid_control = self.is_medical_aid(debtor.name)
        printed, warnings = self._check_total()
        return PdfExtraction(debtors=self.debtors, issues=self.issues, pages=pages, buckets=self.buckets,
                             skipped=self.skipped, printed_total=printed, warnings=warnings,
                             title_lines=self.title_lines, columns=self.columns,
                             mapping_problems=self.mapping_problems)
