"""The debtor book's error codes: why a whole file cannot be imported (`DebtorErrorCode`), and why
one row of it was left out (`RowErrorCode`, stored with the row)."""

from __future__ import annotations

from enum import StrEnum


class DebtorErrorCode(StrEnum):
    # Spreadsheets (the reading layer)
    UNSUPPORTED_FILE_TYPE = "UNSUPPORTED_FILE_TYPE"
    CORRUPT_FILE = "CORRUPT_FILE"
    MISSING_COLUMNS = "MISSING_COLUMNS"
    NO_DATA_ROWS = "NO_DATA_ROWS"
    FILE_TOO_COMPLEX = "FILE_TOO_COMPLEX"  # passes a parse limit (ARREARS_PARSE_*)
    SHEET_TOO_LARGE = "SHEET_TOO_LARGE"
    PARSE_FAILED = "PARSE_FAILED"  # the parser's child process died or passed a limit
    # PDFs
    NOT_A_PDF = "NOT_A_PDF"
    ENCRYPTED_PDF = "ENCRYPTED_PDF"
    BROKEN_PDF = "BROKEN_PDF"
    NO_TEXT = "NO_TEXT"
    NO_DEBTOR_TABLE = "NO_DEBTOR_TABLE"
    TOO_MANY_PAGES = "TOO_MANY_PAGES"
    # Uploads and imports
    EMPTY_FILE = "EMPTY_FILE"
    FILE_MISSING = "FILE_MISSING"
    INVALID_SETTINGS = "INVALID_SETTINGS"
    INVALID_MAPPING = "INVALID_MAPPING"  # a column mapping the file cannot take
    IMPORT_ERROR = "IMPORT_ERROR"


class RowErrorCode(StrEnum):
    MISSING_ACCOUNT = "MISSING_ACCOUNT"
    DUPLICATE_ACCOUNT = "DUPLICATE_ACCOUNT"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    INVALID_ACCOUNT = "INVALID_ACCOUNT"
    BALANCE_MISMATCH = "BALANCE_MISMATCH"
    # PDF rows
    BUCKETS_DO_NOT_ADD_UP = "BUCKETS_DO_NOT_ADD_UP"
    UNREADABLE_AMOUNT = "UNREADABLE_AMOUNT"
    NO_ACCOUNT_NUMBER = "NO_ACCOUNT_NUMBER"
