"""payments, payment imports, promises to pay and their instalments

Revision ID: 0020_promises_payments
Revises: 0019_accounts_tasks
Create Date: 2026-12-07 02:00:00

Issue 22 (points 3 and 4): `payment_imports` (one row per payments file), `payments` (idempotent
per organisation by `external_id`; `account_id` null while a line is unmatched), `promises` and
`promise_instalments`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import arrears.db

revision: str = '0020_promises_payments'
down_revision: str | Sequence[str] | None = '0019_accounts_tasks'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUID = arrears.db.GUID(length=36)
WHEN = arrears.db.UTCDateTime(timezone=True)
MONEY = sa.Numeric(14, 2)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], ondelete=ondelete,
                                   name=op.f(f"fk_{table}_{column}_{target}"))


# What the foreign keys' ON DELETE did, as triggers on the (rarely deleted) referenced rows: the
# cost falls on a deletion, not on each payment written. (trigger, table, statement on OLD.id)
FOLLOW = (
    ("trg_organisations_delete_payments", "organisations", "DELETE FROM payments WHERE org_id = OLD.id"),
    ("trg_accounts_delete_payments", "accounts", "DELETE FROM payments WHERE account_id = OLD.id"),
    ("trg_payment_imports_unlink_payments", "payment_imports",
     "UPDATE payments SET import_id = NULL WHERE import_id = OLD.id"),
)


def _follow_deletes() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, table, statement in FOLLOW:
        if postgres:
            op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
                       f"$$ BEGIN {statement}; RETURN OLD; END $$")
            op.execute(f"CREATE TRIGGER {name} AFTER DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()")
        else:
            op.execute(f"CREATE TRIGGER {name} AFTER DELETE ON {table} FOR EACH ROW BEGIN {statement}; END")


def _drop_follow_deletes() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, table, _ in FOLLOW:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}" if postgres else f"DROP TRIGGER IF EXISTS {name}")
        if postgres:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")


def upgrade() -> None:
    op.create_table(
        "payment_imports",
        sa.Column("id", GUID, nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_lines", sa.Integer(), nullable=False),
        sa.Column("recorded", sa.Integer(), nullable=False),
        sa.Column("unmatched", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=True),
        sa.Column("errors", sa.JSON(), nullable=True),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        _fk("payment_imports", "org_id", "organisations", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_imports")),
    )
    op.create_index("ix_payment_imports_org_id_created_at", "payment_imports", ["org_id", "created_at"])

    op.create_table(
        "payments",
        sa.Column("id", GUID, nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("account_id", GUID, nullable=True),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("method", sa.String(32), nullable=True),
        sa.Column("reference", sa.String(255), nullable=True),
        sa.Column("external_id", sa.String(128), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("import_id", GUID, nullable=True),
        sa.Column("line_number", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("matched_by", sa.String(128), nullable=True),
        sa.Column("matched_at", WHEN, nullable=True),
        sa.Column("reversed_by", sa.String(128), nullable=True),
        sa.Column("reversed_at", WHEN, nullable=True),
        sa.Column("reversal_reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        # No foreign keys, on purpose (as debtor_snapshots): an import COPYs 100,000 payments, and
        # three foreign-key checks per row cost more than the rest of the COPY. The application
        # sets the references (the caller's organisation, accounts matched within it, the import
        # row written in the same transaction); the triggers below keep ON DELETE's meaning.
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("org_id", "external_id", name="uq_payments_org_id_external_id"),
    )
    op.create_index("ix_payments_account_id_paid_on", "payments", ["account_id", "paid_on"])
    op.create_index("ix_payments_org_id_status_paid_on", "payments", ["org_id", "status", "paid_on"])
    op.create_index("ix_payments_import_id", "payments", ["import_id"])
    _follow_deletes()

    op.create_table(
        "promises",
        sa.Column("id", GUID, nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("account_id", GUID, nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("interaction_id", sa.Integer(), nullable=True),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("made_on", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("paid_amount", MONEY, nullable=False),
        sa.Column("baseline_balance", MONEY, nullable=True),
        sa.Column("baseline_report_id", sa.Integer(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("closed_at", WHEN, nullable=True),
        sa.Column("closed_by", sa.String(128), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        _fk("promises", "org_id", "organisations", "CASCADE"),
        _fk("promises", "account_id", "accounts", "CASCADE"),
        _fk("promises", "agent_id", "users", "SET NULL"),
        _fk("promises", "interaction_id", "interactions", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promises")),
    )
    op.create_index("ix_promises_org_id_status_due_date", "promises", ["org_id", "status", "due_date"])
    op.create_index("ix_promises_account_id_status", "promises", ["account_id", "status"])
    op.create_index("ix_promises_agent_id_created_at", "promises", ["agent_id", "created_at"])

    op.create_table(
        "promise_instalments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("promise_id", GUID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("covered", MONEY, nullable=False),
        _fk("promise_instalments", "promise_id", "promises", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promise_instalments")),
        sa.UniqueConstraint("promise_id", "number", name="uq_promise_instalments_promise_id_number"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("promise_instalments")
    op.drop_table("promises")
    _drop_follow_deletes()
    op.drop_table("payments")
    op.drop_table("payment_imports")
