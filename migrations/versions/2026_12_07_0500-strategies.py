"""collection strategies: strategies, steps, per-account state, runs and step executions

Revision ID: 0023_strategies
Revises: 0022_letters
Create Date: 2026-12-07 05:00:00

Issue 23: `strategies` (segment, default, priority, pause, owner, run time, challenger split),
`strategy_steps` (entry rule, action, waits and repeats, variant), `strategy_account_states` (one
row per account: its place in its strategy), `strategy_runs` and `strategy_step_executions` (UNIQUE
(account_id, step_id, run_on): the exactly-once key).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import arrears.db

revision: str = '0023_strategies'
down_revision: str | Sequence[str] | None = '0022_letters'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('strategies',
    sa.Column('id', arrears.db.GUID(length=36), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('run_time', sa.Time(), nullable=False),
    sa.Column('min_balance', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('max_balance', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('oldest_buckets', sa.JSON(), nullable=True),
    sa.Column('account_kind', sa.String(length=8), nullable=True),
    sa.Column('customer_conditions', sa.JSON(), nullable=True),
    sa.Column('challenger_percent', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('challenger_percent >= 0 AND challenger_percent <= 100', name=op.f('ck_strategies_challenger_percent_range')),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_strategies_org_id_organisations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_strategies_owner_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_strategies')),
    sa.UniqueConstraint('org_id', 'name', name='uq_strategies_org_id_name')
    )
    with op.batch_alter_table('strategies', schema=None) as batch_op:
        batch_op.create_index('ix_strategies_org_id_priority', ['org_id', 'priority'], unique=False)

    op.create_table('strategy_runs',
    sa.Column('id', arrears.db.GUID(length=36), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('strategy_id', arrears.db.GUID(length=36), nullable=True),
    sa.Column('run_on', sa.Date(), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_by', sa.String(length=128), nullable=False),
    sa.Column('accounts', sa.Integer(), nullable=False),
    sa.Column('messages', sa.Integer(), nullable=False),
    sa.Column('letters', sa.Integer(), nullable=False),
    sa.Column('tasks', sa.Integer(), nullable=False),
    sa.Column('handed_over', sa.Integer(), nullable=False),
    sa.Column('excluded', sa.Integer(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('started_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', arrears.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_strategy_runs_org_id_organisations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['strategy_id'], ['strategies.id'], name=op.f('fk_strategy_runs_strategy_id_strategies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_strategy_runs'))
    )
    with op.batch_alter_table('strategy_runs', schema=None) as batch_op:
        batch_op.create_index('ix_strategy_runs_org_id_started_at', ['org_id', 'started_at'], unique=False)
        batch_op.create_index('ix_strategy_runs_strategy_id_started_at', ['strategy_id', 'started_at'], unique=False)

    op.create_table('strategy_steps',
    sa.Column('id', arrears.db.GUID(length=36), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('strategy_id', arrears.db.GUID(length=36), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('variant', sa.String(length=1), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=True),
    sa.Column('min_days_past_due', sa.Integer(), nullable=False),
    sa.Column('min_balance', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('message_template_id', arrears.db.GUID(length=36), nullable=True),
    sa.Column('letter_template_id', arrears.db.GUID(length=36), nullable=True),
    sa.Column('hand_over_to', sa.String(length=255), nullable=True),
    sa.Column('wait_days', sa.Integer(), nullable=False),
    sa.Column('repeat_days', sa.Integer(), nullable=True),
    sa.Column('created_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message_template_id'], ['message_templates.id'], name=op.f('fk_strategy_steps_message_template_id_message_templates'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_strategy_steps_org_id_organisations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['strategy_id'], ['strategies.id'], name=op.f('fk_strategy_steps_strategy_id_strategies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_strategy_steps'))
    )
    with op.batch_alter_table('strategy_steps', schema=None) as batch_op:
        batch_op.create_index('ix_strategy_steps_strategy_id_position', ['strategy_id', 'position'], unique=False)

    op.create_table('strategy_account_states',
    sa.Column('account_id', arrears.db.GUID(length=36), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('strategy_id', arrears.db.GUID(length=36), nullable=True),
    sa.Column('variant', sa.String(length=1), nullable=True),
    sa.Column('position', sa.Integer(), nullable=True),
    sa.Column('step_id', arrears.db.GUID(length=36), nullable=True),
    sa.Column('last_fired_on', sa.Date(), nullable=True),
    sa.Column('next_due_on', sa.Date(), nullable=True),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('paused_by', sa.String(length=128), nullable=True),
    sa.Column('left_at_position', sa.Integer(), nullable=True),
    sa.Column('left_status', sa.String(length=16), nullable=True),
    sa.Column('left_on', sa.Date(), nullable=True),
    sa.Column('updated_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_strategy_account_states_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_strategy_account_states_org_id_organisations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['strategy_id'], ['strategies.id'], name=op.f('fk_strategy_account_states_strategy_id_strategies'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_strategy_account_states'))
    )
    with op.batch_alter_table('strategy_account_states', schema=None) as batch_op:
        batch_op.create_index('ix_strategy_account_states_org_id_paused', ['org_id', 'paused'], unique=False)
        batch_op.create_index('ix_strategy_account_states_strategy_id', ['strategy_id'], unique=False)

    op.create_table('strategy_step_executions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('strategy_id', arrears.db.GUID(length=36), nullable=False),
    sa.Column('step_id', arrears.db.GUID(length=36), nullable=False),
    sa.Column('account_id', arrears.db.GUID(length=36), nullable=False),
    sa.Column('run_id', arrears.db.GUID(length=36), nullable=True),
    sa.Column('run_on', sa.Date(), nullable=False),
    sa.Column('variant', sa.String(length=1), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('balance', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('days_past_due', sa.Integer(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('created_at', arrears.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_strategy_step_executions_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_strategy_step_executions_org_id_organisations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['strategy_runs.id'], name=op.f('fk_strategy_step_executions_run_id_strategy_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['step_id'], ['strategy_steps.id'], name=op.f('fk_strategy_step_executions_step_id_strategy_steps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['strategy_id'], ['strategies.id'], name=op.f('fk_strategy_step_executions_strategy_id_strategies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_strategy_step_executions')),
    sa.UniqueConstraint('account_id', 'step_id', 'run_on', name='uq_strategy_step_executions_once'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('strategy_step_executions', schema=None) as batch_op:
        batch_op.create_index('ix_strategy_step_executions_org_id_run_on', ['org_id', 'run_on'], unique=False)
        batch_op.create_index('ix_strategy_step_executions_strategy_id_run_on', ['strategy_id', 'run_on'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('strategy_step_executions', schema=None) as batch_op:
        batch_op.drop_index('ix_strategy_step_executions_strategy_id_run_on')
        batch_op.drop_index('ix_strategy_step_executions_org_id_run_on')

    op.drop_table('strategy_step_executions')
    with op.batch_alter_table('strategy_account_states', schema=None) as batch_op:
        batch_op.drop_index('ix_strategy_account_states_strategy_id')
        batch_op.drop_index('ix_strategy_account_states_org_id_paused')

    op.drop_table('strategy_account_states')
    with op.batch_alter_table('strategy_steps', schema=None) as batch_op:
        batch_op.drop_index('ix_strategy_steps_strategy_id_position')

    op.drop_table('strategy_steps')
    with op.batch_alter_table('strategy_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_strategy_runs_strategy_id_started_at')
        batch_op.drop_index('ix_strategy_runs_org_id_started_at')

    op.drop_table('strategy_runs')
    with op.batch_alter_table('strategies', schema=None) as batch_op:
        batch_op.drop_index('ix_strategies_org_id_priority')

    op.drop_table('strategies')
