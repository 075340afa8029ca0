"""encrypt bank details at rest

Revision ID: 0015_encrypt_bank_details
Revises: 0007_debit_orders (the premiums branch, whose tables it changes)
Create Date: 2026-12-06 21:05:00

Bank account and ID numbers (premium policies' `bank_account_number` and `client_id_number`,
debit-order settings' `nominated_account`) become Fernet tokens tagged `f1:` (arrears.identity.sealed,
keyed by SECRET_KEY as provider secrets are), in TEXT columns; every existing row is encrypted
here. Downgrade decrypts them back.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015_encrypt_bank_details'
down_revision: str | Sequence[str] | None = '0007_debit_orders'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, key columns, sealed columns, their former types)
SEALED = (
    ("policies", ("id",), (("bank_account_number", sa.String(20)), ("client_id_number", sa.String(32)))),
    ("debit_order_settings", ("org_id",), (("nominated_account", sa.String(16)),)),
)


def _rewrite(table: str, keys: tuple[str, ...], columns: tuple[str, ...], change) -> None:  # noqa: ANN001
    bind = op.get_bind()
    names = ", ".join((*keys, *columns))
    rows = bind.execute(sa.text(f"SELECT {names} FROM {table}")).mappings().all()
    sets = ", ".join(f"{c} = :{c}" for c in columns)
    where = " AND ".join(f"{k} = :{k}" for k in keys)
    for row in rows:
        values = {c: (None if row[c] is None else change(row[c])) for c in columns}
        if values != {c: row[c] for c in columns}:
            bind.execute(sa.text(f"UPDATE {table} SET {sets} WHERE {where}"),
                         values | {k: row[k] for k in keys})


def upgrade() -> None:
    from arrears.identity.sealed import TAG, seal

    postgres = op.get_bind().dialect.name == "postgresql"
    for table, keys, columns in SEALED:
        if postgres:  # SQLite does not hold a VARCHAR to its length
            for name, old in columns:
                op.alter_column(table, name, type_=sa.Text(), existing_type=old)
        _rewrite(table, keys, tuple(n for n, _ in columns),
                 lambda v: v if str(v).startswith(TAG) else seal(str(v)))


def downgrade() -> None:
    from arrears.identity.sealed import unseal

    postgres = op.get_bind().dialect.name == "postgresql"
    for table, keys, columns in SEALED:
        _rewrite(table, keys, tuple(n for n, _ in columns), lambda v: unseal(str(v)))
        if postgres:
            for name, old in columns:
                op.alter_column(table, name, type_=old, existing_type=sa.Text())
