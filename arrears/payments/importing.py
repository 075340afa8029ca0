"""Importing a payments file: a CSV of payments or a bank statement export (arrears.payments.reading
says what is read and how), parsed in the parse pool's child process like a book file.

`preview` reads the file and answers the mapping used, the first lines as mapped (with the account
each matches) and the counts an import would make; it writes nothing. `import_file` writes one
`payment_imports` row with the counts (recorded, unmatched, duplicates, failed with line and
reason, skipped) and the payments set-based (COPY on PostgreSQL, executemany on SQLite). A line
whose external id (given, or derived from its content: see reading) the organisation already has
is a duplicate and adds nothing, so the same file twice adds nothing. A file that cannot be read
(no payments header, not a spreadsheet or CSV, a parse that died) is a 400 and nothing is written.

Auditing: one `payments.imported` event per file (the import's counts, before/after), rather than
one `payment.recorded` event per line: a 100,000-line file is one change made by one person, and
its payments carry their import's id.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events
from arrears.db import utcnow
from arrears.debtors.reading.errors import MISSING_COLUMNS, ReadError
from arrears.debtors.reading.formats import detect_format
from arrears.debtors.reading.isolated import refusal
from arrears.errors import ValidationFailed
from arrears.identity.caller import Caller
from arrears.payments import service
from arrears.payments.errors import PaymentErrorCode
from arrears.payments.models import Payment, PaymentImport
from arrears.payments.reading import ParsedPayments, PaymentLine, read_payments
from arrears.sandbox import ParseFailed, get_pool

PREVIEW_LINES = 20
COLUMNS = ("id", "org_id", "account_id", "amount", "paid_on", "method", "reference", "external_id", "status",
           "source", "import_id", "line_number", "note", "created_by", "created_at", "updated_at")
Progress = Callable[[str, int, int], None]  # (stage, done, total)


def _mapping_overrides(mapping: Mapping[Any, Any] | None) -> dict[int, str | None] | None:
    """A caller's mapping {column index: field or null} checked."""
    if not mapping:
        return None
    out: dict[int, str | None] = {}
    for key, value in mapping.items():
        try:
            index = int(key)
        except (TypeError, ValueError):
            raise ValidationFailed("Invalid mapping", field_errors={"mapping": [f"{key!r} is not a column index."]}) from None
        if value is not None and not isinstance(value, str):
            raise ValidationFailed("Invalid mapping", field_errors={"mapping": [f"Column {index}: not a field name."]})
        out[index] = value
    return out


async def parse(path: str | os.PathLike[str], mapping: Mapping[Any, Any] | None = None) -> ParsedPayments:
    """The file read in the parse child; a file that cannot be read is ValidationFailed (400)."""
    overrides = _mapping_overrides(mapping)
    fmt = None
    try:
        fmt = detect_format(path)
        return await asyncio.to_thread(get_pool().call, read_payments, str(path), overrides)
    except ReadError as exc:
        raise _refused(exc) from None
    except ParseFailed as exc:
        raise _refused(refusal(exc, fmt)) from None
    except ValueError as exc:  # a mapping naming an unknown field
        raise ValidationFailed("Invalid mapping", field_errors={"mapping": [str(exc)]}) from None


def _refused(exc: ReadError) -> ValidationFailed:
    """The reader's refusal as a 400; its code goes in `details.code` (the partner face's 400s are
    all VALIDATION_ERROR)."""
    details = {"code": str(exc.code), **exc.details}
    if exc.code != MISSING_COLUMNS:
        return ValidationFailed(exc.message, code=str(exc.code), details=details)
    details.pop("sheet", None)  # the upload's temporary name means nothing to its sender
    found = ", ".join(f"'{h}'" for h in exc.details.get("found_headers", [])) or "none"
    return ValidationFailed(
        f"The file has no payments header: it needs {', '.join(exc.details.get('missing', []))}. Columns found "
        f"(row {exc.details.get('row')}): {found}. Rename the columns, or send a mapping "
        '({"column index": "date" | "reference" | "description" | "amount" | "credit" | "debit" | "method" | '
        '"external_id" | null}).', code=str(exc.code), details=details)


def require_payments(parsed: ParsedPayments) -> None:
    """A file none of whose lines is a payment and some of which failed is refused whole."""
    if not parsed.lines and parsed.failed_count:
        first = "; ".join(f"line {e['line']}: {e['reason']}" for e in parsed.failed[:5])
        raise ValidationFailed(f"The file has no payment line that could be read ({first}).",
                               code=PaymentErrorCode.NO_PAYMENT_LINES, details={"code": PaymentErrorCode.NO_PAYMENT_LINES,
                                                                 "errors": parsed.failed[:100]})


async def _existing_ids(session: AsyncSession, org_id: int, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for condition in service.among(session, Payment.external_id, ids):
        found.update(await session.scalars(select(Payment.external_id).where(Payment.org_id == org_id, condition)))
    return found


@dataclass
class Plan:
    """What an import of the parsed file makes: each line new (with its account or none) or a duplicate."""

    new: list[tuple[PaymentLine, uuid.UUID | None]]
    duplicates: int

    @property
    def recorded(self) -> int:
        return sum(1 for _, a in self.new if a is not None)

    @property
    def unmatched(self) -> int:
        return sum(1 for _, a in self.new if a is None)


async def plan(session: AsyncSession, org_id: int, parsed: ParsedPayments) -> Plan:
    lines = parsed.lines
    existing = await _existing_ids(session, org_id, sorted({ln.external_id for ln in lines}))
    accounts = await service.match_lines(session, org_id, [ln.reference for ln in lines])
    # A bank export's reference column may name the bank's own account (Capitec's "Account"): a
    # line its reference does not match is matched by the words of its description.
    by_description = await service.match_lines(session, org_id, sorted(
        {ln.description for ln in lines if ln.reference not in accounts and ln.description != ln.reference
         and ln.description}))
    new: list[tuple[PaymentLine, uuid.UUID | None]] = []
    duplicates = 0
    for ln in lines:
        if ln.external_id in existing:
            duplicates += 1
            continue
        existing.add(ln.external_id)  # an id given twice in one file: the second is a duplicate
        new.append((ln, accounts.get(ln.reference) or by_description.get(ln.description)))
    return Plan(new, duplicates)


def _counts(parsed: ParsedPayments, p: Plan) -> dict[str, Any]:
    return {"lines": len(parsed.lines) + parsed.failed_count + sum(parsed.skipped.values()),
            "payments": len(parsed.lines), "recorded": p.recorded, "unmatched": p.unmatched,
            "duplicates": p.duplicates, "failed": parsed.failed_count, "skipped": sum(parsed.skipped.values()),
            "skippedReasons": dict(parsed.skipped),
            "amountRecorded": sum((Decimal(ln.amount) for ln, a in p.new if a is not None), Decimal("0.00")),
            "amountUnmatched": sum((Decimal(ln.amount) for ln, a in p.new if a is None), Decimal("0.00"))}


def _who(caller: Caller | None, org_id: int | None) -> tuple[int, str]:
    """The organisation and the actor: a caller's (checked), or the CLI's (trusted, as for the book)."""
    if caller is not None:
        service.require_recorder(caller)
        return caller.org_id, caller.actor
    assert org_id is not None
    return org_id, "cli"


async def preview(session: AsyncSession, caller: Caller | None, path: str | os.PathLike[str],
                  mapping: Mapping[Any, Any] | None = None, *, org_id: int | None = None) -> dict[str, Any]:
    """The file as an import would read it: mapping, columns, title lines, the first lines as
    mapped with their accounts, and the counts. Nothing is written."""
    org, _ = _who(caller, org_id)
    parsed = await parse(path, mapping)
    p = await plan(session, org, parsed)
    accounts = {ln.line: a for ln, a in p.new}
    duplicates = {ln.line for ln in parsed.lines} - set(accounts)
    sample = [{"line": ln.line, "paidOn": ln.paid_on, "amount": Decimal(ln.amount), "reference": ln.reference,
               "description": ln.description, "method": ln.method,
               "externalId": None if ln.derived_id else ln.external_id,
               "accountId": str(accounts[ln.line]) if accounts.get(ln.line) else None,
               "outcome": ("duplicate" if ln.line in duplicates else
                           "recorded" if accounts.get(ln.line) else "unmatched")}
              for ln in parsed.lines[:PREVIEW_LINES]]
    return {"sheet": parsed.sheet, "headerRow": parsed.header_row, "mapping": parsed.mapping,
            "columns": parsed.columns, "titleLines": parsed.title_lines, "lines": sample,
            "counts": _counts(parsed, p), "errors": parsed.failed[:PREVIEW_LINES]}


async def import_file(session: AsyncSession, caller: Caller | None, path: str | os.PathLike[str],
                      filename: str | None = None, mapping: Mapping[Any, Any] | None = None,
                      on_progress: Progress | None = None, *, org_id: int | None = None) -> PaymentImport:
    """Import the file: one payment_imports row, its new payments written set-based, the accounts'
    statuses settled and the payments hooks run. Returns the import row. `caller` None: the CLI,
    for `org_id`."""
    org, actor = _who(caller, org_id)
    report = on_progress or (lambda stage, done, total: None)
    report("reading", 0, 0)
    parsed = await parse(path, mapping)
    require_payments(parsed)
    report("matching", 0, len(parsed.lines))
    await service.lock_payments(session, org)  # after the parse: a long read holds nothing
    p = await plan(session, org, parsed)
    report("writing", 0, len(p.new))
    now = utcnow()
    counts = _counts(parsed, p)
    row = PaymentImport(id=uuid.uuid4(), org_id=org, filename=(filename or Path(path).name)[:255],
                        status="done", total_lines=counts["lines"], recorded=p.recorded, unmatched=p.unmatched,
                        duplicates=p.duplicates, failed=parsed.failed_count, skipped=counts["skipped"],
                        mapping=parsed.mapping, errors=parsed.failed or None, created_by=actor,
                        created_at=now)
    session.add(row)
    await session.flush()
    await _write(session, row, p, on_progress=report)
    await events.record(session, org_id=org, type=service.IMPORTED_EVENT, actor=actor,
                        subject_type="payment_import", subject_id=row.id, before=None,
                        after={"filename": row.filename, **counts},
                        data={"importId": str(row.id), "filename": row.filename, **counts})
    report("settling", 0, 0)
    await service.changed(session, org, [a for _, a in p.new], import_id=row.id)
    report("done", len(p.new), len(p.new))
    return row


WRITE_BATCH = 10000
NULL = "\\N"  # COPY text format's null


_SPECIAL = re.compile(r"[\x00\\\t\n\r]")


def _esc(value: str | None) -> str:
    """A value in PostgreSQL's COPY text format (None is \\N)."""
    if value is None:
        return NULL
    if _SPECIAL.search(value) is None:  # nearly always: nothing to escape
        return value
    return (value.replace("\x00", "").replace("\\", "\\\\").replace("\t", "\\t")
            .replace("\n", "\\n").replace("\r", "\\r"))


def new_ids(count: int) -> list[str]:
    """`count` time-ordered (version 7) UUIDs as text, ascending: the time in milliseconds and 28
    random bits, then a 48-bit counter from a random start below 2**47. In order, each id lands at
    the right edge of the primary key's index instead of on a random page of it (uuid4 keys cost
    that index several times more), and each costs one format."""
    ms = int(time.time() * 1000) & 0xFFFF_FFFF_FFFF
    rand = int.from_bytes(os.urandom(8))
    head = f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7{rand >> 52 & 0xFFF:03x}-{8 | rand >> 50 & 3:x}{rand >> 38 & 0xFFF:03x}-"
    start = rand & (1 << 37) - 1 | (int.from_bytes(os.urandom(2)) & 0x3FF) << 37  # below 2**47
    return [f"{head}{value:012x}" for value in range(start, start + count)]


async def _write(session: AsyncSession, row: PaymentImport, p: Plan, *, on_progress: Progress) -> None:
    total = len(p.new)
    if not total:
        return
    now = row.created_at
    if session.get_bind().dialect.name == "postgresql":
        # COPY in text: the lines arrive as text from the parse child, and each row is one join.
        conn = await session.connection()
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        fixed_tail = f"import\t{row.id}"
        stamp = f"{_esc(row.created_by)}\t{now.isoformat()}\t{now.isoformat()}\n"
        org = str(row.org_id)
        for start in range(0, total, WRITE_BATCH * 5):
            batch = p.new[start:start + WRITE_BATCH * 5]
            lines = [
                f"{key}\t{org}\t{account or NULL}\t{ln.amount}\t{ln.paid_on}\t"
                f"{_esc(ln.method)}\t{_esc(ln.reference)}\t{_esc(ln.external_id)}\t"
                f"{'recorded' if account else 'unmatched'}\t{fixed_tail}\t{ln.line}\t{_esc(ln.description or None)}\t"
                f"{stamp}" for key, (ln, account) in zip(new_ids(len(batch)), batch, strict=True)]
            await driver.copy_to_table("payments", source=_chunks("".join(lines).encode()), columns=list(COLUMNS),
                                       format="text")
            on_progress("writing", min(start + WRITE_BATCH * 5, total), total)
        return
    for start in range(0, total, WRITE_BATCH):
        await session.execute(insert(Payment), [
            {"id": uuid.uuid4(), "org_id": row.org_id, "account_id": account, "amount": Decimal(ln.amount),
             "paid_on": date.fromisoformat(ln.paid_on), "method": ln.method, "reference": ln.reference,
             "external_id": ln.external_id, "status": "recorded" if account else "unmatched", "source": "import",
             "import_id": row.id, "line_number": ln.line, "note": ln.description or None,
             "created_by": row.created_by, "created_at": now, "updated_at": now}
            for ln, account in p.new[start:start + WRITE_BATCH]])
        on_progress("writing", min(start + WRITE_BATCH, total), total)


async def _chunks(payload: bytes) -> AsyncIterator[bytes]:
    # An async iterable, not a file object: asyncpg reads files in its thread pool.
    yield payload
