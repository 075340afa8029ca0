"""snapshot load: two fewer indexes to maintain per imported row; timestamps by the server

Revision ID: 0010_snapshot_load
Revises: 0009_web_indexes
Create Date: 2026-12-02 07:00:00

An import COPYs every account of a file into debtor_snapshots; each index costs PostgreSQL a
btree insertion per row. Measured on 200,000 rows (docs/benchmarks-import.md): the two indexes
dropped here cost 1.3 s and 1.5 s of the load, the two text timestamps 0.5 s of parsing.

- `ix_debtor_snapshots_report_id_overdue_amount`: `ix_debtor_snapshots_report_overdue_balance`
  (0009) has the same leading columns and serves every query it served;
- `ix_debtor_snapshots_report_id_total_balance`: it served the median, now computed by the
  import itself from the rows it stores, and the accounts list sorted by balance, which now sorts
  one report's rows like every other amount column does;
- PostgreSQL only: `created_at`/`updated_at` default to the transaction's time (`now()`), and
  `d150`/`d180` to 0 and `is_selected` to false, so that COPY leaves them out (a file without
  buckets past 120 days). SQLite keeps receiving them from the import.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0010_snapshot_load'
down_revision: str | Sequence[str] | None = '0009_web_indexes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULTS = {"created_at": "now()", "updated_at": "now()", "d150": "0", "d180": "0", "is_selected": "false"}
DROPPED = {
    'ix_debtor_snapshots_report_id_overdue_amount': ['report_id', 'overdue_amount'],
    'ix_debtor_snapshots_report_id_total_balance': ['report_id', 'total_balance'],
}


def upgrade() -> None:
    for name in DROPPED:
        op.drop_index(name, table_name='debtor_snapshots')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE debtor_snapshots "
                   + ", ".join(f"ALTER COLUMN {c} SET DEFAULT {v}" for c, v in DEFAULTS.items()))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE debtor_snapshots " + ", ".join(f"ALTER COLUMN {c} DROP DEFAULT" for c in DEFAULTS))
    for name, columns in DROPPED.items():
        op.create_index(name, 'debtor_snapshots', columns)
