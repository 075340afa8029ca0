"""The preview of a spreadsheet import: the file read as the import would read it, in the parse
child (arrears.sandbox), and nothing stored. It says which sheet and header row(s) were taken,
what each column fills and why, which lines were skipped and why, the first accounts, warnings,
and whether the accounts add up to the total the report prints.

    preview = await asyncio.to_thread(run_preview, path, aliases, mapping, profiles)
    problems = preview.mapping_problems          # a mapping the file cannot take, each named

The sheet, header rows, columns (with why), title lines, skipped lines per reason, printed total and
warnings are the reader's own. A file whose headings miss a required column is previewed too: its
columns are listed with the fields missing named (`missing`), so that a mapping can name them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arrears.debtors.errors import DebtorErrorCode
from arrears.debtors.mapping import (
    Column,
    ColumnMapping,
    choose,
    columns_of,
    field_label,
    parse_mapping,
    read_layout,
    saved_mapping,
)
from arrears.debtors.reading import ReadError, read_age_analysis
from arrears.debtors.reading.blocks import amount_of
from arrears.debtors.reading.formats import detect_format
from arrears.debtors.reading.isolated import refusal
from arrears.debtors.reading.validation import AccountRow, RowError
from arrears.errors import ValidationFailed

if TYPE_CHECKING:  # the parse child imports this module for preview_file: no ORM, no database driver
    from sqlalchemy.ext.asyncio import AsyncSession

    from arrears.identity.caller import Caller

SAMPLE = 20  # accounts (and failed rows) shown
SAVED_NOTE = "using your saved mapping"


@dataclass
class Preview:
    file_format: str
    sheet_name: str
    header_rows: list[int]
    title_lines: list[str]
    columns: list[Column]
    signature: str
    mapping_source: str | None  # "request" | "profile" | None (the header's own)
    mapping_problems: list[dict[str, Any]]
    missing: list[str] = field(default_factory=list)  # required fields no column fills (nothing was read)
    skipped: dict[str, int] = field(default_factory=dict)
    rows_read: int = 0
    account_count: int = 0
    failed_count: int = 0
    accounts: list[AccountRow] = field(default_factory=list)
    failed: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    accounts_total: Decimal = Decimal("0.00")
    printed_total: Decimal | None = None

    @property
    def using_saved_mapping(self) -> bool:
        return self.mapping_source == "profile"

    @property
    def skipped_rows(self) -> int:
        return sum(self.skipped.values())

    @property
    def mapping(self) -> dict[int, str | None]:
        return {c.index: c.field for c in self.columns}

    @property
    def total_check(self) -> dict[str, Any]:
        """The accounts' total against the report's printed grand total, when it prints one."""
        if self.printed_total is None:
            return {"printed_total": None, "accounts_total": self.accounts_total, "difference": None,
                    "matches": None, "message": "The file prints no grand total to check the accounts against."}
        difference = self.accounts_total - self.printed_total
        if not difference:
            message = "The accounts add up to the report's total: matches the report's total."
        else:
            side = "more" if difference > 0 else "less"
            message = (f"The accounts add up to {self.accounts_total:,.2f}, {abs(difference):,.2f} {side} than "
                       f"the report's total of {self.printed_total:,.2f}.")
        return {"printed_total": self.printed_total, "accounts_total": self.accounts_total,
                "difference": difference, "matches": not difference, "message": message}


def preview_file(path: str, aliases: Mapping[str, list[str]] | None, mapping: ColumnMapping | None,
                 profiles: Mapping[str, Mapping[str, str | None]] | None, sample: int = SAMPLE,
                 read_rows: bool = True) -> Preview:
    """Runs in the parse child: read the whole file as the import would, keep the first accounts
    (with `read_rows` False, only the header: enough to check a mapping)."""
    from arrears.debtors.gcpause import collector_paused

    layout = read_layout(path, aliases)
    choice = choose(layout, mapping, profiles)
    out = Preview(
        file_format=detect_format(Path(path)).value, sheet_name="", header_rows=[], title_lines=[],
        columns=layout.columns, signature=layout.signature, mapping_source=choice.source,
        mapping_problems=choice.problems, warnings=list(choice.warnings))
    out.sheet_name, out.header_rows = layout.sheet_name, list(layout.header_rows)
    reader = layout.reader
    if choice.mapping is None and layout.missing:  # headings alone are not enough: say which field lacks a column
        out.missing = list(layout.missing)
        out.warnings.extend(f"No column is read as {f} ({field_label(f)}): choose its column." for f in layout.missing)
        return out
    if choice.problems:
        if reader is not None:
            reader.close()
        return out
    if choice.mapping is not None:
        if reader is not None:
            reader.close()
        reader = read_age_analysis(path, aliases, mapping=choice.mapping)
    assert reader is not None
    out.columns = columns_of(reader)
    if out.using_saved_mapping:  # the reader says "your mapping": this one was saved before
        out.columns = [replace(c, reason=c.reason.replace("your mapping", "your saved mapping")) for c in out.columns]
    out.sheet_name, out.header_rows = reader.sheet_name, list(reader.header_rows)
    out.title_lines = list(reader.title_lines)
    if not read_rows:
        reader.close()
        return out
    with reader, collector_paused():
        tally = reader.tally(sample)  # every row read as the import reads it, the first accounts kept
        done = reader.summary()
    out.rows_read, out.account_count, out.failed_count = tally.rows_read, tally.account_count, tally.failed_count
    out.accounts, out.failed = tally.accounts, tally.failed
    out.accounts_total = amount_of(tally.total_cents)
    out.skipped = dict(done.skipped)
    out.printed_total = done.printed_total
    out.warnings.extend(done.warnings)
    if out.using_saved_mapping:
        out.warnings.insert(0, "This file's header matches one you mapped before: using your saved mapping.")
    return out


def run_preview(path: str | Path, aliases: Mapping[str, list[str]] | None, mapping: ColumnMapping | None = None,
                profiles: Mapping[str, Mapping[str, str | None]] | None = None, *, read_rows: bool = True) -> Preview:
    """The preview, made in the parse pool's child (blocking: call it in a thread). A file that
    kills its parser, or cannot be read at all, raises ReadError."""
    from arrears.sandbox import ParseFailed, get_pool

    file_format = detect_format(Path(path))  # refuses a file that is no spreadsheet, here
    try:
        return get_pool().call(preview_file, str(path), aliases, mapping, profiles, SAMPLE, read_rows)
    except ParseFailed as exc:
        raise refusal(exc, file_format) from None


def run_saved_mapping(path: str | Path, aliases: Mapping[str, list[str]] | None,
                      profiles: Mapping[str, Mapping[str, str | None]]) -> tuple[ColumnMapping | None, list[str]]:
    """The organisation's saved mapping for this file's header (read in the parse child; blocking),
    looked up before the import opens its reader with it."""
    from arrears.sandbox import ParseFailed, get_pool

    file_format = detect_format(Path(path))
    try:
        return get_pool().call(saved_mapping, str(path), aliases, profiles)
    except ParseFailed as exc:
        raise refusal(exc, file_format) from None


# ------------------------------------------------------------------ for the faces


@dataclass
class Setting:
    """What reading a file for an organisation needs: its header aliases and saved profiles."""

    aliases: dict[str, list[str]] | None
    profiles: dict[str, dict[str, str | None]]


async def setting_of(session: AsyncSession, org_id: int) -> Setting:
    from arrears.debtors import profiles
    from arrears.debtors.aliases import ALIASES_SETTING, ImportFailed, org_aliases
    from arrears.identity import service as identity

    org = await identity.get_org(session, org_id)
    try:
        aliases = org_aliases(identity.org_setting(org, ALIASES_SETTING))
    except ImportFailed as exc:
        raise ValidationFailed(exc.message, code=exc.code) from None
    return Setting(aliases, await profiles.for_org(session, org_id))


def mapping_failed(problems: list[dict[str, Any]] | list[str]) -> ValidationFailed:
    """A 400 naming every problem of a mapping (its `problems` keep each one's code and column)."""
    messages = [p if isinstance(p, str) else p["message"] for p in problems]
    named = [p if isinstance(p, dict) else {"code": "invalid_mapping", "message": p} for p in problems]
    return ValidationFailed("The column mapping is not valid: " + " ".join(messages),
                            code=DebtorErrorCode.INVALID_MAPPING, field_errors={"mapping": messages},
                            details={"mapping": messages, "problems": named})


async def preview_path(path: str | Path, setting: Setting, mapping_text: str | None, *,
                       read_rows: bool = True) -> Preview:
    """The preview of a stored file with the `mapping` form field laid over its header (or the
    saved profile of its header). Bad mapping or unreadable file: ValidationFailed (400)."""
    mapping, problems = parse_mapping(mapping_text)
    if problems:
        raise mapping_failed(problems)
    try:
        result = await asyncio.to_thread(run_preview, path, setting.aliases, mapping, setting.profiles,
                                         read_rows=read_rows)
    except ReadError as exc:
        raise ValidationFailed(exc.message, code=exc.code, details=exc.details or None) from None
    if result.mapping_problems:
        raise mapping_failed(result.mapping_problems)
    return result


async def remember(session: AsyncSession, caller: Caller, preview: Preview, filename: str | None) -> None:
    """Keep a mapping the caller confirmed as the organisation's profile for this header."""
    from arrears.debtors import profiles

    if preview.mapping_source == "request":
        await profiles.save(session, caller, signature=preview.signature, columns=preview.columns,
                            mapping=preview.mapping, filename=filename)


def account_dict(row: AccountRow) -> dict[str, Any]:
    """An account of the preview, in the AAMA's field names."""
    return {"account_code": row.account, "customer_name": row.name, "contact_person": row.contact,
            "telephone": row.telephone_raw, "phone_valid": row.phone_valid, "amount_current": row.current,
            "amount_30d": row.d30, "amount_60d": row.d60, "amount_90d": row.d90, "amount_120d": row.d120,
            "older_buckets": {f"d{days}": amount for days, amount in sorted(row.extra_buckets.items())},
            "total_balance": row.total_balance, "sheet_row": row.sheet_row}


def as_dict(preview: Preview) -> dict[str, Any]:
    """The preview as every face shows it (amounts as Decimals; each face writes them its way)."""
    return {
        "file_format": preview.file_format,
        "sheet": preview.sheet_name,
        "header_rows": preview.header_rows,
        "title_lines": preview.title_lines,
        "signature": preview.signature,
        "using_saved_mapping": preview.using_saved_mapping,
        "mapping_note": SAVED_NOTE if preview.using_saved_mapping else None,
        "columns": [c.as_dict() for c in preview.columns],
        "mapping": {str(k): v for k, v in preview.mapping.items()},
        "missing_fields": preview.missing,
        "rows_read": preview.rows_read,
        "accounts_found": preview.account_count,
        "failed_rows": preview.failed_count,
        "skipped_rows": preview.skipped_rows,
        "skipped_reasons": preview.skipped,
        "accounts": [account_dict(a) for a in preview.accounts],
        "row_errors": [{"row": e.sheet_row, "column": e.column, "value": e.value, "reason": e.reason,
                        "code": e.code, "account_code": e.account} for e in preview.failed],
        "warnings": preview.warnings,
        "total_check": preview.total_check,
    }


__all__ = ["SAMPLE", "Preview", "ReadError", "account_dict", "as_dict", "preview_file", "run_preview",
           "run_saved_mapping"]
