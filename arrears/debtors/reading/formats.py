"""Find a file's real format from its bytes: users rename files, and web exports lie."""

from __future__ import annotations

import enum
import os
import zipfile
from pathlib import Path

from arrears.debtors.reading.errors import CORRUPT_FILE, UNSUPPORTED_FILE_TYPE, ReadError
from arrears.debtors.reading.text import looks_like_text

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
ACCEPTED = "Upload an Excel workbook (.xlsx, .xls), an OpenDocument spreadsheet (.ods) or a CSV file."

# Known non-spreadsheet signatures, so the message can say what the file really is.
_FOREIGN_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"BM", "a bitmap image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"{\\rtf", "an RTF document"),
)

_SAMPLE_SIZE = 64 * 1024


class FileFormat(enum.StrEnum):
    XLSX = "xlsx"
    XLSM = "xlsm"
    XLSB = "xlsb"
    ODS = "ods"
    XLS = "xls"
    CSV = "csv"  # any delimited text: comma, semicolon, tab or pipe

    @property
    def is_workbook(self) -> bool:
        return self is not FileFormat.CSV


def _unsupported(what: str) -> ReadError:
    return ReadError(UNSUPPORTED_FILE_TYPE, f"The file is {what}, not a spreadsheet. {ACCEPTED}")


def _corrupt(why: str) -> ReadError:
    return ReadError(CORRUPT_FILE, f"The workbook could not be read: {why}.")


def detect_format(path: str | os.PathLike[str]) -> FileFormat:
    """Return the format of the file at `path`, judged by its content, never its name.

    Raises ReadError(UNSUPPORTED_FILE_TYPE) for anything that is not a spreadsheet and
    ReadError(CORRUPT_FILE) for a workbook whose container is broken.
    """
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(_SAMPLE_SIZE)
    if not head:
        raise ReadError(UNSUPPORTED_FILE_TYPE, f"The file is empty. {ACCEPTED}")
    if head.startswith(ZIP_MAGIC) or head.startswith(EMPTY_ZIP_MAGIC):
        return _zip_format(path)
    if head.startswith(OLE2_MAGIC):
        # Legacy .xls, but also password-protected .xlsx (an OLE2 "EncryptedPackage"): calamine
        # tells them apart when it opens the file, and reports a bad one as CORRUPT_FILE.
        return FileFormat.XLS
    for magic, what in _FOREIGN_MAGIC:
        if head.startswith(magic):
            raise _unsupported(what)
    if looks_like_text(head):
        stripped = head.lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n")
        if stripped[:1] == b"<":
            # "Export to Excel" often writes HTML or Excel 2003 XML under an .xls name.
            raise ReadError(
                UNSUPPORTED_FILE_TYPE,
                "The file is an HTML or XML page saved with a spreadsheet name, not a real workbook. "
                "Open it in Excel and save it as .xlsx. " + ACCEPTED,
            )
        return FileFormat.CSV
    raise _unsupported("not a recognised spreadsheet (unknown binary content)")


def _zip_format(path: Path) -> FileFormat:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "xl/workbook.xml" in names:
                return _xlsx_or_xlsm(zf)
            if "xl/workbook.bin" in names:
                return FileFormat.XLSB
            if "mimetype" in names and zf.read("mimetype").strip() == ODS_MIMETYPE:
                return FileFormat.ODS
    except zipfile.BadZipFile as exc:
        raise _corrupt(f"the file is damaged or incomplete ({exc})") from exc
    except (OSError, EOFError, KeyError, ValueError) as exc:
        raise _corrupt(f"a part of the archive is damaged ({exc})") from exc
    if "word/document.xml" in names:
        raise _unsupported("a Word document")
    if "ppt/presentation.xml" in names:
        raise _unsupported("a PowerPoint presentation")
    if "mimetype" in names:
        raise _unsupported("an OpenDocument file of another kind (text or presentation)")
    raise _unsupported("a zip archive")


def _xlsx_or_xlsm(zf: zipfile.ZipFile) -> FileFormat:
    try:
        types = zf.read("[Content_Types].xml")
    except KeyError:
        return FileFormat.XLSX
    return FileFormat.XLSM if b"macroEnabled" in types else FileFormat.XLSX
