"""cheaper book job: no per-row foreign-key checks on the book's three tables (PostgreSQL)

Revision ID: 0027_cheaper_book_job
Revises: 0026_cheaper_strategy_run
Create Date: 2026-12-07 13:00:00

Issue 21: a fresh book of 200,000 accounts writes 600,000 rows (customers, debtor_accounts,
accounts), and each checked its foreign keys row by row (a `FOR KEY SHARE` lookup per row and
constraint: the largest single cost of the book's job). On PostgreSQL those constraints go, as
for `payments` and `debtor_snapshots`: the book's job sets the references from the rows it joins
(the report's organisation, its customers, its book accounts, the loans), and triggers on the
(rarely deleted) referenced rows keep what ON DELETE did — an organisation's deletion takes its
customers, book and accounts owed; a customer's takes its accounts and unlinks its book accounts;
a book account's or loan's takes its account. The triggers are per statement over the deleted
rows (one join, not one lookup per deleted row), and wait for the organisation's book job in
progress first (see LOCK). The customers' officer keeps its foreign key (the check of a NULL is
cheap, and an assignment has no lock to wait for).

`accounts.loan_id` and `accounts.debtor_account_id` become partial unique indexes (over the rows
that have one): each book account put a NULL into the loan index.

SQLite keeps its constraints: dropping one there means rebuilding the table (customers and
debtor_accounts would lose AUTOINCREMENT, accounts its payments trigger), and its checks are an
in-process lookup, not the cost measured here.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0027_cheaper_book_job'
down_revision: str | Sequence[str] | None = '0026_cheaper_strategy_run'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, referred table, ON DELETE)
FOREIGN_KEYS = (
    ("customers", "org_id", "organisations", "CASCADE"),
    ("debtor_accounts", "org_id", "organisations", "CASCADE"),
    ("debtor_accounts", "customer_id", "customers", "SET NULL"),
    ("accounts", "org_id", "organisations", "CASCADE"),
    ("accounts", "customer_id", "customers", "CASCADE"),
    ("accounts", "debtor_account_id", "debtor_accounts", "CASCADE"),
    ("accounts", "loan_id", "loans", "CASCADE"),
)

# A deletion waits for the book's job of the organisation in progress (its advisory lock,
# arrears.debtors.service.lock_book), then follows: a book job that had already read a customer
# before the customer's deletion commits still references it, and a foreign key's check would have
# stopped that. A customer's deletion through the application takes the lock before the customer's
# row (arrears.customers.book_lock): the job updates customers under the lock, so the other order
# would be a deadlock. (namespace of the lock, the column of `gone` naming the organisation)
BOOK_LOCK = 0x424F4F4B
LOCK = "PERFORM pg_advisory_xact_lock({lock}, o) FROM (SELECT DISTINCT {org} AS o FROM gone ORDER BY 1) AS orgs"

# What those ON DELETEs did, as statement triggers over the deleted rows (`gone`). The
# organisation's takes the accounts owed and the book before the customers, so that the customers'
# own trigger then finds nothing left to do.
FOLLOW = (
    ("trg_organisations_delete_book", "organisations", (
        LOCK.format(lock=BOOK_LOCK, org="id"),
        "DELETE FROM accounts WHERE org_id IN (SELECT id FROM gone)",
        "DELETE FROM debtor_accounts WHERE org_id IN (SELECT id FROM gone)",
        "DELETE FROM customers WHERE org_id IN (SELECT id FROM gone)")),
    ("trg_customers_delete_accounts", "customers", (
        LOCK.format(lock=BOOK_LOCK, org="org_id"),
        "DELETE FROM accounts WHERE customer_id IN (SELECT id FROM gone)",
        "UPDATE debtor_accounts SET customer_id = NULL WHERE customer_id IN (SELECT id FROM gone)")),
    ("trg_debtor_accounts_delete_accounts", "debtor_accounts", (
        LOCK.format(lock=BOOK_LOCK, org="org_id"),
        "DELETE FROM accounts WHERE debtor_account_id IN (SELECT id FROM gone)",)),
    ("trg_loans_delete_accounts", "loans", (
        "DELETE FROM accounts WHERE loan_id IN (SELECT id FROM gone)",)),
)

PARTIAL_UNIQUE = ("debtor_account_id", "loan_id")


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _postgres():
        return
    for name, table, statements in FOLLOW:
        body = "; ".join(statements)
        op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN {body}; RETURN NULL; END $$")
        op.execute(f"CREATE TRIGGER {name} AFTER DELETE ON {table} REFERENCING OLD TABLE AS gone "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()")
    for table, column, target, _ in FOREIGN_KEYS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT fk_{table}_{column}_{target}")
    for column in PARTIAL_UNIQUE:
        op.execute(f"ALTER TABLE accounts DROP CONSTRAINT uq_accounts_{column}")
        op.execute(f"CREATE UNIQUE INDEX uq_accounts_{column} ON accounts ({column}) WHERE {column} IS NOT NULL")


def downgrade() -> None:
    if not _postgres():
        return
    for column in PARTIAL_UNIQUE:
        op.execute(f"DROP INDEX uq_accounts_{column}")
        op.execute(f"ALTER TABLE accounts ADD CONSTRAINT uq_accounts_{column} UNIQUE ({column})")
    # Rows whose reference went while there was no constraint (none should: the triggers follow
    # every deletion) would stop the constraint from coming back: they go as ON DELETE would have
    # taken them.
    for table, column, target, ondelete in FOREIGN_KEYS:
        orphan = f"{column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {target} t WHERE t.id = {table}.{column})"
        if ondelete == "CASCADE":
            op.execute(f"DELETE FROM {table} WHERE {orphan}")
        else:
            op.execute(f"UPDATE {table} SET {column} = NULL WHERE {orphan}")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT fk_{table}_{column}_{target} FOREIGN KEY ({column}) "
                   f"REFERENCES {target} (id) ON DELETE {ondelete}")
    for name, table, _ in reversed(FOLLOW):
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {name}()")
