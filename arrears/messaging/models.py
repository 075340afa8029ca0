"""Messaging tables: the one log of every message (which is also the outbox), the organisations'
own templates, opt-outs, and the receipts providers post back.

A message row is written in the transaction of the request that wants it sent (status `pending`),
so it exists exactly when the request succeeded; workers claim due rows, record the attempt
(`sending`) in a commit of its own before calling the provider, and record the answer after.

Statuses: pending → sending → sent → delivered → read, or failed. `sending` is shown as `pending`
by the faces whose specs do not know it. Debtor-book and upload references carry no foreign key:
the log keeps a message after the report it came from is deleted.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from uuid import UUID  # the class's own `uuid` column hides the module below it

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from arrears.db import GUID, NEVER_REUSE_IDS, Base, UTCDateTime, utcnow

CHANNELS = ("sms", "email")
STATUSES = ("pending", "sending", "sent", "delivered", "read", "failed")
FINAL_STATUSES = ("sent", "delivered", "read", "failed")
SENT_STATUSES = ("sent", "delivered", "read")  # "sent" in the summaries: the provider took it
OPT_OUT_SOURCES = ("api", "cli", "reply", "provider")


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        # The outbox's claim: due pending rows, oldest first.
        Index("ix_messages_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_messages_org_id_upload_id_created_at", "org_id", "upload_id", "created_at"),
        Index("ix_messages_org_id_customer_id_channel_created_at", "org_id", "customer_id", "channel",
              "created_at"),
        Index("ix_messages_org_id_recipient_channel_created_at", "org_id", "recipient", "channel",
              "created_at"),
        Index("ix_messages_org_id_debtor_account_id", "org_id", "debtor_account_id"),
        Index("ix_messages_org_id_account_id", "org_id", "account_id"),
        Index("ix_messages_provider_external_id", "provider", "external_id"),
        UniqueConstraint("org_id", "idempotency_key", name="uq_messages_org_id_idempotency_key"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(GUID, unique=True, default=uuid.uuid4)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))  # sms | email
    source: Mapped[str] = mapped_column(String(32), default="api")  # aama, pharmacy, api, cli …
    batch_id: Mapped[UUID | None] = mapped_column(GUID, nullable=True)  # one send request
    upload_id: Mapped[UUID | None] = mapped_column(GUID, nullable=True)  # debtor report
    account_id: Mapped[UUID | None] = mapped_column(GUID, nullable=True)  # debtor snapshot (AAMA)
    debtor_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("debtor_accounts.id", ondelete="SET NULL"), nullable=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"),
                                                    nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    recipient: Mapped[str] = mapped_column(String(254), default="")  # 27821234567 or an address
    template: Mapped[str | None] = mapped_column(Text, nullable=True)
    subject: Mapped[str | None] = mapped_column(String(998), nullable=True)
    content: Mapped[str] = mapped_column(Text, default="")  # SMS text, or the e-mail's plain part
    html: Mapped[str | None] = mapped_column(Text, nullable=True)
    segments: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    response: Mapped[str | None] = mapped_column(Text, nullable=True)  # response_from_service
    provider: Mapped[str | None] = mapped_column(String(32), nullable=True)
    provider_account: Mapped[str | None] = mapped_column(String(128), nullable=True)
    external_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    retry_count: Mapped[int] = mapped_column(Integer, default=0)
    max_retries: Mapped[int] = mapped_column(Integer, default=3)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # provider calls started
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claim_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempt_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cap_override_by: Mapped[int | None] = mapped_column(Integer, nullable=True)  # user id
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class MessageTemplate(Base):
    """An organisation's own template. SMS: `body` only. E-mail: `subject` and `body` (plain
    text; the HTML part is rendered from it with every value escaped)."""

    __tablename__ = "message_templates"
    __table_args__ = (
        UniqueConstraint("org_id", "name", name="uq_message_templates_org_id_name"),
    )

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(8), default="sms")
    subject: Mapped[str | None] = mapped_column(String(255), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                      nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class OptOut(Base):
    """A customer (or a bare address/number, when no customer is known) who asked not to be
    contacted on a channel."""

    __tablename__ = "message_opt_outs"
    __table_args__ = (
        UniqueConstraint("org_id", "channel", "customer_id", name="uq_message_opt_outs_org_channel_customer"),
        UniqueConstraint("org_id", "channel", "recipient", name="uq_message_opt_outs_org_channel_recipient"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(GUID, unique=True, default=uuid.uuid4)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"),
                                                    nullable=True)
    recipient: Mapped[str | None] = mapped_column(String(254), nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="api")
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(128), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MessageReceipt(Base):
    """What a provider told us after the send: a delivery report, an event, a reply. Kept for
    the audit trail, including those whose reference matched no message."""

    __tablename__ = "message_receipts"
    __table_args__ = (
        Index("ix_message_receipts_message_id", "message_id"),
        Index("ix_message_receipts_org_id_received_at", "org_id", "received_at"),
        UniqueConstraint("provider", "event_key", name="uq_message_receipts_provider_event_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"),
                                                   nullable=True)
    provider: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # status | reply | event
    reference: Mapped[str | None] = mapped_column(String(128), nullable=True)
    external_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    status: Mapped[str | None] = mapped_column(String(64), nullable=True)  # as the provider wrote it
    event_key: Mapped[str | None] = mapped_column(String(200), nullable=True)  # provider's event id
    outcome: Mapped[str] = mapped_column(String(32), default="applied")  # applied | unknown | ignored …
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
