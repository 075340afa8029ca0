"""promise pass without per-row keys: no per-row foreign keys on history, tasks and events; accounts'
status changes heap-only (PostgreSQL)

Revision ID: 0030_promise_pass_no_keys
Revises: 0029_book_accounts_hot
Create Date: 2026-12-07 19:00:00

Issue 22: the daily promise pass writes, per 100,000 promises, 66,667 history rows (two key checks
each: organisation, account), 33,334 tasks (three: organisation, account, assignee) and 166,668
events (one: organisation) — about 400,000 key checks, each a lookup and a `FOR KEY SHARE` lock of
the parent row made by a trigger call per row. On PostgreSQL those constraints go, as for payments
(0020), the strategy tables (0026) and the book (0027); the writers hold the parents instead, once:
- the organisation: every event written (arrears.events: `record`, `record_many`, `record_select`,
  the strategy run's own INSERT) takes `FOR KEY SHARE` on its organisation once per transaction
  (`events.hold_organisation`), and every history row and task comes with its event in the same
  transaction;
- the account: a history row is written after its account's UPDATE in the same transaction (every
  writer changes the status first), and a task's account is locked `FOR KEY SHARE` by the INSERT
  that opens it (arrears.tasks.service); the assignee likewise, once per distinct user.
A deletion of the parent then waits for the writer, and its trigger (below) sees the rows
committed; a writer whose parent went first finds nothing to lock and fails, as a key check would.
Statement triggers over the deleted rows (`gone`) keep what ON DELETE did: an organisation's
deletion takes its history, tasks and events; an account's its history and tasks; a user's
unassigns their tasks (SET NULL).

The organisation's indexes on `domain_events` and `account_status_changes` go on both databases:
their only reader was the cascade (no query of the application reads events or history by
organisation: events by id, history by account), and each event and history row paid an entry. An
organisation's deletion now reads each table once in its statement trigger (a rare act).

`accounts`: its status leaves the index (`ix_accounts_org_id_status` becomes `ix_accounts_org_id`),
and the table keeps 30 % of each page free (fillfactor 70), so that a status change (status,
reason, dates: no indexed column) is a heap-only update, not a new entry in each of its five
indexes. Its readers by organisation and status read the organisation's accounts through the
(org_id) index and filter the status (docs/benchmarks.md, issue 22, 2026-12-07 18:20).

SQLite keeps its constraints (dropping one there rebuilds the table; its checks are an in-process
lookup); the index changes on both.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0030_promise_pass_no_keys'
down_revision: str | Sequence[str] | None = '0029_book_accounts_hot'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, referred table, ON DELETE)
FOREIGN_KEYS = (
    ("account_status_changes", "org_id", "organisations", "CASCADE"),
    ("account_status_changes", "account_id", "accounts", "CASCADE"),
    ("tasks", "org_id", "organisations", "CASCADE"),
    ("tasks", "account_id", "accounts", "CASCADE"),
    ("tasks", "assignee_id", "users", "SET NULL"),
    ("domain_events", "org_id", "organisations", "CASCADE"),
)

# What those ON DELETEs did, as statement triggers over the deleted rows (`gone`).
FOLLOW = (
    ("trg_organisations_delete_history_tasks_events", "organisations", (
        "DELETE FROM account_status_changes WHERE org_id IN (SELECT id FROM gone)",
        "DELETE FROM tasks WHERE org_id IN (SELECT id FROM gone)",
        "DELETE FROM domain_events WHERE org_id IN (SELECT id FROM gone)")),
    ("trg_accounts_delete_history_tasks", "accounts", (
        "DELETE FROM account_status_changes WHERE account_id IN (SELECT id FROM gone)",
        "DELETE FROM tasks WHERE account_id IN (SELECT id FROM gone)")),
    ("trg_users_unassign_tasks", "users", (
        "UPDATE tasks SET assignee_id = NULL WHERE assignee_id IN (SELECT id FROM gone)",)),
)

ACCOUNTS_FILL = 70

# Indexes only the organisation's cascade read: (table, index, column).
CASCADE_ONLY = (
    ("domain_events", "ix_domain_events_org_id", "org_id"),
    ("account_status_changes", "ix_account_status_changes_org_id", "org_id"),
)


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_index("ix_accounts_org_id", "accounts", ["org_id"])
    op.drop_index("ix_accounts_org_id_status", table_name="accounts")
    for table, index, _ in CASCADE_ONLY:
        op.drop_index(index, table_name=table)
    if not _postgres():
        return
    op.execute(f"ALTER TABLE accounts SET (fillfactor = {ACCOUNTS_FILL})")
    for name, table, statements in FOLLOW:
        body = "; ".join(statements)
        op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN {body}; RETURN NULL; END $$")
        op.execute(f"CREATE TRIGGER {name} AFTER DELETE ON {table} REFERENCING OLD TABLE AS gone "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()")
    for table, column, target, _ in FOREIGN_KEYS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT fk_{table}_{column}_{target}")


def downgrade() -> None:
    if _postgres():
        # Rows whose parent went while no constraint held them (none should: the triggers follow
        # every deletion) would stop the constraint coming back: they go as ON DELETE would have.
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
        op.execute("ALTER TABLE accounts RESET (fillfactor)")
    for table, index, column in CASCADE_ONLY:
        op.create_index(index, table, [column])
    op.create_index("ix_accounts_org_id_status", "accounts", ["org_id", "status"])
    op.drop_index("ix_accounts_org_id", table_name="accounts")
