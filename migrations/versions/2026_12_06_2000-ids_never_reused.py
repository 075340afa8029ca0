"""ids never reused: SQLite tables whose integer ids a face shows get AUTOINCREMENT

Revision ID: 0012_ids_never_reused
Revises: 0011_snapshot_ranks
Depends on: 0008_pharmacy_debtors (messages and the pharmacy's columns exist)
Create Date: 2026-12-06 20:00:00

Without AUTOINCREMENT, SQLite gives a new row max(id) + 1, so deleting the newest customer freed
its id for the next one, and a client holding the old id reached the new customer. SQLite can
only add AUTOINCREMENT by rebuilding the table (Alembic's batch "recreate"), which keeps every row
and id; sqlite_sequence then starts after the largest id. PostgreSQL's sequences never go back:
nothing to do there. The migration runs with foreign keys off (the migration engine does not set
the app's PRAGMA), so rebuilding a parent table does not touch its children's rows.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0012_ids_never_reused'
down_revision: str | Sequence[str] | None = '0011_snapshot_ranks'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = ('0008_pharmacy_debtors',)

# Parents before children, so that each rebuilt child's foreign keys name a table that exists.
TABLES = ("organisations", "users", "request_logs", "customers", "loans", "interactions",
          "debtor_reports", "debtor_accounts", "messages")


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in TABLES:
        with op.batch_alter_table(name, recreate="always",
                                  table_kwargs={"sqlite_autoincrement": autoincrement}):
            pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
