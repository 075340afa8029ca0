"""Reading debtor age analyses from spreadsheets: pure, no database, no HTTP.

with read_age_analysis(path, extra_aliases=org_aliases, mapping=None) as rows:
    print(rows.header.mapping, rows.sheet_name, rows.header_rows, rows.columns, rows.title_lines)
    for row in rows:  # AccountRow | RowError
        ...
    rows.skipped, rows.printed_total, rows.warnings  # once every row is read

Lines that are not accounts (titles, headings, totals, footers ...) are skipped and counted per
reason (skips.py); see docs/contracts.md, "Reading real exports".
"""

from arrears.debtors.reading.blocks import AccountBlock
from arrears.debtors.reading.errors import (
    CORRUPT_FILE,
    MISSING_COLUMNS,
    NO_DATA_ROWS,
    UNSUPPORTED_FILE_TYPE,
    ReadError,
)
from arrears.debtors.reading.formats import FileFormat, detect_format
from arrears.debtors.reading.headers import (
    CANONICAL_FIELDS,
    REQUIRED_FIELDS,
    AliasTable,
    ColumnInfo,
    bucket_days,
)
from arrears.debtors.reading.phones import normalise_phone
from arrears.debtors.reading.reader import AgeAnalysisReader, HeaderInfo, ReadSummary, read_age_analysis
from arrears.debtors.reading.rows import iter_rows
from arrears.debtors.reading.skips import SKIP_REASONS
from arrears.debtors.reading.validation import (
    BALANCE_MISMATCH,
    DUPLICATE_ACCOUNT,
    INVALID_AMOUNT,
    MISSING_ACCOUNT,
    AccountRow,
    RowError,
)
from arrears.debtors.reading.values import AmountError, account_code, parse_amount

__all__ = [
    "BALANCE_MISMATCH",
    "CANONICAL_FIELDS",
    "CORRUPT_FILE",
    "DUPLICATE_ACCOUNT",
    "INVALID_AMOUNT",
    "MISSING_ACCOUNT",
    "MISSING_COLUMNS",
    "NO_DATA_ROWS",
    "REQUIRED_FIELDS",
    "SKIP_REASONS",
    "UNSUPPORTED_FILE_TYPE",
    "AccountBlock",
    "AccountRow",
    "AgeAnalysisReader",
    "AliasTable",
    "AmountError",
    "ColumnInfo",
    "FileFormat",
    "HeaderInfo",
    "ReadSummary",
    "ReadError",
    "RowError",
    "account_code",
    "bucket_days",
    "detect_format",
    "iter_rows",
    "normalise_phone",
    "parse_amount",
    "read_age_analysis",
]
