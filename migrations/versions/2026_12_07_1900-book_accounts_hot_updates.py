"""book accounts: no index on the latest report, room on the pages (HOT updates each month)

Revision ID: 0029_book_accounts_hot
Revises: 0028_customers_phone_hash
Create Date: 2026-12-07 19:00:00

Issue 21: a second month's book job rewrites every book account (its balances and the report they
came from). `latest_report_id` was indexed (`ix_debtor_accounts_org_id_latest_report_id`) and the
pages were full, so each of the 200,000 new row versions went to another page and took a new entry
in all four indexes. Without that index no indexed column changes (`customer_id` is written with
the value it has), and with half of each page kept free (fillfactor 50, PostgreSQL) the new
version stays on its page: a heap-only (HOT) update that writes no index entry (backend CPU of the
update, 200,000 accounts: 3.5 s before, 1.2-1.7 s after; docs/benchmarks.md, issue 21). Each
month's update leaves the previous versions dead on the page, and the next one prunes them there.

The index's readers all have the organisation's (organisation, account code) index or a scan of
the organisation's accounts: settling the unlisted accounts (arrears.debtors.book, one pass over
the organisation's accounts right after they were all rewritten), the pharmacy's upload (its few
accounts by code, or by report), the book's pages (`in_book`: every account of the organisation).

Pages written from now on get the room; existing ones are not rewritten here (a `VACUUM FULL`
would, under a lock): a book's accounts move to half-full pages at their next update.
SQLite: the index goes too (it has no HOT updates; its readers take the same other index).
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0029_book_accounts_hot'
down_revision: str | Sequence[str] | None = '0028_customers_phone_hash'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILLFACTOR = 50


def upgrade() -> None:
    op.drop_index('ix_debtor_accounts_org_id_latest_report_id', table_name='debtor_accounts')
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE debtor_accounts SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE debtor_accounts RESET (fillfactor)")
    op.create_index('ix_debtor_accounts_org_id_latest_report_id', 'debtor_accounts', ['org_id', 'latest_report_id'],
                    unique=False)
