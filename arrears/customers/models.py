"""Customers (the people and businesses who owe money), their loans, and the field visits and
calls agents record against those loans."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from arrears.db import GUID, NEVER_REUSE_IDS, Base, UTCDateTime, utcnow

INTERACTION_TYPES = ("field", "calling")


class Customer(Base):
    """One debtor of one organisation. Debtor accounts, loans, policies, messages and
    interactions hang off it, so one timeline shows everything that happened with the person."""

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("org_id", "customer_code", name="uq_customers_org_id_customer_code"),
        # A number looked up by equality (a STOP reply's sender): on PostgreSQL a hash index, cheap to
        # fill in an import's order (migration 0028); SQLite keeps the B-tree.
        Index("ix_customers_org_id_phone_e164", "org_id", "phone_e164").ddl_if(dialect="sqlite"),
        Index("ix_customers_phone_e164", "phone_e164", postgresql_using="hash").ddl_if(dialect="postgresql"),
        # Over assigned customers only: an import's new customers have no officer (migration 0018).
        Index("ix_customers_org_id_officer", "org_id", "assigned_collection_officer_id",
              postgresql_where=text("assigned_collection_officer_id IS NOT NULL"),
              sqlite_where=text("assigned_collection_officer_id IS NOT NULL")),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(GUID, unique=True, default=uuid.uuid4)
    # No foreign key to the organisation on PostgreSQL (migration 0027): a fresh book creates
    # 200,000 customers, each checked it. A trigger keeps what ON DELETE did (the organisation's
    # deletion takes its customers). SQLite keeps the constraint.
    org_id: Mapped[int] = mapped_column(Integer)
    customer_code: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)  # as given
    phone_e164: Mapped[str | None] = mapped_column(String(20), nullable=True)  # +27821234567
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    contact_person: Mapped[str | None] = mapped_column(String(255), nullable=True)
    address_line_1: Mapped[str | None] = mapped_column(String(255), nullable=True)
    address_line_2: Mapped[str | None] = mapped_column(String(255), nullable=True)
    city: Mapped[str | None] = mapped_column(String(100), nullable=True)
    state: Mapped[str | None] = mapped_column(String(100), nullable=True)
    pincode: Mapped[str | None] = mapped_column(String(20), nullable=True)
    date_of_birth: Mapped[date | None] = mapped_column(Date, nullable=True)
    # A foreign key on SQLite only (PostgreSQL: migration 0032; the assignment holds its officer).
    assigned_collection_officer_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def phone_digits(self) -> str | None:
        """27821234567: the E.164 number without `+`, as SMS gateways take it."""
        return self.phone_e164.lstrip("+") if self.phone_e164 else None


class Loan(Base):
    __tablename__ = "loans"
    __table_args__ = (
        UniqueConstraint("org_id", "loan_account_number", name="uq_loans_org_id_loan_account_number"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(GUID, unique=True, default=uuid.uuid4)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    loan_account_number: Mapped[str] = mapped_column(String(64))
    principal_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    interest_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2))  # percent per year, 0–999.99
    loan_type: Mapped[str] = mapped_column(String(50))
    tenure_months: Mapped[int] = mapped_column(Integer)
    loan_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Interaction(Base):
    """A field visit or a call about a loan (or an account owed), with its outcome (disposition)
    and follow-up date."""

    __tablename__ = "interactions"
    __table_args__ = (
        Index("ix_interactions_loan_id_timestamp", "loan_id", "timestamp"),
        Index("ix_interactions_org_id_next_call_date", "org_id", "next_call_date"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(GUID, unique=True, default=uuid.uuid4)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    # A loan's interaction names the loan; beyond the spec, one may name an account owed instead
    # (accounts.id: a book account has no loan), and then `loan_id` is the account's loan or null.
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id", ondelete="CASCADE"), nullable=True)
    account_id: Mapped[UUID | None] = mapped_column(GUID, ForeignKey("accounts.id", ondelete="CASCADE"),
                                                         nullable=True, index=True)
    interaction_type: Mapped[str] = mapped_column(String(16))  # field | calling
    comment: Mapped[str] = mapped_column(Text, default="")
    disposition: Mapped[str] = mapped_column(String(32))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # set by the server
    next_call_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                      nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
