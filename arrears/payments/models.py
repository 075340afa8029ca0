"""Payments and the imports they came in.

A payment is money received for an account (`account_id`), or a line that matched no account yet
(`status` unmatched, `account_id` null) until a person matches it. `status`:
- `recorded`: counts towards the account (net payments, promise evaluation);
- `unmatched`: counts nowhere until matched;
- `reversed`: a bounced payment; kept for the record, counts nowhere.
`external_id` (the bank's or the caller's id) makes recording idempotent per organisation: the same
line twice adds nothing.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from arrears.db import GUID, Base, UTCDateTime, utcnow

MONEY = Numeric(14, 2)
STATUSES = ("recorded", "unmatched", "reversed")
SOURCES = ("api", "import")


class PaymentImport(Base):
    """One payments file: what it held and what became of its lines."""

    __tablename__ = "payment_imports"
    __table_args__ = (Index("ix_payment_imports_org_id_created_at", "org_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="done")  # done, failed
    total_lines: Mapped[int] = mapped_column(Integer, default=0)
    recorded: Mapped[int] = mapped_column(Integer, default=0)
    unmatched: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)  # lines that are not payments (titles, totals)
    mapping: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # column → field, as used
    errors: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)  # [{line, reason}], capped
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("org_id", "external_id", name="uq_payments_org_id_external_id"),
        Index("ix_payments_account_id_paid_on", "account_id", "paid_on"),
        Index("ix_payments_org_id_status_paid_on", "org_id", "status", "paid_on"),
        Index("ix_payments_import_id", "import_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    # No foreign keys here, on purpose (as debtor_snapshots): an import COPYs 100,000 payments, and
    # three foreign-key checks per row cost more than the rest of the COPY. The application sets
    # the references (the caller's organisation, accounts matched within it, the import row written
    # in the same transaction); triggers made by migration 0020 keep what ON DELETE did: an
    # organisation's or account's deletion takes its payments, an import's unlinks them.
    org_id: Mapped[int] = mapped_column(Integer)
    account_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)  # more than 0
    paid_on: Mapped[date] = mapped_column(Date)  # the day the money was paid (the bank's date)
    method: Mapped[str | None] = mapped_column(String(32), nullable=True)  # eft, cash, card, debit_order …
    reference: Mapped[str | None] = mapped_column(String(255), nullable=True)  # as given: account code, narrative
    external_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="recorded")
    source: Mapped[str] = mapped_column(String(16), default="api")
    import_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    line_number: Mapped[int | None] = mapped_column(Integer, nullable=True)  # in its import's file
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    matched_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    matched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reversed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reversal_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(128))  # the actor: user:1, api_key:ins_…, system
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
