"""Files that cannot be used as a whole: one PdfReadError each, with a code and a next step."""

from __future__ import annotations

from pathlib import Path

import pytest

from arrears.debtors.pdf import (
    BROKEN_PDF,
    ENCRYPTED_PDF,
    NO_DEBTOR_TABLE,
    NO_TEXT,
    NOT_A_PDF,
    PdfReadError,
    extract_debtors,
)
from arrears.errors import DomainError
from tests.debtors.pdf.make_pdfs import (
    broken_pdf,
    build_report,
    encrypted_pdf,
    owner_only_encrypted_pdf,
    sample_debtors,
    scanned_pdf,
    text_without_table_pdf,
)


def _error(data: bytes | Path) -> PdfReadError:
    with pytest.raises(PdfReadError) as caught:
        extract_debtors(data)
    return caught.value


def test_broken_bytes() -> None:
    err = _error(broken_pdf())
    assert err.code == BROKEN_PDF
    assert "damaged" in err.message and "again" in err.message


def test_truncated_download_is_broken() -> None:
    data = build_report(sample_debtors(30))
    assert _error(data[: len(data) // 2]).code == BROKEN_PDF


@pytest.mark.parametrize(("data", "hint"), [
    (b"Acc No,Name,Balance\n1001,Maria,10.00\n", "not a PDF"),
    (b"PK\x03\x04" + bytes(64), "Excel (.xlsx)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), "older Excel (.xls)"),
    (b"\x89PNG\r\n\x1a\n" + bytes(64), "PNG image"),
    (b"", "empty"),
], ids=["csv", "xlsx", "xls", "png", "empty"])
def test_not_a_pdf(data: bytes, hint: str) -> None:
    err = _error(data)
    assert err.code == NOT_A_PDF
    assert hint in err.message
    assert "PDF" in err.message


def test_encrypted_with_a_user_password() -> None:
    err = _error(encrypted_pdf())
    assert err.code == ENCRYPTED_PDF
    assert "password" in err.message and "without a password" in err.message


def test_encrypted_without_a_user_password_is_readable() -> None:
    # Owner-password-only files (printing/editing restrictions) open without asking: read them.
    assert len(extract_debtors(owner_only_encrypted_pdf()).debtors) == 5


def test_scanned_report_has_no_text() -> None:
    err = _error(scanned_pdf())
    assert err.code == NO_TEXT
    assert "looks scanned" in err.message and "export the report as a text pdf" in err.message.lower()


def test_text_without_a_debtor_table() -> None:
    err = _error(text_without_table_pdf())
    assert err.code == NO_DEBTOR_TABLE
    assert "Current" in err.message and "Balance" in err.message


def test_error_is_a_domain_error_with_a_400_status() -> None:
    err = _error(b"hello")
    assert isinstance(err, DomainError)
    assert err.status == 400
    assert str(err) == err.message


def test_header_anywhere_in_the_first_kilobyte_is_accepted() -> None:
    data = b"junk a mail gateway added\r\n" + build_report(sample_debtors(3))
    assert len(extract_debtors(data).debtors) == 3


def test_path_input(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    build_report(sample_debtors(4), path=path)
    assert len(extract_debtors(path).debtors) == 4
    assert len(extract_debtors(str(path)).debtors) == 4
    (tmp_path / "scan.pdf").write_bytes(scanned_pdf())
    assert _error(tmp_path / "scan.pdf").code == NO_TEXT
