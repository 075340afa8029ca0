"""Importing a payments file: a CSV of payments or a bank statement export (arrears.payments.reading
says what is read and how), parsed in the parse pool's child process like a book file.

`preview` reads the file and answers the mapping used, the first lines as mapped (with the account
each matches) and the counts an import would make; it writes nothing that outlives it. `import_file`
writes one `payment_imports` row with the counts (recorded, unmatched, duplicates, failed with line
and reason, skipped) and the payments. A line whose external id (given, or derived from its
content: see reading) the organisation already has, or an earlier line of the file has, is a
duplicate and adds nothing, so the same file twice adds nothing. A file that cannot be read (no
payments header, not a spreadsheet or CSV, a parse that died) is a 400 and nothing is written.

How, set-based whatever the number of lines: the parse child sends the lines back as one block of
rows, which goes into a temporary table (`payment_import_lines`: COPY on PostgreSQL, executemany
on SQLite); its distinct references and descriptions go, once each, into `payment_import_texts`,
and beside them each that names an account (`payment_import_matches`: the same matching as a
payment recorded through the API — the whole text, by `service.match_references`' rule done in
the database for every text at once, then the words of the texts left, by `service.match_words`;
a text that is a single word is its only word, so it is not looked up again). The lines whose external id the organisation
has are taken out; one INSERT … SELECT then writes the new payments, the lines joined with their
matches. One transaction, under the
organisation's payments lock: an import that dies (killed, a lost connection) leaves nothing, and
its re-run finds the ids it did write, if it committed, as duplicates.

Auditing: one `payments.imported` event per file (the import's counts, before/after), rather than
one `payment.recorded` event per line: a 100,000-line file is one change made by one person, and
its payments carry their import's id.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Integer,
    MetaData,
    Select,
    Table,
    Text,
    case,
    cast,
    delete,
    distinct,
    func,
    insert,
    literal,
    select,
    text,
    union,
    union_all,
)
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import CreateTable, DropTable

from arrears import events
from arrears.accounts.models import Account
from arrears.customers.models import Loan
from arrears.db import GUID, UTCDateTime, utcnow
from arrears.debtors.models import DebtorAccount
from arrears.debtors.reading.errors import MISSING_COLUMNS, ReadError
from arrears.debtors.reading.formats import detect_format
from arrears.debtors.reading.isolated import refusal
from arrears.errors import ValidationFailed
from arrears.identity.caller import Caller
from arrears.payments import service
from arrears.payments.errors import PaymentErrorCode
from arrears.payments.models import MONEY, Payment, PaymentImport
from arrears.payments.reading import SAMPLE_LINES, STAGED, ParsedPayments, read_payments
from arrears.sandbox import ParseFailed, get_pool

PREVIEW_LINES = SAMPLE_LINES
ZERO = Decimal("0.00")
CENT = Decimal("0.01")
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
    if not parsed.count and parsed.failed_count:
        first = "; ".join(f"line {e['line']}: {e['reason']}" for e in parsed.failed[:5])
        raise ValidationFailed(f"The file has no payment line that could be read ({first}).",
                               code=PaymentErrorCode.NO_PAYMENT_LINES, details={"code": PaymentErrorCode.NO_PAYMENT_LINES,
                                                                 "errors": parsed.failed[:100]})


@dataclass
class Written:
    """What the lines make (or made): payments recorded (matched) and unmatched, their amounts, and
    the accounts paid."""

    recorded: int = 0
    unmatched: int = 0
    amount_recorded: Decimal = ZERO
    amount_unmatched: Decimal = ZERO
    accounts: list[uuid.UUID] = field(default_factory=list)


def _counts(parsed: ParsedPayments, w: Written) -> dict[str, Any]:
    return {"lines": parsed.count + parsed.failed_count + sum(parsed.skipped.values()),
            "payments": parsed.count, "recorded": w.recorded, "unmatched": w.unmatched,
            "duplicates": parsed.count - w.recorded - w.unmatched, "failed": parsed.failed_count,
            "skipped": sum(parsed.skipped.values()), "skippedReasons": dict(parsed.skipped),
            "amountRecorded": w.amount_recorded, "amountUnmatched": w.amount_unmatched}


def _who(caller: Caller | None, org_id: int | None) -> Caller:
    """Who imports: the caller (checked), or the CLI (trusted, as for the book) in `org_id`."""
    if caller is not None:
        service.require_recorder(caller)
        return caller
    assert org_id is not None
    return Caller.system(org_id, "cli")


# ------------------------------------------------------------------ the staging tables

_staging = MetaData()
# The file's payment lines (reading.STAGED, in that order) and, for each reference or description
# that names one account, that account. Temporary: private to the transaction's connection, never
# WAL-logged, dropped when the import (or preview) is done.
LINES = Table("payment_import_lines", _staging,
              Column("line", Integer), Column("reference", Text), Column("description", Text),
              Column("amount", MONEY), Column("paid_on", Date), Column("method", Text),
              Column("external_id", Text), Column("repeated", Boolean),
              prefixes=["TEMPORARY"], postgresql_on_commit="DROP")
MATCHES = Table("payment_import_matches", _staging, Column("text", Text), Column("account_id", GUID),
                prefixes=["TEMPORARY"], postgresql_on_commit="DROP")
# Every text the lines can be matched by, once (`_texts`): the matching reads these, not the lines.
TEXTS = Table("payment_import_texts", _staging, Column("text", Text), prefixes=["TEMPORARY"],
              postgresql_on_commit="DROP")
STAGING = (LINES, MATCHES, TEXTS)
assert tuple(c.name for c in LINES.columns) == STAGED


async def _driver(session: AsyncSession) -> Any:
    """The asyncpg connection under the session's (for COPY)."""
    raw = await (await session.connection()).get_raw_connection()
    return raw.driver_connection


async def _copy(driver: Any, table: Table, payload: bytes) -> None:
    # An async iterable, not a file object: asyncpg reads files in its thread pool.
    async def chunks() -> AsyncIterator[bytes]:
        yield payload
    await driver.copy_to_table(table.name, source=chunks(), columns=[c.name for c in table.columns], format="text")


# A text that is a single word of `service.reference_tokens` (the whole of it one token).
ONE_WORD = "^" + service.TOKEN_PATTERN + "$"


def _texts() -> Any:
    """Every text a line can be matched by, once: its reference, and its description when it has
    one that is not its reference (read when the reference names no account)."""
    return union(select(LINES.c.reference.label("text")),
                 select(LINES.c.description).where(LINES.c.description != "",
                                                   LINES.c.description != LINES.c.reference))


def _exact_matches(org_id: int) -> Select[Any]:
    """`service.match_references` for every staged text at once, in the database: the account of
    each text that names exactly one — a book account's code or a loan's account number, as
    written, or else in capitals. The organisation's codes are read once (a CTE, used thrice)."""
    codes = union_all(
        select(DebtorAccount.account_code.label("code"), Account.id.label("account_id"))
        .join(Account, Account.debtor_account_id == DebtorAccount.id).where(DebtorAccount.org_id == org_id),
        select(Loan.loan_account_number, Account.id)
        .join(Account, Account.loan_id == Loan.id).where(Loan.org_id == org_id)).cte("codes")
    written = codes.alias("written")
    as_written = select(written.c.code).where(written.c.code == TEXTS.c.text)
    hits = union_all(
        select(TEXTS.c.text, codes.c.account_id).join(codes, codes.c.code == TEXTS.c.text),
        select(TEXTS.c.text, codes.c.account_id).join(codes, codes.c.code == func.upper(TEXTS.c.text))
        .where(func.upper(TEXTS.c.text) != TEXTS.c.text, ~as_written.exists())).subquery("hits")
    # min() of text: PostgreSQL has no min(uuid); the group has one account anyway.
    return (select(hits.c.text, cast(func.min(cast(hits.c.account_id, Text)), GUID))
            .group_by(hits.c.text).having(func.count(distinct(hits.c.account_id)) == 1))


async def _stage(session: AsyncSession, org_id: int, parsed: ParsedPayments) -> None:
    """The staging tables made and filled: the lines, and the account of each text they are
    matched by — as a payment recorded through the API is (`service.match_lines`): the whole
    text naming one account (in the database, for all the texts at once), else the one account
    its words name (`match_lines`, for the texts left)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        # No JIT for the import's statements (put back by _unstage): compiling them costs more
        # than running them (a second and a half for the matching's joins, which it would take
        # for millions of rows: the planner cannot know how many texts are distinct).
        # And small samples for the temporary tables' statistics (below): they only need to tell
        # the planner their sizes and how many texts are distinct, and die with the transaction.
        session.info["payments_import_settings"] = (await session.execute(text(
            "SELECT current_setting('jit') || left(set_config('jit', 'off', true), 0), "
            "current_setting('default_statistics_target') "
            f"|| left(set_config('default_statistics_target', '{TEMP_STATISTICS}', true), 0)"))).one()
    for table in STAGING:
        if not postgres:  # SQLite: a table an earlier, failed transaction left on this connection
            await session.execute(text(f"DROP TABLE IF EXISTS temp.{table.name}"))
        await session.execute(CreateTable(table))
    if postgres:
        await _copy(await _driver(session), LINES, parsed.rows)
        # Temporary tables have no statistics until analysed (autovacuum never sees them): without
        # them the planner takes the joins for millions of rows, sorts them to disk and compiles
        # them (JIT). A sample costs a few milliseconds.
        await session.execute(text(f"ANALYZE {LINES.name} (reference, description, external_id, repeated)"))
    else:
        names = [c.name for c in LINES.columns]
        rows = [dict(zip(names, (line, ref, desc, Decimal(amount), date.fromisoformat(day), method, ext, again),
                         strict=True))
                for line, ref, desc, amount, day, method, ext, again in parsed.staged_rows()]
        for start in range(0, len(rows), WRITE_BATCH):
            await session.execute(insert(LINES), rows[start:start + WRITE_BATCH])
    await session.execute(insert(TEXTS).from_select(["text"], _texts()))
    if postgres:
        await session.execute(text(f"ANALYZE {TEXTS.name}"))
    await session.execute(insert(MATCHES).from_select(["text", "account_id"], _exact_matches(org_id)))
    unmatched = ~select(MATCHES.c.text).where(MATCHES.c.text == TEXTS.c.text).exists()
    if postgres:  # a text that is one word is its only word, looked up whole already: not fetched
        unmatched = unmatched & TEXTS.c.text.op("!~")(ONE_WORD)
    left = list(await session.scalars(select(TEXTS.c.text).where(unmatched)))
    by_words = await service.match_words(session, org_id, left)
    if by_words:
        await session.execute(insert(MATCHES), [{"text": k, "account_id": v} for k, v in by_words.items()])
    # The lines whose external id the organisation has are duplicates: out, in a statement of their
    # own. (Inside the INSERT, the planner may scan `payments` once per line, seeing it as small as
    # it was when the statement began while the statement grows it.)
    known = select(Payment.id).where(Payment.org_id == org_id, Payment.external_id == LINES.c.external_id)
    await session.execute(delete(LINES).where(known.exists()))
    if postgres:
        await session.execute(text(f"ANALYZE {MATCHES.name}"))


async def _unstage(session: AsyncSession) -> None:
    for table in STAGING:
        await session.execute(DropTable(table))
    settings = session.info.pop("payments_import_settings", None)
    if settings is not None:
        await session.execute(text("SELECT set_config('jit', :jit, true), "
                                   "set_config('default_statistics_target', :target, true)"),
                              {"jit": settings[0], "target": settings[1]})


def _planned() -> Select[Any]:
    """The lines that are new payments, each with its account (None: unmatched): the staged lines
    (those the organisation had are gone) less those repeated in the file."""
    by_reference, by_description = MATCHES.alias("by_reference"), MATCHES.alias("by_description")
    return (select(*LINES.columns, func.coalesce(by_reference.c.account_id, by_description.c.account_id)
                   .label("account_id"))
            .select_from(LINES.outerjoin(by_reference, by_reference.c.text == LINES.c.reference)
                         .outerjoin(by_description, by_description.c.text == LINES.c.description))
            .where(LINES.c.repeated.is_(False)))


def _sums(session: AsyncSession, rows: Any) -> list[Any]:
    """recorded, unmatched, amount recorded, amount unmatched over `rows` (account_id, amount)."""
    matched = rows.c.account_id.is_not(None)
    amount: Any = rows.c.amount
    if session.get_bind().dialect.name != "postgresql":
        amount = func.cast(func.round(amount * 100), Integer)  # whole cents: SQLite sums floats
    return [func.count(rows.c.account_id), func.count() - func.count(rows.c.account_id),
            func.coalesce(func.sum(amount).filter(matched), 0), func.coalesce(func.sum(amount).filter(~matched), 0)]


def _written(session: AsyncSession, recorded: int, unmatched: int, amount_recorded: Any, amount_unmatched: Any,
             accounts: Sequence[uuid.UUID] | None = None) -> Written:
    scale = Decimal(1) if session.get_bind().dialect.name == "postgresql" else CENT
    return Written(int(recorded), int(unmatched), (Decimal(amount_recorded) * scale).quantize(CENT),
                   (Decimal(amount_unmatched) * scale).quantize(CENT), sorted(accounts or ()))


async def preview(session: AsyncSession, caller: Caller | None, path: str | os.PathLike[str],
                  mapping: Mapping[Any, Any] | None = None, *, org_id: int | None = None) -> dict[str, Any]:
    """The file as an import would read it: mapping, columns, title lines, the first lines as
    mapped with their accounts, and the counts. Nothing is written (the staging tables are
    temporary and dropped)."""
    org = _who(caller, org_id).org_id
    parsed = await parse(path, mapping)
    await _stage(session, org, parsed)
    planned = _planned().subquery("planned")
    w = _written(session, *(await session.execute(select(*_sums(session, planned)))).one())
    sample = {ln.line for ln in parsed.sample[:PREVIEW_LINES]}
    accounts = {r.line: r.account_id for r in await session.execute(
        select(planned.c.line, planned.c.account_id).where(planned.c.line.in_(sorted(sample))))}
    await _unstage(session)
    lines = [{"line": ln.line, "paidOn": ln.paid_on, "amount": Decimal(ln.amount), "reference": ln.reference,
              "description": ln.description, "method": ln.method,
              "externalId": None if ln.derived_id else ln.external_id,
              "accountId": str(accounts[ln.line]) if accounts.get(ln.line) else None,
              "outcome": ("duplicate" if ln.line not in accounts else
                          "recorded" if accounts[ln.line] else "unmatched")}
             for ln in parsed.sample[:PREVIEW_LINES]]
    return {"sheet": parsed.sheet, "headerRow": parsed.header_row, "mapping": parsed.mapping,
            "columns": parsed.columns, "titleLines": parsed.title_lines, "lines": lines,
            "counts": _counts(parsed, w), "errors": parsed.failed[:PREVIEW_LINES]}


async def import_file(session: AsyncSession, caller: Caller | None, path: str | os.PathLike[str],
                      filename: str | None = None, mapping: Mapping[Any, Any] | None = None,
                      on_progress: Progress | None = None, *, org_id: int | None = None) -> PaymentImport:
    """Import the file: its new payments written, one payment_imports row, the accounts' statuses
    settled and the payments hooks run. Returns the import row. `caller` None: the CLI, for
    `org_id`."""
    who = _who(caller, org_id)
    org, actor = who.org_id, who.actor
    report = on_progress or (lambda stage, done, total: None)
    report("reading", 0, 0)
    parsed = await parse(path, mapping)
    require_payments(parsed)
    report("matching", 0, parsed.count)
    await service.lock_payments(session, org)  # after the parse: a long read holds nothing
    await _stage(session, org, parsed)
    report("writing", 0, parsed.count)
    import_id, now = uuid.uuid4(), utcnow()
    w = await _write(session, org, import_id, actor, now)
    await _unstage(session)
    await _analyze_payments(session, w.recorded + w.unmatched)
    report("writing", parsed.count, parsed.count)
    counts = _counts(parsed, w)
    # The payments name their import before it is written: they have no foreign key (see models).
    row = PaymentImport(id=import_id, org_id=org, filename=(filename or Path(path).name)[:255],
                        status="done", total_lines=counts["lines"], recorded=w.recorded, unmatched=w.unmatched,
                        duplicates=counts["duplicates"], failed=parsed.failed_count, skipped=counts["skipped"],
                        mapping=parsed.mapping, errors=parsed.failed or None, created_by=actor,
                        created_at=now)
    session.add(row)
    await session.flush()
    await events.record(session, org_id=org, type=service.IMPORTED_EVENT, actor=actor,
                        subject_type="payment_import", subject_id=row.id, before=None,
                        after={"filename": row.filename, **counts},
                        data={"importId": str(row.id), "filename": row.filename, **counts})
    report("settling", 0, 0)
    await service.changed(session, who, w.accounts, import_id=row.id)
    report("done", parsed.count, parsed.count)
    return row


WRITE_BATCH = 10000
TEMP_STATISTICS = 10  # the staging tables' statistics target: a 3,000-row sample (the default 100: 30,000)
# The payments columns the import's next statements (the statuses settled, the promises hook)
# filter and join on.
ANALYZED = ("org_id", "account_id", "import_id", "status", "paid_on")


async def _analyze_payments(session: AsyncSession, written: int) -> None:
    """Fresh statistics of `payments` after an import that changed it by more than a tenth, as
    autovacuum would a little later (the book does the same after its loads): without them the
    statuses are settled with plans made for the table as it was — for a new organisation's
    first file, nested loops over what was guessed to be a few rows — at several times the cost
    of the sample. Only the columns those statements read; SKIP_LOCKED: never waits on a vacuum."""
    if session.get_bind().dialect.name != "postgresql" or written < 1000:
        return
    known = await session.scalar(text("SELECT reltuples FROM pg_class WHERE oid = 'payments'::regclass"))
    if written > max(float(known or 0), 0) / 10:
        await session.execute(text(f"ANALYZE (SKIP_LOCKED) payments ({', '.join(ANALYZED)})"))


def _ids(session: AsyncSession, line: Any) -> Any:
    """Each new payment's id, made in the statement from its line number: time-ordered (version
    7) UUIDs — the time in milliseconds and 28 random bits, then a 48-bit counter from a random
    start below 2**47 plus the line number. In order, each id lands at the right edge of the
    primary key's index instead of on a random page of it (uuid4 keys cost that index several
    times more)."""
    ms = int(time.time() * 1000) & 0xFFFF_FFFF_FFFF
    rand = int.from_bytes(os.urandom(8))
    head = f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7{rand >> 52 & 0xFFF:03x}-{8 | rand >> 50 & 3:x}{rand >> 38 & 0xFFF:03x}-"
    start = rand & (1 << 37) - 1 | (int.from_bytes(os.urandom(2)) & 0x3FF) << 37  # below 2**47
    counter = literal(start, BigInteger) + line
    if session.get_bind().dialect.name == "postgresql":
        return cast(literal(head) + func.lpad(func.to_hex(counter), 12, "0"), PG_UUID)
    return func.printf("%s%012x", head, counter)


async def _write(session: AsyncSession, org_id: int, import_id: uuid.UUID, actor: str, now: datetime) -> Written:
    """The new payments written from the staging tables, in one INSERT … SELECT."""
    planned = _planned().subquery("planned")
    account = planned.c.account_id
    values = {
        "id": _ids(session, planned.c.line), "org_id": literal(org_id), "account_id": account,
        "amount": planned.c.amount, "paid_on": planned.c.paid_on, "method": planned.c.method,
        "reference": planned.c.reference, "external_id": planned.c.external_id,
        "status": case((account.is_(None), "unmatched"), else_="recorded"), "source": literal("import"),
        "import_id": literal(import_id, GUID), "line_number": planned.c.line,
        "note": func.nullif(planned.c.description, ""), "created_by": literal(actor),
        "created_at": literal(now, UTCDateTime), "updated_at": literal(now, UTCDateTime)}
    write = insert(Payment).from_select(list(values), select(*values.values()))
    # What will be written, summed first from the same lines (the staging tables do not change in
    # between, and the INSERT writes all of them or fails whole): cheaper than the INSERT returning
    # its 100,000 rows into a CTE to sum them (PostgreSQL; SQLite has no INSERT in a WITH anyway).
    sums = _sums(session, planned)
    if session.get_bind().dialect.name == "postgresql":
        paid = func.array_agg(distinct(account)).filter(account.is_not(None))
        row = (await session.execute(select(*sums, paid))).one()
        await session.execute(write)
        return _written(session, row[0], row[1], row[2], row[3], row[4])
    row = (await session.execute(select(*sums))).one()
    await session.execute(write)
    paid_ids = await session.scalars(select(Payment.account_id).distinct()
                                     .where(Payment.import_id == import_id, Payment.account_id.is_not(None)))
    return _written(session, row[0], row[1], row[2], row[3], [i for i in paid_ids if i is not None])
