"""Letter templates, the organisation's letterhead and the letters made from them.

A letter's PDF is kept in the database (`pdf`, a few kilobytes): it is written in the request's
transaction with its row, so a letter and its file exist together or not at all, backups carry
them, and no path from a user ever reaches the file system. The letterhead's logo (a checked PNG
or JPEG of at most 1 MB) is kept the same way.

A letter's status is not stored: it follows from its e-mail (`message_id`, the one message log):
no message, or one still queued → `created`; sent, delivered or read → `emailed`; failed →
`failed`. `email_reason` says why no e-mail was written (no address on file).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from arrears.db import GUID, Base, UTCDateTime, utcnow

KINDS = ("reminder", "final_demand", "letter_of_demand", "section_129", "other")
SOURCES = ("manual", "strategy", "cli")
STATUSES = ("created", "emailed", "failed")


class LetterTemplate(Base):
    """An organisation's own letter template (the built-ins live in code: arrears.letters.builtins)."""

    __tablename__ = "letter_templates"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_letter_templates_org_id_name"),)

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(24), default="other")
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Letterhead(Base):
    """What heads every letter of an organisation: one row per organisation."""

    __tablename__ = "letterheads"

    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    address: Mapped[str | None] = mapped_column(Text, nullable=True)  # lines separated by newlines
    registration_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    vat_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    website: Mapped[str | None] = mapped_column(String(255), nullable=True)
    logo: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    logo_type: Mapped[str | None] = mapped_column(String(16), nullable=True)  # image/png | image/jpeg
    logo_width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    logo_height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Letter(Base):
    __tablename__ = "letters"
    __table_args__ = (
        Index("ix_letters_org_id_created_at", "org_id", "created_at"),
        Index("ix_letters_account_id_created_at", "account_id", "created_at"),
        Index("ix_letters_message_id", "message_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    account_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("accounts.id", ondelete="CASCADE"))
    # A built-in's fixed id or the organisation's template's id (no foreign key: a letter outlives
    # its template); the name as it was when the letter was made.
    template_id: Mapped[uuid.UUID] = mapped_column(GUID)
    template_name: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(255))
    reply_by: Mapped[date | None] = mapped_column(Date, nullable=True)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    pdf_size: Mapped[int] = mapped_column(Integer)
    pages: Mapped[int] = mapped_column(Integer)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), nullable=True)
    email_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="manual")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
