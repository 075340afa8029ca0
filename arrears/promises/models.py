"""Promises to pay and their instalments.

A promise is a plan of one or more instalments (amount and date each) on an account; a single
"amount by a date" is a plan of one. `amount` is their sum and `due_date` the last one's date.
`made_on` is the day it was made in the organisation's time zone: payments dated on or after it
count towards it. `paid_amount` is what has been paid towards it so far (payments, or a later
report's fall in balance: then `evidence` says which report). `baseline_balance` and
`baseline_report_id` are the book account's balance and report when it was made, for that
evidence.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from arrears.db import GUID, NEVER_REUSE_IDS, Base, UTCDateTime, utcnow
from arrears.payments.allocation import fill_instalments

MONEY = Numeric(14, 2)
STATUSES = ("open", "kept", "broken", "cancelled")


class Promise(Base):
    __tablename__ = "promises"
    __table_args__ = (
        Index("ix_promises_org_id_status_due_date", "org_id", "status", "due_date"),
        Index("ix_promises_account_id_status", "account_id", "status"),
        Index("ix_promises_agent_id_created_at", "agent_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    account_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("accounts.id", ondelete="CASCADE"))
    # The agent who took the promise (the broken promise's call task goes to them).
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    interaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("interactions.id", ondelete="SET NULL"), nullable=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    made_on: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")
    paid_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    baseline_balance: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    baseline_report_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(128))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PromiseInstalment(Base):
    __tablename__ = "promise_instalments"
    __table_args__ = (UniqueConstraint("promise_id", "number", name="uq_promise_instalments_promise_id_number"),
                      NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    promise_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("promises.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # 1, 2 … in date order
    due_date: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    # What is paid towards it is not stored: it follows from the promise's paid_amount (`covered`).


def covered(paid: Decimal, plan: Sequence[PromiseInstalment]) -> list[Decimal]:
    """What the promise's paid amount covers of each instalment (in number order): payments fill
    them in date order, each taking what is left after the ones before it."""
    return [share for _, share in fill_instalments(plan, paid)]
