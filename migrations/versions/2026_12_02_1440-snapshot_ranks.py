"""snapshot ranks: the accounts in overdue order, written after the import instead of during it

Revision ID: 0011_snapshot_ranks
Revises: 0010_snapshot_load
Create Date: 2026-12-02 14:40:00

`ix_debtor_snapshots_report_overdue_balance` (0009) made every imported row a btree insertion at
a random place in the report's slice of the index: measured on 200,000 rows, half of PostgreSQL's
CPU time in an import's COPY (1.1 of 2.3 s) and the difference between 2.6x and 2.3x the
python-calamine floor (docs/benchmarks-import.md). Its keys move to `debtor_snapshot_ranks`,
written by the book's job after the import commits (bulk.link_book), sorted, in one statement:
PostgreSQL appends them at the right edge of the primary key. Existing reports are ranked here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011_snapshot_ranks'
down_revision: str | Sequence[str] | None = '0010_snapshot_load'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = 'ix_debtor_snapshots_report_overdue_balance'
MONEY = sa.Numeric(14, 2)


def upgrade() -> None:
    op.create_table(
        'debtor_snapshot_ranks',
        sa.Column('report_id', sa.Integer(), nullable=False),
        sa.Column('overdue_amount', MONEY, nullable=False),
        sa.Column('total_balance', MONEY, nullable=False),
        sa.Column('sheet_row', sa.Integer(), nullable=False),
        sa.Column('snapshot_id', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('report_id', 'overdue_amount', 'total_balance', 'sheet_row', 'snapshot_id',
                                name='pk_debtor_snapshot_ranks'),
    )
    op.execute("INSERT INTO debtor_snapshot_ranks (report_id, overdue_amount, total_balance, sheet_row, snapshot_id) "
               "SELECT report_id, overdue_amount, total_balance, sheet_row, id FROM debtor_snapshots "
               "ORDER BY report_id, overdue_amount, total_balance, sheet_row, id")
    op.drop_index(INDEX, table_name='debtor_snapshots')


def downgrade() -> None:
    op.create_index(INDEX, 'debtor_snapshots', ['report_id', 'overdue_amount', 'total_balance'])
    op.drop_table('debtor_snapshot_ranks')
