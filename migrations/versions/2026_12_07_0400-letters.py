"""letter templates, letterheads and letters

Revision ID: 0022_letters
Revises: 0020_promises_payments
Create Date: 2026-12-07 04:00:00

Issue 23 (point 5): `letter_templates` (an organisation's own), `letterheads` (one per
organisation, with its logo) and `letters` (one PDF per account, kept in the row).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import arrears.db

revision: str = '0022_letters'
down_revision: str | Sequence[str] | None = '0020_promises_payments'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUID = arrears.db.GUID(length=36)
WHEN = arrears.db.UTCDateTime(timezone=True)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], ondelete=ondelete,
                                   name=op.f(f"fk_{table}_{column}_{target}"))


def upgrade() -> None:
    op.create_table(
        "letter_templates",
        sa.Column("id", GUID, nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        _fk("letter_templates", "org_id", "organisations", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_letter_templates")),
        sa.UniqueConstraint("org_id", "name", name="uq_letter_templates_org_id_name"),
    )
    op.create_index("ix_letter_templates_org_id", "letter_templates", ["org_id"])

    op.create_table(
        "letterheads",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("registration_number", sa.String(64), nullable=True),
        sa.Column("vat_number", sa.String(64), nullable=True),
        sa.Column("phone", sa.String(64), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("website", sa.String(255), nullable=True),
        sa.Column("logo", sa.LargeBinary(), nullable=True),
        sa.Column("logo_type", sa.String(16), nullable=True),
        sa.Column("logo_width", sa.Integer(), nullable=True),
        sa.Column("logo_height", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        _fk("letterheads", "org_id", "organisations", "CASCADE"),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_letterheads")),
    )

    op.create_table(
        "letters",
        sa.Column("id", GUID, nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("account_id", GUID, nullable=False),
        sa.Column("template_id", GUID, nullable=False),
        sa.Column("template_name", sa.String(100), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("reply_by", sa.Date(), nullable=True),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("pdf_size", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("email_reason", sa.Text(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        _fk("letters", "org_id", "organisations", "CASCADE"),
        _fk("letters", "account_id", "accounts", "CASCADE"),
        _fk("letters", "message_id", "messages", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_letters")),
    )
    op.create_index("ix_letters_org_id_created_at", "letters", ["org_id", "created_at"])
    op.create_index("ix_letters_account_id_created_at", "letters", ["account_id", "created_at"])
    op.create_index("ix_letters_message_id", "letters", ["message_id"])


def downgrade() -> None:
    op.drop_table("letters")
    op.drop_table("letterheads")
    op.drop_index("ix_letter_templates_org_id", table_name="letter_templates")
    op.drop_table("letter_templates")
