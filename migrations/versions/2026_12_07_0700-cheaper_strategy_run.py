"""cheaper strategy runs: no foreign keys on the rows a run writes per account, checked per chunk

Revision ID: 0026_cheaper_strategy_run
Revises: 0025_cheaper_promise_pass
Create Date: 2026-12-07 07:00:00

Issue 23 (performance of a run): every row a run writes to `strategy_step_executions` paid five
foreign-key checks (account, organisation, strategy, step, run) and every `strategy_account_states`
row three (account, organisation, strategy). A key check is a lookup and a lock of the parent row,
made by a trigger call per row: the account's alone cost more than the rest of the insert (20,000
rows, EXPLAIN ANALYZE, load ~10: 470–760 ms in its trigger, against 60–150 ms for one
`SELECT … WHERE id = ANY(…) FOR KEY SHARE` of the same accounts). The keys go, on both tables; the
runner checks and locks once per chunk what they checked row by row (arrears/strategies/runner.py
`_hold`): the step and the run (the organisation, strategy, step and run are the same for every row
of a chunk; deleting the organisation or strategy deletes the step, so it waits too), and the
chunk's accounts in one statement. The states are written from the executions just claimed in the
same transaction; pausing an account locks it (FOR UPDATE) before writing its state. The runner is
the only writer of executions.
Triggers on the (rarely deleted) referenced rows keep what the keys' ON DELETE did, as migration
0020 did for `payments`:
- an organisation's or an account's deletion takes its executions and states;
- a strategy's takes its executions and unlinks its accounts' states (SET NULL);
- a step's takes its executions;
- a run's unlinks its executions (SET NULL).

SQLite rebuilds both tables without the keys (Alembic's batch "recreate", `strategy_step_executions`
keeping AUTOINCREMENT); the migration runs with foreign keys off, so no row is touched.
"""

from collections.abc import Sequence
from typing import Any

from alembic import op

revision: str = '0026_cheaper_strategy_run'
down_revision: str | Sequence[str] | None = '0025_cheaper_promise_pass'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The foreign keys that go: (table, column, referred table, ON DELETE).
DROPPED = (
    ("strategy_step_executions", "account_id", "accounts", "CASCADE"),
    ("strategy_step_executions", "org_id", "organisations", "CASCADE"),
    ("strategy_step_executions", "strategy_id", "strategies", "CASCADE"),
    ("strategy_step_executions", "step_id", "strategy_steps", "CASCADE"),
    ("strategy_step_executions", "run_id", "strategy_runs", "SET NULL"),
    ("strategy_account_states", "account_id", "accounts", "CASCADE"),
    ("strategy_account_states", "org_id", "organisations", "CASCADE"),
    ("strategy_account_states", "strategy_id", "strategies", "SET NULL"),
)

# What their ON DELETE did, as triggers: (trigger, table, statement on OLD.id).
FOLLOW = (
    ("trg_organisations_delete_strategy_executions", "organisations",
     "DELETE FROM strategy_step_executions WHERE org_id = OLD.id"),
    ("trg_organisations_delete_strategy_states", "organisations",
     "DELETE FROM strategy_account_states WHERE org_id = OLD.id"),
    ("trg_accounts_delete_strategy_executions", "accounts",
     "DELETE FROM strategy_step_executions WHERE account_id = OLD.id"),
    ("trg_accounts_delete_strategy_states", "accounts",
     "DELETE FROM strategy_account_states WHERE account_id = OLD.id"),
    ("trg_strategies_delete_strategy_executions", "strategies",
     "DELETE FROM strategy_step_executions WHERE strategy_id = OLD.id"),
    ("trg_strategies_unlink_strategy_states", "strategies",
     "UPDATE strategy_account_states SET strategy_id = NULL WHERE strategy_id = OLD.id"),
    ("trg_strategy_steps_delete_strategy_executions", "strategy_steps",
     "DELETE FROM strategy_step_executions WHERE step_id = OLD.id"),
    ("trg_strategy_runs_unlink_strategy_executions", "strategy_runs",
     "UPDATE strategy_step_executions SET run_id = NULL WHERE run_id = OLD.id"),
)


def _name(table: str, column: str, target: str) -> str:
    return f"fk_{table}_{column}_{target}"


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _batch(table: str) -> Any:
    kwargs = {"sqlite_autoincrement": True} if table == "strategy_step_executions" else {}
    return op.batch_alter_table(table, recreate="auto", table_kwargs=kwargs)


def upgrade() -> None:
    for table in ("strategy_step_executions", "strategy_account_states"):
        with _batch(table) as batch_op:
            for t, column, target, _ in DROPPED:
                if t == table:
                    batch_op.drop_constraint(_name(t, column, target), type_="foreignkey")
    postgres = _postgres()
    for name, table, statement in FOLLOW:
        if postgres:
            op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
                       f"$$ BEGIN {statement}; RETURN OLD; END $$")
            op.execute(f"CREATE TRIGGER {name} AFTER DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()")
        else:
            op.execute(f"CREATE TRIGGER {name} AFTER DELETE ON {table} FOR EACH ROW BEGIN {statement}; END")


def downgrade() -> None:
    postgres = _postgres()
    for name, table, _ in FOLLOW:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}" if postgres else f"DROP TRIGGER IF EXISTS {name}")
        if postgres:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    # Rows whose organisation, strategy, step or run went while no key held them would stop the
    # keys coming back; the triggers took them, so there are none.
    for table in ("strategy_step_executions", "strategy_account_states"):
        with _batch(table) as batch_op:
            for t, column, target, ondelete in DROPPED:
                if t == table:
                    batch_op.create_foreign_key(_name(t, column, target), target, [column], ["id"],
                                                ondelete=ondelete)
