"""cheaper writes for the daily promise pass: two unused event indexes go, room for HOT updates

Revision ID: 0025_cheaper_promise_pass
Revises: 0024_letter_delivery
Create Date: 2026-12-07 06:00:00

Issue 22 (performance of the daily evaluation of promises):
- `domain_events` loses its indexes on `type` and `created_at`: no query of the application reads
  events by either (it reads them by id, and by org through the cascade); every event written paid
  for them (the daily pass writes one per promise kept or broken, task and account moved).
- PostgreSQL only: `promise_instalments` keeps half of each page free (fillfactor 50) and
  `promises` 30 % (70), so that rewriting an instalment's `covered` or a promise's `paid_amount`
  (no indexed column changes) is a heap-only (HOT) update on the same page: no new entry in any
  index. Pages written from now on get the room; existing pages are not rewritten (a
  `VACUUM FULL` would, at the cost of a lock: not done here).
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0025_cheaper_promise_pass'
down_revision: str | Sequence[str] | None = '0024_letter_delivery'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILLFACTOR = {"promise_instalments": 50, "promises": 70}


def upgrade() -> None:
    op.drop_index('ix_domain_events_type', table_name='domain_events')
    op.drop_index('ix_domain_events_created_at', table_name='domain_events')
    if op.get_bind().dialect.name == "postgresql":
        for name, fill in FILLFACTOR.items():
            op.execute(f"ALTER TABLE {name} SET (fillfactor = {fill})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in FILLFACTOR:
            op.execute(f"ALTER TABLE {name} RESET (fillfactor)")
    op.create_index('ix_domain_events_created_at', 'domain_events', ['created_at'], unique=False)
    op.create_index('ix_domain_events_type', 'domain_events', ['type'], unique=False)
