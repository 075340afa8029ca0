"""an instalment's `covered` is no longer stored: it follows from its promise's `paid_amount`

Revision ID: 0031_instalments_covered
Revises: 0030_promise_pass_no_keys
Create Date: 2026-12-07 21:10:00

Issue 22: payments fill a promise's instalments in date order, so what they cover of each is
`min(amount, max(0, paid_amount − the amounts of the instalments before it))` — a function of the
promise's `paid_amount` and its plan. The daily pass rewrote every instalment whose share moved
(100,000 rows a pass at 100,000 promises, as many as the promises themselves) to keep a copy of
it; the API now works it out when it shows a promise (`arrears.promises.models.covered`).
On PostgreSQL the instalments no longer need room on their pages for those updates (fillfactor 50
since 0025): reset; existing pages are not rewritten.
Down: the column comes back, filled from the promises' `paid_amount` by the same rule.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0031_instalments_covered'
down_revision: str | Sequence[str] | None = '0030_promise_pass_no_keys'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(14, 2)

# Each instalment's share of its promise's paid amount, filled in date (number) order.
FILL = """
UPDATE promise_instalments SET covered = (
  SELECT CASE WHEN p.paid_amount - (i.before_it) >= promise_instalments.amount THEN promise_instalments.amount
              WHEN p.paid_amount - (i.before_it) > 0 THEN p.paid_amount - (i.before_it)
              ELSE 0 END
  FROM promises p,
       (SELECT COALESCE(SUM(e.amount), 0) AS before_it FROM promise_instalments e
        WHERE e.promise_id = promise_instalments.promise_id AND e.number < promise_instalments.number) i
  WHERE p.id = promise_instalments.promise_id)
"""


def upgrade() -> None:
    with op.batch_alter_table("promise_instalments") as batch:
        batch.drop_column("covered")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE promise_instalments RESET (fillfactor)")


def downgrade() -> None:
    with op.batch_alter_table("promise_instalments") as batch:
        batch.add_column(sa.Column("covered", MONEY, nullable=False, server_default="0"))
    op.execute(FILL)
    with op.batch_alter_table("promise_instalments") as batch:
        batch.alter_column("covered", server_default=None)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE promise_instalments SET (fillfactor = 50)")
