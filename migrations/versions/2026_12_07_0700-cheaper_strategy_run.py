"""cheaper strategy runs: executions and states keep only their account's foreign key

Revision ID: 0026_cheaper_strategy_run
Revises: 0025_cheaper_promise_pass
Create Date: 2026-12-07 07:00:00

Issue 23 (performance of a run): every row a run writes to `strategy_step_executions` paid five
foreign-key checks (account, organisation, strategy, step, run) and every `strategy_account_states`
row three (account, organisation, strategy) — about half the time of writing those rows. Of these
only the account differs from row to row: the organisation, strategy, step and run are the same for
every row of a chunk, and the runner now checks them once per chunk instead (it locks the step and
the run against deletion, as the checks did row by row: arrears/strategies/runner.py `_hold`). Those
foreign keys go; triggers on the (rarely deleted) referenced rows keep what their ON DELETE did, as
migration 0020 did for `payments`:
- an organisation's deletion takes its executions and states;
- a strategy's takes its executions and unlinks its accounts' states (SET NULL);
- a step's takes its executions;
- a run's unlinks its executions (SET NULL).
The account keys stay (on both tables, ON DELETE CASCADE): see arrears/strategies/models.py.

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
    ("strategy_step_executions", "org_id", "organisations", "CASCADE"),
    ("strategy_step_executions", "strategy_id", "strategies", "CASCADE"),
    ("strategy_step_executions", "step_id", "strategy_steps", "CASCADE"),
    ("strategy_step_executions", "run_id", "strategy_runs", "SET NULL"),
    ("strategy_account_states", "org_id", "organisations", "CASCADE"),
    ("strategy_account_states", "strategy_id", "strategies", "SET NULL"),
)

# What their ON DELETE did, as triggers: (trigger, table, statement on OLD.id).
FOLLOW = (
    ("trg_organisations_delete_strategy_executions", "organisations",
     "DELETE FROM strategy_step_executions WHERE org_id = OLD.id"),
    ("trg_organisations_delete_strategy_states", "organisations",
     "DELETE FROM strategy_account_states WHERE org_id = OLD.id"),
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
