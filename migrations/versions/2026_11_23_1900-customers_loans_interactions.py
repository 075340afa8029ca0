"""customers, loans, interactions

Revision ID: 0002_customers
Revises: 0001_foundation
Create Date: 2026-11-23 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import arrears.db


revision: str = '0002_customers'
down_revision: str | Sequence[str] | None = '0001_foundation'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('customers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', arrears.db.GUID(length=36), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('customer_code', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('phone_e164', sa.String(length=20), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('contact_person', sa.String(length=255), nullable=True),
    sa.Column('address_line_1', sa.String(length=255), nullable=True),
    sa.Column('address_line_2', sa.String(length=255), nullable=True),
    sa.Column('city', sa.String(length=100), nullable=True),
    sa.Column('state', sa.String(length=100), nullable=True),
    sa.Column('pincode', sa.String(length=20), nullable=True),
    sa.Column('date_of_birth', sa.Date(), nullable=True),
    sa.Column('assigned_collection_officer_id', sa.Integer(), nullable=True),
    sa.Column('created_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assigned_collection_officer_id'], ['users.id'], name=op.f('fk_customers_assigned_collection_officer_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_customers_org_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('org_id', 'customer_code', name='uq_customers_org_id_customer_code'),
    sa.UniqueConstraint('uuid', name=op.f('uq_customers_uuid'))
    )
    op.create_index('ix_customers_org_id_officer', 'customers', ['org_id', 'assigned_collection_officer_id'], unique=False)
    op.create_index('ix_customers_org_id_phone_e164', 'customers', ['org_id', 'phone_e164'], unique=False)

    op.create_table('loans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', arrears.db.GUID(length=36), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('loan_account_number', sa.String(length=64), nullable=False),
    sa.Column('principal_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('interest_rate', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('loan_type', sa.String(length=50), nullable=False),
    sa.Column('tenure_months', sa.Integer(), nullable=False),
    sa.Column('loan_date', sa.Date(), nullable=False),
    sa.Column('created_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_loans_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_loans_org_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loans')),
    sa.UniqueConstraint('org_id', 'loan_account_number', name='uq_loans_org_id_loan_account_number'),
    sa.UniqueConstraint('uuid', name=op.f('uq_loans_uuid'))
    )
    op.create_index(op.f('ix_loans_customer_id'), 'loans', ['customer_id'], unique=False)
    op.create_index(op.f('ix_loans_org_id'), 'loans', ['org_id'], unique=False)

    op.create_table('interactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', arrears.db.GUID(length=36), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('interaction_type', sa.String(length=16), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('disposition', sa.String(length=32), nullable=False),
    sa.Column('timestamp', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('next_call_date', sa.Date(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_interactions_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name=op.f('fk_interactions_loan_id_loans'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_interactions_org_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interactions')),
    sa.UniqueConstraint('uuid', name=op.f('uq_interactions_uuid'))
    )
    op.create_index(op.f('ix_interactions_created_by_id'), 'interactions', ['created_by_id'], unique=False)
    op.create_index('ix_interactions_loan_id_timestamp', 'interactions', ['loan_id', 'timestamp'], unique=False)
    op.create_index(op.f('ix_interactions_org_id'), 'interactions', ['org_id'], unique=False)
    op.create_index('ix_interactions_org_id_next_call_date', 'interactions', ['org_id', 'next_call_date'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_interactions_org_id_next_call_date', table_name='interactions')
    op.drop_index(op.f('ix_interactions_org_id'), table_name='interactions')
    op.drop_index('ix_interactions_loan_id_timestamp', table_name='interactions')
    op.drop_index(op.f('ix_interactions_created_by_id'), table_name='interactions')
    op.drop_table('interactions')
    op.drop_index(op.f('ix_loans_org_id'), table_name='loans')
    op.drop_index(op.f('ix_loans_customer_id'), table_name='loans')
    op.drop_table('loans')
    op.drop_index('ix_customers_org_id_phone_e164', table_name='customers')
    op.drop_index('ix_customers_org_id_officer', table_name='customers')
    op.drop_table('customers')
