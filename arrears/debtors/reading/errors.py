"""The one fatal error of the reading layer: the whole file is unusable."""

from __future__ import annotations

from typing import Any

from arrears.debtors.errors import DebtorErrorCode

# The codes by their old names (members of DebtorErrorCode).
UNSUPPORTED_FILE_TYPE = DebtorErrorCode.UNSUPPORTED_FILE_TYPE
CORRUPT_FILE = DebtorErrorCode.CORRUPT_FILE
MISSING_COLUMNS = DebtorErrorCode.MISSING_COLUMNS
NO_DATA_ROWS = DebtorErrorCode.NO_DATA_ROWS
# The file passes a parse limit (ARREARS_PARSE_*), or its parser died on it.
FILE_TOO_COMPLEX = DebtorErrorCode.FILE_TOO_COMPLEX
SHEET_TOO_LARGE = DebtorErrorCode.SHEET_TOO_LARGE
PARSE_FAILED = DebtorErrorCode.PARSE_FAILED


class ReadError(Exception):
    """A file that cannot be imported at all.

    `code` is stable (faces map it to their error body); `message` is meant for the person who
    uploaded the file; `details` carries structured facts (missing columns, found headers, ...).
    """

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details: dict[str, Any] = details or {}

    def __reduce__(self) -> tuple[type[ReadError], tuple[str, str, dict[str, Any]]]:
        # Raised in the parser's child process and re-raised in the parent: pickled whole.
        return (ReadError, (self.code, self.message, self.details))

    def __repr__(self) -> str:
        return f"ReadError({str(self.code)!r}, {self.message!r})"
