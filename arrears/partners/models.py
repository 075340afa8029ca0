"""Partner platform tables: API clients, key metadata, webhook subscriptions and deliveries, and
the partner request log that usage statistics are computed from.

API keys themselves live in identity's `api_keys` table (`client_id` points here)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from arrears.db import GUID, Base, UTCDateTime, utcnow

# BIGINT on PostgreSQL; SQLite only auto-increments INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class ApiClient(Base):
    __tablename__ = "api_clients"
    __table_args__ = (Index("ix_api_clients_org_created", "org_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    website: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    logo_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    contact_email: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    rate_limit_tier: Mapped[str] = mapped_column(String(16), default="basic")
    webhook_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    # whsec_… secret, encrypted at rest (identity.crypto); signs deliveries to webhook_url.
    webhook_secret_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKeyMetadata(Base):
    """The spec's `metadata` of an API key (identity's table has no such column)."""

    __tablename__ = "api_key_metadata"

    api_key_id: Mapped[uuid.UUID] = mapped_column(
        GUID, ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True)
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON, nullable=True)


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscriptions"

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("api_clients.id", ondelete="CASCADE"),
                                                 index=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret_enc: Mapped[str] = mapped_column(Text)  # whsec_…, encrypted at rest
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    paused_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    max_retries: Mapped[int] = mapped_column(Integer, default=3)
    retry_delay: Mapped[int] = mapped_column(Integer, default=60)  # seconds
    backoff_multiplier: Mapped[float] = mapped_column(Float, default=2.0)
    timeout: Mapped[int] = mapped_column(Integer, default=30)  # seconds
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One event for one subscription. `webhook-id` is `msg_<id hex>`, the same on every attempt.

    An attempt is claimed by setting `lease_until` and counting it in `attempt_count` before the
    request is sent; a worker that dies mid-send leaves the lease to expire, and the next worker
    sends again with the same webhook-id (receivers de-duplicate on it)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_webhook_deliveries_due", "status", "scheduled_for"),
        Index("ix_webhook_deliveries_subscription_created", "subscription_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        GUID, ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)  # domain_events.uuid
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"type", "timestamp", "data"}
    status: Mapped[str] = mapped_column(String(16), default="PENDING")
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    attempt_limit: Mapped[int] = mapped_column(Integer, default=4)
    response_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def webhook_id(self) -> str:
        return webhook_id_of(self.id)


def webhook_id_of(delivery_id: uuid.UUID) -> str:
    return "msg_" + delivery_id.hex


class PartnerRequest(Base):
    """One request on the partner face: the route template, status and duration (usage stats)."""

    __tablename__ = "partner_requests"
    __table_args__ = (Index("ix_partner_requests_client_created", "client_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                               nullable=True, index=True)
    client_id: Mapped[uuid.UUID | None] = mapped_column(
        GUID, ForeignKey("api_clients.id", ondelete="SET NULL"), nullable=True)
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    method: Mapped[str] = mapped_column(String(10))
    endpoint: Mapped[str] = mapped_column(String(255))  # the route template
    status_code: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    # UTC buckets written with the row, so grouping is the same SQL on both engines.
    day: Mapped[str] = mapped_column(String(10))  # 2024-01-15
    hour: Mapped[str] = mapped_column(String(13))  # 2024-01-15T10
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
