"""Debtors Age Analysis PDFs to debtor rows: pure extraction, no database and no HTTP.

    from arrears.debtors.pdf import extract_debtors, PdfReadError
    result = extract_debtors(pdf_bytes, extra_medical_aid_names=["Acme Health"])
    result.debtors  # PdfDebtor rows that add up
    result.issues   # PdfRowIssue rows read but not vouched for, each with its .debtor
    result.skipped  # lines that are not accounts, per reason ("title", "heading", "total", ...)
    result.printed_total, result.warnings  # the report's own total, and whether the debtors match it
    result.title_lines  # page 1's text above the header: where the report's date is printed
"""

from arrears.debtors.pdf.errors import (
    BROKEN_PDF,
    ENCRYPTED_PDF,
    NO_DEBTOR_TABLE,
    NO_TEXT,
    NOT_A_PDF,
    PARSE_FAILED,
    TOO_MANY_PAGES,
    PdfReadError,
)
from arrears.debtors.pdf.extract import extract_debtors
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

__all__ = [
    "BROKEN_PDF", "BUCKETS_DO_NOT_ADD_UP", "DUPLICATE_ACCOUNT", "ENCRYPTED_PDF", "NO_ACCOUNT_NUMBER",
    "NO_DEBTOR_TABLE", "NO_TEXT", "NOT_A_PDF", "PARSE_FAILED", "TOO_MANY_PAGES", "UNREADABLE_AMOUNT", "MedicalAidMatcher", "PdfDebtor",
    "PdfExtraction", "PdfReadError", "PdfRowIssue", "extract_debtors",
]
