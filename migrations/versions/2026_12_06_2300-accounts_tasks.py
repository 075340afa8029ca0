"""accounts owed, their collection status history, tasks; interactions on an account

Revision ID: 0019_accounts_tasks
Revises: 0014_web_sessions
Depends on: 0002_customers (customers, loans, interactions); debtor_accounts (0003_debtors) is an
ancestor through 0014 already, and naming it too made a downgrade to 0014 fail ("overlaps")
Create Date: 2026-12-06 23:00:00

Issue 22 (points 1, 2 and 5): an `accounts` row for every debtor-book account that has a customer
and for every loan (created here for the rows that exist, set-based), `account_status_changes`
(the history of each account's collection status), `tasks`, and `interactions.account_id` (an
interaction may name an account instead of a loan, so `loan_id` may be null). SQLite rebuilds
`interactions` to change it, keeping AUTOINCREMENT (0012).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import arrears.db

revision: str = '0019_accounts_tasks'
down_revision: str | Sequence[str] | None = '0018_book_job_indexes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = ('0002_customers',)

GUID = arrears.db.GUID(length=36)
WHEN = arrears.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", GUID, nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("debtor_account_id", sa.Integer(), nullable=True),
        sa.Column("loan_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), server_default="active", nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("written_off_amount", sa.Numeric(14, 2), nullable=True),
        sa.Column("status_changed_at", WHEN, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.CheckConstraint("(kind = 'book' AND debtor_account_id IS NOT NULL AND loan_id IS NULL) OR "
                           "(kind = 'loan' AND loan_id IS NOT NULL AND debtor_account_id IS NULL)",
                           name=op.f("ck_accounts_one_reference")),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], ondelete="CASCADE",
                                name=op.f("fk_accounts_org_id_organisations")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE",
                                name=op.f("fk_accounts_customer_id_customers")),
        sa.ForeignKeyConstraint(["debtor_account_id"], ["debtor_accounts.id"], ondelete="CASCADE",
                                name=op.f("fk_accounts_debtor_account_id_debtor_accounts")),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"], ondelete="CASCADE", name=op.f("fk_accounts_loan_id_loans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("debtor_account_id", name="uq_accounts_debtor_account_id"),
        sa.UniqueConstraint("loan_id", name="uq_accounts_loan_id"),
    )
    op.create_index("ix_accounts_org_id_status", "accounts", ["org_id", "status"])
    op.create_index("ix_accounts_customer_id", "accounts", ["customer_id"])

    op.create_table(
        "account_status_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("account_id", GUID, nullable=False),
        sa.Column("from_status", sa.String(16), nullable=False),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("amount", sa.Numeric(14, 2), nullable=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], ondelete="CASCADE",
                                name=op.f("fk_account_status_changes_org_id_organisations")),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE",
                                name=op.f("fk_account_status_changes_account_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_status_changes")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_account_status_changes_org_id", "account_status_changes", ["org_id"])
    op.create_index("ix_account_status_changes_account_id_id", "account_status_changes", ["account_id", "id"])

    op.create_table(
        "tasks",
        sa.Column("id", GUID, nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("account_id", GUID, nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("closed_by", sa.String(128), nullable=True),
        sa.Column("closed_at", WHEN, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], ondelete="CASCADE",
                                name=op.f("fk_tasks_org_id_organisations")),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE",
                                name=op.f("fk_tasks_account_id_accounts")),
        sa.ForeignKeyConstraint(["assignee_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_tasks_assignee_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    op.create_index("ix_tasks_org_id_status_due_date", "tasks", ["org_id", "status", "due_date"])
    op.create_index("ix_tasks_account_id_status", "tasks", ["account_id", "status"])
    op.create_index("ix_tasks_assignee_id_status_due_date", "tasks", ["assignee_id", "status", "due_date"])

    with op.batch_alter_table("interactions", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.alter_column("loan_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("account_id", GUID, nullable=True))
        batch.create_foreign_key(op.f("fk_interactions_account_id_accounts"), "accounts", ["account_id"], ["id"],
                                 ondelete="CASCADE")
        batch.create_index("ix_interactions_account_id", ["account_id"])

    # The accounts of the rows that exist: every loan, every book account with a customer.
    uuid_sql = "gen_random_uuid()" if op.get_bind().dialect.name == "postgresql" else arrears.db.SQLITE_UUID_SQL
    now = sa.bindparam("now", arrears.db.utcnow(), type_=WHEN)
    op.get_bind().execute(sa.text(f"""
        INSERT INTO accounts (id, org_id, customer_id, kind, debtor_account_id, status, created_at, updated_at)
        SELECT {uuid_sql}, d.org_id, d.customer_id, 'book', d.id, 'active', :now, :now
        FROM debtor_accounts d WHERE d.customer_id IS NOT NULL ORDER BY d.id""").bindparams(now))
    op.get_bind().execute(sa.text(f"""
        INSERT INTO accounts (id, org_id, customer_id, kind, loan_id, status, created_at, updated_at)
        SELECT {uuid_sql}, l.org_id, l.customer_id, 'loan', l.id, 'active', :now, :now
        FROM loans l WHERE l.id IS NOT NULL ORDER BY l.id""").bindparams(now))


def downgrade() -> None:
    # Interactions recorded on an account without a loan cannot go back to a loan_id NOT NULL table.
    op.execute("DELETE FROM interactions WHERE loan_id IS NULL")
    with op.batch_alter_table("interactions", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_index("ix_interactions_account_id")
        batch.drop_constraint(op.f("fk_interactions_account_id_accounts"), type_="foreignkey")
        batch.drop_column("account_id")
        batch.alter_column("loan_id", existing_type=sa.Integer(), nullable=False)
    op.drop_table("tasks")
    op.drop_table("account_status_changes")
    op.drop_table("accounts")
