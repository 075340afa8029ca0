"""messaging: messages (the log and outbox), templates, opt-outs, receipts

Revision ID: 0004_messaging
Revises: 0001_foundation
Depends on: 0002_customers, 0003_debtors
Create Date: 2026-11-23 19:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import arrears.db

revision: str = '0004_messaging'
down_revision: str | Sequence[str] | None = '0001_foundation'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = ('0002_customers', '0003_debtors')


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, arrears.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        'messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('uuid', arrears.db.GUID(length=36), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=8), nullable=False),
        sa.Column('source', sa.String(length=32), nullable=False),
        sa.Column('batch_id', arrears.db.GUID(length=36), nullable=True),
        sa.Column('upload_id', arrears.db.GUID(length=36), nullable=True),
        sa.Column('account_id', arrears.db.GUID(length=36), nullable=True),
        sa.Column('debtor_account_id', sa.Integer(), nullable=True),
        sa.Column('customer_id', sa.Integer(), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('recipient', sa.String(length=254), nullable=False),
        sa.Column('template', sa.Text(), nullable=True),
        sa.Column('subject', sa.String(length=998), nullable=True),
        sa.Column('content', sa.Text(), nullable=False),
        sa.Column('html', sa.Text(), nullable=True),
        sa.Column('segments', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('error_code', sa.String(length=32), nullable=True),
        sa.Column('response', sa.Text(), nullable=True),
        sa.Column('provider', sa.String(length=32), nullable=True),
        sa.Column('provider_account', sa.String(length=128), nullable=True),
        sa.Column('external_id', sa.String(length=128), nullable=True),
        sa.Column('retry_count', sa.Integer(), nullable=False),
        sa.Column('max_retries', sa.Integer(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        _ts('next_attempt_at'),
        sa.Column('claimed_by', sa.String(length=64), nullable=True),
        _ts('claim_until', True),
        _ts('attempt_started_at', True),
        _ts('sent_at', True),
        _ts('delivered_at', True),
        _ts('read_at', True),
        _ts('failed_at', True),
        sa.Column('cap_override_by', sa.Integer(), nullable=True),
        sa.Column('idempotency_key', sa.String(length=200), nullable=True),
        _ts('created_at'),
        _ts('updated_at'),
        sa.ForeignKeyConstraint(['org_id'], ['organisations.id'],
                                name=op.f('fk_messages_org_id_organisations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['debtor_account_id'], ['debtor_accounts.id'],
                                name=op.f('fk_messages_debtor_account_id_debtor_accounts'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                                name=op.f('fk_messages_customer_id_customers'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_messages_user_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_messages')),
        sa.UniqueConstraint('uuid', name=op.f('uq_messages_uuid')),
        sa.UniqueConstraint('org_id', 'idempotency_key', name='uq_messages_org_id_idempotency_key'),
    )
    op.create_index('ix_messages_status_next_attempt_at', 'messages', ['status', 'next_attempt_at'])
    op.create_index('ix_messages_org_id_upload_id_created_at', 'messages', ['org_id', 'upload_id', 'created_at'])
    op.create_index('ix_messages_org_id_customer_id_channel_created_at', 'messages',
                    ['org_id', 'customer_id', 'channel', 'created_at'])
    op.create_index('ix_messages_org_id_recipient_channel_created_at', 'messages',
                    ['org_id', 'recipient', 'channel', 'created_at'])
    op.create_index('ix_messages_org_id_debtor_account_id', 'messages', ['org_id', 'debtor_account_id'])
    op.create_index('ix_messages_org_id_account_id', 'messages', ['org_id', 'account_id'])
    op.create_index('ix_messages_provider_external_id', 'messages', ['provider', 'external_id'])

    op.create_table(
        'message_templates',
        sa.Column('id', arrears.db.GUID(length=36), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('channel', sa.String(length=8), nullable=False),
        sa.Column('subject', sa.String(length=255), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        _ts('created_at'),
        _ts('updated_at'),
        sa.ForeignKeyConstraint(['org_id'], ['organisations.id'],
                                name=op.f('fk_message_templates_org_id_organisations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                                name=op.f('fk_message_templates_created_by_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_message_templates')),
        sa.UniqueConstraint('org_id', 'name', name='uq_message_templates_org_id_name'),
    )
    op.create_index(op.f('ix_message_templates_org_id'), 'message_templates', ['org_id'])

    op.create_table(
        'message_opt_outs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('uuid', arrears.db.GUID(length=36), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=8), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=True),
        sa.Column('recipient', sa.String(length=254), nullable=True),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('created_by', sa.String(length=128), nullable=False),
        _ts('created_at'),
        sa.ForeignKeyConstraint(['org_id'], ['organisations.id'],
                                name=op.f('fk_message_opt_outs_org_id_organisations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                                name=op.f('fk_message_opt_outs_customer_id_customers'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_message_opt_outs')),
        sa.UniqueConstraint('uuid', name=op.f('uq_message_opt_outs_uuid')),
        sa.UniqueConstraint('org_id', 'channel', 'customer_id', name='uq_message_opt_outs_org_channel_customer'),
        sa.UniqueConstraint('org_id', 'channel', 'recipient', name='uq_message_opt_outs_org_channel_recipient'),
    )
    op.create_index(op.f('ix_message_opt_outs_org_id'), 'message_opt_outs', ['org_id'])

    op.create_table(
        'message_receipts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=True),
        sa.Column('provider', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('reference', sa.String(length=128), nullable=True),
        sa.Column('external_id', sa.String(length=128), nullable=True),
        sa.Column('status', sa.String(length=64), nullable=True),
        sa.Column('event_key', sa.String(length=200), nullable=True),
        sa.Column('outcome', sa.String(length=32), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        _ts('received_at'),
        sa.ForeignKeyConstraint(['org_id'], ['organisations.id'],
                                name=op.f('fk_message_receipts_org_id_organisations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['message_id'], ['messages.id'],
                                name=op.f('fk_message_receipts_message_id_messages'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_message_receipts')),
        sa.UniqueConstraint('provider', 'event_key', name='uq_message_receipts_provider_event_key'),
    )
    op.create_index('ix_message_receipts_message_id', 'message_receipts', ['message_id'])
    op.create_index('ix_message_receipts_org_id_received_at', 'message_receipts', ['org_id', 'received_at'])


def downgrade() -> None:
    op.drop_index('ix_message_receipts_org_id_received_at', table_name='message_receipts')
    op.drop_index('ix_message_receipts_message_id', table_name='message_receipts')
    op.drop_table('message_receipts')
    op.drop_index(op.f('ix_message_opt_outs_org_id'), table_name='message_opt_outs')
    op.drop_table('message_opt_outs')
    op.drop_index(op.f('ix_message_templates_org_id'), table_name='message_templates')
    op.drop_table('message_templates')
    for name in ('ix_messages_provider_external_id', 'ix_messages_org_id_account_id',
                 'ix_messages_org_id_debtor_account_id', 'ix_messages_org_id_recipient_channel_created_at',
                 'ix_messages_org_id_customer_id_channel_created_at', 'ix_messages_org_id_upload_id_created_at',
                 'ix_messages_status_next_attempt_at'):
        op.drop_index(name, table_name='messages')
    op.drop_table('messages')
