"""Accounts owed and their collection status history.

An account is a debtor-book account (`kind` book, `debtor_account_id`) or a loan (`kind` loan,
`loan_id`), at most one account per reference, always with its customer. Its id is a UUID (the
API's id); later domains (promises, payments, tasks) refer to it. Accounts are created set-based
by `service.sync_book_accounts` after the book's job and `service.sync_loan_accounts` when a loan
is created; migration 0019 created them for the rows that existed then.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Numeric, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from arrears.db import GUID, NEVER_REUSE_IDS, Base, UTCDateTime, utcnow

KINDS = ("book", "loan")
STATUSES = ("active", "promised", "disputed", "paid_up", "handed_over", "written_off")
MONEY = Numeric(14, 2)


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        # Over the rows that have one (migration 0027): a book account puts no NULL into the loans'.
        Index("uq_accounts_debtor_account_id", "debtor_account_id", unique=True,
              postgresql_where=text("debtor_account_id IS NOT NULL")),
        Index("uq_accounts_loan_id", "loan_id", unique=True, postgresql_where=text("loan_id IS NOT NULL")),
        CheckConstraint("(kind = 'book' AND debtor_account_id IS NOT NULL AND loan_id IS NULL) OR "
                        "(kind = 'loan' AND loan_id IS NOT NULL AND debtor_account_id IS NULL)",
                        name="one_reference"),
        # Not the status (migration 0030): a status change is then a heap-only update on PostgreSQL
        # (fillfactor 70), not a new entry in each index; readers by status filter the organisation's.
        Index("ix_accounts_org_id", "org_id"),
        Index("ix_accounts_customer_id", "customer_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    # No foreign keys on PostgreSQL (migration 0027), as in payments: a fresh book creates 200,000
    # accounts, and four checks per row were the largest part of it. The sync sets them from the
    # rows it joins; triggers on organisations, customers, debtor_accounts and loans keep what ON
    # DELETE CASCADE did. SQLite keeps the constraints (dropping one there rebuilds the table).
    org_id: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))
    debtor_account_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    loan_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    # Why the status is what it is: the dispute's reason, to whom it was handed over, the write-off's reason.
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    written_off_amount: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AccountStatusChange(Base):
    """One change of an account's collection status: from, to, why, by whom, when."""

    __tablename__ = "account_status_changes"
    __table_args__ = (Index("ix_account_status_changes_account_id_id", "account_id", "id"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # On PostgreSQL no keys (migration 0030): a history row is written after its account's UPDATE in
    # the same transaction, with an event that holds the organisation; triggers take the rows of a
    # deleted account or organisation. SQLite keeps the keys. Read by account, never by organisation.
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    account_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("accounts.id", ondelete="CASCADE"))
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    amount: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    actor: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
