"""encrypt bank details at rest; server-side web sessions

Revision ID: 0014_encrypt_bank_details
Revises: 0013_waiting_users
Depends on: 0007_debit_orders (it changes the premiums branch's tables)
Create Date: 2026-12-06 21:00:00

Bank account and ID numbers (premium policies' `bank_account_number` and `client_id_number`,
debit-order settings' `nominated_account`) become Fernet tokens tagged `f1:` (arrears.identity.sealed,
keyed by SECRET_KEY as provider secrets are), in TEXT columns; every existing row is encrypted
here. Downgrade decrypts them back. Also the `web_sessions` table: the web UI's sign-ins,
server-side, so that signing out ends a session at once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014_encrypt_bank_details'
down_revision: str | Sequence[str] | None = '0013_waiting_users'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = ('0007_debit_orders',)

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

    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
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
    op.drop_index("ix_web_sessions_user_id", "web_sessions")
    op.drop_table("web_sessions")
