"""A Debtors Age Analysis PDF as one report of the pharmacy's debtor book.

Extraction (arrears.debtors.pdf) is pure and CPU-bound: the face runs it off the event loop and
outside any transaction. Storing is one transaction: the book's `store_report` writes the
report's snapshots and brings the accounts up to date (the same account number is the same
debtor, its id stays); then the pharmacy's own fields (e-mail, phone as printed, medical-aid
flag) are written beside them, and the debtors the report no longer lists are marked settled —
kept with their history and communications, never deleted (by the book's own rule, as for a
spreadsheet: arrears.debtors.book; a partial report settles nothing). All of it commits, or none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.debtors import book
from arrears.debtors.mapping import parse_mapping
from arrears.debtors.models import DebtorAccount, DebtorReport
from arrears.debtors.pdf import (
    PARSE_FAILED,
    PdfDebtor,
    PdfExtraction,
    PdfReadError,
    PdfRowIssue,
    extract_debtors,
)
from arrears.debtors.preview import mapping_failed
from arrears.debtors.reading import AccountRow, RowError
from arrears.debtors.service import lock_book, new_report, store_report
from arrears.errors import ValidationFailed
from arrears.identity.caller import Caller
from arrears.identity.models import Organisation
from arrears.identity.service import org_setting
from arrears.pharmacy.debtors import VIEW_COLUMNS, debtor_view
from arrears.pharmacy.errors import PharmacyErrorCode
from arrears.sandbox import ParseFailed, get_pool

ZERO = Decimal("0.00")
MEDICAL_AID_SETTING = "medical_aid_names"  # extra scheme names, comma- or semicolon-separated
NO_DEBTORS = PharmacyErrorCode.NO_DEBTORS


def medical_aid_names(org: Organisation) -> list[str]:
    """The scheme names an organisation adds to the built-in list (`arrears orgs set ID
    medical_aid_names="Acme Health; Foo Med"`); a JSON list works too."""
    value = org_setting(org, MEDICAL_AID_SETTING)
    if not value:
        return []
    parts = value if isinstance(value, list) else str(value).replace(";", ",").split(",")
    return [str(p).strip() for p in parts if str(p).strip()]


def read_pdf(data: bytes, org: Organisation, mapping: Mapping[int, str | None] | None = None) -> PdfExtraction:
    """The report's debtors, or PdfReadError (400) saying what is wrong with the file; with a
    `mapping` (arrears.debtors.pdf.mapping) laid over the header's columns, or a 400 naming each
    of its problems (INVALID_MAPPING) when it does not fit the report's header.

    PDFium reads the file in the parse pool's child process under hard limits (a form that draws
    itself four times per level costs gigabytes): a parse that dies or passes a limit is a 400."""
    names = medical_aid_names(org)
    try:
        extraction: PdfExtraction = get_pool().call(extract_debtors, data, extra_medical_aid_names=names,
                                                    mapping=mapping)
    except ParseFailed as exc:
        raise PdfReadError(PARSE_FAILED, f"The PDF could not be read: {exc.message}. It was refused; "
                                         "export the report again and upload the new file.") from None
    if extraction.mapping_problems:
        raise mapping_failed(extraction.mapping_problems)
    return extraction


def parse_pdf_mapping(text: str | None) -> dict[int, str | None] | None:
    """The `mapping` form field ({"column index": "field" or null}, the JSON rules of the
    spreadsheet mapping), or a 400 naming what is wrong with it; None when not sent."""
    mapping, problems = parse_mapping(text)
    if problems:
        raise mapping_failed(problems)
    return mapping


def _account_row(d: PdfDebtor, sheet_row: int) -> AccountRow:
    # The book's d120 is 120 days and older; d150/d180 ride along as its finer split.
    extras = {150: d.d150, 180: d.d180} if d.d150 or d.d180 else {}
    return AccountRow(account=d.acc_no, name=d.name, telephone_raw=d.phone or "",
                      telephone=d.phone_normalised, phone_valid=d.phone_normalised is not None,
                      contact=None, current=d.current, d30=d.d30, d60=d.d60, d90=d.d90,
                      d120=d.d120 + d.d150 + d.d180, extra_buckets=extras, total_balance=d.balance,
                      sheet_row=sheet_row)


def _row_error(issue: PdfRowIssue, sheet_row: int) -> RowError:
    value = str(issue.debtor.balance) if issue.debtor is not None else ""
    return RowError(sheet_row, None, value, issue.message, issue.code[:32], issue.acc_no or None)


def issue_view(issue: PdfRowIssue) -> dict[str, Any]:
    return {"acc_no": issue.acc_no, "name": issue.name, "page": issue.page, "code": issue.code,
            "error": issue.message}


def check_storable(extraction: PdfExtraction) -> None:
    """A report with no usable debtor is refused (400), before anything is stored or previewed."""
    if not extraction.debtors:
        detail = "The report lists no debtors: the table header was found but no debtor rows under it."
        if extraction.issues:
            detail = ("None of the report's debtor rows could be used: "
                      + "; ".join(i.message for i in extraction.issues[:5])
                      + (f" (and {len(extraction.issues) - 5} more)" if len(extraction.issues) > 5 else ""))
        raise ValidationFailed(detail, code=NO_DEBTORS)


@dataclass
class StoredUpload:
    report: DebtorReport
    debtors: list[dict[str, Any]]  # the spec's debtor objects, in the report's order
    issues: list[PdfRowIssue]
    settled: int  # debtors of earlier reports that this one no longer lists

    @property
    def totals(self) -> tuple[int, Decimal]:
        """Accounts and outstanding, medical-aid control accounts left out (as the statistics)."""
        kept = [d for d in self.debtors if not d["is_medical_aid_control"]]
        return len(kept), sum((d["balance"] for d in kept), ZERO)


_CONTACTS = text("""
UPDATE debtor_accounts SET email = COALESCE(:email, email), telephone_raw = COALESCE(:raw, telephone_raw),
       is_medical_aid_control = :medical
WHERE org_id = :org AND account_code = :code AND latest_report_id = :rid
""")


async def store_upload(session: AsyncSession, caller: Caller, *, filename: str, size: int,
                       extraction: PdfExtraction, report_date: date | None = None,
                       partial: bool = False) -> StoredUpload:
    """Store the extraction as a new report of the caller's pharmacy (write access needed).
    `report_date` is the date the upload gave (else the report's title or file name says it, else
    today in the organisation's time zone); a `partial` report settles no debtor it does not list."""
    caller.require_write()
    check_storable(extraction)
    # Uploads of one pharmacy take turns, and a report is dated once it has its turn: the newest
    # report is the one stored last, so marking the debtors it does not list settled never settles
    # those of a report that committed meanwhile.
    await lock_book(session, caller.org_id)
    name = (filename or "report.pdf")[:255]
    report = new_report(caller.org_id, user_id=caller.user_id, source="pdf", filename=name,
                        original_filename=name, file_size=size, mime_type="application/pdf", file_format="pdf",
                        report_date=report_date, report_date_source="form" if report_date else None,
                        partial=partial)
    org = await session.get(Organisation, caller.org_id)
    book.date_report(report, getattr(extraction, "title_lines", None), book.zone_of(org))
    count = len(extraction.debtors)
    rows: list[AccountRow | RowError] = [_account_row(d, n) for n, d in enumerate(extraction.debtors, 1)]
    rows += [_row_error(issue, count + n) for n, issue in enumerate(extraction.issues, 1)]
    await store_report(session, caller, report, rows)
    reading = book.note_reading(report, extraction)
    if reading:
        report.progress_message = f"{report.progress_message}; {reading}"

    # The pharmacy's own fields. The flag is reset first: an account renamed away from a scheme.
    await session.execute(update(DebtorAccount).where(
        DebtorAccount.org_id == caller.org_id, DebtorAccount.latest_report_id == report.id,
        DebtorAccount.is_medical_aid_control.is_(True)).values(is_medical_aid_control=False)
        .execution_options(synchronize_session=False))
    params = [{"email": d.email, "raw": d.phone[:64] if d.phone else None, "medical": d.is_medical_aid_control,
               "org": caller.org_id, "code": d.acc_no, "rid": report.id}
              for d in extraction.debtors if d.email or d.phone or d.is_medical_aid_control]
    if params:
        await session.execute(_CONTACTS, params)
    await book.copy_second_phones(session, report.id, [(n, p) for n, d in enumerate(extraction.debtors, 1)
                                                      if (p := getattr(d, "phone2", None))])
    await book.link_second_phones(session, report.id)
    # The book settled what this report does not list (unless it is partial): store_report.
    settled = await session.scalar(select(func.count()).select_from(DebtorAccount).where(
        DebtorAccount.org_id == caller.org_id, DebtorAccount.settled_by_report_id == report.id)) or 0
    # Plain rows, not ORM objects: thousands of them, read once for the answer.
    accounts = {a.account_code: a for a in (await session.execute(select(*VIEW_COLUMNS).where(
        DebtorAccount.org_id == caller.org_id, DebtorAccount.latest_report_id == report.id))).all()}
    debtors = [debtor_view(accounts[d.acc_no]) for d in extraction.debtors if d.acc_no in accounts]
    return StoredUpload(report, debtors, list(extraction.issues), settled)


__all__ = ["StoredUpload", "check_storable", "issue_view", "medical_aid_names", "parse_pdf_mapping", "read_pdf",
           "store_upload"]
