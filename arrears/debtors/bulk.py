"""Bulk writes of the debtor book: snapshot rows in batches (COPY on PostgreSQL, executemany on
SQLite), and the set-based SQL that links a report's snapshots to customers and keeps the
accounts' latest balances.

Blocks of accounts are encoded by whoever produces them (the import's reader thread), column by
column, so that the event loop only ships bytes: on PostgreSQL a batch is COPY text, on SQLite a
list of tuples.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import repeat
from operator import add
from typing import Any, TypeVar

from sqlalchemy import Date, bindparam, delete, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from arrears.db import UTCDateTime, get_engine
from arrears.debtors.errors import RowErrorCode
from arrears.debtors.hooks import FreshBook
from arrears.debtors.models import DebtorRowError, DebtorSnapshot, DebtorSnapshotRank
from arrears.debtors.reading import AccountBlock, AccountRow, RowError
from arrears.jobs import queue

ZERO = Decimal("0.00")
MONEY_LIMIT = Decimal("1000000000000")  # Numeric(14, 2) holds less than 10^12
_CENTS_LIMIT = int(MONEY_LIMIT.scaleb(2))  # in cents
MAX_CODE = 100
CUSTOMER_CODE_MAX = 50
TOO_LARGE = RowErrorCode.INVALID_AMOUNT
CODE_TOO_LONG = RowErrorCode.INVALID_ACCOUNT

# Columns an import writes. PostgreSQL fills created_at/updated_at (the transaction's time), and
# d150/d180/is_selected/extra_buckets when a file has no bucket past 120 days (migration 0010).
_TEXT_COLUMNS = ("uuid", "org_id", "report_id", "account_code", "customer_name", "contact", "telephone",
                 "telephone_raw", "phone_valid", "sms_reachable", "current", "d30", "d60", "d90", "d120")
COPY_COLUMNS = (*_TEXT_COLUMNS, "total_balance", "overdue_amount", "sheet_row")
COPY_COLUMNS_OLDER = (*_TEXT_COLUMNS, "d150", "d180", "extra_buckets", "total_balance", "overdue_amount",
                      "sheet_row")
SNAPSHOT_COLUMNS = (*_TEXT_COLUMNS, "d150", "d180", "extra_buckets", "total_balance", "overdue_amount",
                    "is_selected", "sheet_row", "created_at", "updated_at")
ERROR_COLUMNS = ("report_id", "sheet_row", "column", "value", "reason", "code", "account_code")
# An amount as the database reads it, from whole cents: "132130e-2" is 1321.30 to PostgreSQL's
# numeric and to SQLite (formatting an int is a fraction of the cost of formatting a float).
_MONEY = "%de-2".__mod__
_NULL = "\\N"


def cut(value: str | None, limit: int) -> str | None:
    if not value:
        return None
    return value if len(value) <= limit else value[:limit]


def uuid7_prefix(now: datetime) -> str:
    """The first 28 characters of version 7 UUIDs made at `now`, with 42 random bits; a counter
    in 8 hex digits completes each one."""
    stamp = f"{int(now.timestamp() * 1000) & (1 << 48) - 1:012x}"
    variant = 0b10 << 14 | secrets.randbits(14)
    return f"{stamp[:8]}-{stamp[8:]}-7{secrets.randbits(12):03x}-{variant:04x}-{secrets.randbits(16):04x}"


# ------------------------------------------------------------------ one batch


@dataclass
class Batch:
    """Encoded snapshot rows and the row errors of a stretch of the file."""

    payload: Any  # COPY text as bytes on PostgreSQL, a list of tuples on SQLite
    columns: tuple[str, ...] = SNAPSHOT_COLUMNS
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    block: AccountBlock | None = None  # the accounts stored, for the report's figures
    overdue: list[int] = field(default_factory=list)  # each account's overdue amount, in cents


class SnapshotEncoder:
    """Turns blocks of accounts into snapshot records for one report (and one database engine)."""

    def __init__(self, org_id: int, report_id: int, now: datetime, postgres: bool, *, older: bool = False) -> None:
        self.org_id = org_id
        self.report_id = report_id
        self.postgres = postgres
        # True when the file has buckets past 120 days: every batch then carries their columns
        # (an import streams all its batches through one COPY of fixed columns).
        self.older = older
        # Snapshot UUIDs (version 7): the time in milliseconds, 42 random bits per report, and a
        # row counter, so that they cost no randomness per row, sort in file order within the
        # report, and come after every earlier report's: PostgreSQL appends them to the right
        # edge of the unique index instead of inserting them all over it.
        prefix = uuid7_prefix(now)
        self._uuid = f"{prefix}%08x".__mod__
        self._next = 0
        # A PostgreSQL batch is COPY text: one row per account, formatted in one step (whole
        # cents as '132130e-2', booleans as 1/0).
        head = f"{prefix}%08x\t{org_id}\t{report_id}\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t" + "%de-2\t" * 5
        self._copy_rows = {older: (head + ("%s\t%s\t%s\t" if older else "") + "%de-2\t%de-2\t%d").__mod__
                           for older in (False, True)}  # COPY_COLUMNS, COPY_COLUMNS_OLDER
        self._stamp = now.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns of every batch this encoder makes, on PostgreSQL."""
        return COPY_COLUMNS_OLDER if self.older else COPY_COLUMNS

    def check(self, row: AccountRow) -> RowError | None:
        """What the book cannot store even though the file's row is valid."""
        if len(row.account) > MAX_CODE:
            return RowError(row.sheet_row, None, row.account[:60] + "…",
                            f"The account code is longer than {MAX_CODE} characters.",
                            CODE_TOO_LONG, row.account[:MAX_CODE])
        for amount in (row.total_balance, row.current, row.d30, row.d60, row.d90, row.d120):
            if not -MONEY_LIMIT < amount < MONEY_LIMIT:
                return RowError(row.sheet_row, None, str(amount),
                                f"The amount {amount} is too large (the limit is 999,999,999,999.99).",
                                TOO_LARGE, row.account)
        return None

    def _storable(self, block: AccountBlock) -> tuple[AccountBlock, list[RowError]]:
        """The block less the accounts the book cannot store, and why (checked per row only when
        some code is too long or some amount too large)."""
        if max(map(len, block.accounts), default=0) <= MAX_CODE and (block.amounts_in_range or all(
                max(column, default=0) < _CENTS_LIMIT and min(column, default=0) > -_CENTS_LIMIT
                for column in block.cents)):
            return block, []
        errors: list[RowError] = []
        drop: set[int] = set()
        for index in range(len(block)):
            problem = self.check(block.row(index))
            if problem is not None:
                drop.add(index)
                errors.append(problem)
        return block.without(drop), errors

    def encode(self, block: AccountBlock) -> Batch:
        """The block's accounts as one batch of records; its row errors ride along."""
        block, refused = self._storable(block)
        count = len(block)
        first = self._next + 1
        self._next += count
        cents = block.cents
        # Overdue: every bucket past Current, never below zero.
        overdue = list(map(add, map(add, map(add, cents[1], cents[2]), cents[3]), cents[4]))
        if overdue and min(overdue) < 0:
            overdue = list(map(max, repeat(0), overdue))
        older = self.older or (block.extras is not None and any(block.extras))
        if older:
            extras = block.extras if block.extras is not None else [{}] * count
            d150 = [str(e.get(150, ZERO)) for e in extras]
            d180 = [str(e.get(180, ZERO)) for e in extras]
            extra_json = [json.dumps({str(k): str(v) for k, v in e.items()}) if e else None for e in extras]
        names = _limited(block.names, 255)
        contacts = _limited(block.contacts, 255)
        telephones = _limited(block.telephones, 32)
        raws = _limited([raw or None for raw in block.telephone_raw], 64)
        if self.postgres:
            fields: list[Any] = [range(first, first + count), _copy_text(block.accounts), _copy_text(names),
                                 _copy_text(contacts), _copy_text(telephones), _copy_text(raws), block.phone_valid,
                                 block.sms_reachable, *cents[:5]]
            if older:
                fields += [d150, d180, _copy_text(extra_json)]
            fields += [cents[5], overdue, block.sheet_rows]
            rows = map(self._copy_rows[older], zip(*fields, strict=True))
            payload: Any = ("\n".join(rows) + "\n").encode() if count else b""
            columns: tuple[str, ...] = COPY_COLUMNS_OLDER if older else COPY_COLUMNS
        else:
            zeros = repeat("0.00")
            amounts = [map(_MONEY, column) for column in cents]
            payload = list(zip(
                map(self._uuid, range(first, first + count)), repeat(self.org_id), repeat(self.report_id), block.accounts, names, contacts, telephones,
                raws, map(int, block.phone_valid), map(int, block.sms_reachable), *amounts[:5],
                d150 if older else zeros, d180 if older else zeros, extra_json if older else repeat(None),
                amounts[5], map(_MONEY, overdue), repeat(0), block.sheet_rows, repeat(self._stamp),
                repeat(self._stamp)))
            columns = SNAPSHOT_COLUMNS
        return Batch(payload, columns, count, [*block.errors, *refused], block, overdue)


_Text = TypeVar("_Text", str, str | None)  # a column of text, with or without NULLs


def _limited(values: list[_Text], limit: int) -> list[_Text]:
    if max(map(len, filter(None, values)), default=0) <= limit:
        return values
    return [v[:limit] if v and len(v) > limit else v for v in values]


def _copy_text(values: Sequence[str | None]) -> list[str]:
    """Text values in PostgreSQL's COPY text format; None is NULL."""
    joined = "".join(filter(None, values))
    if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined or "\x00" in joined:
        values = [_esc(v) if v else v for v in values]
    if None in values:
        return [_NULL if v is None else v for v in values]
    return values  # type: ignore[return-value]


def _esc(value: str) -> str:
    """A value in PostgreSQL's COPY text format."""
    return (value.replace("\x00", "").replace("\\", "\\\\").replace("\t", "\\t")
            .replace("\n", "\\n").replace("\r", "\\r"))


# ------------------------------------------------------------------ storing


async def _driver(session: AsyncSession) -> Any:
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    return raw.driver_connection


def is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def delete_report_rows(session: AsyncSession, report_id: int) -> None:
    """Remove what an earlier, interrupted attempt of this report may have left."""
    await session.execute(delete(DebtorSnapshot).where(DebtorSnapshot.report_id == report_id))
    await session.execute(delete(DebtorSnapshotRank).where(DebtorSnapshotRank.report_id == report_id))
    await session.execute(delete(DebtorRowError).where(DebtorRowError.report_id == report_id))


async def store_batch(session: AsyncSession, batch: Batch) -> None:
    if not batch.rows:
        return
    driver = await _driver(session)
    if is_postgres(session):
        await driver.copy_to_table("debtor_snapshots", source=_chunks(batch.payload),
                                   columns=list(batch.columns), format="text")
    else:
        columns = ", ".join(f'"{c}"' for c in batch.columns)
        marks = ", ".join("?" for _ in batch.columns)
        await driver.executemany(f"INSERT INTO debtor_snapshots ({columns}) VALUES ({marks})", batch.payload)


async def copy_stream(session: AsyncSession, columns: Sequence[str], payloads: AsyncIterator[bytes]) -> None:
    """One COPY into debtor_snapshots fed by `payloads` as they come (PostgreSQL): the server
    works on the rows without waiting for a round trip per batch."""
    driver = await _driver(session)
    await driver.copy_to_table("debtor_snapshots", source=payloads, columns=list(columns), format="text")


async def _chunks(payload: bytes) -> AsyncIterator[bytes]:
    # An async iterable, not a file object: asyncpg reads files in its thread pool, a hop per
    # 512 KiB that competes with the reader thread for the interpreter.
    yield payload


async def store_row_errors(session: AsyncSession, report_id: int, errors: Sequence[RowError]) -> None:
    if not errors:
        return
    records = [(report_id, e.sheet_row, cut(e.column, 255), (e.value or "")[:1000], e.reason, e.code[:32],
                cut(e.account, MAX_CODE)) for e in errors]
    driver = await _driver(session)
    if is_postgres(session):
        await driver.copy_records_to_table("debtor_row_errors", records=records, columns=list(ERROR_COLUMNS))
    else:
        columns = ", ".join(f'"{c}"' for c in ERROR_COLUMNS)
        await driver.executemany(
            f"INSERT INTO debtor_row_errors ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            records)


# ------------------------------------------------------------------ the book: customers and accounts

_SQLITE_UUID = ("lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2)"
                " || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2)"
                " || '-' || hex(randomblob(6)))")

_RANGE = "s.report_id = :rid"
_CODE = f"substr(s.account_code, 1, {CUSTOMER_CODE_MAX})"

# An account already written by a newer report: newer by report date (the as-at date), then by
# upload time (arrears.debtors.book).
_NEWER = ("({a}.latest_report_date > :report_date OR ({a}.latest_report_date = :report_date"
          " AND {a}.latest_report_at > :report_at))")

# Existing customers: the phone and contact person follow the newest report. Book jobs take turns
# but not always in upload order: an account already brought up to date by a newer report keeps
# its customer's contacts (this runs before the accounts' upsert, which has the same rule). It runs
# before the new customers are inserted too: those already hold the report's phone and contact,
# and joining them to the report again cost a fresh book of 200,000 accounts half a second.
_UPDATE_CUSTOMERS = f"""
UPDATE customers SET
    phone = CASE WHEN s.phone_valid THEN substr(s.telephone_raw, 1, 32) ELSE customers.phone END,
    phone_e164 = CASE WHEN s.phone_valid THEN '+' || s.telephone ELSE customers.phone_e164 END,
    contact_person = COALESCE(s.contact, customers.contact_person),
    updated_at = :now
FROM debtor_snapshots s
WHERE {_RANGE} AND customers.org_id = s.org_id AND customers.customer_code = {_CODE}
  AND ((s.phone_valid AND (customers.phone_e164 IS NULL OR customers.phone_e164 <> '+' || s.telephone))
       OR (s.contact IS NOT NULL AND (customers.contact_person IS NULL OR customers.contact_person <> s.contact)))
  AND NOT EXISTS (SELECT 1 FROM debtor_accounts a WHERE a.org_id = s.org_id AND a.account_code = s.account_code
                  AND {_NEWER.format(a="a")})
"""

# New customers' UUIDs on PostgreSQL: version 7, in the report's order (the prefix is the job's, the
# counter the snapshot's id), so that the unique index takes them at its right edge instead of all
# over it (random UUIDs cost a 200,000-account book about an eighth of its customers' insert).
_PG_UUID = "CAST(:uuid_prefix || lpad(to_hex(s.id % 4294967296), 8, '0') AS uuid)"

_INSERT_CUSTOMERS = f"""
INSERT INTO customers (uuid, org_id, customer_code, name, phone, phone_e164, contact_person,
                       created_at, updated_at)
SELECT {{uuid}}, s.org_id, {_CODE},
       CASE WHEN s.customer_name = '' THEN {_CODE} ELSE s.customer_name END,
       substr(s.telephone_raw, 1, 32),
       CASE WHEN s.phone_valid THEN '+' || s.telephone END,
       s.contact, :now, :now
FROM debtor_snapshots s
WHERE {_RANGE}{{new_only}}
{{conflict}}
"""
_CUSTOMER_CONFLICT = "ON CONFLICT (org_id, customer_code) DO NOTHING"
# PostgreSQL: the customers already there found by one hash anti-join instead of an index probe per
# account (a second month's upload of 200,000 accounts); SQLite probes the index either way.
_NEW_ONLY = f"""
  AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.org_id = s.org_id AND c.customer_code = {_CODE})"""

_BUCKETS = ("current", "d30", "d60", "d90", "d120", "d150", "d180", "total_balance", "overdue_amount")

# The accounts' latest balances: the existing ones updated (one UPDATE … FROM, hash-joined), then
# the new ones inserted (an anti-join). Not one INSERT … ON CONFLICT DO UPDATE: that probes the
# arbiter index and locks each existing row before updating it (a second month of 200,000
# accounts spent about a sixth more server time), and inserts the new ones speculatively. The book
# jobs take turns (service.lock_book), so nothing inserts the same accounts in between.
_UPDATE_ACCOUNTS = f"""
UPDATE debtor_accounts SET
    customer_id = c.id, customer_name = s.customer_name,
    contact = COALESCE(s.contact, debtor_accounts.contact),
    telephone = COALESCE(s.telephone, debtor_accounts.telephone),
    phone_valid = s.phone_valid,
    {", ".join(f"{b} = s.{b}" for b in _BUCKETS)},
    latest_report_id = s.report_id, latest_report_at = :report_at, latest_report_date = :report_date,
    settled_at = NULL, settled_by_report_id = NULL, updated_at = :now
FROM debtor_snapshots s
LEFT JOIN customers c ON c.org_id = s.org_id AND c.customer_code = {_CODE}
WHERE {_RANGE} AND debtor_accounts.org_id = s.org_id AND debtor_accounts.account_code = s.account_code
  AND (debtor_accounts.latest_report_at IS NULL OR debtor_accounts.latest_report_date IS NULL
       OR NOT {_NEWER.format(a="debtor_accounts")})
"""

_INSERT_ACCOUNTS = f"""
INSERT INTO debtor_accounts (org_id, account_code, customer_id, customer_name, contact, telephone,
                             phone_valid, {", ".join(_BUCKETS)}, latest_report_id, latest_report_at,
                             latest_report_date, created_at, updated_at)
SELECT s.org_id, s.account_code, c.id, s.customer_name, s.contact, s.telephone, s.phone_valid,
       {", ".join("s." + b for b in _BUCKETS)}, s.report_id, :report_at, :report_date, :now, :now
FROM debtor_snapshots s
LEFT JOIN customers c ON c.org_id = s.org_id AND c.customer_code = {_CODE}
WHERE {_RANGE}
  AND NOT EXISTS (SELECT 1 FROM debtor_accounts a WHERE a.org_id = s.org_id AND a.account_code = s.account_code)
"""

# A fresh book numbered in advance (hooks.FreshBook): snapshot `snapshot_first + k` makes customer
# `customer_first + k` and book account `account_first + k`, so neither insert joins the other's
# rows, and the accounts owed can be written from the snapshots alone on another connection.
# No anti-join and no ON CONFLICT: the organisation had no customer and no book account when the
# hooks' transaction (holding the book's lock) reserved the ids; a customer code taken meanwhile
# (another writer, or two account codes alike in their first 50 characters) fails the insert, and
# the book is then written the usual way. The second numbers come along (book.link_second_phones
# then has nothing to do), and there is nothing to settle (book.settle_unlisted): the book has no
# other account.
_FRESH_ID = "(:{first} + s.id - :snapshot_first)"
_INSERT_FRESH_CUSTOMERS = _INSERT_CUSTOMERS.replace(
    "INSERT INTO customers (uuid,", "INSERT INTO customers (id, uuid,").replace(
    "SELECT {uuid},", "SELECT " + _FRESH_ID.format(first="customer_first") + ", {uuid},")

_INSERT_FRESH_ACCOUNTS = f"""
INSERT INTO debtor_accounts (id, org_id, account_code, customer_id, customer_name, contact, telephone, telephone2,
                             phone_valid, {", ".join(_BUCKETS)}, latest_report_id, latest_report_at,
                             latest_report_date, created_at, updated_at)
SELECT {_FRESH_ID.format(first="account_first")}, s.org_id, s.account_code,
       {_FRESH_ID.format(first="customer_first")}, s.customer_name, s.contact, s.telephone, s.telephone2, s.phone_valid,
       {", ".join("s." + b for b in _BUCKETS)}, s.report_id, :report_at, :report_date, :now, :now
FROM debtor_snapshots s
WHERE {_RANGE}
"""

# Whether the organisation has written anything of a book yet (three index probes).
_USED = """
SELECT EXISTS (SELECT 1 FROM customers WHERE org_id = :org)
       OR EXISTS (SELECT 1 FROM debtor_accounts WHERE org_id = :org)
       OR EXISTS (SELECT 1 FROM accounts WHERE org_id = :org)
"""
# The span of the report's snapshot ids. `+ 0`: the report's rows found by its index, not the
# primary key walked from one end until a row of the report turns up (a newest report is at the end).
_SPAN = "SELECT min(s.id + 0), max(s.id + 0) FROM debtor_snapshots s WHERE s.report_id = :rid"
# A block of a sequence, taken in a short transaction of its own: ALTER SEQUENCE (changing
# nothing: the increment it already has) locks the sequence against every nextval until the block
# is taken. The lock waits for the transactions that took a value of it and are still open: a
# tenth of a second at most, else no block (the book is then written in turn).
_SEQUENCE = """
SELECT s.seqincrement, s.seqrelid::regclass::text FROM pg_sequence s
WHERE s.seqrelid = pg_get_serial_sequence(:table, 'id')::regclass
"""


async def _reserve(table: str, span: int, engine: AsyncEngine | None = None) -> int | None:
    """The first of `span` consecutive values of the table's id sequence that nothing else will
    take, or None (the sequence does not count by one, or it stayed busy). `engine`: the
    application's unless given (a test's own PostgreSQL)."""
    async with (engine or get_engine()).connect() as conn:
        try:
            step, name = (await conn.execute(text(_SEQUENCE), {"table": table})).one()
            if step != 1:
                return None
            await conn.execute(text("SET LOCAL lock_timeout = '100ms'"))
            await conn.execute(text(f"ALTER SEQUENCE {name} INCREMENT BY 1"))  # a name from the catalog
            first = int(await conn.scalar(text("SELECT nextval(CAST(:seq AS regclass))"), {"seq": name}))
            await conn.execute(text("SELECT setval(CAST(:seq AS regclass), :last)"),
                               {"seq": name, "last": first + span - 1})
        except DBAPIError:  # lock_timeout, or not the sequence's owner
            await conn.rollback()
            return None
        await conn.commit()
    return first


async def reserve_fresh(session: AsyncSession, org_id: int, report_id: int) -> FreshBook | None:
    """A fresh book's ids (PostgreSQL; the caller holds the book's lock): None unless the
    organisation has no customer, book account or account owed yet and each sequence gave a block
    as long as the report's snapshot ids' span. Ids reserved and not used (a fallback, a
    rolled-back job) are gaps, as any rolled-back insert leaves."""
    if await session.scalar(text(_USED), {"org": org_id}):
        return None
    first, last = (await session.execute(text(_SPAN), {"rid": report_id})).one()
    if first is None:
        return None
    span = last - first + 1
    customers = await _reserve("customers", span)
    accounts = await _reserve("debtor_accounts", span) if customers is not None else None
    if customers is None or accounts is None:
        return None
    return FreshBook(org_id, report_id, first, customers, accounts)


# The columns whose statistics the book's readers' plans rest on: those they filter, join or sort
# on, and the names and phones every page shows (the planner's row widths). The job's ANALYZE of
# these tables samples them only, and 9,000 rows instead of 30,000 (a statistics target of 30 for
# that ANALYZE): each column's statistics cost more than reading the sample, the numeric ageing
# buckets above all. A fresh book of 200,000 accounts took 0.25 s for every column of
# debtor_accounts, under 0.1 s this way, with the same plans for the book's readers (checked in
# docs/benchmarks.md). ANALYZE of some columns leaves the table's count of changes as it was, so
# autovacuum's ANALYZE of every column at the server's target follows (within a minute); the row
# count, which the job's ANALYZE is for (93 rows guessed for 200,000), is written at once.
ANALYZED_COLUMNS = {
    "debtor_accounts": ("id", "org_id", "account_code", "customer_id", "customer_name", "contact", "telephone",
                        "phone_valid", "total_balance", "overdue_amount", "latest_report_id", "latest_report_at",
                        "latest_report_date", "settled_at", "settled_by_report_id", "is_medical_aid_control"),
    "customers": ("id", "org_id", "customer_code", "name", "phone", "phone_e164", "contact_person",
                  "assigned_collection_officer_id"),
}
_TARGET = "default_statistics_target"


async def analyze_table(conn: AsyncSession | AsyncConnection, table: str) -> None:
    """PostgreSQL's ANALYZE (SKIP_LOCKED) of one of the bulk-loaded tables (fixed names: never built
    from input), in the caller's transaction; debtor_accounts and customers as said above."""
    columns = ANALYZED_COLUMNS.get(table)
    if not columns:
        await conn.execute(text(f"ANALYZE (SKIP_LOCKED) {table}"))
        return
    await conn.execute(text(f"SET LOCAL {_TARGET} = 30"))
    await conn.execute(text(f"ANALYZE (SKIP_LOCKED) {table} ({', '.join(columns)})"))
    await conn.execute(text(f"SET LOCAL {_TARGET} TO DEFAULT"))


# The report's accounts in overdue order (DebtorSnapshotRank), inserted in key order: PostgreSQL
# appends them to the right edge of the primary key instead of inserting them all over it.
_RANK_ACCOUNTS = """
INSERT INTO debtor_snapshot_ranks (report_id, overdue_amount, total_balance, sheet_row, snapshot_id)
SELECT s.report_id, s.overdue_amount, s.total_balance, s.sheet_row, s.id
FROM debtor_snapshots s
WHERE s.report_id = :rid
ORDER BY s.overdue_amount, s.total_balance, s.sheet_row, s.id
"""


# PostgreSQL's working memory for the book's statements: a 200,000-account report's sort (the
# ranking) and hash joins (snapshots to customers) spill to disk in the default 4 MB.
_WORK_MEM = "SET LOCAL work_mem = '64MB'"


async def _working_memory(session: AsyncSession) -> None:
    if is_postgres(session):
        await session.execute(text(_WORK_MEM))


def _params(statement: str) -> Any:
    return text(statement).bindparams(
        bindparam("now", type_=UTCDateTime),
        *([bindparam("report_at", type_=UTCDateTime)] if ":report_at" in statement else []),
        *([bindparam("report_date", type_=Date)] if ":report_date" in statement else []))


async def link_book(session: AsyncSession, report_id: int, report_at: datetime, now: datetime, *,
                    report_date: date, rank: bool = True, fresh: FreshBook | None = None,
                    customers: Callable[[], Awaitable[int | None]] | None = None) -> int:
    """Bring the book up to date from one report's snapshots, set-based: one UPDATE keeps phones
    and contacts of existing customers current, one INSERT … SELECT creates the missing ones,
    one UPDATE and one INSERT … SELECT keep each account's latest balances and its customer, and (unless `rank` is
    false: the caller ranks apart, see `rank_report`) one INSERT … SELECT ranks the report's
    accounts by overdue amount. Idempotent. Returns how many customers were created.

    `fresh` (PostgreSQL, a fresh book numbered in advance under the book's lock): the customers
    and book accounts are inserted with their reserved ids, no update and no anti-join. The
    customers' insert (`insert_fresh_customers`) runs on a connection of its own meanwhile
    (arrears.debtors.imports): `customers`, called once the book accounts are inserted (in a
    savepoint here), gives its count when done; if it failed on a code taken, `fresh.kept` is
    false, the savepoint is rolled back and the usual statements run."""
    postgres = is_postgres(session)
    values = {"rid": report_id, "now": now}
    newer = {"report_at": report_at, "report_date": report_date}
    await _working_memory(session)
    created: Any = None
    if fresh is not None:
        assert customers is not None, "a fresh book's customers are inserted on a connection of their own"
        ahead = await session.begin_nested()
        await session.execute(_params(_INSERT_FRESH_ACCOUNTS), values | newer | _numbering(fresh))
        created = await customers()
        await (ahead.commit() if fresh.kept else ahead.rollback())
    if fresh is None or not fresh.kept:
        await session.execute(_params(_UPDATE_CUSTOMERS), values | newer)
        await queue.renew_lease(session)  # SQLite: the heartbeat waits behind this write (see there)
        created = await _insert_customers(session, values, now, postgres)
        await queue.renew_lease(session)
        await session.execute(_params(_UPDATE_ACCOUNTS), values | newer)
        await queue.renew_lease(session)
        await session.execute(_params(_INSERT_ACCOUNTS), values | newer)
    await queue.renew_lease(session)
    if rank:
        await rank_report(session, report_id)
    await queue.renew_lease(session, force=True)
    return created if isinstance(created, int) else max(int(getattr(created, "rowcount", 0) or 0), 0)


async def _insert_customers(session: AsyncSession, values: dict[str, Any], now: datetime, postgres: bool) -> Any:
    """The report's new customers. PostgreSQL: the anti-join finds them, and they are inserted
    without ON CONFLICT, in a savepoint: the speculative insertion of ON CONFLICT (an arbiter probe
    and a confirmation record per row) cost a fresh book of 200,000 customers about a sixth of the
    insert. Customers are also created outside the book's lock (the API, customer imports): when one
    of those commits the same code meanwhile, or two of the report's account codes make the same
    customer code (the first 50 characters), the insert fails on the unique index, the savepoint is
    rolled back and the insert runs again with ON CONFLICT DO NOTHING (what it always did before)."""
    def statement(conflict: str) -> Any:
        return _params(_INSERT_CUSTOMERS.replace("{uuid}", _PG_UUID if postgres else _SQLITE_UUID)
                       .replace("{new_only}", _NEW_ONLY if postgres else "").replace("{conflict}", conflict))

    if not postgres:
        return await session.execute(statement(_CUSTOMER_CONFLICT), values)
    values = values | {"uuid_prefix": uuid7_prefix(now)}
    try:
        async with session.begin_nested():
            return await session.execute(statement(""), values)
    except IntegrityError:
        pass  # anything but a customer code taken fails again below, as it always did
    return await session.execute(statement(_CUSTOMER_CONFLICT), values)


def _numbering(fresh: FreshBook) -> dict[str, int]:
    return {"snapshot_first": fresh.snapshot_first, "customer_first": fresh.customer_first,
            "account_first": fresh.account_first}


async def insert_fresh_customers(session: AsyncSession, report_id: int, now: datetime, fresh: FreshBook) -> int | None:
    """A fresh book's customers with their reserved ids, in a savepoint; how many. A code taken
    meanwhile rolls it back, leaves `fresh.kept` false and gives None (the book is then written
    the usual way)."""
    statement = _params(_INSERT_FRESH_CUSTOMERS.replace("{uuid}", _PG_UUID).replace("{new_only}", "")
                        .replace("{conflict}", ""))
    values = {"rid": report_id, "now": now, "uuid_prefix": uuid7_prefix(now)} | _numbering(fresh)
    await _working_memory(session)
    try:
        async with session.begin_nested():
            inserted = await session.execute(statement, values)
    except IntegrityError:
        fresh.kept = False
        return None
    return max(int(getattr(inserted, "rowcount", 0) or 0), 0)


async def rank_report(session: AsyncSession, report_id: int) -> None:
    """The report's accounts in overdue order (idempotent). It reads the report's snapshots
    only: the book's job runs it on a connection of its own beside the customers and accounts."""
    await _working_memory(session)
    await session.execute(delete(DebtorSnapshotRank).where(DebtorSnapshotRank.report_id == report_id))
    await session.execute(text(_RANK_ACCOUNTS), {"rid": report_id})
