"""Tables of debit orders: per-captive settings, runs and their items, stored bank files
(`debit_order_files`) and one reconciliation record per line of a bank answer
(`reconciliation_records`). No ORM relationships: queries join explicitly."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, validates

from arrears.db import GUID, Base, UTCDateTime, utcnow
from arrears.identity import crypto
from arrears.identity.sealed import TAG, Sealed, SealedText


class DebitOrderSettings(Base):
    """The captive's ACB user (as registered with its sponsoring bank) and its run schedule."""

    __tablename__ = "debit_order_settings"

    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        primary_key=True)
    user_code: Mapped[str] = mapped_column(String(4))
    abbreviated_name: Mapped[str] = mapped_column(String(10))
    nominated_branch: Mapped[str] = mapped_column(String(6))
    nominated_account: Mapped[str] = mapped_column(Sealed)  # encrypted at rest
    # Its keyed fingerprint, set when it is written: a resent account is compared with it (and
    # a change to another account that ends in the same four digits is still a change).
    nominated_account_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The generation number of the next file (the last one the bank accepted + 1).
    generation_number: Mapped[int] = mapped_column(Integer, default=1)
    entry_class: Mapped[str] = mapped_column(String(2), default="44")
    type_of_service: Mapped[str] = mapped_column(String(10), default="TWO DAY")
    schedule_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # A scheduled run on day D collects what is due on D + lead_days (the bank needs the file early).
    lead_days: Mapped[int] = mapped_column(Integer, default=2)
    # Submitted collections with no unpaid this many days after their action date are successful.
    auto_success_days: Mapped[int] = mapped_column(Integer, default=5)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @validates("nominated_account")
    def _account_written(self, key: str, value: str) -> str:
        if not isinstance(value, SealedText) and not str(value).startswith(TAG):  # in clear: now or never
            self.nominated_account_fingerprint = crypto.fingerprint(str(value))
        return value


class DebitOrderRun(Base):
    """One run of a captive for one action date (at most one: repeating it continues it)."""

    __tablename__ = "debit_order_runs"
    __table_args__ = (UniqueConstraint("org_id", "action_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(GUID, unique=True, default=uuid.uuid4)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    action_date: Mapped[date] = mapped_column(Date)
    # open (collections being created) → submitted (a file went out); a re-run may add a file.
    status: Mapped[str] = mapped_column(String(16), default="open")
    started_by: Mapped[str] = mapped_column(String(128), default="system")
    # [{policy_number, reason}] of the last pass: policies due but not collected.
    skipped: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DebitOrderItem(Base):
    """One policy's debit in a run: its collection, the ACB reference and sequence number."""

    __tablename__ = "debit_order_items"
    __table_args__ = (
        UniqueConstraint("run_id", "policy_id"),
        UniqueConstraint("collection_id"),
        Index("ix_debit_order_items_org_reference", "org_id", "reference"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("debit_order_runs.id", ondelete="CASCADE"), index=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"))
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    reference: Mapped[str] = mapped_column(String(20))  # positions 81-100 of the user reference
    action_date: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    file_id: Mapped[int | None] = mapped_column(ForeignKey("debit_order_files.id", ondelete="SET NULL"),
                                                nullable=True)
    sequence_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DebitOrderFile(Base):
    """A stored file: a run's ACB debit file or CSV, or a bank answer that was imported."""

    __tablename__ = "debit_order_files"
    __table_args__ = (
        Index("ix_debit_order_files_org_created", "org_id", "created_at"),
        # The same answer imported twice is the same import.
        UniqueConstraint("org_id", "kind", "sha256"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(GUID, unique=True, default=uuid.uuid4)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("debit_order_runs.id", ondelete="CASCADE"),
                                               nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(16))  # acb | csv | unpaids | answers_csv
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    total_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    generation_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_by: Mapped[str] = mapped_column(String(128), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReconciliationRecord(Base):
    """One line of a bank answer and what became of it.

    outcome: `matched` (the collection moved, or already had that status), `unmatched` (no
    collection found: kept for a person), `amount_mismatch` (found, amounts differ: nothing moved,
    kept for a person), `duplicate` (a line for a collection an earlier line of the file already
    answered), `conflict` (the collection is already final with another status), `invalid` (the
    line could not be read). `resolution` is set when a person resolves it."""

    __tablename__ = "reconciliation_records"
    __table_args__ = (
        UniqueConstraint("file_id", "line"),
        Index("ix_reconciliation_records_org_outcome", "org_id", "outcome"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(GUID, unique=True, default=uuid.uuid4)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("debit_order_files.id", ondelete="CASCADE"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str | None] = mapped_column(String(64), nullable=True)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), nullable=True)
    action_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)  # successful | failed
    reason_code: Mapped[str | None] = mapped_column(String(2), nullable=True)
    reason_text: Mapped[str | None] = mapped_column(String(255), nullable=True)
    collection_id: Mapped[int | None] = mapped_column(ForeignKey("collections.id", ondelete="SET NULL"),
                                                      nullable=True, index=True)
    matched_by: Mapped[str | None] = mapped_column(String(32), nullable=True)  # reference | policy_amount_date
    outcome: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(String(500), nullable=True)
    resolution: Mapped[str | None] = mapped_column(String(16), nullable=True)  # applied | dismissed
    resolved_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
