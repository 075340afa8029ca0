"""report dates, partial reports, skipped lines and second phone numbers

Revision ID: 0016_report_dates
Revises: 0014_web_sessions
Create Date: 2026-12-06 23:00:00

Issue 21. Each report gets its as-at date (`report_date`, and where it came from: the form,
the file, or the upload's day), whether it is `partial` (it leaves accounts it does not list
alone), and the lines its reader skipped (`skipped_rows`, `skipped_reasons`) and its `warnings`.
The book's accounts keep the date of the newest report that spoke of them
(`latest_report_date`: "newest" is by report date, then upload time), which whole-book report
settled them (`settled_by_report_id`) and a second phone number (`telephone2`, also on the
snapshots it comes from).

Existing reports are dated by their upload's UTC day (their files' title blocks are not read
again), and each account takes its latest report's date. Additive: every new column is nullable
or has a server default, so the bulk writers that do not name them keep working.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016_report_dates'
down_revision: str | Sequence[str] | None = '0014_web_sessions'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('debtor_reports', sa.Column('report_date', sa.Date(), nullable=True))
    op.add_column('debtor_reports', sa.Column('report_date_source', sa.String(length=8), nullable=True))
    op.add_column('debtor_reports', sa.Column('partial', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('debtor_reports', sa.Column('skipped_rows', sa.Integer(), nullable=False, server_default='0'))
    op.add_column('debtor_reports', sa.Column('skipped_reasons', sa.JSON(), nullable=True))
    op.add_column('debtor_reports', sa.Column('warnings', sa.JSON(), nullable=True))
    op.add_column('debtor_accounts', sa.Column('latest_report_date', sa.Date(), nullable=True))
    op.add_column('debtor_accounts', sa.Column('telephone2', sa.String(length=32), nullable=True))
    op.add_column('debtor_accounts', sa.Column('settled_by_report_id', sa.Integer(), nullable=True))
    op.add_column('debtor_snapshots', sa.Column('telephone2', sa.String(length=32), nullable=True))
    day = ("(created_at AT TIME ZONE 'UTC')::date" if op.get_bind().dialect.name == 'postgresql'
           else "date(created_at)")
    op.execute(f"UPDATE debtor_reports SET report_date = {day}, report_date_source = 'upload' "
               "WHERE status IN ('completed', 'failed')")
    op.execute("UPDATE debtor_accounts SET latest_report_date = (SELECT r.report_date FROM debtor_reports r "
               "WHERE r.id = debtor_accounts.latest_report_id) WHERE latest_report_id IS NOT NULL")
    op.create_index('ix_debtor_reports_org_id_report_date', 'debtor_reports',
                    ['org_id', 'report_date', 'created_at'])


def downgrade() -> None:
    op.drop_index('ix_debtor_reports_org_id_report_date', table_name='debtor_reports')
    with op.batch_alter_table('debtor_snapshots') as batch:
        batch.drop_column('telephone2')
    with op.batch_alter_table('debtor_accounts') as batch:
        batch.drop_column('settled_by_report_id')
        batch.drop_column('telephone2')
        batch.drop_column('latest_report_date')
    with op.batch_alter_table('debtor_reports') as batch:
        batch.drop_column('warnings')
        batch.drop_column('skipped_reasons')
        batch.drop_column('skipped_rows')
        batch.drop_column('partial')
        batch.drop_column('report_date_source')
        batch.drop_column('report_date')
