"""Why a PDF could not be read as a debtors age analysis, with what to do about it."""

from __future__ import annotations

from arrears.debtors.errors import DebtorErrorCode
from arrears.errors import DomainError

# The codes by their old names (members of DebtorErrorCode).
NOT_A_PDF = DebtorErrorCode.NOT_A_PDF
ENCRYPTED_PDF = DebtorErrorCode.ENCRYPTED_PDF
BROKEN_PDF = DebtorErrorCode.BROKEN_PDF
NO_TEXT = DebtorErrorCode.NO_TEXT
NO_DEBTOR_TABLE = DebtorErrorCode.NO_DEBTOR_TABLE
TOO_MANY_PAGES = DebtorErrorCode.TOO_MANY_PAGES
PARSE_FAILED = DebtorErrorCode.PARSE_FAILED  # the parser's child process died or passed a limit

_MESSAGES = {
    NOT_A_PDF: "The file is not a PDF. Upload the Debtors Age Analysis report saved or exported as PDF.",
    ENCRYPTED_PDF: "The PDF is password-protected. Export the report again without a password "
                   "(or remove the password) and upload that file.",
    BROKEN_PDF: "The PDF is damaged and cannot be read. Export or download the report again and upload "
                "the new file.",
    NO_TEXT: "The PDF has no text in it; it looks scanned. Export the report as a text PDF from the "
             "system that produced it (not a scan or a photo) and upload that.",
    NO_DEBTOR_TABLE: "No debtors table was found in the PDF: no header row with ageing columns such as "
                     "Current, 30 Days, 60 Days, 90 Days and Balance. Upload the Debtors Age Analysis report.",
}


# What an upload that is not a PDF usually is, by its first bytes: named in the message.
_NOT_PDF_KINDS = (
    (b"PK\x03\x04", "an Excel (.xlsx), Word (.docx) or ZIP file"),
    (b"\xd0\xcf\x11\xe0", "an older Excel (.xls) or Word (.doc) file"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"{\\rtf", "an RTF document"),
)


def not_a_pdf(data: bytes) -> PdfReadError:
    if not data.strip():
        return PdfReadError(NOT_A_PDF, "The file is empty. Upload the Debtors Age Analysis report as a PDF.")
    kind = next((name for magic, name in _NOT_PDF_KINDS if data.startswith(magic)), None)
    if kind is None:
        return PdfReadError(NOT_A_PDF)
    return PdfReadError(NOT_A_PDF, f"The file is not a PDF; it looks like {kind}. "
                                   "Upload the Debtors Age Analysis report saved or exported as PDF.")


class PdfReadError(DomainError):
    """The whole file is unusable. A DomainError (status 400), so every face renders it in its own body."""

    status = 400

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(message or _MESSAGES[DebtorErrorCode(code)], code=code)

    def __reduce__(self) -> tuple[type[PdfReadError], tuple[str, str]]:
        # Raised in the parser's child process and re-raised in the parent: pickled whole.
        return (PdfReadError, (self.code, self.message))
