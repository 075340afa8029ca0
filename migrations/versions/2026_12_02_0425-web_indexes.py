"""web indexes: count and order a debtor book's overdue accounts without touching the table

Revision ID: 0009_web_indexes
Revises: 0003_debtors
Create Date: 2026-12-02 04:25:00

The accounts list filtered to overdue accounts with a minimum balance (the home page's "Overdue
balance" link) counts every matching row of the report for its pager. With the report, the
overdue amount and the balance in one index, PostgreSQL answers that count with an index-only
scan and reads the page in overdue order from the same index; SQLite uses it as a covering index.
It covers what `ix_debtor_snapshots_report_id_overdue_amount` did too. Additive only.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0009_web_indexes'
down_revision: str | Sequence[str] | None = '0003_debtors'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = 'ix_debtor_snapshots_report_overdue_balance'


def upgrade() -> None:
    op.create_index(INDEX, 'debtor_snapshots', ['report_id', 'overdue_amount', 'total_balance'])


def downgrade() -> None:
    op.drop_index(INDEX, table_name='debtor_snapshots')
