"""bank number facts: fingerprints beside the sealed numbers, and the masks of old rows

Revision ID: 0021_bank_number_facts
Revises: 0020_promises_payments
Depends on: 0015_encrypt_bank_details (the premiums branch, whose sealed columns it describes)
Create Date: 2026-12-07 03:00:00

Issue 19, point 10: bank account and ID numbers are decrypted only to write the bank file. Beside
each sealed number (arrears.identity.sealed) a keyed fingerprint (`crypto.fingerprint`, HMAC-SHA256
under a key derived from SECRET_KEY) is kept, which a resent number is compared with, and beside a
policy's bank account why it cannot go into a bank file (`bank_account_problem`, NULL when it can),
which the debit-order run's mandate check reads. Every existing row is decrypted once, here, in
batches: its facts are written, and a number sealed before the masked form was kept (`f1:<token>`,
which reads as `********`) gets its mask in front of the same token. Downgrade drops the columns
(the masks stay: the sealed form with a mask is the one the code before this revision writes).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0021_bank_number_facts'
down_revision: str | Sequence[str] | None = '0020_promises_payments'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = '0015_encrypt_bank_details'

BATCH = 1000
# table: its key, and each sealed column with the column of its fingerprint
TABLES = {
    "policies": ("id", {"client_id_number": "client_id_fingerprint",
                        "bank_account_number": "bank_account_fingerprint"}),
    "debit_order_settings": ("org_id", {"nominated_account": "nominated_account_fingerprint"}),
}
# the sealed column whose problem (why it cannot go into a bank file) is kept, and where
PROBLEMS = {("policies", "bank_account_number"): "bank_account_problem"}


def _opened(stored: str) -> tuple[str, str]:
    """(the sealed form with its mask, the number) of a stored value, decrypted once."""
    from arrears.identity import crypto, sealed

    if not stored.startswith(sealed.TAG):  # still in clear: seal it as the code does
        return sealed.seal(stored), stored
    hint, _, token = stored[len(sealed.TAG):].rpartition(":")
    number = crypto.decrypt(token)
    return f"{sealed.TAG}{hint or sealed.masked(number)}:{token}", number


def _backfill(table: str, key: str, columns: dict[str, str]) -> None:
    from arrears.identity import crypto
    from arrears.premiums.banking import account_problem

    bind = op.get_bind()
    problems = {c: p for (t, c), p in PROBLEMS.items() if t == table}
    targets = [*columns, *columns.values(), *problems.values()]
    update = sa.text(f"UPDATE {table} SET {', '.join(f'{c} = :{c}' for c in targets)} WHERE {key} = :key")
    select = sa.text(f"SELECT {key}, {', '.join(columns)} FROM {table} WHERE {key} > :after "
                     f"ORDER BY {key} LIMIT {BATCH}")
    after = -1
    while rows := bind.execute(select, {"after": after}).mappings().all():
        params = []
        for row in rows:
            values: dict[str, object] = {"key": row[key]}
            for column, print_column in columns.items():
                sealed_form, number = (None, None) if row[column] is None else _opened(str(row[column]))
                values[column] = sealed_form
                values[print_column] = None if number is None else crypto.fingerprint(number)
                if column in problems:
                    values[problems[column]] = account_problem(number)
            params.append(values)
        bind.execute(update, params)
        after = rows[-1][key]


def upgrade() -> None:
    for table, (key, columns) in TABLES.items():
        for print_column in columns.values():
            op.add_column(table, sa.Column(print_column, sa.String(64), nullable=True))
        for (t, _), problem in PROBLEMS.items():
            if t == table:
                op.add_column(table, sa.Column(problem, sa.String(255), nullable=True))
        _backfill(table, key, columns)


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+ too): a batch copy of `policies` on SQLite
    # would drop the table its collections point at.
    for table, (_, columns) in TABLES.items():
        for print_column in columns.values():
            op.drop_column(table, print_column)
        for (t, _), problem in PROBLEMS.items():
            if t == table:
                op.drop_column(table, problem)
