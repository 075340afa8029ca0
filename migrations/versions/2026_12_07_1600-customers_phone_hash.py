"""customers' phone index: a hash index on PostgreSQL

Revision ID: 0028_customers_phone_hash
Revises: 0027_cheaper_book_job
Create Date: 2026-12-07 16:00:00

Issue 21: a fresh book of 200,000 accounts creates 200,000 customers, and of their four indexes
the (organisation, phone) B-tree cost the most: the numbers come in no order, so each entry is a
descent of the tree comparing texts, into a page anywhere in it, splitting pages in the middle
(backend CPU of the customers' insert, the same rows: 2.4-3.4 s with it, 1.5-2.0 s without it,
1.8-2.0 s with a hash index in its place; docs/benchmarks.md, issue 21). Its only reader looks a
number up by equality within an organisation (arrears.messaging.optouts.customers_with_phone: a
STOP reply's sender): a hash index on the number answers that, the organisation then a filter over
the few customers with the number (a hash index has one column; NULLs, numbers not valid, are not
in it).

SQLite keeps its B-tree (it has no hash index).
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0028_customers_phone_hash'
down_revision: str | Sequence[str] | None = '0027_cheaper_book_job'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _postgres():
        return
    op.execute("CREATE INDEX ix_customers_phone_e164 ON customers USING hash (phone_e164)")
    op.execute("DROP INDEX ix_customers_org_id_phone_e164")


def downgrade() -> None:
    if not _postgres():
        return
    op.execute("CREATE INDEX ix_customers_org_id_phone_e164 ON customers (org_id, phone_e164)")
    op.execute("DROP INDEX ix_customers_phone_e164")
