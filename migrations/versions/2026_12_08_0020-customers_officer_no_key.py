"""customers' officer without a per-row foreign key (PostgreSQL)

Revision ID: 0032_customers_officer_no_key
Revises: 0031_instalments_covered
Create Date: 2026-12-08 00:20:00

Issue 21: 0027 kept `customers.assigned_collection_officer_id → users` ("the check of a NULL is
cheap"). It is not free: the constraint's trigger still fires once per inserted row, NULL or not
(an after-trigger event queued, the row fetched again, the check called): a fresh book's 200,000
customers spent a tenth to a fifth of their insert on it, and that insert is the longest of the
fresh book's job. On PostgreSQL the constraint goes: an assignment reads its officer `FOR KEY
SHARE` (arrears.customers.service, the lock the check took), and a trigger on the (rarely deleted:
only a declined, waiting user, never an officer) users does what ON DELETE SET NULL did, per
statement over the deleted rows. SQLite keeps its constraint (dropping one there rebuilds the
table; its check is an in-process lookup).
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0032_customers_officer_no_key'
down_revision: str | Sequence[str] | None = '0031_instalments_covered'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINT = "fk_customers_assigned_collection_officer_id_users"
TRIGGER = "trg_users_delete_officer"
UNASSIGN = ("UPDATE customers SET assigned_collection_officer_id = NULL "
            "WHERE assigned_collection_officer_id IN (SELECT id FROM gone)")


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _postgres():
        return
    op.execute(f"CREATE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS "
               f"$$ BEGIN {UNASSIGN}; RETURN NULL; END $$")
    op.execute(f"CREATE TRIGGER {TRIGGER} AFTER DELETE ON users REFERENCING OLD TABLE AS gone "
               f"FOR EACH STATEMENT EXECUTE FUNCTION {TRIGGER}()")
    op.execute(f"ALTER TABLE customers DROP CONSTRAINT {CONSTRAINT}")


def downgrade() -> None:
    if not _postgres():
        return
    # An officer gone while there was no constraint (none should be: the trigger follows every
    # deletion) would stop the constraint from coming back: unassigned, as ON DELETE SET NULL did.
    op.execute("UPDATE customers SET assigned_collection_officer_id = NULL WHERE assigned_collection_officer_id "
               "IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = customers.assigned_collection_officer_id)")
    op.execute(f"ALTER TABLE customers ADD CONSTRAINT {CONSTRAINT} FOREIGN KEY (assigned_collection_officer_id) "
               "REFERENCES users (id) ON DELETE SET NULL")
    op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON users")
    op.execute(f"DROP FUNCTION IF EXISTS {TRIGGER}()")
