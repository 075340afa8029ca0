"""Bulk writes of the debtor book: snapshot rows in batches (COPY on PostgreSQL, executemany on
SQLite), and the set-based SQL that links a report's snapshots to customers and keeps the
accounts' latest balances.

Rows are encoded by whoever produces them (the import's reader thread), so that the event loop
only ships bytes: on PostgreSQL a batch is COPY text, on SQLite a list of tuples.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import phonenumbers
from sqlalchemy import bindparam, delete, text
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.db import UTCDateTime
from arrears.debtors.models import DebtorRowError, DebtorSnapshot
from arrears.debtors.reading import AccountRow, RowError
from arrears.jobs import queue

ZERO = Decimal("0.00")
MONEY_LIMIT = Decimal("1000000000000")  # Numeric(14, 2) holds less than 10^12
_NEGATIVE_LIMIT = -MONEY_LIMIT
MAX_CODE = 100
CUSTOMER_CODE_MAX = 50
TOO_LARGE = "INVALID_AMOUNT"
CODE_TOO_LONG = "INVALID_ACCOUNT"

SNAPSHOT_COLUMNS = (
    "uuid", "org_id", "report_id", "account_code", "customer_name", "contact", "telephone",
    "telephone_raw", "phone_valid", "sms_reachable", "current", "d30", "d60", "d90", "d120", "d150",
    "d180", "extra_buckets", "total_balance", "overdue_amount", "is_selected", "sheet_row",
    "created_at", "updated_at",
)  # fmt: skip
ERROR_COLUMNS = ("report_id", "sheet_row", "column", "value", "reason", "code", "account_code")


def _mobile_pattern() -> re.Pattern[str]:
    meta = phonenumbers.PhoneMetadata.metadata_for_region("ZA")
    assert meta is not None and meta.mobile is not None
    return re.compile(meta.mobile.national_number_pattern)


_ZA_MOBILE = _mobile_pattern()


def sms_reachable(telephone: str | None, valid: bool) -> bool:
    """A valid number that takes SMS: a South African mobile, or a foreign mobile number."""
    if not valid or not telephone:
        return False
    if telephone.startswith("27") and len(telephone) == 11:
        return _ZA_MOBILE.fullmatch(telephone[2:]) is not None
    try:
        number = phonenumbers.parse("+" + telephone)
    except phonenumbers.NumberParseException:
        return False
    kind = phonenumbers.number_type(number)
    return kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def cut(value: str | None, limit: int) -> str | None:
    if not value:
        return None
    return value if len(value) <= limit else value[:limit]


# ------------------------------------------------------------------ one batch


@dataclass
class Batch:
    """Encoded snapshot rows and the row errors of a stretch of the file."""

    payload: Any  # COPY text (str) on PostgreSQL, list of tuples on SQLite
    rows: int = 0
    first_row: int = 0  # sheet rows covered by the snapshots of this batch
    last_row: int = 0
    errors: list[RowError] = field(default_factory=list)
    total_balance: Decimal = ZERO


class SnapshotEncoder:
    """Turns AccountRows into snapshot records for one report (and one database engine)."""

    def __init__(self, org_id: int, report_id: int, now: datetime, postgres: bool) -> None:
        self.org_id = org_id
        self.report_id = report_id
        self.postgres = postgres
        # Snapshot UUIDs: a random UUID4 per report whose last 48 bits count the rows, so they cost
        # no randomness per row and sort in file order within the report.
        base = uuid.uuid4().hex
        self._id_prefix = f"{base[:8]}-{base[8:12]}-{base[12:16]}-{base[16:20]}-"
        self._next = 0
        if postgres:
            stamp = now.astimezone(UTC).isoformat()
            self._head = f"\t{org_id}\t{report_id}\t"
        else:
            stamp = now.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        self._stamp = stamp

    def check(self, row: AccountRow) -> RowError | None:
        """What the book cannot store even though the file's row is valid."""
        if len(row.account) > MAX_CODE:
            return RowError(row.sheet_row, None, row.account[:60] + "…",
                            f"The account code is longer than {MAX_CODE} characters.",
                            CODE_TOO_LONG, row.account[:MAX_CODE])
        limit, low = MONEY_LIMIT, _NEGATIVE_LIMIT
        if (low < row.total_balance < limit and low < row.current < limit and low < row.d30 < limit
                and low < row.d60 < limit and low < row.d90 < limit and low < row.d120 < limit):
            return None
        for amount in (row.total_balance, row.current, row.d30, row.d60, row.d90, row.d120):
            if not -limit < amount < limit:
                return RowError(row.sheet_row, None, str(amount),
                                f"The amount {amount} is too large (the limit is 999,999,999,999.99).",
                                TOO_LARGE, row.account)
        return None

    def add(self, batch: Batch, row: AccountRow) -> None:
        # The hot path of an import (once per row): plain str() of each value (f-string formatting
        # of a Decimal costs three times as much), zeros spelt without formatting at all, no
        # helper calls for the usual short values, one escape check on the finished line.
        current, d30, d60, d90, d120, total = (row.current, row.d30, row.d60, row.d90, row.d120,
                                               row.total_balance)
        overdue = d30 + d60 + d90 + d120
        if overdue < 0:
            overdue = ZERO
        extras = row.extra_buckets
        if extras:
            d150 = extras.get(150, ZERO)
            d180 = extras.get(180, ZERO)
            extra_json: str | None = json.dumps({str(k): str(v) for k, v in extras.items()})
        else:
            d150 = d180 = ZERO
            extra_json = None
        telephone = row.telephone
        valid = row.phone_valid
        if not valid or telephone is None:
            sms = False
        elif len(telephone) == 11 and telephone.startswith("27"):
            sms = _ZA_MOBILE.fullmatch(telephone, 2) is not None
        else:
            sms = sms_reachable(telephone, valid)
        name = row.name
        if len(name) > 255:
            name = name[:255]
        contact = row.contact or None
        if contact is not None and len(contact) > 255:
            contact = contact[:255]
        raw = row.telephone_raw or None
        if raw is not None and len(raw) > 64:
            raw = raw[:64]
        if telephone is not None and len(telephone) > 32:
            telephone = telephone[:32]
        self._next += 1
        if batch.rows == 0:
            batch.first_row = row.sheet_row
        batch.last_row = row.sheet_row
        batch.rows += 1
        batch.total_balance += total
        if self.postgres:
            code = row.account
            escaped = False
            while True:
                line = (
                    f"{self._id_prefix}{self._next:012x}{self._head}{code}\t{name}\t{contact or _NULL}\t"
                    f"{telephone or _NULL}\t{raw or _NULL}\t{'t' if valid else 'f'}\t{'t' if sms else 'f'}\t"
                    f"{str(current) if current else '0.00'}\t{str(d30) if d30 else '0.00'}\t"
                    f"{str(d60) if d60 else '0.00'}\t{str(d90) if d90 else '0.00'}\t"
                    f"{str(d120) if d120 else '0.00'}\t{str(d150) if d150 else '0.00'}\t"
                    f"{str(d180) if d180 else '0.00'}\t{_esc(extra_json) if extra_json else _NULL}\t{str(total)}\t"
                    f"{str(overdue) if overdue else '0.00'}\tf\t{row.sheet_row}\t{self._stamp}\t{self._stamp}\n")
                # 24 columns make 23 tabs and one newline, unless a text value holds one of COPY's
                # specials (rare): then the text values are escaped and the line made again.
                if escaped or (
                        line.count("\t") == 23 and line.count("\n") == 1 and "\r" not in line
                        and "\x00" not in line and "\\" not in code and "\\" not in name
                        and "\\" not in (contact or "") and "\\" not in (raw or "")):
                    break
                escaped = True
                code, name = _esc(code), _esc(name)
                contact = _esc(contact) if contact else contact
                raw = _esc(raw) if raw else raw
            batch.payload.append(line)
        else:
            batch.payload.append((
                f"{self._id_prefix}{self._next:012x}", self.org_id, self.report_id, row.account, name,
                contact, telephone, raw, int(valid), int(sms), str(current), str(d30), str(d60), str(d90),
                str(d120), str(d150), str(d180), extra_json, str(total), str(overdue), 0,
                row.sheet_row, self._stamp, self._stamp))


_NULL = "\\N"


def _esc(value: str) -> str:
    """A value in PostgreSQL's COPY text format."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value or "\x00" in value:
        return (value.replace("\x00", "").replace("\\", "\\\\").replace("\t", "\\t")
                .replace("\n", "\\n").replace("\r", "\\r"))
    return value


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
    await session.execute(delete(DebtorRowError).where(DebtorRowError.report_id == report_id))


async def store_batch(session: AsyncSession, batch: Batch) -> None:
    if not batch.rows:
        return
    driver = await _driver(session)
    if is_postgres(session):
        data = "".join(batch.payload).encode()
        await driver.copy_to_table("debtor_snapshots", source=io.BytesIO(data),
                                   columns=list(SNAPSHOT_COLUMNS), format="text")
    else:
        columns = ", ".join(f'"{c}"' for c in SNAPSHOT_COLUMNS)
        marks = ", ".join("?" for _ in SNAPSHOT_COLUMNS)
        await driver.executemany(f"INSERT INTO debtor_snapshots ({columns}) VALUES ({marks})", batch.payload)


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

_INSERT_CUSTOMERS = f"""
INSERT INTO customers (uuid, org_id, customer_code, name, phone, phone_e164, contact_person,
                       created_at, updated_at)
SELECT {{uuid}}, s.org_id, {_CODE},
       CASE WHEN s.customer_name = '' THEN {_CODE} ELSE s.customer_name END,
       substr(s.telephone_raw, 1, 32),
       CASE WHEN s.phone_valid THEN '+' || s.telephone END,
       s.contact, :now, :now
FROM debtor_snapshots s
WHERE {_RANGE}
ON CONFLICT (org_id, customer_code) DO NOTHING
"""

# Existing customers: the phone and contact person follow the newest report.
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
"""

_BUCKETS = ("current", "d30", "d60", "d90", "d120", "d150", "d180", "total_balance", "overdue_amount")

_UPSERT_ACCOUNTS = f"""
INSERT INTO debtor_accounts (org_id, account_code, customer_id, customer_name, contact, telephone,
                             phone_valid, {", ".join(_BUCKETS)}, latest_report_id, latest_report_at,
                             created_at, updated_at)
SELECT s.org_id, s.account_code, c.id, s.customer_name, s.contact, s.telephone, s.phone_valid,
       {", ".join("s." + b for b in _BUCKETS)}, s.report_id, :report_at, :now, :now
FROM debtor_snapshots s
LEFT JOIN customers c ON c.org_id = s.org_id AND c.customer_code = {_CODE}
WHERE {_RANGE}
ON CONFLICT (org_id, account_code) DO UPDATE SET
    customer_id = excluded.customer_id, customer_name = excluded.customer_name,
    contact = COALESCE(excluded.contact, debtor_accounts.contact),
    telephone = COALESCE(excluded.telephone, debtor_accounts.telephone),
    phone_valid = excluded.phone_valid,
    {", ".join(f"{b} = excluded.{b}" for b in _BUCKETS)},
    latest_report_id = excluded.latest_report_id, latest_report_at = excluded.latest_report_at,
    updated_at = excluded.updated_at
WHERE debtor_accounts.latest_report_at IS NULL OR debtor_accounts.latest_report_at <= excluded.latest_report_at
"""


def _params(statement: str) -> Any:
    return text(statement).bindparams(
        bindparam("now", type_=UTCDateTime),
        *([bindparam("report_at", type_=UTCDateTime)] if ":report_at" in statement else []))


async def link_book(session: AsyncSession, report_id: int, report_at: datetime, now: datetime) -> int:
    """Bring the book up to date from one report's snapshots, set-based: one INSERT … SELECT
    creates the missing customers, one UPDATE keeps phones and contacts of existing ones
    current, one upsert keeps each account's latest balances and its customer. Idempotent.
    Returns how many customers were created."""
    uuid_sql = "gen_random_uuid()" if is_postgres(session) else _SQLITE_UUID
    values = {"rid": report_id, "now": now}
    created = await session.execute(_params(_INSERT_CUSTOMERS.replace("{uuid}", uuid_sql)), values)
    await queue.renew_lease(session)  # SQLite: the heartbeat waits behind this write (see there)
    await session.execute(_params(_UPDATE_CUSTOMERS), values)
    await queue.renew_lease(session)
    await session.execute(_params(_UPSERT_ACCOUNTS), values | {"report_at": report_at})
    await queue.renew_lease(session, force=True)
    return max(int(getattr(created, "rowcount", 0) or 0), 0)
