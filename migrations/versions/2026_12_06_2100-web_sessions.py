"""server-side web sessions

Revision ID: 0014_web_sessions
Revises: 0013_waiting_users
Create Date: 2026-12-06 21:00:00

The `web_sessions` table: the web UI's sign-ins, server-side, so that signing out ends a session at
once (issue 19). The bank details' encryption is 0015, on the premiums branch whose tables it changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014_web_sessions'
down_revision: str | Sequence[str] | None = '0013_waiting_users'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_web_sessions_user_id", "web_sessions")
    op.drop_table("web_sessions")
