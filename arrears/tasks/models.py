"""Tasks on accounts owed."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from arrears.db import GUID, Base, UTCDateTime, utcnow

KINDS = ("call", "visit")
SOURCES = ("broken_promise", "manual", "strategy")
STATUSES = ("open", "done", "cancelled")


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_org_id_status_due_date", "org_id", "status", "due_date"),
        Index("ix_tasks_account_id_status", "account_id", "status"),
        Index("ix_tasks_assignee_id_status_due_date", "assignee_id", "status", "due_date"),
    )

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    # On PostgreSQL no keys (migration 0030): the writer holds the account and assignee FOR KEY SHARE
    # (service._held) and the organisation with the task's event; triggers do what ON DELETE did.
    # SQLite keeps the keys.
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    account_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("accounts.id", ondelete="CASCADE"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    kind: Mapped[str] = mapped_column(String(8))
    due_date: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(16), default="manual")
    status: Mapped[str] = mapped_column(String(16), default="open")
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(128))  # the actor: user:1, api_key:ins_…, system
    # What completed it (an interaction: "interaction:12") or who cancelled it.
    closed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
