"""debit orders: per-captive settings, runs and their items, stored bank files, reconciliation records

Revision ID: 0007_debit_orders
Revises: 0005_premium_policy_customer_fk
Create Date: 2026-12-02 04:05:00

New tables only (nothing existing changes), so downgrade is safe: it drops them. It chains on the
premiums branch's last revision, so that branch keeps one head.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import arrears.db

revision: str = '0007_debit_orders'
down_revision: str | Sequence[str] | None = '0005_premium_policy_customer_fk'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('debit_order_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', arrears.db.GUID(length=36), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('action_date', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_by', sa.String(length=128), nullable=False),
    sa.Column('skipped', sa.JSON(), nullable=False),
    sa.Column('created_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_debit_order_runs_org_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_debit_order_runs')),
    sa.UniqueConstraint('org_id', 'action_date', name=op.f('uq_debit_order_runs_org_id_action_date')),
    sa.UniqueConstraint('uuid', name=op.f('uq_debit_order_runs_uuid'))
    )
    with op.batch_alter_table('debit_order_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_debit_order_runs_org_id'), ['org_id'], unique=False)

    op.create_table('debit_order_settings',
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('user_code', sa.String(length=4), nullable=False),
    sa.Column('abbreviated_name', sa.String(length=10), nullable=False),
    sa.Column('nominated_branch', sa.String(length=6), nullable=False),
    sa.Column('nominated_account', sa.String(length=16), nullable=False),
    sa.Column('generation_number', sa.Integer(), nullable=False),
    sa.Column('entry_class', sa.String(length=2), nullable=False),
    sa.Column('type_of_service', sa.String(length=10), nullable=False),
    sa.Column('schedule_enabled', sa.Boolean(), nullable=False),
    sa.Column('lead_days', sa.Integer(), nullable=False),
    sa.Column('auto_success_days', sa.Integer(), nullable=False),
    sa.Column('created_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_debit_order_settings_org_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('org_id', name=op.f('pk_debit_order_settings'))
    )
    op.create_table('debit_order_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', arrears.db.GUID(length=36), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('media_type', sa.String(length=64), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('record_count', sa.Integer(), nullable=False),
    sa.Column('total_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('generation_number', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_debit_order_files_org_id_organisations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['debit_order_runs.id'], name=op.f('fk_debit_order_files_run_id_debit_order_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_debit_order_files')),
    sa.UniqueConstraint('org_id', 'kind', 'sha256', name=op.f('uq_debit_order_files_org_id_kind_sha256')),
    sa.UniqueConstraint('uuid', name=op.f('uq_debit_order_files_uuid'))
    )
    with op.batch_alter_table('debit_order_files', schema=None) as batch_op:
        batch_op.create_index('ix_debit_order_files_org_created', ['org_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_debit_order_files_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_debit_order_files_run_id'), ['run_id'], unique=False)

    op.create_table('debit_order_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('collection_id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=20), nullable=False),
    sa.Column('action_date', sa.Date(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=True),
    sa.Column('sequence_number', sa.Integer(), nullable=True),
    sa.Column('created_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['collection_id'], ['collections.id'], name=op.f('fk_debit_order_items_collection_id_collections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['file_id'], ['debit_order_files.id'], name=op.f('fk_debit_order_items_file_id_debit_order_files'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_debit_order_items_org_id_organisations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_debit_order_items_policy_id_policies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['debit_order_runs.id'], name=op.f('fk_debit_order_items_run_id_debit_order_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_debit_order_items')),
    sa.UniqueConstraint('collection_id', name=op.f('uq_debit_order_items_collection_id')),
    sa.UniqueConstraint('run_id', 'policy_id', name=op.f('uq_debit_order_items_run_id_policy_id'))
    )
    with op.batch_alter_table('debit_order_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_debit_order_items_org_id'), ['org_id'], unique=False)
        batch_op.create_index('ix_debit_order_items_org_reference', ['org_id', 'reference'], unique=False)
        batch_op.create_index(batch_op.f('ix_debit_order_items_run_id'), ['run_id'], unique=False)

    op.create_table('reconciliation_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', arrears.db.GUID(length=36), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=True),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('action_date', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=True),
    sa.Column('reason_code', sa.String(length=2), nullable=True),
    sa.Column('reason_text', sa.String(length=255), nullable=True),
    sa.Column('collection_id', sa.Integer(), nullable=True),
    sa.Column('matched_by', sa.String(length=32), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('message', sa.String(length=500), nullable=True),
    sa.Column('resolution', sa.String(length=16), nullable=True),
    sa.Column('resolved_by', sa.String(length=128), nullable=True),
    sa.Column('resolved_at', arrears.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['collection_id'], ['collections.id'], name=op.f('fk_reconciliation_records_collection_id_collections'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['file_id'], ['debit_order_files.id'], name=op.f('fk_reconciliation_records_file_id_debit_order_files'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_reconciliation_records_org_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reconciliation_records')),
    sa.UniqueConstraint('file_id', 'line', name=op.f('uq_reconciliation_records_file_id_line')),
    sa.UniqueConstraint('uuid', name=op.f('uq_reconciliation_records_uuid'))
    )
    with op.batch_alter_table('reconciliation_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reconciliation_records_collection_id'), ['collection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reconciliation_records_file_id'), ['file_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reconciliation_records_org_id'), ['org_id'], unique=False)
        batch_op.create_index('ix_reconciliation_records_org_outcome', ['org_id', 'outcome'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('reconciliation_records', schema=None) as batch_op:
        batch_op.drop_index('ix_reconciliation_records_org_outcome')
        batch_op.drop_index(batch_op.f('ix_reconciliation_records_org_id'))
        batch_op.drop_index(batch_op.f('ix_reconciliation_records_file_id'))
        batch_op.drop_index(batch_op.f('ix_reconciliation_records_collection_id'))

    op.drop_table('reconciliation_records')
    with op.batch_alter_table('debit_order_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_debit_order_items_run_id'))
        batch_op.drop_index('ix_debit_order_items_org_reference')
        batch_op.drop_index(batch_op.f('ix_debit_order_items_org_id'))

    op.drop_table('debit_order_items')
    with op.batch_alter_table('debit_order_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_debit_order_files_run_id'))
        batch_op.drop_index(batch_op.f('ix_debit_order_files_org_id'))
        batch_op.drop_index('ix_debit_order_files_org_created')

    op.drop_table('debit_order_files')
    op.drop_table('debit_order_settings')
    with op.batch_alter_table('debit_order_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_debit_order_runs_org_id'))

    op.drop_table('debit_order_runs')
