"""debtor book: reports, accounts, snapshots, row errors

Revision ID: 0003_debtors
Revises: 0001_foundation
Depends on: 0002_customers
Create Date: 2026-11-23 19:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import arrears.db

revision: str = '0003_debtors'
down_revision: str | Sequence[str] | None = '0001_foundation'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = '0002_customers'


def _money(name: str) -> sa.Column:
    return sa.Column(name, sa.Numeric(precision=14, scale=2), nullable=False)


BUCKETS = ('current', 'd30', 'd60', 'd90', 'd120', 'd150', 'd180')


def upgrade() -> None:
    op.create_table(
        'debtor_reports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('uuid', arrears.db.GUID(length=36), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('original_filename', sa.String(length=255), nullable=False),
        sa.Column('file_size', sa.Integer(), nullable=False),
        sa.Column('mime_type', sa.String(length=128), nullable=True),
        sa.Column('file_format', sa.String(length=8), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('stage', sa.String(length=16), nullable=False),
        sa.Column('total_rows', sa.Integer(), nullable=False),
        sa.Column('processed_rows', sa.Integer(), nullable=False),
        sa.Column('success_rows', sa.Integer(), nullable=False),
        sa.Column('failed_rows', sa.Integer(), nullable=False),
        sa.Column('progress', sa.Float(), nullable=False),
        sa.Column('progress_message', sa.Text(), nullable=True),
        sa.Column('error_message', sa.Text(), nullable=True),
        sa.Column('error_code', sa.String(length=32), nullable=True),
        sa.Column('error_details', sa.JSON(), nullable=True),
        sa.Column('header', sa.JSON(), nullable=True),
        sa.Column('totals', sa.JSON(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('processing_started_at', arrears.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('processing_completed_at', arrears.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('progress_updated_at', arrears.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('created_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organisations.id'],
                                name=op.f('fk_debtor_reports_org_id_organisations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_debtor_reports_user_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_debtor_reports')),
        sa.UniqueConstraint('uuid', name=op.f('uq_debtor_reports_uuid')),
    )
    op.create_index('ix_debtor_reports_org_id_created_at', 'debtor_reports', ['org_id', 'created_at'])
    op.create_index('ix_debtor_reports_org_id_user_id_created_at', 'debtor_reports',
                    ['org_id', 'user_id', 'created_at'])

    op.create_table(
        'debtor_accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('account_code', sa.String(length=100), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=True),
        sa.Column('customer_name', sa.String(length=255), nullable=False),
        sa.Column('contact', sa.String(length=255), nullable=True),
        sa.Column('telephone', sa.String(length=32), nullable=True),
        sa.Column('phone_valid', sa.Boolean(), nullable=False),
        *[_money(b) for b in BUCKETS],
        _money('total_balance'),
        _money('overdue_amount'),
        sa.Column('latest_report_id', sa.Integer(), nullable=True),
        sa.Column('latest_report_at', arrears.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('created_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organisations.id'],
                                name=op.f('fk_debtor_accounts_org_id_organisations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                                name=op.f('fk_debtor_accounts_customer_id_customers'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_debtor_accounts')),
        sa.UniqueConstraint('org_id', 'account_code', name='uq_debtor_accounts_org_id_account_code'),
    )
    op.create_index('ix_debtor_accounts_customer_id', 'debtor_accounts', ['customer_id'])

    op.create_table(
        'debtor_snapshots',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('uuid', arrears.db.GUID(length=36), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('report_id', sa.Integer(), nullable=False),
        sa.Column('account_code', sa.String(length=100), nullable=False),
        sa.Column('customer_name', sa.String(length=255), nullable=False),
        sa.Column('contact', sa.String(length=255), nullable=True),
        sa.Column('telephone', sa.String(length=32), nullable=True),
        sa.Column('telephone_raw', sa.String(length=64), nullable=True),
        sa.Column('phone_valid', sa.Boolean(), nullable=False),
        sa.Column('sms_reachable', sa.Boolean(), nullable=False),
        *[_money(b) for b in BUCKETS],
        sa.Column('extra_buckets', sa.JSON(), nullable=True),
        _money('total_balance'),
        _money('overdue_amount'),
        sa.Column('is_selected', sa.Boolean(), nullable=False),
        sa.Column('sheet_row', sa.Integer(), nullable=False),
        sa.Column('created_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_debtor_snapshots')),
        sa.UniqueConstraint('uuid', name=op.f('uq_debtor_snapshots_uuid')),
    )
    op.create_index('ix_debtor_snapshots_report_id_sheet_row', 'debtor_snapshots', ['report_id', 'sheet_row'])
    op.create_index('ix_debtor_snapshots_report_id_total_balance', 'debtor_snapshots',
                    ['report_id', 'total_balance'])
    op.create_index('ix_debtor_snapshots_report_id_overdue_amount', 'debtor_snapshots',
                    ['report_id', 'overdue_amount'])
    op.create_index('ix_debtor_snapshots_org_id_account_code', 'debtor_snapshots', ['org_id', 'account_code'])
    op.create_index('ix_debtor_snapshots_selected', 'debtor_snapshots', ['report_id'],
                    sqlite_where=sa.text('is_selected'), postgresql_where=sa.text('is_selected'))

    op.create_table(
        'debtor_row_errors',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('report_id', sa.Integer(), nullable=False),
        sa.Column('sheet_row', sa.Integer(), nullable=False),
        sa.Column('column', sa.String(length=255), nullable=True),
        sa.Column('value', sa.Text(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('code', sa.String(length=32), nullable=False),
        sa.Column('account_code', sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(['report_id'], ['debtor_reports.id'],
                                name=op.f('fk_debtor_row_errors_report_id_debtor_reports'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_debtor_row_errors')),
    )
    op.create_index('ix_debtor_row_errors_report_id_sheet_row', 'debtor_row_errors', ['report_id', 'sheet_row'])


def downgrade() -> None:
    op.drop_index('ix_debtor_row_errors_report_id_sheet_row', table_name='debtor_row_errors')
    op.drop_table('debtor_row_errors')
    for name in ('ix_debtor_snapshots_selected', 'ix_debtor_snapshots_org_id_account_code',
                 'ix_debtor_snapshots_report_id_overdue_amount', 'ix_debtor_snapshots_report_id_total_balance',
                 'ix_debtor_snapshots_report_id_sheet_row'):
        op.drop_index(name, table_name='debtor_snapshots')
    op.drop_table('debtor_snapshots')
    op.drop_index('ix_debtor_accounts_customer_id', table_name='debtor_accounts')
    op.drop_table('debtor_accounts')
    op.drop_index('ix_debtor_reports_org_id_user_id_created_at', table_name='debtor_reports')
    op.drop_index('ix_debtor_reports_org_id_created_at', table_name='debtor_reports')
    op.drop_table('debtor_reports')
