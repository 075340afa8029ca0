"""import profiles

Revision ID: 0017_import_profiles
Revises: 0016_report_dates
Create Date: 2026-12-07 00:00:00

The `import_profiles` table (issue 21): an organisation's confirmed column mapping for one
spreadsheet layout, keyed by the header's signature.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import arrears.db

revision: str = '0017_import_profiles'
down_revision: str | Sequence[str] | None = '0016_report_dates'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_profiles",
        sa.Column("id", arrears.db.GUID(length=36), primary_key=True),
        sa.Column("org_id", sa.Integer, sa.ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("signature", sa.String(64), nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("mapping", sa.JSON, nullable=False),
        sa.Column("sample_filename", sa.String(255), nullable=True),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", arrears.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", arrears.db.UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("org_id", "signature", name="uq_import_profiles_org_id_signature"),
    )


def downgrade() -> None:
    op.drop_table("import_profiles")
