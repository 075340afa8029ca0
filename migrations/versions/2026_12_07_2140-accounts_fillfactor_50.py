"""accounts: half of each page kept free (fillfactor 50, was 70), so that a pass moving most of an
organisation's accounts keeps every status change heap-only

Revision ID: 0032_accounts_fillfactor
Revises: 0031_instalments_covered
Create Date: 2026-12-07 21:40:00

Issue 22: a status change is a heap-only update since 0030 (no index names the status) — but only
while the row's page has room for the new version. At fillfactor 70 a page has room for the new
versions of about 40 % of its rows: when the daily promise pass moves two accounts in three
(`promised` → `active`, the issue's benchmark), the rest go to other pages with a new entry in each
of the five indexes (148,087 WAL records for 66,667 accounts, where heap-only would be one each).
At 50 every row of a page can change once in a pass and stay on it, as the book's accounts do
(`debtor_accounts`, 0029). Backend CPU of that UPDATE (66,667 accounts, load 5–6): 0.54–0.90 s at
70, 0.27–0.33 s at 50. The price: the table takes 40 % more pages (its readers scan an
organisation's accounts once per job or run).

Pages written from now on get the room; existing ones are not rewritten here (a `VACUUM FULL`
would, under a lock). SQLite has no fillfactor: nothing to do there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0032_accounts_fillfactor'
down_revision: str | Sequence[str] | None = '0031_instalments_covered'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILLFACTOR = 50
BEFORE = 70  # 0030's


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE accounts SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE accounts SET (fillfactor = {BEFORE})")
