"""Uploaded files on disk: written in chunks under UPLOAD_DIR as they arrive (never held whole in
memory), refused when too large, empty or not a spreadsheet by content."""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import BinaryIO

from arrears.config import get_settings
from arrears.debtors.errors import DebtorErrorCode
from arrears.debtors.reading import UNSUPPORTED_FILE_TYPE, ReadError, detect_format
from arrears.debtors.reading.prechecks import check_binary_sheets
from arrears.errors import ErrorCode, ValidationFailed

FILE_TOO_LARGE = ErrorCode.FILE_TOO_LARGE
EMPTY_FILE = DebtorErrorCode.EMPTY_FILE

MIME_TYPES: dict[str, str] = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "xlsm": "application/vnd.ms-excel.sheet.macroEnabled.12",
    "xlsb": "application/vnd.ms-excel.sheet.binary.macroEnabled.12",
    "xls": "application/vnd.ms-excel",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "csv": "text/csv",
    "pdf": "application/pdf",
}
# Formats python-calamine reads whole, with no streaming reader: their sheets are measured first.
BINARY_SHEETS = ("xls", "xlsb", "ods")
_SAFE_EXT = re.compile(r"\.[A-Za-z0-9]{1,8}$")


def clean_filename(name: str | None) -> str:
    """The name as the user's machine called it, without any directory part."""
    base = PureWindowsPath((name or "").strip()).name or "upload"
    base = "".join(ch for ch in base if ch.isprintable())
    return base[:255] or "upload"


@dataclass
class StoredFile:
    upload_id: uuid.UUID  # the report's UUID
    org_id: int
    filename: str  # generated name under UPLOAD_DIR/<org_id>/
    original_filename: str
    path: Path
    size: int
    file_format: str | None  # None when the container is damaged (the import then says so)
    mime_type: str | None


def too_large_error(limit: int) -> ValidationFailed:
    return ValidationFailed(
        f"The file is larger than the maximum upload size of {limit} bytes ({limit / 1048576:.1f} MB).",
        code=FILE_TOO_LARGE, details={"max_size": limit})


class UploadSink:
    """Receives an upload's bytes chunk by chunk into a temporary file in the organisation's
    upload folder; `finish()` checks it and gives it its final name."""

    SUBFOLDER = ""  # beside the organisation's other uploads

    def __init__(self, org_id: int, original_filename: str | None, *, max_size: int | None = None) -> None:
        settings = get_settings()
        self.org_id = org_id
        self.upload_id = uuid.uuid4()
        self.original_filename = clean_filename(original_filename)
        self.max_size = settings.upload_max_size if max_size is None else max_size
        self.folder = settings.uploads_path / str(org_id) / self.SUBFOLDER
        self.folder.mkdir(parents=True, exist_ok=True)
        self.part = self.folder / f".{self.upload_id}.part"
        self._fh: BinaryIO | None = self.part.open("wb")
        self.size = 0

    def write(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.size += len(chunk)
        if self.size > self.max_size:
            self.discard()
            raise too_large_error(self.max_size)
        assert self._fh is not None
        self._fh.write(chunk)

    def discard(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        with contextlib.suppress(OSError):
            self.part.unlink()

    def _check_sheets(self, file_format: str) -> None:
        """An .xls, .xlsb or .ods sheet too large for its parser is refused now, not in the import."""
        try:
            check_binary_sheets(self.part, file_format)
        except ReadError as exc:
            self.discard()
            raise ValidationFailed(exc.message, code=exc.code, details=exc.details) from exc

    def finish(self) -> StoredFile:
        assert self._fh is not None
        self._fh.close()
        self._fh = None
        if self.size == 0:
            self.discard()
            raise ValidationFailed("The file is empty.", code=EMPTY_FILE)
        file_format: str | None
        try:
            file_format = detect_format(self.part).value
        except ReadError as exc:
            if exc.code == UNSUPPORTED_FILE_TYPE:
                self.discard()
                raise ValidationFailed(exc.message, code=UNSUPPORTED_FILE_TYPE) from exc
            file_format = None  # damaged workbook: stored, and the import fails saying so
        if file_format in BINARY_SHEETS:
            self._check_sheets(file_format)
        ext = _extension(file_format, self.original_filename)
        filename = f"{self.upload_id}{ext}"
        path = self.folder / filename
        os.replace(self.part, path)
        return StoredFile(self.upload_id, self.org_id, filename, self.original_filename, path, self.size,
                          file_format, MIME_TYPES.get(file_format or "", "application/octet-stream"))


def _extension(file_format: str | None, original: str) -> str:
    if file_format:
        return f".{file_format}"
    match = _SAFE_EXT.search(original)
    return match.group(0).lower() if match else ""


def store_local_file(org_id: int, source: Path, *, max_size: int | None = None) -> StoredFile:
    """A file from this machine (the CLI) through the same checks as an upload."""
    sink = UploadSink(org_id, source.name, max_size=max_size)
    try:
        with source.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                sink.write(chunk)
    except BaseException:
        sink.discard()
        raise
    return sink.finish()


def remove_stored(stored: StoredFile) -> None:
    with contextlib.suppress(OSError):
        stored.path.unlink()


# ------------------------------------------------------------------ waiting for a preview's confirmation

PENDING_DIR = ".pending"  # under the organisation's folder: previewed, not yet confirmed
PENDING_SECONDS = 24 * 3600  # a preview left unconfirmed this long is removed


class PendingSink(UploadSink):
    """An upload the web UI previews before importing: kept aside until confirmed (claim_pending)."""

    SUBFOLDER = PENDING_DIR


class PendingPdfSink(PendingSink):
    """A PDF report the web UI previews before storing: kept aside as `<id>.pdf` (the PDF reader,
    not the spreadsheet sniffing, says later whether it can be read)."""

    def finish(self) -> StoredFile:
        assert self._fh is not None
        self._fh.close()
        self._fh = None
        if self.size == 0:
            self.discard()
            raise ValidationFailed("The file is empty.", code=EMPTY_FILE)
        path = self.folder / f"{self.upload_id}.pdf"
        os.replace(self.part, path)
        return StoredFile(self.upload_id, self.org_id, path.name, self.original_filename, path, self.size,
                          "pdf", MIME_TYPES["pdf"])


def claim_pending(org_id: int, upload_id: str, original_filename: str) -> StoredFile | None:
    """The previewed upload `upload_id` of this organisation, moved beside the others; None when it
    is not (or no longer) waiting (already confirmed, removed, or another organisation's)."""
    source = pending_path(org_id, upload_id)
    if source is None:
        return None
    path = source.parent.parent / source.name
    try:
        os.replace(source, path)
    except FileNotFoundError:  # a confirmation at the same moment took it first
        return None
    try:
        file_format: str | None = detect_format(path).value
    except ReadError:
        file_format = None
    return StoredFile(uuid.UUID(upload_id), org_id, path.name, clean_filename(original_filename), path,
                      path.stat().st_size, file_format, MIME_TYPES.get(file_format or "", "application/octet-stream"))


def sweep_pending(org_id: int, now: float | None = None) -> int:
    """Remove the organisation's previews left unconfirmed for a day; how many went."""
    import time

    folder = get_settings().uploads_path / str(org_id) / PENDING_DIR
    if not folder.is_dir():
        return 0
    cutoff = (now if now is not None else time.time()) - PENDING_SECONDS
    removed = 0
    for path in folder.iterdir():
        with contextlib.suppress(OSError):
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    return removed


def pending_path(org_id: int, upload_id: str) -> Path | None:
    """Where the organisation's previewed upload `upload_id` waits, or None."""
    try:
        key = uuid.UUID(upload_id)
    except ValueError:
        return None
    folder = get_settings().uploads_path / str(org_id) / PENDING_DIR
    found = [p for p in folder.glob(f"{key}*") if p.is_file()] if folder.is_dir() else []
    return found[0] if len(found) == 1 else None


def remove_path(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
