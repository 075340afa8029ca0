"""pharmacy debtors: e-mail, phone as printed, medical-aid flag and settled state on the book's accounts

Revision ID: 0008_pharmacy_debtors
Revises: 0004_messaging
Depends on: 0003_debtors
Create Date: 2026-12-02 04:00:00

Additive only: every new column is nullable or has a server default, so the debtor book's
set-based upsert (which does not name them) keeps working unchanged.

It chains on messaging (which itself depends on the debtor book) rather than on 0003_debtors:
chained on 0003 with messaging as a dependency, a downgrade of this revision leaves both
0003_debtors and 0004_messaging in alembic_version, and alembic then refuses every upgrade
("0004_messaging overlaps with 0003_debtors"). This way down and up both work, and the
number of heads stays what it was.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import arrears.db

revision: str = '0008_pharmacy_debtors'
down_revision: str | Sequence[str] | None = '0004_messaging'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = '0003_debtors'


def upgrade() -> None:
    op.add_column('debtor_accounts', sa.Column('email', sa.String(length=254), nullable=True))
    op.add_column('debtor_accounts', sa.Column('telephone_raw', sa.String(length=64), nullable=True))
    op.add_column('debtor_accounts', sa.Column('is_medical_aid_control', sa.Boolean(), nullable=False,
                                               server_default=sa.false()))
    op.add_column('debtor_accounts', sa.Column('settled_at', arrears.db.UTCDateTime(timezone=True),
                                               nullable=True))
    op.create_index('ix_debtor_accounts_org_id_latest_report_id', 'debtor_accounts',
                    ['org_id', 'latest_report_id'])


def downgrade() -> None:
    op.drop_index('ix_debtor_accounts_org_id_latest_report_id', table_name='debtor_accounts')
    with op.batch_alter_table('debtor_accounts') as batch:
        batch.drop_column('settled_at')
        batch.drop_column('is_medical_aid_control')
        batch.drop_column('telephone_raw')
        batch.drop_column('email')
