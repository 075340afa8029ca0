"""letter steps: how they send their letters (e-mailed where possible, else printed; or printed)

Revision ID: 0024_letter_delivery
Revises: 0023_strategies
Create Date: 2026-12-07 06:00:00

Issue 23, item 5: `strategy_steps.letter_delivery` — `email` (the default, existing steps too:
each letter e-mailed as an attachment where the outbox takes it, the rest to the print batch) or
`print` (every letter to the print batch, none e-mailed).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0024_letter_delivery'
down_revision: str | Sequence[str] | None = '0023_strategies'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('strategy_steps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('letter_delivery', sa.String(length=8), server_default='email', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('strategy_steps', schema=None) as batch_op:
        batch_op.drop_column('letter_delivery')
