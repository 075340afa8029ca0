"""extract_debtors: a Debtors Age Analysis PDF to debtors, and the rows it would not vouch for."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from arrears.debtors.pdf import contacts
from arrears.debtors.pdf.errors import NO_DEBTOR_TABLE, NO_TEXT, PdfReadError
from arrears.debtors.pdf.header import ACC, BALANCE, EMAIL, NAME, OTHER, PHONE, parse_header
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
# Subtotal and total lines: "Page Total", "Sub-total", "GRAND TOTAL", "Totals:".
_TOTAL = re.compile(r"\b(?:sub-?)?totals?\b|\bgrand\b", re.IGNORECASE)
# A contact line belongs to the debtor above it when it starts within this many line heights.
_CONTACT_REACH = 3.0


def extract_debtors(data: bytes | bytearray | memoryview | str | os.PathLike[str],
                    extra_medical_aid_names: Iterable[str] = ()) -> PdfExtraction:
    """Read every debtor row of a Debtors Age Analysis PDF (bytes or a path).

    Raises PdfReadError (NOT_A_PDF, ENCRYPTED_PDF, BROKEN_PDF, NO_TEXT, NO_DEBTOR_TABLE) when the
    file as a whole cannot be used. Rows that were read but cannot be trusted (buckets that do not
    add up to the balance, no account number, an unreadable amount, an account printed twice) are
    in `issues`, each with the row as read, and not in `debtors`: the caller decides.
    """
    blob = Path(data).read_bytes() if isinstance(data, str | os.PathLike) else bytes(data)
    table = _TableReader()
    with PdfWords(blob) as pdf:
        pages = pdf.pages
        for page_no, words in enumerate(pdf, start=1):
            if words:
                table.read_page(page_no, group_lines(words))
    if not table.saw_text:
        raise PdfReadError(NO_TEXT)
    if table.layout is None:
        raise PdfReadError(NO_DEBTOR_TABLE)
    return table.result(pages, MedicalAidMatcher(extra_medical_aid_names))


class _TableReader:
    def __init__(self) -> None:
        self.layout: TableLayout | None = None
        self.saw_text = False
        self.debtors: list[PdfDebtor] = []
        self.issues: list[PdfRowIssue] = []
        self.rows: list[PdfDebtor] = []  # every row read, kept or not: contacts and flags apply to all
        self.seen: dict[str, int] = {}  # account -> page of its first row
        self.buckets: tuple[str, ...] = ()

    def read_page(self, page_no: int, lines: list[Line]) -> None:
        self.saw_text = True
        last: PdfDebtor | None = None  # contact lines attach to the row above, on the same page
        last_bottom = 0.0
        for line in lines:
            cells = self.layout.split(line) if self.layout is not None else None
            if cells is not None and cells.is_amount_row:  # a header has no amounts: no need to test
                last = self._row(page_no, cells)
                last_bottom = line.bottom
                continue
            columns = parse_header(line)
            if columns is not None:
                # Every page may repeat (and re-position) the header: always use the latest.
                self.layout = TableLayout(columns)
                self.buckets = self.buckets or self.layout.buckets
                last = None
            elif last is not None and last_bottom - line.top < _CONTACT_REACH * line.height:
                if self._contact(last, line.text):
                    last_bottom = line.bottom

    def _row(self, page_no: int, cells: Cells) -> PdfDebtor | None:
        layout = self.layout
        assert layout is not None
        acc, name = cells.get(ACC), cells.get(NAME)
        if _TOTAL.search(f"{acc} {name} {cells.get(OTHER)}") and (not acc or _TOTAL.search(acc)):
            return None  # a subtotal or total line, not a debtor
        if not acc and name:
            first, _, rest = name.partition(" ")
            if rest and any(ch.isdigit() for ch in first):  # no account column: "AC1001 John Smith"
                acc, name = first, rest
        if not acc and not name:
            return None  # figures without a label: an unnamed total
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
            debtor.phone = cells.get(PHONE) or None
        if debtor.email is None and (other := cells.get(OTHER)):
            debtor.email = contacts.find_email(other)
        self.rows.append(debtor)

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

    def _issue(self, code: str, message: str, debtor: PdfDebtor) -> PdfDebtor:
        self.issues.append(PdfRowIssue(code=code, message=message, page=debtor.page, acc_no=debtor.acc_no,
                                       name=debtor.name, debtor=debtor))
        return debtor

    @staticmethod
    def _contact(debtor: PdfDebtor, text: str) -> bool:
        if not contacts.looks_like_contact_line(text):
            return False
        if debtor.email is None:
            debtor.email = contacts.find_email(text)
        if debtor.phone is None:
            debtor.phone = contacts.find_phone(text)
        return True

    def result(self, pages: int, is_medical_aid: MedicalAidMatcher) -> PdfExtraction:
        for debtor in self.rows:
            debtor.phone_normalised = contacts.phone_normalised(debtor.phone)
            debtor.is_medical_aid_control = is_medical_aid(debtor.name)
        return PdfExtraction(debtors=self.debtors, issues=self.issues, pages=pages, buckets=self.buckets)
