"""The debtor book: reports (one per import), accounts (one per organisation and account code,
holding the latest balances and the link to the customer) and snapshots (one per account per
report: the account's ageing buckets as that report states them).

Snapshots refer to their account by the natural key (org_id, account_code), so that an import can
bulk-load them (COPY) without first learning the accounts' ids. The import commits a report's
snapshots (the AAMA's accounts, all or nothing); a follow-up job, enqueued in that same
transaction, brings the book up to date from them (customers created or updated, each account's
latest balances) in a few set-based statements.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from arrears.db import GUID, NEVER_REUSE_IDS, Base, UTCDateTime, utcnow

REPORT_SOURCES = ("spreadsheet", "pdf")
REPORT_STATUSES = ("pending", "processing", "completed", "failed")
STAGES = ("starting", "parsing", "saving", "completed", "failed")
MONEY = Numeric(14, 2)
BUCKET_COLUMNS = ("current", "d30", "d60", "d90", "d120", "d150", "d180")


class DebtorReport(Base):
    """One import of an age analysis (an AAMA upload, a pharmacy PDF report, a CLI import).

    Progress fields are written in their own short transactions while the import runs; the import's
    own transaction writes this row only when it commits (completed), so a progress write never
    waits behind it.
    """

    __tablename__ = "debtor_reports"
    __table_args__ = (
        Index("ix_debtor_reports_org_id_created_at", "org_id", "created_at"),
        Index("ix_debtor_reports_org_id_user_id_created_at", "org_id", "user_id", "created_at"),
        Index("ix_debtor_reports_org_id_report_date", "org_id", "report_date", "created_at"),
        NEVER_REUSE_IDS,
    )

    # The integer key (the pharmacy face's report_id) and the UUID (the AAMA's upload id).
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(GUID, unique=True, default=uuid.uuid4)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="spreadsheet")
    filename: Mapped[str] = mapped_column(String(255))  # as stored under UPLOAD_DIR
    original_filename: Mapped[str] = mapped_column(String(255))
    file_size: Mapped[int] = mapped_column(Integer, default=0)
    mime_type: Mapped[str | None] = mapped_column(String(128), nullable=True)
    file_format: Mapped[str | None] = mapped_column(String(8), nullable=True)  # xlsx, xls, csv, pdf …
    status: Mapped[str] = mapped_column(String(16), default="pending")
    stage: Mapped[str] = mapped_column(String(16), default="starting")
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    processed_rows: Mapped[int] = mapped_column(Integer, default=0)
    success_rows: Mapped[int] = mapped_column(Integer, default=0)
    failed_rows: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    progress_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error_details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # How the file was understood: sheet, header row, column mapping (the reading layer's HeaderInfo).
    header: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Figures that do not change after the import (totals per bucket, median …), as strings.
    totals: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # The date the report's balances stand at ("as at"), and where it came from: "form" (given with
    # the upload), "file" (its title block or name), "upload" (the upload's day in the
    # organisation's time zone). Set by the import; "newest" is by this date, then created_at.
    report_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    report_date_source: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # A partial report leaves the accounts it does not list as they are; a whole-book report
    # (the default) settles them.
    partial: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Lines of the file that are not accounts (titles, headings, totals …): how many, per reason.
    skipped_rows: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    skipped_reasons: Mapped[dict[str, int] | None] = mapped_column(JSON, nullable=True)
    warnings: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processing_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    processing_completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    progress_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def is_complete(self) -> bool:
        return self.status in ("completed", "failed")


class DebtorAccount(Base):
    """One account of the organisation's book: its latest balances and its customer."""

    __tablename__ = "debtor_accounts"
    __table_args__ = (
        UniqueConstraint("org_id", "account_code", name="uq_debtor_accounts_org_id_account_code"),
        Index("ix_debtor_accounts_customer_id", "customer_id"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No foreign keys on PostgreSQL (migration 0027): the book's job sets both from the report's
    # organisation and the customers it joins; triggers keep what ON DELETE did (the organisation's
    # deletion takes the account, a customer's unlinks it). SQLite keeps the constraints.
    org_id: Mapped[int] = mapped_column(Integer)
    account_code: Mapped[str] = mapped_column(String(100))
    customer_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    customer_name: Mapped[str] = mapped_column(String(255), default="")
    contact: Mapped[str | None] = mapped_column(String(255), nullable=True)
    telephone: Mapped[str | None] = mapped_column(String(32), nullable=True)  # digits: 27821234567
    phone_valid: Mapped[bool] = mapped_column(Boolean, default=False)
    current: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    d30: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    d60: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    d90: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    d120: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))  # 120+ (d150, d180 included)
    d150: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    d180: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    total_balance: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    overdue_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    # The report the balances come from (no foreign key: the book is upserted by the hundred
    # thousand, and a check per row would double that cost).
    latest_report_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latest_report_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The report date of the report the balances come from: with latest_report_at, what an older
    # report may not overwrite ("newer" is by report date, then upload time).
    latest_report_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    telephone2: Mapped[str | None] = mapped_column(String(32), nullable=True)  # a second number, as read
    # The pharmacy face's debtor: contacts as the newest PDF report prints them, whether the
    # account is a medical-aid control account, and when it left the book (missing from the
    # newest report: settled, kept with its history, never deleted).
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    telephone_raw: Mapped[str | None] = mapped_column(String(64), nullable=True)  # as printed
    is_medical_aid_control: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    settled_by_report_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the whole-book report
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class DebtorSnapshot(Base):
    """One account as one report states it: the AAMA face's "account" (its `uuid` is the id
    there) and the pharmacy face's "debtor" (its integer `id`).

    `d120` is 120 days and older (d150, d180 and any older bucket included): the AAMA's 120+;
    `d150`/`d180` and `extra_buckets` ({"150": "12.00", "210": …}) keep the finer split when the
    file has it. `overdue_amount` is everything past Current, never below zero.
    """

    __tablename__ = "debtor_snapshots"
    __table_args__ = (
        Index("ix_debtor_snapshots_report_id_sheet_row", "report_id", "sheet_row"),
        # Indexes dropped to make imports cheaper are listed in migrations 0010 and 0011; the
        # accounts in overdue order are DebtorSnapshotRank's.
        Index("ix_debtor_snapshots_org_id_account_code", "org_id", "account_code"),
        Index("ix_debtor_snapshots_selected", "report_id", sqlite_where=text("is_selected"),
              postgresql_where=text("is_selected")),
    )

    # The integer key (the pharmacy face's debtor id) and the UUID (the AAMA's account id).
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(GUID, unique=True, default=uuid.uuid4)
    # No foreign keys here, on purpose: imports COPY hundreds of thousands of rows, and a foreign
    # key check per row doubles that cost. A snapshot is only ever written by its report's import,
    # in the transaction that owns the report.
    org_id: Mapped[int] = mapped_column(Integer)
    report_id: Mapped[int] = mapped_column(Integer)
    account_code: Mapped[str] = mapped_column(String(100))
    customer_name: Mapped[str] = mapped_column(String(255), default="")
    contact: Mapped[str | None] = mapped_column(String(255), nullable=True)
    telephone: Mapped[str | None] = mapped_column(String(32), nullable=True)  # digits: 27821234567
    telephone_raw: Mapped[str | None] = mapped_column(String(64), nullable=True)  # as written
    telephone2: Mapped[str | None] = mapped_column(String(32), nullable=True)  # a second number, as read
    phone_valid: Mapped[bool] = mapped_column(Boolean, default=False)
    sms_reachable: Mapped[bool] = mapped_column(Boolean, default=False)  # a valid mobile number
    current: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    d30: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    d60: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    d90: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    d120: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    d150: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    d180: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    extra_buckets: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    total_balance: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    overdue_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    is_selected: Mapped[bool] = mapped_column(Boolean, default=False)
    sheet_row: Mapped[int] = mapped_column(Integer, default=0)  # 1-based row in the file (PDF: line)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class DebtorSnapshotRank(Base):
    """A report's accounts in overdue order: the key is what an index on the snapshots would hold
    (report, overdue amount, balance, file order). An import would have to insert each of its
    rows into such an index at a random place (half of PostgreSQL's work in a COPY); these rows
    are written afterwards by the book's job, in key order, in one statement (bulk.link_book). The
    accounts list sorted by overdue and the summary's top accounts read them when they exist."""

    __tablename__ = "debtor_snapshot_ranks"

    report_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    overdue_amount: Mapped[Decimal] = mapped_column(MONEY, primary_key=True)
    total_balance: Mapped[Decimal] = mapped_column(MONEY, primary_key=True)
    sheet_row: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # unique, whatever sheet_row holds


class DebtorRowError(Base):
    """A row of a report that could not become an account, and why."""

    __tablename__ = "debtor_row_errors"
    __table_args__ = (Index("ix_debtor_row_errors_report_id_sheet_row", "report_id", "sheet_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("debtor_reports.id", ondelete="CASCADE"))
    sheet_row: Mapped[int] = mapped_column(Integer)
    column: Mapped[str | None] = mapped_column(String(255), nullable=True)
    value: Mapped[str | None] = mapped_column(Text, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    code: Mapped[str] = mapped_column(String(32))
    account_code: Mapped[str | None] = mapped_column(String(100), nullable=True)


class ImportProfile(Base):
    """A mapping an organisation confirmed for one spreadsheet layout: the header's signature (a hash
    of its normalised labels) -> {column index: field or None}. Applied to later files whose header
    has the same signature, so a layout is explained once (arrears.debtors.mapping)."""

    __tablename__ = "import_profiles"
    __table_args__ = (UniqueConstraint("org_id", "signature", name="uq_import_profiles_org_id_signature"),)

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    signature: Mapped[str] = mapped_column(String(64))
    labels: Mapped[dict[str, str]] = mapped_column(JSON)  # "column index" -> heading as written
    mapping: Mapped[dict[str, str | None]] = mapped_column(JSON)  # "column index" -> field or None
    sample_filename: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
