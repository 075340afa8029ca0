"""premiums: policies, collections, the premium webhook log and idempotency keys

Revision ID: 0005_premiums
Revises: 0001_foundation
Create Date: 2026-11-23 19:05:00

`policies.customer_id` has no foreign key yet: the customers domain adds it once it exists.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import arrears.db


revision: str = '0005_premiums'
down_revision: str | Sequence[str] | None = '0001_foundation'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', arrears.db.GUID(length=36), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('policy_number', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('client_name', sa.String(length=255), nullable=False),
    sa.Column('client_id_number', sa.String(length=32), nullable=True),
    sa.Column('client_email', sa.String(length=254), nullable=True),
    sa.Column('client_phone', sa.String(length=32), nullable=True),
    sa.Column('premium_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('frequency', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('mandate_reference', sa.String(length=64), nullable=True),
    sa.Column('bank_account_holder', sa.String(length=255), nullable=True),
    sa.Column('bank_account_number', sa.String(length=20), nullable=True),
    sa.Column('bank_branch_code', sa.String(length=6), nullable=True),
    sa.Column('bank_account_type', sa.String(length=16), nullable=False),
    sa.Column('next_collection_date', sa.Date(), nullable=True),
    sa.Column('collection_day', sa.Integer(), nullable=True),
    sa.Column('created_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_policies_org_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policies')),
    sa.UniqueConstraint('org_id', 'policy_number', name=op.f('uq_policies_org_id_policy_number')),
    sa.UniqueConstraint('uuid', name=op.f('uq_policies_uuid'))
    )
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policies_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_policies_org_id'), ['org_id'], unique=False)

    op.create_table('collections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', arrears.db.GUID(length=36), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('collection_reference', sa.String(length=64), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('collection_date', sa.Date(), nullable=False),
    sa.Column('processed_at', arrears.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('failure_reason', sa.String(length=255), nullable=True),
    sa.Column('investec_reference', sa.String(length=64), nullable=True),
    sa.Column('bank_reference', sa.String(length=64), nullable=True),
    sa.Column('transaction_date', sa.Date(), nullable=True),
    sa.Column('created_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_collections_org_id_organisations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_collections_policy_id_policies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_collections')),
    sa.UniqueConstraint('org_id', 'collection_reference', name=op.f('uq_collections_org_id_collection_reference')),
    sa.UniqueConstraint('policy_id', 'collection_date', name=op.f('uq_collections_policy_id_collection_date')),
    sa.UniqueConstraint('uuid', name=op.f('uq_collections_uuid'))
    )
    with op.batch_alter_table('collections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_collections_org_id'), ['org_id'], unique=False)
        batch_op.create_index('ix_collections_policy_status', ['policy_id', 'status'], unique=False)

    op.create_table('webhook_logs',
    sa.Column('id', arrears.db.GUID(length=36), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=True),
    sa.Column('api_key_id', arrears.db.GUID(length=36), nullable=True),
    sa.Column('api_key_prefix', sa.String(length=64), nullable=True),
    sa.Column('endpoint', sa.String(length=500), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=False),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('processing_time_ms', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('created_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_keys.id'], name=op.f('fk_webhook_logs_api_key_id_api_keys'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_webhook_logs_org_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_logs'))
    )
    with op.batch_alter_table('webhook_logs', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_logs_org_created', ['org_id', 'created_at'], unique=False)

    op.create_table('premium_idempotency_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('endpoint', sa.String(length=200), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=False),
    sa.Column('response_body', sa.Text(), nullable=False),
    sa.Column('created_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_premium_idempotency_keys_org_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_premium_idempotency_keys')),
    sa.UniqueConstraint('org_id', 'key', name=op.f('uq_premium_idempotency_keys_org_id_key'))
    )
    with op.batch_alter_table('premium_idempotency_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_premium_idempotency_keys_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('premium_idempotency_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_premium_idempotency_keys_expires_at'))
    op.drop_table('premium_idempotency_keys')

    with op.batch_alter_table('webhook_logs', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_logs_org_created')
    op.drop_table('webhook_logs')

    with op.batch_alter_table('collections', schema=None) as batch_op:
        batch_op.drop_index('ix_collections_policy_status')
        batch_op.drop_index(batch_op.f('ix_collections_org_id'))
    op.drop_table('collections')

    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policies_org_id'))
        batch_op.drop_index(batch_op.f('ix_policies_customer_id'))
    op.drop_table('policies')
