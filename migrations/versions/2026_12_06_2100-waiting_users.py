"""waiting users: a self-registered user waits, in no organisation, until an admin accepts them

Revision ID: 0013_waiting_users
Revises: 0012_ids_never_reused
Create Date: 2026-12-06 21:00:00

`users.waiting_since` is set for an account made by open registration and cleared when an admin
of the default organisation accepts it (with a membership there); such a user has no membership
and every data endpoint answers 403. `users.requested_role` keeps the role the registrant asked
for: a request shown to the admin, never granted by itself. Existing users have neither (NULL):
they were accepted already. Two nullable columns: no table rebuild on SQLite.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013_waiting_users'
down_revision: str | Sequence[str] | None = '0012_ids_never_reused'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('users', sa.Column('waiting_since', sa.DateTime(timezone=True), nullable=True))
    op.add_column('users', sa.Column('requested_role', sa.String(length=32), nullable=True))


def downgrade() -> None:
    # SQLite drops a column by rebuilding the table: keep 0012's AUTOINCREMENT while at it.
    with op.batch_alter_table('users', table_kwargs={'sqlite_autoincrement': True}) as batch:
        batch.drop_column('requested_role')
        batch.drop_column('waiting_since')
