"""Premium tables: policies, their collections, the premium face's webhook log and idempotency keys.

No ORM relationships: queries join explicitly, so that no attribute access ever hides a query.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, validates

from arrears.db import GUID, Base, UTCDateTime, utcnow
from arrears.identity import crypto
from arrears.identity.sealed import TAG, Sealed, SealedText
from arrears.identity.sealed import same as sealed_same
from arrears.premiums.banking import account_problem


class Policy(Base):
    """An insurance policy of a cell captive (organisation), keyed by its policy number there."""

    __tablename__ = "policies"
    __table_args__ = (UniqueConstraint("org_id", "policy_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(GUID, unique=True, default=uuid.uuid4)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    policy_number: Mapped[str] = mapped_column(String(64))
    # The policyholder, when linked to a customer of the same organisation (the service checks
    # the organisation). The person's details stay here too: the bank's files need them, and a
    # deleted customer (ON DELETE SET NULL) must not take the captive's policy with it.
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), nullable=True, index=True)
    client_name: Mapped[str] = mapped_column(String(255))
    client_id_number: Mapped[str | None] = mapped_column(Sealed, nullable=True)  # encrypted at rest
    client_email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    client_phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    premium_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    frequency: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")
    mandate_reference: Mapped[str | None] = mapped_column(String(64), nullable=True)
    bank_account_holder: Mapped[str | None] = mapped_column(String(255), nullable=True)
    bank_account_number: Mapped[str | None] = mapped_column(Sealed, nullable=True)  # encrypted at rest
    # Beside each sealed number, what is known of it without decrypting it, set when it is
    # written (`_numbers_written`): its keyed fingerprint (a resent number is compared with it),
    # and for the account why it cannot go into a bank file (None: it can), for the mandate check.
    client_id_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    bank_account_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    bank_account_problem: Mapped[str | None] = mapped_column(String(255), nullable=True)
    bank_branch_code: Mapped[str | None] = mapped_column(String(6), nullable=True)
    bank_account_type: Mapped[str] = mapped_column(String(16), default="current")
    next_collection_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    collection_day: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    #: Each sealed number's fingerprint column.
    FINGERPRINTS: ClassVar[dict[str, str]] = {"client_id_number": "client_id_fingerprint", "bank_account_number": "bank_account_fingerprint"}

    @validates("client_id_number", "bank_account_number")
    def _numbers_written(self, key: str, value: str | None) -> str | None:
        """The facts of a number are worked out here, while it is in clear, on every write of
        it (the constructor's too). A value read from a row (SealedText) keeps the facts it has."""
        if isinstance(value, SealedText) or (isinstance(value, str) and value.startswith(TAG)):
            return value
        setattr(self, self.FINGERPRINTS[key], None if value is None else crypto.fingerprint(str(value)))
        if key == "bank_account_number":
            self.bank_account_problem = account_problem(value)
        return value

    def holds(self, field: str, value: Any) -> bool:
        """Whether the policy's `field` already is `value` (a sealed number by its fingerprint)."""
        if field in self.FINGERPRINTS:
            return sealed_same(getattr(self, field), value, getattr(self, self.FINGERPRINTS[field]))
        return bool(getattr(self, field) == value)


class Collection(Base):
    """One premium collection (a debit) of a policy; its status follows `premiums.state`."""

    __tablename__ = "collections"
    __table_args__ = (
        UniqueConstraint("org_id", "collection_reference"),
        # At most one collection per policy and date: a webhook naming a policy and a date finds it.
        UniqueConstraint("policy_id", "collection_date"),
        Index("ix_collections_policy_status", "policy_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(GUID, unique=True, default=uuid.uuid4)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"))
    collection_reference: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    collection_date: Mapped[date] = mapped_column(Date)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    investec_reference: Mapped[str | None] = mapped_column(String(64), nullable=True)
    bank_reference: Mapped[str | None] = mapped_column(String(64), nullable=True)
    transaction_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookLog(Base):
    """One request to the premium face's `/api/webhooks/…` endpoints (the spec's `webhook_logs`)."""

    __tablename__ = "webhook_logs"
    __table_args__ = (Index("ix_webhook_logs_org_created", "org_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    # Null when the request named no known key (missing or unknown API key).
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                               nullable=True)
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL"), nullable=True)
    api_key_prefix: Mapped[str | None] = mapped_column(String(64), nullable=True)  # pct_… key id
    endpoint: Mapped[str] = mapped_column(String(500))
    method: Mapped[str] = mapped_column(String(10))
    response_status: Mapped[int] = mapped_column(Integer)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    processing_time_ms: Mapped[int] = mapped_column(Integer, default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotencyRecord(Base):
    """The first answer to a POST sent with an `Idempotency-Key`, replayed for 24 hours."""

    __tablename__ = "premium_idempotency_keys"
    __table_args__ = (UniqueConstraint("org_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    endpoint: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
